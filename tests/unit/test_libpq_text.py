"""Statements and literals written here for libpq (no database)."""

from __future__ import annotations

from app.queue.connections.database.libpq import positional


def test_statements_for_libpq_number_their_placeholders_in_order():
    assert positional("SELECT %(a)s, %(b)s, '50%%', %(a)s") == (
        b"SELECT $1, $2, '50%', $1", ("a", "b"))
