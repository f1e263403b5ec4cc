"""The pages and their forms, as a logged-in browser sends them (without a browser)."""

from __future__ import annotations

import sqlalchemy as sa

from app.queue import dispatch
from tests.dashboard.conftest import add_failed, log_in, make_client
from tests.jobs.basic import Record
from tests.support import claim_every_run_of_the_last_hours, count, wait_for


def test_every_page_renders_with_what_exists(browser_client, engine) -> None:
    client, _csrf = browser_client
    job_id = dispatch(Record("seen"), queue="emails")
    add_failed(engine, "F1", queue="emails")
    pages = {"/": ["emails", "Pending"], "/queues": ["emails", "Pause"],
             "/jobs": [job_id, "F1"], f"/jobs/{job_id}": ["&#34;seen&#34;", "pending"],
             "/jobs/F1": ["RuntimeError: boom F1", "Retry", "Forget"],
             "/failed": ["F1", "RuntimeError: boom F1"], "/workers": ["No workers"],
             "/schedule": ["Schedule"]}
    for path, expected in pages.items():
        answer = client.get(path)
        assert answer.status_code == 200, path
        for text in expected:
            assert text in answer.text, (path, text)


def test_large_counts_read_with_thousands_separators(browser_client, engine) -> None:
    client, _csrf = browser_client
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO jobs (id, queue, payload) SELECT 'J' || "
                             "lpad(n::text, 7, '0'), 'big', '{}' FROM generate_series(1, 1234) n"))
    assert '<td class="num">1,234</td>' in client.get("/queues").text


def test_nav_has_no_dead_links(browser_client) -> None:
    client, _csrf = browser_client
    from app.dashboard.views import NAV

    for path, _label in NAV:
        assert client.get(path).status_code == 200, path


def test_unknown_job_page_is_404_with_one_sentence(browser_client) -> None:
    client, _csrf = browser_client
    answer = client.get("/jobs/NOPE")
    assert answer.status_code == 404
    assert "There is no job with id NOPE." in answer.text


def test_find_by_id_goes_to_the_job(browser_client) -> None:
    client, _csrf = browser_client
    assert client.get("/jobs?id=ABC").headers["location"] == "/jobs/ABC"


def test_jobs_page_pages_by_keyset(browser_client) -> None:
    client, _csrf = browser_client
    ids = [dispatch(Record(str(n))) for n in range(3)]
    first = client.get("/jobs?limit=2").text
    assert ids[2] in first and ids[1] in first and ids[0] not in first
    assert f"before={ids[1]}" in first
    second = client.get(f"/jobs?limit=2&before={ids[1]}").text
    assert ids[0] in second and ids[1] not in second


def test_pause_resume_and_clear_a_queue(browser_client, engine) -> None:
    client, csrf = browser_client
    dispatch(Record("a"), queue="emails")
    dispatch(Record("b"), queue="emails", delay=60)
    paused = client.post("/queues/pause", data={"queue": "emails", "csrf_token": csrf})
    assert paused.headers["location"] == "/queues"
    assert count(engine, "SELECT count(*) FROM paused_queues WHERE queue = 'emails'") == 1
    assert "Queue emails paused" in client.get("/queues").text
    client.post("/queues/resume", data={"queue": "emails", "csrf_token": csrf})
    assert count(engine, "SELECT count(*) FROM paused_queues") == 0
    client.post("/queues/clear", data={"queue": "emails", "csrf_token": csrf})
    assert count(engine, "SELECT count(*) FROM jobs") == 0
    assert "Deleted 2 waiting jobs of queue emails." in client.get("/queues").text


def test_retry_and_forget_one_failed_job(browser_client, engine) -> None:
    client, csrf = browser_client
    add_failed(engine, "F1")
    add_failed(engine, "F2")
    client.post("/jobs/F1/retry", data={"csrf_token": csrf})
    assert count(engine, "SELECT count(*) FROM jobs WHERE id = 'F1'") == 1
    client.post("/jobs/F2/forget", data={"csrf_token": csrf})
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 0


def test_bulk_retry_and_forget_a_selection(browser_client, engine) -> None:
    client, csrf = browser_client
    for job_id in ("F1", "F2", "F3", "F4"):
        add_failed(engine, job_id)
    client.post("/failed/retry", data={"csrf_token": csrf, "ids": ["F1", "F2"]})
    client.post("/failed/forget", data={"csrf_token": csrf, "ids": ["F3"]})
    assert count(engine, "SELECT count(*) FROM jobs") == 2
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1
    assert "1 failed job forgotten." in client.get("/failed").text


def test_bulk_actions_on_all_matching_a_queue_filter(browser_client, engine) -> None:
    client, csrf = browser_client
    for job_id, queue in (("A1", "a"), ("A2", "a"), ("B1", "b"), ("C1", "c")):
        add_failed(engine, job_id, queue=queue)
    client.post("/failed/retry", data={"csrf_token": csrf, "all": "1", "queue": "a"})
    assert count(engine, "SELECT count(*) FROM jobs WHERE queue = 'a'") == 2
    shown_at = client.get("/failed?queue=b").text.split('name="shown_at" value="')[1]
    shown_at = shown_at.split('"')[0]
    client.post("/failed/forget", data={"csrf_token": csrf, "all": "1", "queue": "b",
                                        "shown_at": shown_at})
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1  # C1 of queue c is kept


