"""A schedule file that fails to import."""

raise RuntimeError("this schedule file is broken")
