"""The payload codec without a database: hostile rows are refused without importing or
running anything, and any supported value round-trips."""

from __future__ import annotations

import enum
import json
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.queue import PayloadError
from app.queue.decoding import decode
from app.queue.payload import encode
from app.queue.resolver import JobClassResolver
from tests.jobs.sample_jobs import Carry, Colour, Level, Palette, Size, Watched

RESOLVER = JobClassResolver(("app.jobs", "tests.jobs"))


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
     + "}}", "nested too deeply"),
    # Modules of the job packages that are not the class's own (issue 13.9): refused before
    # their top-level code runs, or the package's __init__ runs again as a new module.
    (document("tests.jobs.sidefx.Anything"), "defines no class 'Anything'"),
    (document("tests.jobs.__init__.Carry"), "private or dunder"),
    (document("tests.jobs.sample_jobs.__class__"), "private or dunder"),
    (document("tests.jobs._hidden.Job"), "private or dunder"),
    (document("tests.jobs.reexport.BenchNoop"), "defines no class 'BenchNoop'"),
    (document("tests.jobs.reexport.Renamed"), "defines no class 'Renamed'"),
    (document("tests.jobs.basic.os.system"), "cannot import"),
])
def test_hostile_and_broken_rows_are_refused(text, message):
    Watched.constructed.clear()
    modules_before = set(sys.modules)
    with pytest.raises(PayloadError, match=message):
        decode(text, RESOLVER)
    assert set(sys.modules) == modules_before  # nothing imported, not even by a failed import
    assert Watched.constructed == []  # the refused job's own code did not run either
    assert not os.path.exists("/tmp/skiplock-pwned")


def test_a_name_bound_to_a_class_from_elsewhere_is_refused():
    """`Swapped` is defined in tests.jobs.reexport, so the module is imported (its own code,
    which importing any job module runs); the name then holds a class of app.bench."""
    with pytest.raises(PayloadError, match=r"that name holds app\.bench\.bench_noop\.BenchNoop"):
        decode(document("tests.jobs.reexport.Swapped"), RESOLVER)


def test_a_job_module_that_fails_at_import_is_a_payload_error():
    with pytest.raises(PayloadError, match=r"importing job module 'tests\.jobs\.broken_import' "
                                           r"raised RuntimeError: this module is broken"):
        decode(document("tests.jobs.broken_import.Unreachable"), RESOLVER)
    assert "tests.jobs.broken_import" not in sys.modules


@pytest.mark.parametrize("depth", [900, 5_000, 20_000])
def test_a_row_nested_deep_is_a_payload_error_not_a_recursion_error(depth):
    tagged = "[" * depth + '{"__type__": "date", "value": "2026-01-01"}' + "]" * depth
    with pytest.raises(PayloadError, match="nested too deeply"):
        decode(document("tests.jobs.sample_jobs.Carry", {"value": 1})[:-2]
               + f', "deep": {tagged}}}}}', RESOLVER)


def test_nothing_outside_the_packages_is_imported():
    sys.modules.pop("this", None)
    with pytest.raises(PayloadError):
        decode(document("this.X"), RESOLVER)  # `import this` would print the Zen
    assert "this" not in sys.modules


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


@settings(max_examples=300, deadline=None)
@given(values)
def test_a_value_encodes_as_the_full_encoding_writes_it(value):
    # encode() writes plain JSON as it is, without building an encoded copy (is_plain):
    # the text must be the one job_data()'s encoded copy gives, tags and all.
    from app.queue.payload import job_data

    encode(Carry(0))  # the class's arguments are known: the fast path is open
    job = Carry(value)
    assert encode(job) == ('{"job": "tests.jobs.sample_jobs.Carry", "data": '
                           + json.dumps(job_data(job)) + "}")


@pytest.mark.parametrize("value", [
    "nul \x00 inside", {"k\x00": 1}, {1: "int key"}, [float("nan")], {"x": [float("inf")]},
    [[[]] * 2] * 2 + [{"a": {"b": "\ud800"}}],
])
def test_what_the_full_encoding_refuses_is_refused(value):
    encode(Carry(0))
    with pytest.raises((TypeError, ValueError)):
        encode(Carry(value))


def test_values_that_look_plain_but_are_not_are_tagged():
    class Text(str):
        pass

    encode(Carry(0))
    for value, stored in [(-0.0, '{"__type__": "float", "value": "-0.0"}'),
                          ([1e16], '[{"__type__": "float", "value": "1e+16"}]'),
                          ({"__type__": 1}, '{"__type__": "dict", "value": {"__type__": 1}}'),
                          ((1, 2), '{"__type__": "tuple", "value": [1, 2]}'),
                          ({"c": Colour.RED}, None), (Text("t"), '"t"')]:
        text = encode(Carry(value))
        if stored is not None:
            assert text.endswith(f'"data": {{"value": {stored}}}}}'), text
        else:
            assert '"__type__": "enum"' in text