def test_forget_all_keeps_jobs_that_failed_after_the_page_was_shown(browser_client,
                                                                    engine) -> None:
    client, csrf = browser_client
    add_failed(engine, "OLD")
    shown_at = client.get("/failed").text.split('name="shown_at" value="')[1].split('"')[0]
    add_failed(engine, "NEW")
    client.post("/failed/forget", data={"csrf_token": csrf, "all": "1", "shown_at": shown_at})
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id = 'NEW'") == 1
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_forget_all_with_a_malformed_time_is_422_not_a_crash(browser_client, engine) -> None:
    client, csrf = browser_client
    add_failed(engine, "F1")
    answer = client.post("/failed/forget", data={"csrf_token": csrf, "all": "1",
                                                 "shown_at": "yesterday-ish"})
    assert answer.status_code == 422
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_overview_charts_one_queue_or_all(browser_client, engine) -> None:
    client, _csrf = browser_client
    dispatch(Record("a"), queue="emails")
    # Counts that took over counts.SLOW (a loaded machine) are served from a snapshot taken
    # at login, before the dispatch, until a refresh (at most counts.MIN_AGE later) brings it.
    assert wait_for(lambda: 'href="/?queue=emails"' in client.get("/").text)
    assert 'data-queue=""' in client.get("/").text
    one = client.get("/?queue=emails&window=day").text
    assert 'data-queue="emails"' in one and 'data-window="day"' in one


def test_failed_jobs_filter_by_class_and_act_on_all_matching(browser_client, engine) -> None:
    client, csrf = browser_client
    for job_id, job_class in (("R1", "tests.jobs.basic.Record"), ("R2", "tests.jobs.basic.Record"),
                              ("A1", "tests.jobs.basic.AlwaysFails")):
        add_failed(engine, job_id, job_class=job_class)
    page = client.get("/failed?class=tests.jobs.basic.Record")
    shown = page.text.split('name="shown_at" value="')[1].split('"')[0]
    assert 'href="/jobs/R1"' in page.text and 'href="/jobs/R2"' in page.text
    assert 'href="/jobs/A1"' not in page.text
    assert 'name="class" value="tests.jobs.basic.Record"' in page.text  # "all" keeps the filter
    add_failed(engine, "R3", job_class="tests.jobs.basic.Record")  # failed after it was shown
    answer = client.post("/failed/retry", data={"csrf_token": csrf, "all": "1", "shown_at": shown,
                                                "class": "tests.jobs.basic.Record"})
    assert answer.headers["location"] == "/failed?class=tests.jobs.basic.Record"
    assert count(engine, "SELECT count(*) FROM jobs") == 2
    assert count(engine, "SELECT count(*) FROM failed_jobs WHERE id IN ('A1', 'R3')") == 2
    client.post("/failed/forget", data={"csrf_token": csrf, "all": "1",
                                        "class": "tests.jobs.basic.AlwaysFails"})
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1  # R3 is left
    assert "No failed jobs of class AlwaysFails." in client.get(
        "/failed?class=tests.jobs.basic.AlwaysFails").text


def test_failed_jobs_pages_on_within_a_class(browser_client, engine) -> None:
    client, _csrf = browser_client
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO failed_jobs (id, queue, payload, attempts, exception, failed_at) "
            "SELECT 'F' || lpad(n::text, 3, '0'), 'default', jsonb_build_object('job', CASE "
            "WHEN n % 2 = 0 THEN 'x.Even' ELSE 'x.Odd' END), 1, 'boom', "
            "now() - n * interval '1 second' FROM generate_series(1, 120) n"))
    first = client.get("/failed?class=x.Even").text
    assert first.count('href="/jobs/F') == 50
    assert "/jobs/F002" in first and "/jobs/F100" in first and "/jobs/F001" not in first
    second = client.get("/failed?class=x.Even&after=F100").text
    assert second.count('href="/jobs/F') == 10 and "/jobs/F120" in second
    assert "Older failed jobs" not in second
    assert client.get("/failed?after=NOPE").status_code == 404


def test_the_schedule_page_warns_when_no_scheduler_claimed_a_due_run(queue, engine):
    """The Schedule page says what schedule:list says: declared tasks whose due runs no
    scheduler claimed mean nothing runs them."""
    with make_client(engine, schedule_module="tests.schedules.mixed") as client:
        log_in(client)
        with engine.begin() as conn:  # no run claimed, whatever ran before
            conn.execute(sa.text("DELETE FROM schedule_runs"))
        unclaimed = client.get("/schedule")
        assert unclaimed.status_code == 200
        with engine.begin() as conn:
            runs = conn.execute(sa.text("SELECT task, due_at, claimed_by, now() FROM "
                                        "schedule_runs")).all()
        assert "No scheduler seems to be running" in unclaimed.text, (runs, unclaimed.text)
        assert "schedule:work" in unclaimed.text

        claim_every_run_of_the_last_hours(engine, ["nightly report", "status",
                                                   "failing command"])
        claimed = client.get("/schedule")
        assert claimed.status_code == 200
        assert "No scheduler seems to be running" not in claimed.text
