"""The per-minute metrics of PostgreSQL's workers: metrics.sql, one method per statement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import Engine

from app.queue.connections.base import MinuteTotals
from app.queue.connections.database.errors import translated_errors
from app.queue.connections.database.sql import load_queries

QUERIES = load_queries(Path(__file__).with_name("metrics.sql"))
Key = tuple[int, str, str]
"""(minute as Unix seconds of its start, queue, job class)."""


class MetricsStore:
    """Runs metrics.sql: one method per statement."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, counts: Mapping[Key, MinuteTotals]) -> None:
        keys = sorted(counts)
        values = [counts[key] for key in keys]
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(QUERIES["add_metrics"], {
                "minutes": [dt.datetime.fromtimestamp(key[0], dt.UTC) for key in keys],
                "queues": [key[1] for key in keys],
                "classes": [key[2] for key in keys],
                "processed": [v.processed for v in values], "failed": [v.failed for v in values],
                "runtime_sums": [v.runtime_sum for v in values],
                "runtime_maxes": [v.runtime_max for v in values],
                "wait_sums": [v.wait_sum for v in values],
                "wait_maxes": [v.wait_max for v in values],
                # Text, one array literal each: unnest() would flatten a two-dimensional array.
                "runtime_buckets": [array_literal(v.runtime_buckets) for v in values],
                "wait_buckets": [array_literal(v.wait_buckets) for v in values]})

    def prune(self, days: int) -> None:
        with translated_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(QUERIES["prune_metrics"], {"days": days})


def array_literal(counts: list[int]) -> str:
    return "{" + ",".join(map(str, counts)) + "}"
