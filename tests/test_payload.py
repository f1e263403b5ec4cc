"""The payload codec: every supported type round-trips through a real row; hostile rows are
refused without importing or running anything."""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
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
from tests.jobs.sample_jobs import Carry, Colour, Derived, Level, Palette, Size, Watched

RESOLVER = JobClassResolver(("app.jobs", "tests.jobs"))

SUPPORTED = {
    "str": "héllo 'quoted' \"x\"",
    "int": -(2**62),
    "float": 3.25,
    "big float": 1.5e300,  # JSONB would hand 1.5e+300 back as an integer: tagged
    "integral float": 1e16,
    "negative zero": -0.0,
    "big int": 10**40,
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
    "str enum": Size.SMALL,  # also a str: must not come back as plain "s"
    "int enum": Level.HIGH,
    "nested enum": Palette.Shade.DARK,
    "tuple": (1, "two", (3.0, None)),
    "tag-like dict": {"__type__": "datetime", "value": "not a date"},
    "list of everything": [Decimal("1.5"), dt.date(2020, 1, 1), (Colour.RED,), []],
}


def shape(value):
    """`value` with every type, zone, fold and sign visible; dict key order left out (JSONB
    stores keys sorted, so a decoded dict has equal contents in another order)."""
    if isinstance(value, dict):
        return ("dict", sorted(((k, shape(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, list | tuple) and not isinstance(value, enum.Enum):
        return (type(value).__name__, [shape(v) for v in value])
    return repr(value)


def assert_same(decoded, value):
    assert decoded == value
    assert shape(decoded) == shape(value)


def stored_payload(engine: sa.Engine, job_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT payload::text FROM jobs WHERE id = :id"),
                            {"id": job_id}).scalar_one()


@pytest.mark.parametrize("name", SUPPORTED)
def test_supported_values_round_trip_through_the_table(queue, engine, name):
    value = SUPPORTED[name]
    job = decode(stored_payload(engine, dispatch(Carry(value))), RESOLVER)
    assert type(job) is Carry
    assert_same(job.value, value)


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


@pytest.mark.parametrize("value", ["nul \x00 byte", "lone \ud800 surrogate",
                                   {"key\x00": 1}, ["ok", "\x00"]])
def test_text_postgresql_cannot_store_is_refused_at_dispatch(queue, engine, value):
    with pytest.raises(ValueError, match=r"'value.*NUL"):
        dispatch(Carry(value))
    with pytest.raises(ValueError, match="NUL"):
        dispatch_many([Carry(1), Carry(value)])
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_job_classes_a_worker_cannot_import_are_refused_at_dispatch(queue, engine):
    class Local(Carry):
        pass

    class LocalColour(enum.Enum):
        X = 1

    with pytest.raises(TypeError, match="cannot be imported by a worker"):
        dispatch(Local(1))
    with pytest.raises(TypeError, match=r"Enum class .*cannot be imported"):
        dispatch(Carry([LocalColour.X]))
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
    (document("tests.jobs.sample_jobs.Carry",
              {"value": {"__type__": "tuple", "value": "abc"}}), "malformed tuple"),
    (document("tests.jobs.sample_jobs.Carry",
              {"value": {"__type__": "datetime", "value": "2026-01-01", "tz": "../../etc/x"}}),
     "malformed datetime"),
    (document("tests.jobs.sample_jobs.Carry", {"value": 1, "attempts": 99}), "internal"),
    (document("tests.jobs.sample_jobs.Carry", {"value": 1, "_control": 1}), "internal"),
    (document("tests.jobs.sample_jobs.Watched", {"handle": "x"}), "replace a method"),
    (document("tests.jobs.sample_jobs.Watched", {"label": "x"}), "replace a method"),
    (document("tests.jobs.sample_jobs.Watched", {"dispatch": "x"}), "replace a method"),
    ('{"job": "tests.jobs.sample_jobs.Carry", "data": {"value": ' + "[" * 5000 + "]" * 5000
     + "}}", "nested too deeply|not valid JSON"),
])
def test_hostile_and_broken_rows_are_refused(text, message):
    Watched.constructed.clear()
    modules_before = set(sys.modules)
    with pytest.raises(PayloadError, match=message):
        decode(text, RESOLVER)
    assert set(sys.modules) == modules_before  # nothing imported, not even by a failed import
    assert Watched.constructed == []  # the refused job's own code did not run either
    assert not os.path.exists("/tmp/skiplock-pwned")


def test_nothing_outside_the_packages_is_imported():
    sys.modules.pop("this", None)
    with pytest.raises(PayloadError):
        decode(document("this.X"), RESOLVER)  # `import this` would print the Zen
    assert "this" not in sys.modules


# --------------------------------------------------------------------- property-based

# Any text PostgreSQL can store (no NUL, no lone surrogates: those are refused, tested above).
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), texts,
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(), st.datetimes(timezones=st.timezones()), st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False), st.uuids(),
    st.sampled_from([*Colour, *Size, *Level, *Palette.Shade]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.just("__type__"), texts), inner, max_size=4)),
    max_leaves=12,
)




@settings(max_examples=300, deadline=None)
@given(values)
def test_any_supported_value_round_trips(value):
    assert_same(decode(encode(Carry(value)), RESOLVER).value, value)


@settings(max_examples=150, deadline=None)
@given(values)
def test_any_supported_value_survives_jsonb(engine, value):
    """Through PostgreSQL's JSONB, which rewrites numbers and key order (no row written)."""
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT CAST(:p AS jsonb)::text"),
                              {"p": encode(Carry(value))}).scalar_one()
    assert_same(decode(stored, RESOLVER).value, value)
