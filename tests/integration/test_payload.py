"""The payload codec: every supported type round-trips through a real row; hostile rows are
refused without importing or running anything."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, settings

from app.queue import dispatch, dispatch_many
from app.queue.decoding import class_path_of, decode
from app.queue.payload import encode
from tests.jobs.sample_jobs import Carry, Colour, Derived, Level, Palette, Size
from tests.support import count
from tests.unit.test_payload_codec import RESOLVER, assert_same, values

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








# --------------------------------------------------------------------- property-based

# Any text PostgreSQL can store (no NUL, no lone surrogates: those are refused, tested above).






@settings(max_examples=150, deadline=None)
@given(values)
def test_any_supported_value_survives_jsonb(engine, value):
    """Through PostgreSQL's JSONB, which rewrites numbers and key order (no row written)."""
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT CAST(:p AS jsonb)::text"),
                              {"p": encode(Carry(value))}).scalar_one()
    assert_same(decode(stored, RESOLVER).value, value)


def test_the_class_path_is_read_off_the_stored_text_of_any_payload(engine):
    # The worker routes an async job by the class named at the start of the payload's text,
    # unparsed: jsonb writes its shortest key, "job", first, whatever the arguments are.
    texts = []
    with engine.connect() as conn:
        for job in (Carry({"a": 1}), Carry({"": [1, {"job": "x"}]}), Carry("j" * 5000)):
            texts.append(conn.execute(sa.text("SELECT CAST(:p AS jsonb)::text"),
                                      {"p": encode(job)}).scalar_one())
    assert [class_path_of(text) for text in texts] == ["tests.jobs.sample_jobs.Carry"] * 3
    assert class_path_of('{"data": {}, "jobs": 1}') is None
    assert class_path_of('{"job": "unterminated') is None
