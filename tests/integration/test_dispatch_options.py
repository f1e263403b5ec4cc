"""Issue 26 at dispatch: options of the wrong type (item 1), private and `job_id` attributes
(item 12), arguments named like Job's methods but stored under other names (item 14), and
dispatch_many(queue=…) (item 21). Each refusal is one TypeError naming what is wrong, raised
before anything is stored, by every way in: dispatch, dispatch_many, dispatch_sync, chains,
batches and POST /api/jobs."""

from __future__ import annotations

import re

import pytest

from app.queue import batch, chain, dispatch, dispatch_many, dispatch_sync
from tests.jobs.dispatching import (
    Anything,
    BadBackoff,
    BadTries,
    KeepsTokenPrivate,
    NamesItsArgumentsLikeJobs,
    Plain,
    SetsItsOwnJobId,
)
from tests.jobs.sample_jobs import Carry
from tests.support import count, ledger, work

SENDERS = {
    "dispatch": dispatch,
    "dispatch_many": lambda job: dispatch_many([Carry(1), job]),
    "dispatch_sync": dispatch_sync,
    "chain": lambda job: chain([Carry(1), job]).dispatch(),
    "batch": lambda job: batch([Carry(1), job]).dispatch(),
}


def with_option(name: str, value: object) -> Plain:
    job = Plain()
    setattr(job, name, value)
    return job


BAD_OPTIONS = {
    "tries on the class": (BadTries, "BadTries.tries must be an int or None, not str '3'"),
    "backoff on the class": (BadBackoff, "BadBackoff.backoff must be seconds, a list of "
                                         "seconds or None, not list [10, None]"),
    "tries on the instance": (lambda: with_option("tries", "3"), "Plain.tries must be an int"),
    "backoff abc": (lambda: with_option("backoff", "abc"), "Plain.backoff must be seconds"),
    "backoff dict": (lambda: with_option("backoff", {"a": 1}), "Plain.backoff must be seconds"),
    "timeout": (lambda: with_option("timeout", "60"), "Plain.timeout must be a number"),
    # Refused as an option, or as an argument (NaN is not JSON): named either way.
    "timeout nan": (lambda: with_option("timeout", float("nan")), "timeout"),
    "priority": (lambda: with_option("priority", "5"), "Plain.priority must be an int"),
    "queue": (lambda: with_option("queue", 7), "Plain.queue must be a str or None, not int"),
    "tries bool": (lambda: with_option("tries", True), "Plain.tries must be an int"),
}


@pytest.mark.parametrize("sender", SENDERS)
@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_an_option_of_the_wrong_type_is_a_type_error_naming_it_and_stores_nothing(
        queue, engine, case, sender):
    make, message = BAD_OPTIONS[case]
    with pytest.raises(TypeError, match=re.escape(message)) as caught:
        SENDERS[sender](make())
    assert "\n" not in str(caught.value)
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM job_batches") == 0


def test_dispatchs_own_queue_argument_of_the_wrong_type_is_a_type_error(queue, engine):
    with pytest.raises(TypeError, match="queue must be a str or None, not int"):
        dispatch(Carry(1), queue=7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dispatch_many\\(\\)'s queue must be a str"):
        dispatch_many([Carry(1)], queue=7)  # type: ignore[arg-type]
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_well_typed_options_still_go_through(queue, engine):
    good = Plain()
    good.tries, good.backoff, good.timeout, good.priority = 3, (1, 2.5), 30, 2
    dispatch(good)
    dispatch_many([with_option("backoff", [1, 2]), with_option("timeout", 1.5)])
    assert count(engine, "SELECT count(*) FROM jobs") == 3


def test_post_api_jobs_refuses_an_option_of_the_wrong_type_as_422_naming_it(queue, engine):
    from tests.dashboard.conftest import BEARER, make_client

    with make_client(engine) as client:
        for args, option in (({"tries": "3"}, "tries"), ({"backoff": [10, None]}, "backoff"),
                             ({"backoff": {"a": 1}}, "backoff"), ({"timeout": "x"}, "timeout")):
            answer = client.post("/api/jobs", headers=BEARER, json={
                "job": "tests.jobs.dispatching.Anything", "args": args})
            assert answer.status_code == 422, answer.text
            assert f"Anything.{option} must be" in answer.json()["error"]
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert Anything  # the class the API built


# -------------------------------------------------- private and job_id attributes (item 12)

@pytest.mark.parametrize("sender", SENDERS)
def test_a_private_attribute_is_refused_naming_it(queue, engine, sender):
    with pytest.raises(TypeError, match=re.escape(
            "KeepsTokenPrivate stores a private attribute `_token`, which is not stored with "
            "the job, so a worker would not have it; store it under a public name (`token`)")):
        SENDERS[sender](KeepsTokenPrivate("t0k3n"))
    assert count(engine, "SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize("sender", SENDERS)
def test_a_job_id_attribute_of_the_users_is_refused_as_attempts_is(queue, engine, sender):
    with pytest.raises(TypeError, match=re.escape(
            "SetsItsOwnJobId stores an attribute `job_id`, which Skiplock sets at run time")):
        SENDERS[sender](SetsItsOwnJobId(7))
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_a_job_skiplock_gave_an_id_can_be_dispatched_again(queue, engine):
    job = Carry(1)
    first = dispatch(job)
    [second] = dispatch_many([job])
    third = chain([job]).dispatch()
    assert len({first, second, third}) == 3
    assert count(engine, "SELECT count(*) FROM jobs") == 3


def test_a_required_argument_stored_under_another_name_is_refused_naming_it(queue, engine):
    private = KeepsTokenPrivate("x")
    private.__dict__.pop("_token")  # kept nowhere at all: `token` is missing by any name
    with pytest.raises(TypeError, match=re.escape(
            "KeepsTokenPrivate takes a required argument `token` but stores no attribute "
            "`token`")):
        dispatch(private)
    assert count(engine, "SELECT count(*) FROM jobs") == 0


# ------------------------------ arguments named like Job's methods, stored elsewhere (item 14)

def test_arguments_named_fail_error_progress_stored_elsewhere_run_in_a_worker(queue, engine):
    dispatch(NamesItsArgumentsLikeJobs("n", fail=True, error="oops", progress=40))
    result = work()
    assert result.returncode == 0, result.stderr
    assert ledger(engine) == [("n", "True oops 40")]


# ----------------------------------------------------- dispatch_many(queue=…) (item 21)

def test_dispatch_many_takes_a_queue_for_every_job_of_the_list(queue, engine):
    from app.queue.testing import fake_queue
    from tests.jobs.unique_and_cancel import UniqueReport

    ids = dispatch_many([Carry(1), Carry(2)], queue="bulk")
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'bulk'") == 2 == len(ids)
    dispatch_many([UniqueReport(1), Carry(3)], queue="bulk-unique")
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'bulk-unique'") == 2
    with fake_queue() as fake:
        dispatch_many([Carry(4)], queue="faked")
    fake.assert_pushed_on("faked", Carry)
