"""Error messages of encrypted jobs, redacted wherever Skiplock stores or prints them.

An `encrypted = True` job's arguments are secret at rest, but an exception's message often
quotes them (`int(self.card)` puts the card number in a ValueError). So for such a job the
traceback text (failed_jobs.exception, jobs.last_error, queue:failed, the dashboard, the API)
and the one-line summary (the worker's lines, a catch job's `error`, events) keep each
exception's type, its stack and Skiplock's own messages (QueueError: a timeout, a cancel, too
many attempts), and replace every other message, and its notes, with REDACTED. The exception
object itself is left as it was: the job's own failed() hook gets it whole. A class opts back
in with `redact_errors = False`.
"""

from __future__ import annotations

import contextlib
import traceback
from typing import TYPE_CHECKING

from app.queue.errors import QueueError

if TYPE_CHECKING:
    from app.queue.job import Job

REDACTED = "[message redacted: the job is encrypted]"
_MARK = "_skiplock_redacted"
"""Set on an exception whose message is not to be shown (error_line reads it)."""


def redacts_errors(job: Job | None) -> bool:
    return job is not None and type(job).encrypted and type(job).redact_errors


def mark(error: BaseException) -> None:
    with contextlib.suppress(AttributeError, TypeError):  # an exception with __slots__
        setattr(error, _MARK, True)


def is_marked(error: BaseException) -> bool:
    return getattr(error, _MARK, False) is True


def error_text(job: Job | None, error: BaseException) -> str:
    """The traceback of `error`, raised by `job`: redacted (and `error` marked) if the job's
    class redacts its errors."""
    if redacts_errors(job):
        mark(error)
    return format_error(error)


def format_error(error: BaseException) -> str:
    """The traceback of `error`, its messages redacted if it was marked."""
    if not is_marked(error):
        return "".join(traceback.format_exception(error))
    shown = traceback.TracebackException.from_exception(error)
    for part in _chain(shown):
        if not issubclass(part.exc_type or type(None), QueueError):
            part._str = REDACTED  # type: ignore[attr-defined]
            part.__notes__ = None  # type: ignore[attr-defined]
    return "".join(shown.format())


def _chain(first: traceback.TracebackException) -> list[traceback.TracebackException]:
    """`first` and every exception it carries: causes, contexts, a group's members."""
    found: list[traceback.TracebackException] = []
    seen: set[int] = set()
    waiting = [first]
    while waiting:
        part = waiting.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        found.append(part)
        waiting += [p for p in (part.__cause__, part.__context__) if p is not None]
        waiting += getattr(part, "exceptions", None) or []
    return found
