#!/usr/bin/env python
"""`python artisan.py <command>`: the project's console, like Laravel's artisan."""

import sys

try:
    from app.console.kernel import main
except KeyboardInterrupt:  # Ctrl-C while Python still imports: no traceback for that
    sys.exit(130)

if __name__ == "__main__":
    main()
