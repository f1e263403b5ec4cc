"""No module of app/ outgrows a reader."""

from __future__ import annotations

from tests.support import ROOT

MAX_LINES = 450
"""A module a reader takes in at a sitting: beyond it, a file holds more than one concern."""


def test_no_module_in_app_is_over_the_line_limit():
    long = {str(path.relative_to(ROOT)): lines for path in sorted((ROOT / "app").rglob("*.py"))
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
