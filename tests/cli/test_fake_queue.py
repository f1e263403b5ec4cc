"""fake_queue: dispatches recorded, not enqueued, with assertions that say what was pushed
instead; and the fixture as a user's own test suite gets it from the installed package."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from app.jobs.send_welcome_email import SendWelcomeEmail
from app.queue import dispatch, dispatch_many
from app.queue.testing import fake_queue
from tests.jobs.basic import Record
from tests.support import ROOT, count


def test_dispatches_are_recorded_and_nothing_is_enqueued(queue, engine):
    with fake_queue() as fake:
        job_id = dispatch(SendWelcomeEmail(7, "a@b.c"))
        dispatch(SendWelcomeEmail(8, "c@d.e"), queue="high", delay=60)
        ids = dispatch_many([Record("x"), Record("y")])
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert len(job_id) == 26 and len(ids) == 2
    fake.assert_pushed(SendWelcomeEmail)
    fake.assert_pushed(SendWelcomeEmail, times=2)
    fake.assert_pushed(SendWelcomeEmail, lambda job: job.email == "c@d.e", times=1)
    fake.assert_pushed_on("high", SendWelcomeEmail)
    fake.assert_pushed_on("emails", SendWelcomeEmail, lambda job: job.user_id == 7)
    fake.assert_pushed(Record, times=2)
    assert [job.tag for job in fake.pushed(Record)] == ["x", "y"]
    fake.assert_not_pushed(Record, lambda job: job.tag == "z")
    # After the block, dispatch enqueues again.
    dispatch(Record("real"))
    assert count(engine, "SELECT count(*) FROM jobs") == 1


def test_failed_assertions_say_what_was_pushed_instead(queue):
    with fake_queue() as fake:
        fake.assert_nothing_pushed()
        with pytest.raises(AssertionError, match="nothing was pushed"):
            fake.assert_pushed(Record)
        dispatch(Record("x"), queue="other")
    with pytest.raises(AssertionError, match=r"pushed instead: Record\(tag='x', seconds=0.0\) "
                                             r"on 'other'"):
        fake.assert_pushed(SendWelcomeEmail)
    with pytest.raises(AssertionError, match="expected Record to be pushed on queue 'default'"):
        fake.assert_pushed_on("default", Record)
    with pytest.raises(AssertionError, match=r"pushed 1 time\(s\)"):
        fake.assert_pushed(Record, times=2)
    with pytest.raises(AssertionError, match="expected Record not to be pushed"):
        fake.assert_not_pushed(Record)
    with pytest.raises(AssertionError, match="expected nothing to be pushed"):
        fake.assert_nothing_pushed()


def test_arguments_are_checked_as_dispatch_checks_them(queue):
    with fake_queue() as fake:
        with pytest.raises(TypeError, match="tag"):
            dispatch(Record({1, 2}))  # type: ignore[arg-type]  # a set is not storable
        with pytest.raises(ValueError, match="delay"):
            dispatch(Record("x"), delay=-1)
    fake.assert_nothing_pushed()


USERS_TEST = '''
from app.jobs.send_welcome_email import SendWelcomeEmail
from app.queue import dispatch


def signup(email):
    dispatch(SendWelcomeEmail(1, email))


def test_signup_sends_the_welcome_email(fake_queue):
    signup("a@b.c")
    fake_queue.assert_pushed(SendWelcomeEmail, lambda job: job.email == "a@b.c")


def test_a_wrong_expectation_fails_with_what_was_pushed(fake_queue):
    signup("a@b.c")
    fake_queue.assert_not_pushed(SendWelcomeEmail)
'''


def test_the_fixture_works_in_a_users_own_test_suite(tmp_path):
    """A test file outside this suite, run by a fresh pytest as a user's project runs it: the
    fixture comes from the installed package's pytest plugin, not from our conftest."""
    (tmp_path / "test_signup.py").write_text(textwrap.dedent(USERS_TEST))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(tmp_path / "test_signup.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert ("expected SendWelcomeEmail not to be pushed; it was pushed 1 time(s): "
            "SendWelcomeEmail(user_id=1, email='a@b.c')") in result.stdout
