"""GET /metrics: Prometheus text, read from the database at scrape time (the per-queue
counts through QueueCounts: fresh while cheap, else a snapshot a few seconds old).

Runtime and wait come from the per-minute sums, maxima and bucket counts workers write
(queue_metrics), over the last RECENT_MINUTES: a mean and a max per queue as gauges, and the
histograms as gauge histograms (Prometheus' type for a distribution of a window, which may
shrink: cumulative counters would drop each time old minutes leave the window or are pruned,
which Prometheus reads as a reset).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from app.dashboard.counts import QueueCounts
from app.dashboard.store import ClassMetrics, DashboardStore, RecentMetrics
from app.dashboard.supervisors import supervisor_metrics
from app.queue.metrics import BUCKETS

RECENT_MINUTES = 5
"""The window of the runtime, wait and throughput gauges: this minute and the four before."""
CLASS_SERIES = 50
"""The (queue, class) pairs that get a `class` label of their own: the busiest of the window.
Every other class of a queue is summed under class="other", so the series stay bounded
(at most 6 per pair, plus the "other" rows of each queue) however many classes run."""
OTHER_CLASSES = "other"


class QueueCollector(Collector):
    def __init__(self, counts: QueueCounts, store: DashboardStore, retry_after: float) -> None:
        self.counts = counts
        self.store = store
        self.retry_after = retry_after

    def collect(self) -> Iterator[Metric]:
        stats = self.counts.get().stats
        depth = GaugeMetricFamily("skiplock_queue_jobs", "Jobs per queue and state",
                                  labels=["queue", "state"])
        oldest = GaugeMetricFamily("skiplock_queue_oldest_pending_age_seconds",
                                   "Seconds the oldest pending job of a queue has waited",
                                   labels=["queue"])
        paused = GaugeMetricFamily("skiplock_queue_paused", "1 when the queue is paused",
                                   labels=["queue"])
        for queue in stats:
            for state in ("pending", "delayed", "reserved", "failed"):
                depth.add_metric([queue.queue, state], getattr(queue, state))
            oldest.add_metric([queue.queue], queue.oldest_pending_age or 0.0)
            paused.add_metric([queue.queue], 1.0 if queue.paused else 0.0)
        yield from (depth, oldest, paused)
        yield from self._worker_metrics()
        yield from recent_metrics(self.store.recent(RECENT_MINUTES))
        yield from supervisor_metrics(self.store.engine)
        yield from class_metrics(self.store.class_metrics(RECENT_MINUTES, CLASS_SERIES))

    def _worker_metrics(self) -> Iterator[Metric]:
        totals = self.store.worker_totals(self.retry_after)
        yield GaugeMetricFamily("skiplock_workers_live", "Workers with a recent heartbeat",
                                value=totals.live)
        yield CounterMetricFamily("skiplock_jobs_processed",
                                  "Attempts finished by the workers in the workers table",
                                  value=totals.processed)
        yield CounterMetricFamily("skiplock_jobs_failed",
                                  "Jobs the workers in the workers table moved to failed_jobs",
                                  value=totals.failed)


def recent_metrics(recent: list[RecentMetrics]) -> Iterator[Metric]:
    window = f"the last {RECENT_MINUTES} minutes (this one and the {RECENT_MINUTES - 1} before)"
    finished = GaugeMetricFamily("skiplock_recent_jobs_finished",
                                 f"Attempts finished in {window}", labels=["queue"])
    failed = GaugeMetricFamily("skiplock_recent_jobs_failed",
                               f"Jobs moved to failed_jobs in {window}", labels=["queue"])
    runtime = GaugeMetricFamily("skiplock_recent_runtime_seconds",
                                f"Mean and max runtime of the attempts of {window}",
                                labels=["queue", "stat"])
    wait = GaugeMetricFamily("skiplock_recent_wait_seconds",
                             f"Mean and max wait (available to claimed) of {window}",
                             labels=["queue", "stat"])
    runtime_histogram = GaugeHistogramMetricFamily(
        "skiplock_recent_runtime_seconds_histogram",
        f"Runtime of the attempts of {window}", labels=["queue"])
    wait_histogram = GaugeHistogramMetricFamily(
        "skiplock_recent_wait_seconds_histogram",
        f"Wait (available to claimed) of the attempts of {window}", labels=["queue"])
    for queue in recent:
        if queue.runtime_buckets:
            runtime_histogram.add_metric([queue.queue], cumulative(queue.runtime_buckets),
                                         queue.runtime_total)
        if queue.wait_buckets:
            wait_histogram.add_metric([queue.queue], cumulative(queue.wait_buckets),
                                      queue.wait_total)
        finished.add_metric([queue.queue], queue.processed)
        failed.add_metric([queue.queue], queue.failed)
        for stat, value in (("mean", queue.runtime_avg), ("max", queue.runtime_max)):
            runtime.add_metric([queue.queue, stat], value or 0.0)
        for stat, value in (("mean", queue.wait_avg), ("max", queue.wait_max)):
            wait.add_metric([queue.queue, stat], value or 0.0)
    yield from (finished, failed, runtime, wait, runtime_histogram, wait_histogram)


def class_metrics(rows: list[ClassMetrics]) -> Iterator[Metric]:
    """The recent gauges again per job class (no histograms: 14 buckets a class would be most
    of a scrape); `sum by (queue)` of each gives the queue's."""
    window = f"the last {RECENT_MINUTES} minutes"
    labels = ["queue", "class"]
    finished = GaugeMetricFamily("skiplock_recent_class_jobs_finished",
                                 f"Attempts finished in {window}, per job class", labels=labels)
    failed = GaugeMetricFamily("skiplock_recent_class_jobs_failed",
                               f"Jobs moved to failed_jobs in {window}, per job class",
                               labels=labels)
    runtime = GaugeMetricFamily("skiplock_recent_class_runtime_seconds",
                                f"Mean and max runtime of {window}, per job class",
                                labels=[*labels, "stat"])
    wait = GaugeMetricFamily("skiplock_recent_class_wait_seconds",
                             f"Mean and max wait of {window}, per job class",
                             labels=[*labels, "stat"])
    for row in rows:
        key = [row.queue, row.job_class or OTHER_CLASSES]
        finished.add_metric(key, row.processed)
        failed.add_metric(key, row.failed)
        for stat, value in (("mean", row.runtime_avg), ("max", row.runtime_max)):
            runtime.add_metric([*key, stat], value or 0.0)
        for stat, value in (("mean", row.wait_avg), ("max", row.wait_max)):
            wait.add_metric([*key, stat], value or 0.0)
    yield from (finished, failed, runtime, wait)


def cumulative(counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts as Prometheus' cumulative (le, count) pairs, ending with +Inf."""
    bounds = [*(f"{bound:g}" for bound in BUCKETS), "+Inf"]
    total, pairs = 0, []
    for bound, count in zip(bounds, counts, strict=False):
        total += count
        pairs.append((bound, float(total)))
    return pairs


def metrics_endpoint(request: Request) -> Response:
    state = request.app.state
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(state.counts, state.store, state.settings.retry_after))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
