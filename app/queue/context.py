"""The queue a process talks to: its settings and its store, bound once.

`app/queue` never reads config/ itself. The application registers a provider (app/__init__.py
does, with app.bootstrap), and `current()` builds the context from it on first use. Tests and
embedding code can `use()` a context of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from app.queue.errors import QueueError
from app.queue.settings import Defaults, QueueSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.queue.connections.database.limits import LimitStore
    from app.queue.connections.database.store import JobStore
    from app.queue.crypto import Encrypter
    from app.queue.resolver import JobClassResolver


@dataclass
class QueueContext:
    settings: QueueSettings
    engine_factory: Callable[[], Engine] = field(repr=False)

    # The store, resolver and runner are imported on first use: a process that only reads the
    # settings (`artisan --help`, make:job) does not load SQLAlchemy, psycopg or asyncio.
    @cached_property
    def store(self) -> JobStore:
        from app.queue.connections.database.store import JobStore

        return JobStore(self.engine_factory(), prepare=self.settings.listen,
                        lock_timeout=self.settings.dispatch_lock_timeout)

    @cached_property
    def limits(self) -> LimitStore:
        """Where job middleware keeps its limits (used only by jobs that have middleware)."""
        from app.queue.connections.database.limits import LimitStore

        return LimitStore(self.store.engine, self.settings.retry_after)

    @cached_property
    def encrypter(self) -> Encrypter:
        from app.queue.crypto import Encrypter

        return Encrypter(self.settings.app_keys)

    @cached_property
    def resolver(self) -> JobClassResolver:
        from app.queue.resolver import JobClassResolver

        return JobClassResolver(self.settings.job_packages)

    @property
    def defaults(self) -> Defaults:
        s = self.settings
        return Defaults(tries=s.max_tries, timeout=s.timeout, backoff=s.retry_delay)


_lock = threading.Lock()
_provider: Callable[[], QueueContext] | None = None
_current: QueueContext | None = None


def set_provider(provider: Callable[[], QueueContext]) -> None:
    global _provider
    _provider = provider


def use(context: QueueContext | None) -> None:
    """Make `context` the current one (None: build from the provider again on next use)."""
    global _current
    with _lock:
        _current = context


def current() -> QueueContext:
    global _current
    with _lock:
        if _current is None:
            if _provider is None:
                raise QueueError("the queue is not configured: import app (or call context.use())")
            _current = _provider()
        return _current
