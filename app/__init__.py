"""The application: user jobs in app/jobs, the queue core in app/queue, CLI in app/console."""

from __future__ import annotations

from app.queue import context as _context


def _provide_context() -> _context.QueueContext:
    from app.bootstrap import make_context

    return make_context()


_context.set_provider(_provide_context)
