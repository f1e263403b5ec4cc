"""Where the jobs' own log lines go under `queue:work`: stderr, from INFO, in the worker's line
format (`  2026-11-28 07:13:06 INFO app.jobs.send_invoice: …`). Without this, Python drops
`log.info(…)` (the root logger's default is WARNING), so the line the `make:job` stub writes
would never be seen."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from app.console.output import printable

LINE_FORMAT = "  %(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class PrintableFormatter(logging.Formatter):
    """A job's log line as printable text (app/console/output.py): what it logs of a hostile
    row or response reaches the terminal as text, never as an escape sequence."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), lines=True)


def log_jobs_to_stderr(job_packages: Iterable[str]) -> None:
    """INFO and above of the application's loggers (`app`, and the top-level packages of
    QUEUE_JOB_PACKAGES) on stderr. An application that configured logging itself (a handler on
    the root logger or on one of those) keeps its own set-up."""
    if logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter(LINE_FORMAT, DATE_FORMAT))
    for name in sorted({"app", *(package.partition(".")[0] for package in job_packages)}):
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
