"""The ticking scheduler: at each tick, claim each due run in the database and enqueue its job
in the same transaction (or, for a command, run it once the claim has committed).

Exactly once across schedulers: a run is a row of `schedule_runs` keyed by (task, due time),
inserted with ON CONFLICT DO NOTHING in the transaction that enqueues the job, so whichever
scheduler commits first owns it and the others insert nothing. A scheduler killed mid-tick
rolls back both, and another (or its own next tick) claims the run while it is still in its
window. Missed runs are not caught up beyond that window, as in Laravel.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.queue.errors import QueueError
from app.queue.schedule.store import ScheduleStore
from app.queue.schedule.task import Task
from app.queue.schedule.timing import Timing

MINUTE_WINDOW = dt.timedelta(seconds=60)
"""A task due at a minute is enqueued by any tick in that minute (Laravel's `schedule:run` from
system cron runs some seconds into the minute)."""
SECONDS_WINDOW = dt.timedelta(seconds=3)
"""A sub-minute task's run is enqueued by any tick within 3 s of it: ticks are a second apart
but not to the microsecond, and this covers a late or skipped tick without a gap."""
PRUNE_EVERY = dt.timedelta(minutes=10)

CommandRunner = Callable[[Sequence[str], Callable[[str], None]], int]
"""Runs an artisan command line (its words) to the end, passing each output line to the
callback; returns the exit code. Given by the console, which knows how to start artisan."""


class RunState(enum.StrEnum):
    ENQUEUED = "enqueued"
    STARTED = "started"
    TAKEN = "taken by another scheduler"
    SKIPPED = "skipped"
    OVERLAPPING = "skipped: the last run is still pending or running"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Run:
    task: str
    due_at: dt.datetime
    state: RunState
    job_id: str | None = None
    detail: str | None = None


class Scheduler:
    def __init__(self, tasks: Sequence[tuple[Task, Timing]], engine: Engine,
                 run_command: CommandRunner, identity: str,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.tasks = list(tasks)
        self.store = ScheduleStore(engine)
        self.engine = engine
        self.run_command = run_command
        self.identity = identity
        self.log = log
        self._seen: dict[tuple[str, dt.datetime], None] = {}
        self._commands: list[threading.Thread] = []
        self._pruned_at: dt.datetime | None = None
        self.exit_codes: dict[tuple[str, dt.datetime], int] = {}
        """(task, due time) -> exit code of each command run that ended in this process."""

    def tick(self, now: dt.datetime | None = None) -> list[Run]:
        """Enqueue (or start) every run due by `now` (the database's clock if None) that no
        scheduler has claimed yet. Returns what it did with each run it looked at. That one
        `now` bounds both the window and the pruning, so a tick never prunes the runs its own
        window would claim again."""
        now = now or self.store.now()
        runs = []
        for task, timing in self.tasks:
            window = SECONDS_WINDOW if timing.seconds is not None else MINUTE_WINDOW
            for due in timing.due_between(now - window, now):
                key = (task.label, due)
                if key in self._seen:
                    continue
                # Marked only once decided: a run whose claim met a database error is tried
                # again by the next tick while it is in its window.
                runs.append(self._run_due(task, due))
                self._seen[key] = None
        self._forget_before(now - 2 * MINUTE_WINDOW)
        self._prune(now)
        return runs

    def run_now(self, task: Task, now: dt.datetime | None = None) -> Run:
        """schedule:test: run the task at once, whatever its frequency and conditions (keyed
        by now, so it never takes a scheduled run's place)."""
        return self._claim_and_start(task, now or self.store.now(), check_overlap=False)

    def wait_for_commands(self) -> None:
        for thread in self._commands:
            thread.join()
        self._commands.clear()

    @property
    def running_commands(self) -> int:
        self._commands = [thread for thread in self._commands if thread.is_alive()]
        return len(self._commands)

    # ------------------------------------------------------------------------------ runs

    def _run_due(self, task: Task, due: dt.datetime) -> Run:
        try:
            if not task.passes_filters():
                return self._report(Run(task.label, due, RunState.SKIPPED))
        except Exception as exc:  # noqa: BLE001 - the user's when()/skip() condition
            return self._report(Run(task.label, due, RunState.FAILED,
                                    detail=f"its when()/skip() condition raised {exc!r}"))
        return self._claim_and_start(task, due, check_overlap=not task.overlapping_allowed)

    def _claim_and_start(self, task: Task, due: dt.datetime, check_overlap: bool) -> Run:
        from app.queue.dispatcher import dispatch

        job_id = None
        try:
            with self.engine.begin() as conn:
                if check_overlap:
                    self.store.lock_task(conn, task.label)
                    if self.store.last_run_busy(conn, task.label, task.overlap_expires):
                        return self._report(Run(task.label, due, RunState.OVERLAPPING))
                if not self.store.claim_run(conn, task.label, due, self.identity):
                    return Run(task.label, due, RunState.TAKEN)
                if task.job is not None:
                    job_id = dispatch(task.job, queue=task.queue, connection=conn)
                    self.store.set_run_job(conn, task.label, due, job_id)
        except (TypeError, ValueError) as exc:  # the job's arguments, refused by dispatch
            return self._report(Run(task.label, due, RunState.FAILED, detail=str(exc)))
        if task.job is not None:
            return self._report(Run(task.label, due, RunState.ENQUEUED, job_id=job_id))
        self._start_command(task, due)
        return self._report(Run(task.label, due, RunState.STARTED))

    def _start_command(self, task: Task, due: dt.datetime) -> None:
        thread = threading.Thread(target=self._command, args=(task, due), daemon=True,
                                  name=f"schedule-{task.label}")
        self._commands.append(thread)
        thread.start()

    def _command(self, task: Task, due: dt.datetime) -> None:
        label = task.label
        try:
            code = self.run_command(task.arguments(), lambda line: self.log(f"[{label}] {line}"))
        except (OSError, QueueError) as exc:
            self.log(f"{label}: the command could not be started: {exc}")
            code = 127
        self.exit_codes[(label, due)] = code
        if code == 0:
            self.log(f"{label}: finished")
        else:
            self.log(f"{label}: failed with exit code {code}")
        try:
            self.store.finish_run(label, due, code)
        except QueueError as exc:
            self.log(f"{label}: its end could not be recorded: {exc}")

    def _report(self, run: Run) -> Run:
        when = run.due_at.strftime("%Y-%m-%d %H:%M:%S %Z")
        detail = f" ({run.detail})" if run.detail else ""
        job = f" as job {run.job_id}" if run.job_id else ""
        self.log(f"{run.task} due {when}: {run.state.value}{job}{detail}")
        return run

    # ------------------------------------------------------------------------ upkeep

    def _forget_before(self, horizon: dt.datetime) -> None:
        for key in [key for key in self._seen if key[1] < horizon]:
            del self._seen[key]

    def _prune(self, now: dt.datetime) -> None:
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.store.prune_runs(now)
