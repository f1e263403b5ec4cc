"""Your jobs: one class per module, generated with `python artisan.py make:job Name`."""
