"""Queue names: one rule wherever a name comes in.

A name is checked the same way whether it comes from `dispatch(queue=…)`, a job's `queue`
attribute, `QUEUE_DEFAULT`, `queue:work --queue` or a console command's queue argument, so a
job can never be put on a queue that no worker can be told to take.
"""

from __future__ import annotations

import re

MAX_QUEUE_NAME = 255
"""Characters in a queue name. Long enough for any naming scheme, short enough to print."""

_UNSTORABLE = re.compile("[\x00-\x1f\ud800-\udfff]")
"""Control characters, NUL included (PostgreSQL's text refuses NUL), and lone surrogates
(not UTF-8): a name holding them could not be stored, or typed on a command line."""

_checked: set[str] = set()
"""Names already found good: a bulk dispatch checks its queue once, not once per job."""

_CHECKED_KEPT = 10_000
"""At most this many names are remembered (enough for any real set of queues)."""


def check_queue_name(name: object) -> str:
    """`name`, if it can name a queue; else `ValueError` saying what is wrong with it.

    Not empty, at most 255 characters, no space at either end, no comma (`--queue a,b` lists
    queues), no control characters, no lone surrogates.
    """
    if type(name) is str and name in _checked:
        return name
    if not isinstance(name, str):
        raise ValueError(f"queue name must be a string, not {type(name).__name__}")
    if not name:
        raise ValueError("queue name must not be empty")
    if len(name) > MAX_QUEUE_NAME:
        raise ValueError(f"queue name {name[:20]!r}… is {len(name)} characters long; at most "
                         f"{MAX_QUEUE_NAME}")
    if _UNSTORABLE.search(name):
        raise ValueError(f"queue name {name!r} contains a control character or a lone "
                         "surrogate, which cannot be stored or typed")
    if name != name.strip():
        # `--queue " default"` is read as `default`: a job on " default" would never run.
        raise ValueError(f"queue name {name!r} starts or ends with a space")
    if "," in name:
        raise ValueError(f"queue name {name!r} contains a comma, which separates queue names "
                         "in `--queue`")
    if len(_checked) < _CHECKED_KEPT:
        _checked.add(name)
    return name


def parse_queue_list(text: str) -> tuple[str, ...]:
    """`"high, default"` -> `("high", "default")`: comma-separated names, first first.

    Spaces around the commas are dropped (no name can start or end with one, so that is
    never ambiguous); an empty entry is an error, not a default. A name given twice counts once.
    """
    names = [part.strip() for part in text.split(",")]
    if not any(names):
        raise ValueError(f"name at least one queue, not {text!r}")
    if not all(names):
        raise ValueError(f"empty queue name in {text!r} (two commas in a row, or one at an "
                         "end)")
    return tuple(dict.fromkeys(check_queue_name(name) for name in names))
