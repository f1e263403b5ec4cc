"""A stored payload back into a job: the JSON parsed, tagged values rebuilt, the class resolved
(app/queue/resolver.py says what a row can make a worker import), its arguments decrypted and
the instance built. What payload.py writes, this reads; `PayloadError` says what is wrong with
a row that cannot become a job."""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import json.encoder
import sys
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfoNotFoundError

from app.queue.class_paths import DOTTED
from app.queue.errors import PayloadError
from app.queue.job import Job
from app.queue.payload import (
    MAX_NESTING,
    TAG,
    _encrypter,
    constructor_parameters,
    decode_datetime,
    is_settable_attribute,
)

if TYPE_CHECKING:
    from app.queue.resolver import JobClassResolver

def decode_value(value: Any) -> Any:
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: decode_value(v) for k, v in value.items()}
    inner: Any = value.get("value")
    try:
        if tag == "tuple":
            if not isinstance(inner, list):
                raise TypeError("a tuple is stored as a list")
            return tuple(decode_value(v) for v in inner)
        if tag == "dict":
            return {k: decode_value(v) for k, v in inner.items()}
        if tag == "datetime":
            return decode_datetime(value)
        if tag == "date":
            return dt.date.fromisoformat(inner)
        if tag == "float":
            return float(inner)
        if tag == "decimal":
            return Decimal(inner)
        if tag == "uuid":
            return uuid.UUID(inner)
        if tag == "enum":
            return resolve_enum(value.get("class"))(decode_value(inner))
    except PayloadError:
        raise
    except (TypeError, ValueError, AttributeError, ArithmeticError, KeyError,
            ZoneInfoNotFoundError) as exc:
        raise PayloadError(f"malformed {tag} value {inner!r}: {exc}") from None
    raise PayloadError(f"unknown value tag {tag!r}")


def resolve_enum(path: Any) -> type[enum.Enum]:
    """An Enum class from a module that is already imported (the job's module imported it).

    The class may be nested (`module.Outer.Inner`): the longest imported module prefix wins.
    """
    if not isinstance(path, str) or not DOTTED.match(path):
        raise PayloadError(f"malformed enum class path {path!r}")
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        found: Any = module
        for name in parts[split:]:
            # getattr_static: a module's __getattr__ (lazy imports) must not run for a row.
            found = inspect.getattr_static(found, name, None)
        if isinstance(found, type) and issubclass(found, enum.Enum):
            return found
        break
    raise PayloadError(f"{path!r} is not an Enum of an imported module")


NESTED_TOO_DEEPLY = (f"payload is nested too deeply to decode (dispatch writes at most "
                     f"{MAX_NESTING} levels)")


_JOB_KEY = '{"job": "'


def class_path_of(text: str) -> str | None:
    """The class path a stored payload names, read off its text without parsing it: jsonb
    writes its shortest key first, and `job` is. None for text that does not start so (decode
    then says what is wrong with it)."""
    if not text.startswith(_JOB_KEY):
        return None
    end = text.find('"', len(_JOB_KEY))
    return text[len(_JOB_KEY):end] if end > 0 else None


def decode(text: str | bytes | dict[str, Any], resolver: JobClassResolver) -> Job:
    """A job instance from a stored payload; `PayloadError` says what is wrong with the row."""
    if isinstance(text, dict):
        document = text
    else:
        try:
            document = json.loads(text)
        except RecursionError:
            raise PayloadError(NESTED_TOO_DEEPLY) from None
        except (ValueError, TypeError) as exc:
            raise PayloadError(f"payload is not valid JSON: {exc}") from None
    encrypted = isinstance(document, dict) and document.get("encrypted") is True
    if not isinstance(document, dict) \
            or not isinstance(document.get("data", {}), str if encrypted else dict):
        raise PayloadError("payload must be an object with 'job' and 'data'")
    cls = resolver.resolve(document.get("job"))
    data = document.get("data", {})
    if encrypted:
        text = decrypt_data(data, cls)
        data = json.loads(text)  # our own JSON: the key authenticated it
    # Only tagged values need rebuilding; a payload with no tag anywhere is already the data
    # (rows come out of JSONB, which writes every key as it is, never as \u escapes).
    if not isinstance(text, str) or TAG in text:
        try:
            data = decode_value(data)
        except RecursionError:
            raise PayloadError(NESTED_TOO_DEEPLY) from None
    job = instantiate(cls, data)
    if "context" in document:
        apply_context(job, document["context"])
    return job


CONTEXT_KEYS = frozenset({"batch_id", "chain_id", "failed_job_id", "error"})
"""What the envelope's optional `context` may set on a job: the runtime state of a batch's or
chain's callback (bus/rows.py writes it at dispatch; fail_job adds a catch job's failure)."""


def apply_context(job: Job, context: Any) -> None:
    if not isinstance(context, dict) or not CONTEXT_KEYS.issuperset(context) \
            or not all(isinstance(value, str | None) for value in context.values()):
        raise PayloadError(f"malformed payload context {context!r}: an object of "
                           f"{', '.join(sorted(CONTEXT_KEYS))} (strings)")
    for name, value in context.items():
        setattr(job, name, value)


def decrypt_data(token: str, cls: type[Job]) -> str:
    """The arguments' JSON from an encrypted payload (its class already resolved, so nothing
    is decrypted for a class no worker may run). Neither the token nor any plaintext gets
    into the error."""
    from app.queue.crypto import EncryptionError

    try:
        return _encrypter().decrypt(token, f"{cls.__qualname__}'s arguments")
    except EncryptionError as exc:
        raise PayloadError(str(exc)) from None


def instantiate(cls: type[Job], data: dict[str, Any]) -> Job:
    """Call the constructor with the attributes it takes; set the rest as attributes."""
    parameters = constructor_parameters(cls)
    if parameters is None:  # **kwargs: the constructor may store any of them
        kwargs, extra = data, data
    elif parameters.issuperset(data):  # the common case: every attribute is an argument
        kwargs, extra = data, {}
    else:
        kwargs = {k: v for k, v in data.items() if k in parameters}
        extra = {k: v for k, v in data.items() if k not in parameters}
    refuse_unsettable_attributes(cls, extra)  # before any of the job's code runs
    try:
        job = cls(**kwargs)
    except Exception as exc:  # noqa: BLE001 - user code: any error is a bad row for this class
        raise PayloadError(f"cannot construct {cls.__qualname__} from its payload: "
                           f"{type(exc).__name__}: {exc}") from None
    if parameters is not None:
        for name, value in extra.items():
            setattr(job, name, value)
    return job


def refuse_unsettable_attributes(cls: type, data: dict[str, Any]) -> None:
    for name in data:
        if not is_settable_attribute(cls, name):
            raise PayloadError(f"payload attribute {name!r} would replace a method or internal "
                               f"attribute of {cls.__qualname__}")
