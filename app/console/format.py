"""How the commands write times, ages and states: in tables (local time, `4m 10s`) and in JSON
(ISO 8601 in UTC, seconds as numbers)."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Container, Mapping, Sequence

from app.console.output import printable
from app.formatting import age, iso  # noqa: F401 - the commands import them from here

STATE_STYLE = {"pending": "green", "delayed": "cyan", "reserved": "yellow", "failed": "red",
               "live": "green", "stopped": "dim", "dead": "red", "running": "yellow",
               "finished": "green", "cancelled": "red"}


def local(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def styled(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"


def plural(count: int, word: str) -> str:
    """`1 job`, `2 jobs`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def aligned(rows: Sequence[Sequence[str]], right: Container[int] = ()) -> list[str]:
    """Rows of cells as text lines in aligned columns, two spaces apart; the columns whose
    index is in `right` are right-aligned (numbers). Each cell is made printable on one line
    (before it is measured: an escape is as wide as it is shown)."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def indented(text: str, width: int) -> str:
    """`text` wrapped to `width` columns, every line indented by two spaces: the detail line
    under a row of a narrow listing."""
    return textwrap.fill(printable(text), width=max(width, 20), initial_indent="  ",
                         subsequent_indent="  ", break_on_hyphens=False)


def fits(rows: Sequence[Mapping[str, str]], columns: Sequence[str], width: int) -> bool:
    """Whether `columns` fit on one line of `width`, two spaces apart, none cut."""
    widths = [max(len(title), *(len(printable(row[title])) for row in rows))
              for title in columns]
    return sum(widths) + 2 * (len(columns) - 1) <= width
