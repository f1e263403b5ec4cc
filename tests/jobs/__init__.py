"""Jobs used by the tests; importable by worker processes (QUEUE_JOB_PACKAGES includes them)."""
