#!/usr/bin/env python
"""`python artisan.py <command>`: the project's console, like Laravel's artisan."""

from app.console.kernel import main

if __name__ == "__main__":
    main()
