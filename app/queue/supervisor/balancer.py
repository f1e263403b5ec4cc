"""How many processes each pool of a supervisor should have: a pure function of its settings,
what it runs now, and the work waiting (Horizon's AutoScaler, in our words).

`auto` moves processes toward the queues with the most work: "size" weighs a queue by its
pending jobs, "time" by pending x mean runtime (the time to clear it). Each queue's share of
`max_processes` is its share of the weight, never below `min_processes`; a pool moves at most
`balance_max_shift` processes per call (the supervisor calls it once per cooldown); growth is
capped by the room under `max_processes`, which shrinking pools free first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from app.queue.supervisor.settings import Balance, Strategy, SupervisorSettings


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """What waits on one queue, as the supervisor's tick read it."""

    pending: int
    mean_runtime: float | None
    """Seconds per attempt over the last minutes (queue_metrics); None without history."""


def target(settings: SupervisorSettings, current: Mapping[str, int],
           loads: Mapping[str, QueueLoad], draining: int = 0) -> dict[str, int]:
    """Processes per pool after this step. `draining`: children told to stop that have not
    exited yet; they still count toward `max_processes`."""
    if settings.balance is Balance.OFF:
        return {settings.pools()[0]: settings.processes}
    if settings.balance is Balance.SIMPLE:
        return even_split(settings.queues, settings.processes)
    return auto_step(settings, current, loads, draining)


def even_split(queues: tuple[str, ...], processes: int) -> dict[str, int]:
    """`processes` split as evenly as they go; the first queues (highest priority) get the
    remainder."""
    base, extra = divmod(processes, len(queues))
    return {queue: base + (i < extra) for i, queue in enumerate(queues)}


def weights(settings: SupervisorSettings, loads: Mapping[str, QueueLoad]) -> dict[str, float]:
    """Each queue's work: pending jobs ("size"), or seconds to clear them ("time"). A queue
    with no runtime history yet counts at the mean of the others (1 s when none has one), so a
    new queue's flood still draws processes."""
    known = [load.mean_runtime for load in loads.values() if load.mean_runtime]
    fallback = sum(known) / len(known) if known else 1.0
    result = {}
    for queue in settings.queues:
        load = loads.get(queue, QueueLoad(0, None))
        if settings.auto_scaling_strategy is Strategy.SIZE:
            result[queue] = float(load.pending)
        else:
            result[queue] = load.pending * (load.mean_runtime or fallback)
    return result


def desired(settings: SupervisorSettings, loads: Mapping[str, QueueLoad]) -> dict[str, int]:
    """Where the pools would go with no limit on how fast: their share of max_processes."""
    work = weights(settings, loads)
    total = sum(work.values())
    floor = settings.min_processes
    if total <= 0:
        return dict.fromkeys(settings.queues, floor)
    return {queue: max(floor, math.ceil(work[queue] / total * settings.max_processes))
            for queue in settings.queues}


def auto_step(settings: SupervisorSettings, current: Mapping[str, int],
              loads: Mapping[str, QueueLoad], draining: int) -> dict[str, int]:
    goal = desired(settings, loads)
    shift = settings.balance_max_shift
    # A pool under its floor (at start, or after children died) is brought up at once: the
    # floor is a promise, not a move.
    now = {queue: max(current.get(queue, 0), settings.min_processes) for queue in settings.queues}
    step = {queue: max(goal[queue], now[queue] - shift) if goal[queue] < now[queue]
            else now[queue] for queue in settings.queues}
    room = settings.max_processes - draining - sum(step.values())
    # The biggest shortfall grows first; ties go to the queue listed first.
    for queue in sorted(settings.queues, key=lambda q: -(goal[q] - step[q])):
        grow = min(goal[queue] - step[queue], shift, max(room, 0))
        if grow > 0:
            step[queue] += grow
            room -= grow
    return step
