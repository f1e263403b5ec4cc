"""Payload codec: a job as JSON (class path + attributes); decoding.py reads it back. Never
pickle.

JSON types pass through; `datetime`, `date`, `Decimal`, `UUID`, `Enum` members and tuples are
stored as tagged objects `{"__type__": ..., "value": ...}` (a user dict that itself has a
`__type__` key is tagged too, so nothing is ambiguous). Anything else is a `TypeError` at
dispatch naming the attribute; so is a job or Enum class that a worker could not import by its
path. Values that JSONB cannot hold as they are fail or are tagged at dispatch too: strings with
NUL or lone surrogates are a `ValueError`, and floats that JSONB would turn into integers (from
1e16 up, and -0.0) are tagged. Subclasses of str, int, float, list, dict and tuple (other than
Enum members) come back as the plain type, and dicts come back with their keys in JSONB's order
(shorter keys first), not insertion order. Arguments nest at most MAX_NESTING levels. Decoding
imports only job modules that define the class a row names, and instantiates only `Job`
subclasses (app/queue/resolver.py says exactly what a row can and cannot make a worker run).
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import json.encoder
import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from app.queue.class_paths import importable_path
from app.queue.job import BEHAVIOUR, RESERVED_NAMES, RUNTIME_STATE, Job, is_behaviour

if TYPE_CHECKING:
    from app.queue.crypto import Encrypter

TAG = "__type__"
# JSONB refuses NUL (\u0000) and unpaired surrogates: catch them before the INSERT fails.
UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# From here up Python writes floats as 1e+16, which JSONB stores as numeric and gives back as
# an integer; tagging keeps them floats.
_FLOAT_AS_INTEGER = 1e16
MAX_NESTING = 100
"""Lists, dicts and tuples inside one another in an argument. Far beyond real data, and far
below where json and the decoder's recursion give up (about 1,000 levels; a tuple is two)."""


# ----------------------------------------------------------------------------- encoding


def encode(job: Job) -> str:
    """The JSON text stored in `jobs.payload` for this job (what json.dumps would write).
    For an `encrypted = True` class, `data` is a Fernet token of the arguments' JSON, and
    `"encrypted": true` tells every listing to show `[encrypted]`."""
    cls = type(job)
    prefix = _job_prefixes.get(cls)
    if prefix is None:
        # A checked import path is a dotted identifier: nothing in it needs escaping.
        marker = '"encrypted": true, ' if cls.encrypted else ""
        path = importable_path(cls, "job")
        prefix = _job_prefixes[cls] = f'{{"job": "{path}", {marker}"data": '
    data = _dumps(_plain_arguments(job) or job_data(job))
    if cls.encrypted:
        data = _dumps(_encrypter().encrypt(data, cls.__qualname__))
    return prefix + data + "}"


def _encrypter() -> Encrypter:
    from app.queue import context

    return context.current().encrypter


_job_prefixes: dict[type, str] = {}
"""Job class -> the start of its payloads (dispatch_many encodes thousands of one class)."""


def _json_writer() -> Callable[[Any], str]:
    """json.dumps with its defaults, made once. json.dumps builds a new C encoder on every
    call: that was 60 % of encoding a small job (4.0 -> 1.5 us; the whole payload.encode of a
    small job 4.5 -> 3.1 us, measured again 2026-11-28). Only trees that
    encode_value built reach it: acyclic, and made of JSON types only."""
    def refuse(value: Any) -> Any:
        raise TypeError(f"{type(value).__name__} is not JSON")

    probe = {"probe": [1, 2.5, None, True, "\u00e9\n\"", {"k": -0.5}]}
    try:
        encoder = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None, refuse, json.encoder.encode_basestring_ascii, None, ": ", ", ", False,
            False, True)
        if "".join(encoder(probe, 0)) != json.dumps(probe):
            return json.dumps
    except (AttributeError, TypeError):  # no C accelerator here, or another signature
        return json.dumps

    def dumps(value: Any) -> str:
        return "".join(encoder(value, 0))

    return dumps


_dumps = _json_writer()


def job_data(job: Job) -> dict[str, Any]:
    """The job's arguments (its attributes), encoded. `TypeError` for an attribute or a
    constructor argument that clashes with what Skiplock or the class itself uses."""
    arguments = _arguments.get(type(job))
    if arguments is None:
        refuse_reserved_parameters(type(job))
        arguments = _arguments.setdefault(type(job), set())
    data: dict[str, Any] = {}
    for name, value in vars(job).items():
        if name in arguments or is_new_argument(job, name, arguments):
            data[name] = encode_value(value, name)
    return data


