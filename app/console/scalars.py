"""Plain options (a bool, an int, a float, a str, or None) converted without pydantic.

Typer converts every option's value through a pydantic `TypeAdapter`, built on first use. For
the numbers and names our commands take that is pydantic, pydantic-core and an adapter per
option: 7.2 MB of an idle `queue:work --concurrency 10 --quiet` (VmRSS 64.0 MB with it, 56.8
without), kept for the worker's whole life, to run `int()` on a few strings. So an option
whose annotation is one of these, with no parser, range, choices, file or path to check, gets
the conversion below before its first use; anything else keeps typer's. The messages are
pydantic's, so a bad value reads the same either way.

Typer's conversion hook is private (`typer._coercion`): if a later typer moves it, nothing
here is applied and typer converts as before (tests/cli/test_console.py then finds pydantic
in the worker; no command breaks).
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

try:
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam
    from typer.core import _TyperParameter
    HOOKED = True
except ImportError:  # a typer whose hook moved: leave its conversion alone
    HOOKED = False

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from typer._click import Context, Parameter

MESSAGES = {
    bool: "Input should be a valid boolean, unable to interpret input",
    int: "Input should be a valid integer, unable to parse string as an integer",
    float: "Input should be a valid number, unable to parse string as a number",
}
BOOLEANS = {"1": True, "on": True, "t": True, "true": True, "y": True, "yes": True,
            "0": False, "off": False, "f": False, "false": False, "n": False, "no": False,
            "": False}
"""The strings typer (through pydantic) reads as a bool, as a flag's value from an
environment variable may be."""
WHOLE_DECIMAL = re.compile(r"\s*([+-]?[\d_]+)\.0+\s*")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word not in BOOLEANS:
        raise ValueError(value)
    return BOOLEANS[word]


def to_int(value: Any) -> int:
    """As pydantic reads an int from a string: `3` and `3.0`, not `3.5`, `3.` or `3e0`."""
    try:
        return int(value)
    except ValueError:
        whole = WHOLE_DECIMAL.fullmatch(value) if isinstance(value, str) else None
        if whole is None:
            raise
        return int(whole.group(1))


CONVERT: dict[type, Callable[[Any], Any]] = {bool: to_bool, int: to_int, float: float,
                                             str: str}


def scalar_of(annotation: Any) -> type | None:
    """bool, int, float or str for `X`, and int, float or str for `X | None`; None for
    anything else (typer reads `bool | None` by other rules than `bool`, and none of our
    options is one)."""
    if annotation is bool:
        return bool
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    return annotation if annotation in (int, float, str) else None


if HOOKED:
    @dataclass(frozen=True)
    class ScalarParam(RuntimeParam):
        kind: type

        def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
            try:
                return CONVERT[self.kind](value)
            except (TypeError, ValueError, OverflowError):
                message = MESSAGES.get(self.kind, "Input should be a valid string")
                raise BadParameter(message, ctx=ctx, param=param) from None


def is_plain(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    return (info.parser is None and info.min is None and info.max is None
            and not (descriptor.is_file or descriptor.is_path or descriptor.is_choice))


def convert_plain_options(params: Iterable[Parameter]) -> None:
    """Give each plain option in `params` the conversion above, before typer builds its own
    on the option's first value (its `--help` included, whose value is None)."""
    if not HOOKED:
        return
    for param in params:
        if not isinstance(param, _TyperParameter) or param._runtime_param is not None:
            continue
        descriptor = param.type_descriptor
        kind = scalar_of(descriptor.annotation)
        if kind is not None and is_plain(descriptor):
            param._runtime_param = ScalarParam(parameter_info=descriptor.parameter_info,
                                               annotation=descriptor.annotation, kind=kind)
