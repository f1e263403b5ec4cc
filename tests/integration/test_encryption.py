"""Encrypted jobs (`encrypted = True`): nothing readable at rest, rotation with
APP_PREVIOUS_KEYS, and one clear line for a missing, wrong or malformed key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.bootstrap import make_context
from app.dashboard.arguments import visible_arguments
from app.queue import QueueError, context, dispatch
from app.queue.crypto import generate_key
from tests.jobs.limited import Secret
from tests.support import artisan, count, ledger, work

CARD = "4111-1111-1111-1111"


def use_keys(monkeypatch: pytest.MonkeyPatch, key: str | None, previous: str = "") -> None:
    """This process dispatches with these keys; workers started after inherit them."""
    if key is None:
        monkeypatch.delenv("APP_KEY", raising=False)
    else:
        monkeypatch.setenv("APP_KEY", key)
    monkeypatch.setenv("APP_PREVIOUS_KEYS", previous)
    context.use(make_context())


def stored(engine: sa.Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return [" ".join(str(value) for value in row)
                for row in conn.execute(sa.text(f"SELECT * FROM {table}"))]


def test_arguments_are_encrypted_at_rest_and_decrypted_by_the_worker(queue, engine,
                                                                      monkeypatch):
    use_keys(monkeypatch, generate_key())
    dispatch(Secret("s", CARD))
    [row] = stored(engine, "jobs")
    assert CARD not in row and "Secret" in row
    with engine.connect() as conn:
        payload = conn.execute(sa.text("SELECT payload FROM jobs")).scalar_one()
    assert payload["encrypted"] is True and isinstance(payload["data"], str)
    assert visible_arguments(payload) == "[encrypted]"
    result = work()
    assert result.returncode == 0, result.stderr
    assert ledger(engine) == [("s", f"card {CARD}")]
    assert payload["data"] not in result.stdout + result.stderr


def test_a_rotated_key_still_decrypts_from_app_previous_keys(queue, engine, monkeypatch):
    old, new = generate_key(), generate_key()
    use_keys(monkeypatch, old)
    dispatch(Secret("r", CARD))
    use_keys(monkeypatch, new, previous=old)
    assert work().returncode == 0
    assert ledger(engine) == [("r", f"card {CARD}")]


def test_a_wrong_key_fails_the_job_without_showing_the_ciphertext(queue, engine, monkeypatch):
    use_keys(monkeypatch, generate_key())
    dispatch(Secret("w", CARD))
    with engine.connect() as conn:
        token = conn.execute(sa.text("SELECT payload->>'data' FROM jobs")).scalar_one()
    use_keys(monkeypatch, generate_key())
    result = work()
    assert result.returncode == 0
    assert ledger(engine) == []
    [failed] = stored(engine, "failed_jobs")
    assert ("cannot decrypt Secret's arguments with APP_KEY or APP_PREVIOUS_KEYS "
            "(APP_KEY changed?)") in failed
    assert failed.count(token) == 1  # the payload column, moved as it was; not the message
    with engine.connect() as conn:
        exception = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalar_one()
    for text in (exception, result.stdout, result.stderr):
        assert token not in text and CARD not in text


def test_dispatch_without_app_key_is_one_line_naming_it_and_writes_nothing(queue, engine,
                                                                            monkeypatch):
    use_keys(monkeypatch, None)
    with pytest.raises(QueueError) as raised:
        dispatch(Secret("m", CARD))
    message = str(raised.value)
    assert "APP_KEY is not set" in message and "\n" not in message
    assert count(engine, "SELECT count(*) FROM jobs") == 0


def test_a_malformed_app_key_is_one_config_line(queue):
    result = artisan("queue:work", "--once", env={"APP_KEY": "not-a-key"})
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid value for APP_KEY"), lines
    assert "not-a-key" not in result.stderr and "9 characters, not shown" in lines[0]



# ----------------------------------------- error messages of encrypted jobs (issue 26, item 6)

def test_an_encrypted_jobs_error_message_is_redacted_everywhere_it_is_shown(queue, engine,
                                                                           monkeypatch):
    from app.queue.redaction import REDACTED
    from tests.dashboard.conftest import BEARER, make_client
    from tests.jobs.dispatching import ParsesCard

    use_keys(monkeypatch, generate_key())
    job_id = dispatch(ParsesCard(CARD))
    result = work()
    assert result.returncode == 0, result.stderr
    with engine.connect() as conn:
        exception = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalar_one()
    assert exception.rstrip().endswith(f"ValueError: {REDACTED}"), exception
    assert "int(self.card)" in exception  # the stack stays: it is code, not data
    failed_list = artisan("queue:failed")
    shown = artisan("queue:failed", job_id)
    with make_client(engine) as client:
        api = client.get(f"/api/jobs/{job_id}", headers=BEARER).text
    for text in (exception, result.stdout, result.stderr, failed_list.stdout, shown.stdout,
                 api):
        assert CARD not in text
    assert f"ValueError: {REDACTED}" in result.stdout + result.stderr


def test_redact_errors_false_shows_an_encrypted_jobs_error_message(queue, engine, monkeypatch):
    from tests.jobs.dispatching import ParsesCardAndSaysSo

    use_keys(monkeypatch, generate_key())
    dispatch(ParsesCardAndSaysSo(CARD))
    assert work().returncode == 0
    with engine.connect() as conn:
        exception = conn.execute(sa.text("SELECT exception FROM failed_jobs")).scalar_one()
    assert f"invalid literal for int() with base 10: '{CARD}'" in exception


def test_skiplocks_own_messages_and_plain_jobs_errors_are_kept(queue, engine, monkeypatch):
    from app.queue.errors import JobTimeout
    from app.queue.redaction import REDACTED, error_text
    from tests.jobs.dispatching import ParsesCard, Plain

    try:
        try:
            int(CARD)
        except ValueError as inner:
            raise JobTimeout("ParsesCard ran past its timeout of 1s") from inner
    except JobTimeout as error:
        text = error_text(ParsesCard(CARD), error)
        plain = error_text(Plain(), ValueError(CARD))
    assert CARD not in text and f"ValueError: {REDACTED}" in text
    assert "JobTimeout: ParsesCard ran past its timeout of 1s" in text
    assert CARD in plain


# ---------------------------------------- a worker without APP_KEY (issue 26, item 18)

def test_a_worker_without_app_key_puts_encrypted_jobs_back_and_runs_plain_ones(
        queue, engine, monkeypatch):
    from tests.jobs.basic import Record

    key = generate_key()
    use_keys(monkeypatch, key)
    secret_id = dispatch(Secret("k", CARD))
    dispatch(Record("plain"))
    use_keys(monkeypatch, None)  # the worker below inherits no key
    result = work()
    assert result.returncode == 0, result.stderr
    assert [tag for tag, _ in ledger(engine)] == ["plain", "plain"]  # its start and end
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = :id AND attempts = 0 AND "
                 "reserved_at IS NULL", id=secret_id) == 1  # back, its attempt not counted
    said = result.stdout + result.stderr
    assert said.count("Secret is encrypted and APP_KEY is not set here") == 1, said
    assert " ? " not in said
    with engine.begin() as conn:  # its wait over, a worker with the key runs it
        conn.execute(sa.text("UPDATE jobs SET available_at = now()"))
    use_keys(monkeypatch, key)
    assert work().returncode == 0
    assert ledger(engine)[-1] == ("k", f"card {CARD}")
