"""The queue-store contract (app/queue/connections/base.py) is what the PostgreSQL driver
implements, method for method, and it names no driver's types: a second driver written
against it plugs into the worker and dispatch unchanged."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from app.dashboard.store import DashboardStore
from app.queue.admin import QueueAdmin
from app.queue.connections import base
from app.queue.connections.database.batches import BatchStore
from app.queue.connections.database.libpq import Claimer
from app.queue.connections.database.limits import LimitStore
from app.queue.connections.database.listener import Listener
from app.queue.connections.database.metrics import MetricsStore
from app.queue.connections.database.store import JobStore
from app.queue.metrics import MinuteCounts
from app.queue.schedule.store import ScheduleStore
from app.queue.worker.outage import OutageLog

IMPLEMENTATIONS = [
    (base.QueueStore, JobStore), (base.Claimer, Claimer), (base.WakeupListener, Listener),
    (base.MetricsWriter, MetricsStore), (base.BatchStore, BatchStore),
    (base.LimitStore, LimitStore), (base.AdminStore, QueueAdmin),
    (base.ScheduleStore, ScheduleStore), (base.DashboardReads, DashboardStore),
    (base.OutageReport, OutageLog),
]


def methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def parameters(signature: inspect.Signature) -> list[str]:
    return [name for name in signature.parameters if name != "self"]


@pytest.mark.parametrize(("protocol", "driver"), IMPLEMENTATIONS,
                         ids=[protocol.__name__ for protocol, _ in IMPLEMENTATIONS])
def test_the_postgresql_driver_has_every_method_of_the_contract(protocol, driver):
    assert_implements(protocol, driver)


def assert_implements(protocol: type, driver: type) -> None:
    """`driver` has every method of `protocol`, taking its parameters in the same order
    (callers pass them by name and by position)."""
    for name, signature in methods(protocol).items():
        assert hasattr(driver, name), f"{driver.__name__} has no {name}()"
        theirs = inspect.signature(getattr(driver, name))
        assert parameters(theirs)[:len(parameters(signature))] == parameters(signature), name


def test_every_method_of_the_contract_says_what_it_does():
    for protocol, _ in IMPLEMENTATIONS:
        for name in methods(protocol):
            assert inspect.getdoc(getattr(protocol, name)), f"{protocol.__name__}.{name}"


def test_the_per_minute_counts_have_every_field_the_contract_names():
    fields = typing.get_type_hints(base.MinuteTotals)
    assert set(fields) <= set(typing.get_type_hints(MinuteCounts))


def test_the_contract_names_no_driver_or_sql():
    tree = ast.parse(Path(base.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported
                if name.split(".")[0] in {"psycopg", "sqlalchemy", "redis"}
                or name.startswith("app.queue.connections.database")}, imported
    source = Path(base.__file__).read_text()
    for word in ("SELECT ", "INSERT ", "UPDATE ", "psycopg.", "sa."):
        assert word not in source