def _plain_arguments(job: Job) -> dict[str, Any] | None:
    """The job's attributes as they are, if job_data() would give back an equal tree: every
    attribute a known argument and every value plain JSON (is_plain). Else None, and
    job_data() encodes, tags or refuses. Checking without copying made payload.encode of a
    small job 2.2 -> 1.3 us (10,000 jobs of {"i": n}, best of 15, 2026-11-28)."""
    attributes = vars(job)
    arguments = _arguments.get(type(job))
    if arguments is None or not arguments.issuperset(attributes):
        return None
    for value in attributes.values():
        if not is_plain(value, 0):
            return None
    return attributes


def is_plain(value: Any, depth: int) -> bool:
    """Whether encode_value() would give `value` back unchanged: only exact JSON types,
    storable text, floats JSONB keeps as floats, str keys, no tag key, not nested too deep."""
    kind = type(value)
    if kind is str:
        return UNSTORABLE_CHARACTER.search(value) is None
    if kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return (math.isfinite(value) and abs(value) < _FLOAT_AS_INTEGER
                and not (value == 0 and math.copysign(1, value) < 0))
    if depth >= MAX_NESTING:
        return False
    if kind is dict:
        if TAG in value:
            return False
        for key, item in value.items():
            if key not in _plain_keys and not is_plain_key(key):
                return False
            if type(item) is not int and not is_plain(item, depth + 1):
                return False
        return True
    if kind is list:
        for item in value:  # noqa: SIM110 - a loop, not all() over a generator: half the cost
            if type(item) is not int and not is_plain(item, depth + 1):
                return False
        return True
    return False


def is_plain_key(key: Any) -> bool:
    if type(key) is not str or UNSTORABLE_CHARACTER.search(key) is not None:
        return False
    if len(_plain_keys) < _PLAIN_KEYS_KEPT:
        _plain_keys.add(key)
    return True


_plain_keys: set[str] = set()
"""Dict keys already found storable: the arguments of one class repeat theirs."""
_PLAIN_KEYS_KEPT = 10_000


_arguments: dict[type, set[str]] = {}
"""Job class -> attribute names already found to be plain arguments: the checks below run
once per class and name, not once per dispatch."""


def is_new_argument(job: Job, name: str, arguments: set[str]) -> bool:
    """Whether attribute `name` is an argument to store (remembered in `arguments` if so).
    Private attributes and the runtime state Skiplock set are not; a clash is a TypeError."""
    if name.startswith("_"):
        return False
    if name in RUNTIME_STATE:
        # Skiplock gives a job its runtime state only once it has an id, so on a job without
        # one `attempts` (say) is the user's own. A user's `job_id` cannot be told apart from
        # ours this way: the constructor check catches it when it is an argument.
        if job.job_id is not None:
            return False
        raise clash(type(job), name, "stores an attribute")
    if not is_settable_attribute(type(job), name):
        raise clash(type(job), name, "stores an attribute")
    arguments.add(name)
    return True


def refuse_reserved_parameters(cls: type) -> None:
    """A constructor taking `attempts` or `fail` would lose that argument to Skiplock's own,
    or replace the method: refused before any such job is stored."""
    parameters = constructor_parameters(cls) or frozenset()
    for name in sorted(parameters):
        if name in RESERVED_NAMES or is_behaviour(inspect.getattr_static(cls, name, None)):
            raise clash(cls, name, "takes an argument")


def clash(cls: type, name: str, what: str) -> TypeError:
    if name in RUNTIME_STATE:
        why = "which Skiplock sets at run time"
    elif name in BEHAVIOUR:
        why = f"which would replace Job.{name}()"
    else:
        why = f"which would replace {cls.__qualname__}'s own {name}"
    return TypeError(f"{cls.__qualname__} {what} `{name}`, {why}; rename it (a job's arguments "
                     f"cannot be named {', '.join(sorted(RESERVED_NAMES))}, nor after the "
                     "job's own methods)")


Where = str | tuple[Any, ...]
"""Where a value sits, for error messages: an attribute name, or (outer, key or index). Built
as a tuple and only rendered as text for an error: formatting a path for every value cost as
much as encoding it."""


def _render(where: Where) -> str:
    if isinstance(where, str):
        return where
    outer, key = where
    return f"{_render(outer)}[{key!r}]"


