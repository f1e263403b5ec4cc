"""What the runner decides, without a database."""

from __future__ import annotations


def test_retry_after_refuses_nonsense_delays():
    import pytest

    from app.queue import RetryAfter

    for bad in (float("nan"), float("inf"), -1):
        with pytest.raises(ValueError, match="RetryAfter"):
            RetryAfter(bad)
    assert RetryAfter(2).seconds == 2.0


def test_a_wrongly_typed_tries_or_backoff_fails_the_attempt_with_a_clear_error():
    from app.queue import Job
    from app.queue.errors import InvalidJobOption
    from app.queue.runner import Outcome, decide_after_error
    from app.queue.settings import Defaults

    for option, value in [("tries", "3"), ("tries", 2.5), ("tries", True), ("backoff", "abc"),
                          ("backoff", [10, None]), ("backoff", {"a": 1}),
                          ("backoff", float("nan")), ("backoff", [float("inf")])]:
        job = Job()
        job.attempts = 1
        setattr(job, option, value)
        result = decide_after_error(job, RuntimeError("boom"), Defaults(), 0.0)
        assert result.outcome is Outcome.FAIL, (option, value)
        assert isinstance(result.error, InvalidJobOption)
        assert f"Job.{option} must be" in str(result.error)
        assert "RuntimeError: boom" in (result.error_text or "")  # the attempt's error kept


def test_good_tries_and_backoff_still_retry_as_before():
    from app.queue import Job
    from app.queue.runner import Outcome, decide_after_error
    from app.queue.settings import Defaults

    job = Job()
    job.attempts, job.tries, job.backoff = 1, 3, [5, 10]
    result = decide_after_error(job, RuntimeError("boom"), Defaults(), 0.0)
    assert (result.outcome, result.delay) == (Outcome.RETRY, 5.0)


def test_deciding_never_raises_whatever_the_job_holds():
    from app.queue import Job
    from app.queue.runner import Outcome, decide_after_error
    from app.queue.settings import Defaults

    class Hostile(Job):
        @property
        def attempts(self) -> int:  # type: ignore[override]
            raise KeyError("no attempts here")

    result = decide_after_error(Hostile(), RuntimeError("boom"), Defaults(), 0.0)
    assert result.outcome is Outcome.FAIL
    assert "Deciding whether to retry raised" in (result.error_text or "")
    assert "KeyError" in (result.error_text or "")


def test_unstorable_error_text_is_escaped_and_the_rest_left_alone():
    import os

    from app.queue.text import storable

    assert storable("plain text") == "plain text"
    assert storable("a\x00b") == "a\\x00b"
    assert storable("caf" + os.fsdecode(b"\xff")) == "caf\\udcff"
    storable("x\x00" + os.fsdecode(b"\xfe")).encode("utf-8")  # encodable now


def test_hold_back_refuses_what_release_refuses():
    import pytest

    from app.queue import Job
    from app.queue.middleware import hold_back

    for bad in (float("nan"), float("inf"), 1e20):
        with pytest.raises(ValueError, match="hold_back delay"):
            hold_back(Job(), bad)
    job = Job()
    hold_back(job, -3)
    assert job._limited_delay == 0.0
