"""What dispatch refuses before anything is stored: arguments that clash with the names
Skiplock uses, job classes no worker would import, queue names no worker could be told to
take, and arguments nested too deeply. Each is one line naming what is wrong; nothing is
enqueued, whichever of dispatch, dispatch_many and dispatch_sync was called."""

from __future__ import annotations

import re

import pytest

from app.bench.bench_noop import BenchNoop
from app.queue import dispatch, dispatch_many, dispatch_sync, job
from app.queue.decoding import decode
from app.queue.job import RESERVED_NAMES, Job
from app.queue.payload import MAX_NESTING
from tests.integration.test_payload import stored_payload
from tests.jobs.clashing import (
    ShadowsItsOwnMethod,
    StoresAttempts,
    StoresRelease,
    TakesAnything,
    TakesAttempts,
    TakesFail,
)
from tests.jobs.sample_jobs import Carry, Counted
from tests.support import count
from tests.unit.test_payload_codec import RESOLVER


def jobs_in_table(engine) -> int:
    return count(engine, "SELECT count(*) FROM jobs")


SENDERS = {
    "dispatch": dispatch,
    "dispatch_many": lambda job: dispatch_many([Carry(1), job]),
    "dispatch_sync": dispatch_sync,
}

# ------------------------------------------------------- names Skiplock uses (issue 12.2)

CLASHES = {
    "argument attempts": (lambda: TakesAttempts("https://x", attempts=5),
                          "TakesAttempts takes an argument `attempts`, which Skiplock sets at "
                          "run time; rename it"),
    "argument fail": (lambda: TakesFail("https://x"),
                      "TakesFail takes an argument `fail`, which would replace Job.fail(); "
                      "rename it"),
    "attribute attempts": (lambda: StoresAttempts(2),
                           "StoresAttempts stores an attribute `attempts`, which Skiplock sets "
                           "at run time"),
    "attribute release": (lambda: StoresRelease(1.5),
                          "StoresRelease stores an attribute `release`, which would replace "
                          "Job.release()"),
    "own method": (lambda: ShadowsItsOwnMethod("a@b.c"),
                   "ShadowsItsOwnMethod stores an attribute `notify`, which would replace "
                   "ShadowsItsOwnMethod's own notify"),
    "kwargs progress": (lambda: TakesAnything(progress=50), "stores an attribute `progress`"),
    "kwargs attempts": (lambda: TakesAnything(attempts=3), "stores an attribute `attempts`"),
}


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("case", CLASHES)
def test_arguments_named_like_skiplocks_own_are_refused_and_enqueue_nothing(
        queue, engine, case, sender):
    make, message = CLASHES[case]
    with pytest.raises(TypeError, match=re.escape(message)) as caught:
        SENDERS[sender](make())
    text = str(caught.value)
    assert "\n" not in text
    assert all(f"{name}," in text for name in RESERVED_NAMES), text
    assert jobs_in_table(engine) == 0


def test_the_reserved_names_are_read_from_the_job_class(monkeypatch):
    assert {"job_id", "attempts", "batch_id", "chain_id", "failed_job_id", "error"} \
        == job.RUNTIME_STATE
    assert {"handle", "failed", "release", "fail", "progress", "dispatch", "batch"} \
        <= job.BEHAVIOUR
    # The options are the user's to set, per class or per instance.
    assert not {"queue", "tries", "backoff", "timeout", "priority"} & RESERVED_NAMES
    # A feature that gives Job a method or a runtime field is covered without a list to edit.
    monkeypatch.setattr(Job, "cancel", lambda self: None, raising=False)
    monkeypatch.setitem(Job.__annotations__, "lease_id", "str | None")
    monkeypatch.setattr(Job, "lease_id", None, raising=False)
    state, behaviour = job.public_names_of_job()
    assert "cancel" in behaviour and "lease_id" in state


