"""The artisan CLI: the kernel (kernel.py) and thin commands, one module per area (commands/)."""
