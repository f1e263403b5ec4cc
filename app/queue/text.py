"""Text the database can store: what an error message becomes before it is written."""

from __future__ import annotations

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""PostgreSQL's text refuses NUL, and UTF-8 has no lone surrogates (os.fsdecode makes them of
undecodable bytes): either made a job's outcome unwritable, so the worker retried it forever
or died of psycopg's UnicodeEncodeError."""


def storable(text: str) -> str:
    """`text`, NUL written as `\\x00` and a lone surrogate as `\\udcff`: readable, and
    storable. Text that needs neither (almost all) is returned as it is, after one scan."""
    if UNSTORABLE.search(text) is None:
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)
