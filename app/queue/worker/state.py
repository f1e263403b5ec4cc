"""What the parts of the worker share: the attributes Worker.__init__ sets, and the methods
one part calls on another. Declared once here so that each part (a mixin of Worker, see
loop.py) is type-checked alone; nothing here runs."""

from __future__ import annotations

import queue as stdlib_queue
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.queue.connections.base import Claimer, MetricsWriter, QueueStore, WakeupListener
from app.queue.connections.records import ClaimedJob
from app.queue.metrics import MetricsRecorder
from app.queue.resolver import JobClassResolver
from app.queue.runner import AttemptResult
from app.queue.settings import Defaults, QueueSettings
from app.queue.worker.event_loop import JobLoop
from app.queue.worker.heartbeat import Heartbeat
from app.queue.worker.hooks import FailedHooks
from app.queue.worker.options import JobEvent, StopReason, WorkerOptions
from app.queue.worker.outage import OutageLog, RefusedOutcomes, WorkerLink
from app.queue.worker.signals import StopSignals
from app.queue.worker.slot import Slot
from app.queue.worker.threads import JobThreads
from app.queue.worker.timeouts import Timeouts
from app.queue.worker.vacuum import BloatGuard


class WorkerState:
    store: QueueStore
    settings: QueueSettings
    options: WorkerOptions
    report: Callable[[JobEvent], None] | None
    log: Callable[[str], None]
    id: str
    resolver: JobClassResolver
    defaults: Defaults
    events: stdlib_queue.SimpleQueue[tuple[str, Any]]
    slots: dict[str, Slot]
    ahead: deque[Slot]
    _ahead_lock: threading.Lock
    _loop_classes: dict[str, bool]
    _ahead_at: float
    _fast: bool
    _members_claimed: bool
    acks: list[str]
    acks_carry_on: bool
    outcomes: deque[tuple[Slot, AttemptResult]]
    _done: list[tuple[Slot, AttemptResult]]
    _done_lock: threading.Lock
    _wake_at: int
    processed: int
    failed: int
    stop_reason: StopReason | None
    outage: OutageLog
    link: WorkerLink
    refused: RefusedOutcomes
    timeouts: Timeouts
    claim_was_full: bool
    started: float
    pool: JobThreads
    job_loop: JobLoop
    hooks: FailedHooks
    signals: StopSignals
    claimer: Claimer
    metrics: MetricsRecorder
    metrics_store: MetricsWriter
    _metrics_refused: bool
    bloat: BloatGuard
    heartbeat: Heartbeat | None
    listener: WakeupListener | None
    _announced_wait: bool
    _limited_due: list[float]

    if TYPE_CHECKING:  # defined by one part, called by another
        def request_stop(self, reason: StopReason) -> None: ...
        def wake(self) -> None: ...
        def _claim(self) -> list[ClaimedJob]: ...
        def _held_ids(self) -> list[str]: ...
        def _running(self) -> int: ...
        def _start_ahead(self) -> None: ...
        def _give_back_ahead(self) -> None: ...
        def _next_ahead(self) -> Slot | None: ...
        def _execute(self, slot: Slot) -> None: ...
        def _post(self, slot: Slot, result: AttemptResult) -> None: ...
        def _begin_on_loop(self, slot: Slot) -> None: ...
        def _collect_events(self, block_for: float, wake_at: int = 1) -> None: ...
        def _take_done(self, wake_at: int) -> bool: ...
        def _wake_by(self, delay: float) -> None: ...
        def _record_outcomes(self) -> None: ...
        def _record(self, slot: Slot, result: AttemptResult, owner: str) -> None: ...
        def _flush_acks(self) -> None: ...
        def _flush_metrics(self) -> None: ...
        def _announce_finished_batches(self) -> None: ...
        def _check_memory(self) -> None: ...
        def _stuck(self) -> list[Slot]: ...
        def _busy(self) -> bool: ...
