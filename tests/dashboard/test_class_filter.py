"""A class filter takes the short class name, and says when it is ambiguous (issue 26,
item 15): the API's and the Jobs and Failed pages'."""

from __future__ import annotations

from app.queue import dispatch
from tests.dashboard.conftest import BEARER, add_failed
from tests.jobs.basic import Record
from tests.support import count


def test_the_api_finds_jobs_by_their_short_class_name(client, engine) -> None:
    ids = {dispatch(Record(str(n))) for n in range(3)}
    add_failed(engine, "F1", job_class="tests.jobs.basic.AlwaysFails")
    answer = client.get("/api/jobs?class=Record", headers=BEARER)
    assert answer.status_code == 200
    assert {job["id"] for job in answer.json()["jobs"]} == ids
    failed = client.get("/api/jobs?class=AlwaysFails", headers=BEARER).json()["jobs"]
    assert [job["id"] for job in failed] == ["F1"]


def test_an_ambiguous_short_name_is_422_naming_each_class(client, engine) -> None:
    add_failed(engine, "F1", job_class="app.jobs.video.Transcode")
    add_failed(engine, "F2", job_class="app.jobs.audio.Transcode")
    answer = client.get("/api/jobs?class=Transcode", headers=BEARER)
    assert answer.status_code == 422
    assert answer.json() == {"field": "class", "error": (
        "class 'Transcode' is ambiguous: it may be app.jobs.audio.Transcode or "
        "app.jobs.video.Transcode; give the full path")}
    full = client.get("/api/jobs?class=app.jobs.audio.Transcode", headers=BEARER).json()
    assert [job["id"] for job in full["jobs"]] == ["F2"]


def test_a_short_name_only_matches_a_whole_last_part(client, engine) -> None:
    add_failed(engine, "F1", job_class="app.jobs.video.BigTranscode")
    assert client.get("/api/jobs?class=Transcode", headers=BEARER).json()["jobs"] == []


def test_the_pages_filter_by_short_class_name(browser_client, engine) -> None:
    client, csrf = browser_client
    job_id = dispatch(Record("short"))
    add_failed(engine, "R1", job_class="tests.jobs.basic.Record")
    add_failed(engine, "A1", job_class="tests.jobs.basic.AlwaysFails")
    jobs = client.get("/jobs?class=Record").text
    assert f'href="/jobs/{job_id}"' in jobs and 'href="/jobs/R1"' in jobs
    assert 'href="/jobs/A1"' not in jobs
    failed = client.get("/failed?class=Record").text
    assert 'href="/jobs/R1"' in failed and 'href="/jobs/A1"' not in failed
    assert 'name="class" value="tests.jobs.basic.Record"' in failed  # the full path, kept
    client.post("/failed/forget", data={"csrf_token": csrf, "all": "1", "class": "AlwaysFails"})
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 1


def test_the_pages_say_when_a_short_name_is_ambiguous(browser_client, engine) -> None:
    client, csrf = browser_client
    add_failed(engine, "F1", job_class="app.jobs.video.Transcode")
    add_failed(engine, "F2", job_class="app.jobs.audio.Transcode")
    for path in ("/jobs?class=Transcode", "/failed?class=Transcode"):
        page = client.get(path)
        assert page.status_code == 422, path
        assert ("Class &#39;Transcode&#39; is ambiguous: it may be app.jobs.audio.Transcode "
                "or app.jobs.video.Transcode; give the full path.") in page.text, path
    refused = client.post("/failed/forget", data={"csrf_token": csrf, "all": "1",
                                                  "class": "Transcode"})
    assert refused.status_code == 422
    assert count(engine, "SELECT count(*) FROM failed_jobs") == 2  # neither forgotten