def encode_value(value: Any, where: Where, depth: int = 0) -> Any:
    """`value` as JSON types; `depth`: lists, dicts and tuples around it in the attribute."""
    # The common exact types first; subclasses (an Enum member is also a str or int) below.
    kind = type(value)
    if kind is str:
        return check_storable_text(value, where)
    if kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return encode_dict(value, where, depth)
    if kind is float:
        return encode_float(value, where)
    if kind is list:
        return encode_list(value, where, depth)
    # Enum before str and int: members of StrEnum and IntEnum are both.
    if isinstance(value, enum.Enum):
        cls = type(value)
        return {TAG: "enum", "class": importable_path(cls, "Enum"),
                "value": encode_value(value.value, f"{_render(where)}.value", depth)}
    if isinstance(value, str):
        return check_storable_text(value, where)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return encode_float(value, where)
    if isinstance(value, list):
        return encode_list(value, where, depth)
    if isinstance(value, tuple):
        return {TAG: "tuple", "value": encode_list(value, where, depth)}
    if isinstance(value, dict):
        return encode_dict(value, where, depth)
    if isinstance(value, dt.datetime):
        return encode_datetime(value)
    if isinstance(value, dt.date):
        return {TAG: "date", "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "value": str(value)}
    if isinstance(value, uuid.UUID):
        return {TAG: "uuid", "value": str(value)}
    raise TypeError(
        f"job attribute {_render(where)!r} has type {type(value).__name__}, which cannot be "
        "stored as JSON (supported: JSON types, datetime, date, Decimal, UUID, Enum, tuple)"
    )


def encode_list(value: list[Any] | tuple[Any, ...], where: Where, depth: int) -> list[Any]:
    if depth >= MAX_NESTING:
        raise nested_too_deeply(where)
    return [encode_value(item, (where, i), depth + 1) for i, item in enumerate(value)]


def nested_too_deeply(where: Where) -> ValueError:
    while not isinstance(where, str):  # the attribute, not a path 100 keys long
        where = where[0]
    return ValueError(f"job attribute {where!r} is nested more than {MAX_NESTING} levels deep "
                      "(lists, dicts and tuples), or contains itself")


def check_storable_text(value: str, where: Where) -> str:
    if UNSTORABLE_CHARACTER.search(value):
        raise ValueError(f"job attribute {_render(where)!r} contains a NUL character or a lone "
                         "surrogate, which PostgreSQL cannot store in JSON")
    return value


def encode_float(value: float, where: Where) -> float | dict[str, Any]:
    if not math.isfinite(value):
        raise TypeError(f"job attribute {_render(where)!r} is {value!r}: NaN and infinity are "
                        "not JSON")
    if abs(value) >= _FLOAT_AS_INTEGER or (value == 0 and math.copysign(1, value) < 0):
        return {TAG: "float", "value": repr(value)}
    return value


def encode_datetime(value: dt.datetime) -> dict[str, Any]:
    """ISO text, plus the zone's name (an offset alone loses DST rules) and `fold`."""
    encoded: dict[str, Any] = {TAG: "datetime", "value": value.isoformat()}
    if isinstance(value.tzinfo, ZoneInfo) and value.tzinfo.key:  # from_file zones have no key
        encoded["tz"] = value.tzinfo.key
    if value.fold:
        encoded["fold"] = 1
    return encoded


def decode_datetime(value: dict[str, Any]) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value["value"])
    if "tz" in value:
        parsed = parsed.replace(tzinfo=ZoneInfo(value["tz"]))
    return parsed.replace(fold=1) if value.get("fold") else parsed


def encode_dict(value: dict[Any, Any], where: Where, depth: int) -> dict[str, Any]:
    if depth >= MAX_NESTING:
        raise nested_too_deeply(where)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"job attribute {_render(where)!r} has a {type(key).__name__} key "
                            f"{key!r}: only str keys can be stored as JSON")
        check_storable_text(key, where)
        out[key] = encode_value(item, (where, key), depth + 1)
    if TAG in out:
        return {TAG: "dict", "value": out}
    return out


# ------------------------------------------------- the class's shape (both directions)


def is_settable_attribute(cls: type, name: str) -> bool:
    """A plain data attribute, as dispatch stores them: not a method, property or worker field."""
    if name.startswith("_") or name in RUNTIME_STATE:
        return False
    return not is_behaviour(inspect.getattr_static(cls, name, None))


_signatures: dict[type, frozenset[str] | None] = {}


def constructor_parameters(cls: type) -> frozenset[str] | None:
    """Names `__init__` accepts by keyword, or None if it takes **kwargs."""
    if cls not in _signatures:
        params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
        if any(p.kind is p.VAR_KEYWORD for p in params):
            _signatures[cls] = None
        else:
            _signatures[cls] = frozenset(
                p.name for p in params
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
            )
    return _signatures[cls]