def test_a_dispatched_job_can_be_dispatched_again_with_its_runtime_state(queue, engine):
    """job_id and attempts that Skiplock set are not arguments, and not a clash."""
    counted = Counted()
    dispatch_sync(counted)  # sets job_id and attempts
    first = dispatch(counted)
    second = dispatch(counted)
    assert first != second and jobs_in_table(engine) == 2
    assert "attempts" not in stored_payload(engine, second)


def test_options_set_per_instance_are_still_allowed(queue, engine):
    carried = Carry(1)
    carried.queue, carried.priority = "per-instance", 3
    job_id = dispatch(carried)
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND queue = 'per-instance' "
                 "AND priority = 3", id=job_id) == 1


# -------------------------------------------- classes no worker would run (issue 12.3)


@pytest.mark.parametrize("sender", ["dispatch", "dispatch_many"])
def test_a_job_class_outside_the_job_packages_is_refused_at_dispatch(queue, engine, sender):
    with pytest.raises(TypeError) as caught:
        SENDERS[sender](BenchNoop({"i": 1}))
    text = str(caught.value)
    assert "QUEUE_JOB_PACKAGES" in text and "'app.bench.bench_noop'" in text, text
    assert "app.jobs, tests.jobs" in text and "\n" not in text
    assert jobs_in_table(engine) == 0


def test_dispatch_sync_runs_a_class_from_anywhere_but_the_sync_connection_checks(
        queue, engine, monkeypatch):
    """dispatch_sync never imports the class by its path, so the packages do not matter to
    it; dispatch() with QUEUE_CONNECTION=sync refuses what a queued dispatch refuses."""
    from app.bootstrap import make_context
    from app.queue import context

    assert dispatch_sync(BenchNoop({"i": 1})) is None
    monkeypatch.setenv("QUEUE_CONNECTION", "sync")
    context.use(make_context())
    with pytest.raises(TypeError, match="QUEUE_JOB_PACKAGES"):
        dispatch(BenchNoop({"i": 1}))
    assert jobs_in_table(engine) == 0


# ------------------------------------------------------------- queue names (issue 12.4)

BAD_NAMES = {
    "leading space": " default",
    "trailing space": "default ",
    "comma": "high,low",
    "empty": "",
    "tab": "\tq",
    "too long": "q" * 256,
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_queue_names_no_worker_could_be_told_to_take_are_refused(queue, engine, monkeypatch,
                                                                 name):
    with pytest.raises(ValueError, match="queue name"):
        dispatch(Carry(1), queue=name)
    monkeypatch.setattr(Carry, "queue", name)  # a job class's own `queue`: the same rule
    with pytest.raises(ValueError, match="queue name"):
        dispatch(Carry(1))
    with pytest.raises(ValueError, match="queue name"):
        dispatch_many([Carry(1)])
    assert jobs_in_table(engine) == 0


# -------------------------------------------------------- nesting (issue 13, item 11)


def nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_tuple(depth: int) -> tuple:
    value: tuple = ()
    for _ in range(depth - 1):
        value = (value, 1)
    return value


@pytest.mark.parametrize("sender", SENDERS)
def test_an_argument_nested_100000_deep_is_a_value_error_naming_it(queue, engine, sender):
    with pytest.raises(ValueError, match=f"job attribute 'value' is nested more than "
                                         f"{MAX_NESTING} levels deep"):
        SENDERS[sender](Carry({"a": nested_list(100_000)}))
    assert jobs_in_table(engine) == 0


def test_an_argument_that_contains_itself_is_a_value_error(queue, engine):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        dispatch(Carry(loop))
    assert jobs_in_table(engine) == 0


@pytest.mark.parametrize("make", [nested_list, nested_tuple], ids=["lists", "tuples"])
def test_the_deepest_argument_allowed_comes_back_from_the_table(queue, engine, make):
    deepest = make(MAX_NESTING)
    decoded = decode(stored_payload(engine, dispatch(Carry(deepest))), RESOLVER)
    assert decoded.value == deepest
    with pytest.raises(ValueError, match="nested more than"):
        dispatch(Carry([deepest]))
