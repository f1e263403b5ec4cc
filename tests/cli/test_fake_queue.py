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


def test_chains_and_batches_are_recorded_with_assertions_that_say_what_was_pushed(queue,
                                                                                  engine):
    from app.queue import batch, chain

    with fake_queue() as fake:
        first = chain([Record("a"), Record("b"), SendWelcomeEmail(1, "a@b.c")]) \
            .catch(Record("caught")).dispatch()
        b = batch([Record("x"), [Record("y"), Record("z")]]).name("import") \
            .then(Record("done")).dispatch()
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert count(engine, "SELECT count(*) FROM job_batches") == 0
    assert len(first) == 26 and (b.name, b.total_jobs, b.pending_jobs) == ("import", 2, 2)
    fake.assert_chained([Record, Record, SendWelcomeEmail])
    fake.assert_chained([Record("a"), Record("b"), SendWelcomeEmail(1, "a@b.c")])
    fake.assert_pushed(Record, lambda job: job.tag == "a", times=1)  # the first step only
    fake.assert_not_pushed(SendWelcomeEmail)
    fake.assert_batched(lambda pending: pending.batch_name == "import"
                        and len(pending.jobs) == 2 and "then" in pending.callbacks)
    with pytest.raises(AssertionError, match="expected the chain Record -> SendWelcomeEmail "
                                             "to be dispatched; chains dispatched instead: "
                                             "Record -> Record -> SendWelcomeEmail"):
        fake.assert_chained([Record, SendWelcomeEmail])
    with pytest.raises(AssertionError, match="expected a batch matching the predicate to be "
                                             "dispatched; batches dispatched instead: 'import' "
                                             r"of 2 job\(s\)"):
        fake.assert_batched(lambda pending: pending.batch_name == "export")
    with pytest.raises(AssertionError, match="expected nothing to be pushed"):
        fake.assert_nothing_pushed()
    with fake_queue() as empty:
        with pytest.raises(AssertionError, match="no chain was dispatched"):
            empty.assert_chained([Record])
        with pytest.raises(AssertionError, match="no batch was dispatched"):
            empty.assert_batched()
        with pytest.raises(TypeError, match="cannot be imported"):
            chain([Record("a"), Local("b")]).dispatch()
        empty.assert_nothing_pushed()


def make_local() -> type:
    class Local(Record):
        pass
    return Local


Local = make_local()


USERS_CHAIN_TEST = '''
from app.jobs.send_welcome_email import SendWelcomeEmail
from app.queue import batch, chain


def onboard(emails):
    chain([SendWelcomeEmail(1, emails[0]), SendWelcomeEmail(2, emails[1])]).dispatch()
    batch([SendWelcomeEmail(n, email) for n, email in enumerate(emails)]).name("welcome") \\
        .dispatch()


def test_onboarding_chains_and_batches(fake_queue):
    onboard(["a@b.c", "c@d.e"])
    fake_queue.assert_chained([SendWelcomeEmail, SendWelcomeEmail])
    fake_queue.assert_batched(lambda b: b.batch_name == "welcome" and len(b.jobs) == 2)


def test_a_wrong_chain_expectation_fails_with_what_was_chained(fake_queue):
    onboard(["a@b.c", "c@d.e"])
    fake_queue.assert_chained([SendWelcomeEmail])
'''


def test_chain_and_batch_assertions_in_a_users_own_test_suite(tmp_path):
    (tmp_path / "test_onboarding.py").write_text(textwrap.dedent(USERS_CHAIN_TEST))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(tmp_path / "test_onboarding.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert ("expected the chain SendWelcomeEmail to be dispatched; chains dispatched instead: "
            "SendWelcomeEmail -> SendWelcomeEmail") in result.stdout


USERS_LIGHT_TEST = '''
import sys

from app.jobs.send_welcome_email import SendWelcomeEmail
from app.queue import dispatch


def test_signup_sends_the_welcome_email(fake_queue):
    dispatch(SendWelcomeEmail(1, "a@b.c"))
    fake_queue.assert_pushed(SendWelcomeEmail)
    loaded = [name for name in ("hypothesis", "schemathesis", "playwright") if name in sys.modules]
    print("HEAVY MODULES", loaded)
'''


def test_a_users_fake_queue_test_in_this_project_loads_no_fuzzing_plugins(tmp_path):
    """A test of the user's, run with the project's pytest settings (issue 26, item 24):
    schemathesis's plugin (which imports hypothesis too) is not loaded for it, nor is
    anything of Skiplock's beyond what the test itself uses."""
    (tmp_path / "test_light.py").write_text(textwrap.dedent(USERS_LIGHT_TEST))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
         str(tmp_path / "test_light.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "HEAVY MODULES []" in result.stdout, result.stdout
