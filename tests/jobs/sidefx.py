"""A module of the job packages that holds no job and acts when imported (it creates the file
named by SKIPLOCK_SIDEFX_MARKER): a row naming `tests.jobs.sidefx.Anything` must be refused
without importing it."""

from __future__ import annotations

import os

MARKER_ENV = "SKIPLOCK_SIDEFX_MARKER"

if os.environ.get(MARKER_ENV):
    with open(os.environ[MARKER_ENV], "a") as marker:
        marker.write(f"{__name__} imported in {os.getpid()}\n")


class Helper:
    """Not a job: a row naming it imports this module (it is defined here), then is refused."""
