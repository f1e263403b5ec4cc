"""The payload codec: every supported type round-trips through a real row; hostile rows are
refused without importing or running anything."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from app.queue import PayloadError, dispatch, dispatch_many
from app.queue.payload import JobClassResolver, decode, encode
from tests.conftest import count
from tests.jobs.sample_jobs import Carry, Colour, Derived

RESOLVER = JobClassResolver(("app.jobs", "tests.jobs"))

SUPPORTED = {
    "str": "héllo 'quoted' \"x\"",
    "int": -(2**62),
    "float": 3.25,
    "bool": True,
    "none": None,
    "nested": {"a": [1, {"b": [None, "x"]}], "c": {}},
    "naive datetime": dt.datetime(2026, 11, 22, 10, 30, 1, 123456),
    "aware datetime": dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    "zoned datetime": dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
    "date": dt.date(2026, 2, 28),
    "decimal": Decimal("12345678901234567890.000000001"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "enum str": Colour.RED,
    "enum int": Colour.BLUE,
    "tuple": (1, "two", (3.0, None)),
    "tag-like dict": {"__type__": "datetime", "value": "not a date"},
    "list of everything": [Decimal("1.5"), dt.date(2020, 1, 1), (Colour.RED,), []],
}


def stored_payload(engine: sa.Engine, job_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT payload::text FROM jobs WHERE id = :id"),
                            {"id": job_id}).scalar_one()


@pytest.mark.parametrize("name", SUPPORTED)
def test_supported_values_round_trip_through_the_table(queue, engine, name):
    value = SUPPORTED[name]
    job = decode(stored_payload(engine, dispatch(Carry(value))), RESOLVER)
    assert type(job) is Carry
    assert job.value == value and type(job.value) is type(value)


def test_attributes_beyond_the_constructor_are_restored(queue, engine):
    job = decode(stored_payload(engine, dispatch(Derived(21))), RESOLVER)
    assert (job.n, job.double) == (21, 42)


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), float("nan"), float("inf"),
                                   {1: "int key"}, [1, {"deep": {2}}]])
def test_unsupported_values_raise_naming_the_attribute_and_enqueue_nothing(queue, engine, value):
    with pytest.raises(TypeError, match="value"):
        dispatch(Carry(value))
    with pytest.raises(TypeError, match="value"):
        dispatch_many([Carry(1), Carry(value), Carry(2)])
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def document(job: str, data: dict | None = None) -> str:
    return json.dumps({"job": job, "data": data or {}})


@pytest.mark.parametrize(("text", "message"), [
    (document("os.system", {"command": "touch /tmp/skiplock-pwned"}), "outside the job packages"),
    (document("subprocess.run", {"args": ["true"]}), "outside the job packages"),
    (document("builtins.eval", {"source": "1"}), "outside the job packages"),
    (document("tests.jobs.sample_jobs.NotAJob"), "not a subclass"),
    (document("app.queue.job.Job"), "outside the job packages"),
    (document("tests.jobs.sample_jobs.Colour"), "not a subclass"),
    (document("tests.jobs.no_such_module.X"), "cannot import"),
    (document("tests.jobs..x"), "malformed"),
    (document("__import__('os')"), "malformed"),
    ("{not json", "not valid JSON"),
    ('"a string"', "must be an object"),
    ("[1, 2]", "must be an object"),
    (json.dumps({"job": "tests.jobs.sample_jobs.Carry", "data": []}), "must be an object"),
    (document("tests.jobs.sample_jobs.Carry", {"wrong": 1}), "cannot construct"),
    (document("tests.jobs.sample_jobs.Grumpy", {"n": -1}), "cannot construct"),
    (document("tests.jobs.sample_jobs.Carry", {"value": 1, "handle": "x"}), "replace a method"),
    (document("tests.jobs.sample_jobs.Carry", {"value": {"__type__": "bogus"}}), "unknown"),
    (document("tests.jobs.sample_jobs.Carry",
              {"value": {"__type__": "enum", "class": "os.PathLike", "value": 1}}), "Enum"),
])
def test_hostile_and_broken_rows_are_refused(text, message):
    modules_before = set(sys.modules)
    with pytest.raises(PayloadError, match=message):
        decode(text, RESOLVER)
    imported = set(sys.modules) - modules_before
    assert not {"subprocess", "tests.jobs.no_such_module"} & imported


def test_nothing_outside_the_packages_is_imported():
    sys.modules.pop("this", None)
    with pytest.raises(PayloadError):
        decode(document("this.X"), RESOLVER)  # `import this` would print the Zen
    assert "this" not in sys.modules


# --------------------------------------------------------------------- property-based

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(), st.datetimes(timezones=st.timezones()), st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False), st.uuids(), st.sampled_from(Colour),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_supported_value_round_trips(value):
    job = decode(encode(Carry(value)), RESOLVER)
    assert job.value == value
    assert repr(job.value) == repr(value)  # same types, zones and fold, not just equal
