"""The queue-store conformance suite (tests/conformance/queue_store.py) against the
PostgreSQL driver: the checks the Redis driver passes, passed by the first driver too, so the
suite says what the contract means rather than what one driver happens to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.queue.connections.database.store import JobStore
from tests.conformance.queue_store import CHECKS, Check
from tests.support import TABLES


@pytest.fixture
def store(engine: sa.Engine) -> Iterator[JobStore]:
    yield JobStore(engine)
    # The checks leave their jobs and workers behind: tests after them expect clean tables.
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))


@pytest.mark.parametrize("check", CHECKS, ids=[check.__name__[6:] for check in CHECKS])
def test_conformance_on_postgresql(store: JobStore, check: Check) -> None:
    check(store)
