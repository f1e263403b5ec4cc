"""Plain options converted without pydantic (app/console/scalars.py) read every value as
typer's own pydantic conversion does: the same value, or the same message."""

from __future__ import annotations

import math

import pytest
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param, resolve_type_descriptor
from typer.models import OptionInfo

from app.console.scalars import ScalarParam, scalar_of

VALUES = {
    int: ["3", "-3", " 7 ", "+4", "3.0", "3.00", "3.5", "3.", "1e3", "0x10", "abc", "", "1_000",
          "99999999999999999999"],
    float: ["1.5", "inf", "-inf", "nan", "1e400", "abc", "", " 2 ", "+1", ".5", "1.", "1_0.5"],
    bool: ["true", "False", "1", "0", "yes", "off", "On", "t", "y", " true", "", "maybe", "2",
           True, False],
    str: ["x", "", " a "],
}


def outcome(runtime_param, value):
    try:
        result = runtime_param._coerce_value(value, param=None, ctx=None)
    except BadParameter as exc:
        return ("error", exc.message)
    if isinstance(result, float) and math.isnan(result):
        return ("nan", type(result))
    return (result, type(result))


@pytest.mark.parametrize("annotation", [int, float, bool, str, int | None, float | None,
                                        str | None])
def test_a_plain_option_reads_every_value_as_typer_does(annotation):
    info = OptionInfo()
    typers = build_runtime_param(resolve_type_descriptor(annotation, info))
    ours = ScalarParam(parameter_info=info, annotation=annotation, kind=scalar_of(annotation))
    for value in VALUES[scalar_of(annotation)]:
        assert outcome(ours, value) == outcome(typers, value), value


def test_only_plain_annotations_are_converted_here():
    assert [scalar_of(a) for a in (int, float | None, bool, str)] == [int, float, bool, str]
    others = (bool | None, list[str], list[str] | None, int | str, object)
    assert [scalar_of(a) for a in others] == [None] * len(others)
