"""The server-rendered pages (SPEC §12) and the forms that act on the queue."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.dashboard import health
from app.dashboard.actions import cancel_one_batch, cancel_one_job, retry_batch
from app.dashboard.api import FieldError, full_class, job_query
from app.dashboard.arguments import visible_arguments
from app.dashboard.schedule import schedule_view
from app.dashboard.security import (
    csrf_token,
    end_session,
    form_action,
    held_back,
    is_wrong_token,
    session_action,
    start_session,
    token_matches,
)
from app.dashboard.store import FAILED_IDS, SCAN, FailedFilter
from app.dashboard.views import error_page, flash, render
from app.queue import context
from app.queue.admin import RetryResult

PAGE = 50


def back(path: str, **query: str | None) -> RedirectResponse:
    """303 after a form: the browser shows the page again with GET (no re-post on reload)."""
    kept = {key: value for key, value in query.items() if value}
    return RedirectResponse(path + (f"?{urlencode(kept)}" if kept else ""), status_code=303)


def as_sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def failed_filter(request: Request, queue: object, job_class: object) -> FailedFilter:
    """The failed-jobs page's filter, from its query or its form; a short class name stands
    for the full path (api.full_class)."""
    return FailedFilter(queue if isinstance(queue, str) and queue else None,
                        full_class(request.app.state.store, job_class
                                   if isinstance(job_class, str) and job_class else None))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# ------------------------------------------------------------------------------ login


def login_page(request: Request) -> Response:
    token = request.query_params.get("token")
    if token is None:
        return render(request, "login.html", title="Log in", next=safe_next(request))
    refusal = refused_login(request, token)
    if refusal is not None:
        return refusal
    start_session(request)  # the URL the command prints: one click from the terminal
    return back("/")


def refused_login(request: Request, token: object) -> Response | None:
    """The answer to a login that may not go on: a client held back for its wrong tokens
    (429), or a wrong token (the form again, 401). None: log it in."""
    refusal = held_back(request)
    if refusal is not None:
        return refusal
    if is_wrong_token(request, token):
        return render(request, "login.html", 401, title="Log in", next=safe_next(request),
                      wrong=True)
    return None


def safe_next(request: Request) -> str:
    """Where to go after logging in: a path of this site only (no open redirect)."""
    target = request.query_params.get("next", "/")
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login(request: Request) -> Response:
    form = await request.form()
    token, csrf = form.get("token"), form.get("csrf_token")
    if not (isinstance(csrf, str) and token_matches(csrf, csrf_token(request))):
        return error_page(request, 403, "The login form was stale: reload it and try again.")
    refusal = refused_login(request, token)
    if refusal is not None:
        return refusal
    await run_in_threadpool(start_session, request)
    return back(safe_next(request))


@session_action
def logout(request: Request, form: FormData) -> Response:
    end_session(request)
    return back("/login")


# ------------------------------------------------------------------------------ pages


def overview(request: Request) -> Response:
    state = request.app.state
    snapshot = state.counts.get()
    stats = snapshot.stats
    totals = {key: sum(getattr(queue, key) for queue in stats)
              for key in ("pending", "delayed", "reserved", "failed")}
    workers = state.store.worker_totals(state.settings.retry_after)
    window = "day" if request.query_params.get("window") == "day" else "hour"
    return render(request, "overview.html", title="Overview", stats=stats, totals=totals,
                  workers=workers, window=window, counts_age=state.counts.age(snapshot),
                  chart_queue=request.query_params.get("queue") or None)


def queues(request: Request) -> Response:
    state = request.app.state
    snapshot = state.counts.get()
    stats = snapshot.stats
    workers = state.admin.workers(state.settings.retry_after)
    problems = health.problems(stats, workers, state.settings.health_max_wait)
    return render(request, "queues.html", title="Queues", stats=stats, problems=problems,
                  served=health.served_queues(workers), counts_age=state.counts.age(snapshot))


def jobs(request: Request) -> Response:
    wanted = request.query_params.get("id", "").strip()
    if wanted:
        return back(f"/jobs/{wanted}")
    try:
        where, before, limit = job_query(request.query_params, request.app.state.store)
    except FieldError as exc:
        return error_page(request, 422, as_sentence(str(exc)))
    page = request.app.state.store.jobs(where, before, limit)
    query = {"state": where.state, "queue": where.queue, "class": where.job_class,
             "limit": str(limit) if limit != PAGE else None, "before": page.next_before}
    return render(request, "jobs.html", title="Jobs", rows=page.rows, where=where,
                  searched_out=page.searched_out, scan=SCAN,
                  next_query=urlencode({k: v for k, v in query.items() if v})
                  if page.next_before else None)


def job(request: Request) -> Response:
    job_id = request.path_params["id"]
    state = request.app.state
    found = state.admin.find_job(job_id)
    if found is None:
        return error_page(request, 404, f"There is no job with id {job_id}.")
    payload, batch_id = state.store.payload_and_batch(job_id)
    return render(request, "job.html", title=f"Job {job_id}", job=found,
                  arguments=visible_arguments(payload), batch_id=batch_id)


def failed(request: Request) -> Response:
    params = request.query_params
    try:
        where = failed_filter(request, params.get("queue"), params.get("class"))
    except FieldError as exc:
        return error_page(request, 422, as_sentence(str(exc)))
    after = params.get("after") or None
    page = request.app.state.store.failed(where, PAGE, after)
    if page is None:
        return error_page(request, 404, f"There is no failed job with id {after}.")
    return render(request, "failed.html", title="Failed jobs", jobs=page, where=where,
                  shown_at=request.app.state.admin.now().isoformat(),
                  next_after=page[-1].id if len(page) == PAGE else None)


def batches(request: Request) -> Response:
    before = request.query_params.get("before") or None
    rows = request.app.state.store.batches(before, PAGE)
    return render(request, "batches.html", title="Batches", batches=rows,
                  next_before=rows[-1].id if len(rows) == PAGE else None)


def batch(request: Request) -> Response:
    batch_id = request.path_params["id"]
    found = request.app.state.store.batch(batch_id)
    if found is None:
        return error_page(request, 404, f"There is no batch with id {batch_id}.")
    return render(request, "batch.html", title=f"Batch {found.name or batch_id}", batch=found,
                  failed_ids_shown=FAILED_IDS)


def workers(request: Request) -> Response:
    state = request.app.state
    return render(request, "workers.html", title="Workers",
                  workers=state.admin.workers(state.settings.retry_after))


def schedule(request: Request) -> Response:
    view = schedule_view(request.app.state.settings, request.app.state.engine)
    return render(request, "schedule.html", title="Schedule", rows=view.rows,
                  problem=view.problem, missed=view.missed)


# ---------------------------------------------------------------------------- actions


def queue_field(form: FormData) -> str:
    name = form.get("queue")
    if not isinstance(name, str) or not name:
        raise HTTPException(422, "name the queue")
    return name


@form_action
def pause_queue(request: Request, form: FormData) -> Response:
    name = queue_field(form)
    context.current().store.pause(name)
    flash(request, f"Queue {name} paused: workers stop claiming from it.")
    return back("/queues")


@form_action
def resume_queue(request: Request, form: FormData) -> Response:
    name = queue_field(form)
    store = context.current().store
    if store.resume(name):
        store.notify([name])
        flash(request, f"Queue {name} resumed.")
    else:
        flash(request, f"Queue {name} was not paused.")
    return back("/queues")


@form_action
def clear_queue(request: Request, form: FormData) -> Response:
    name = queue_field(form)
    deleted = request.app.state.admin.clear(name)
    flash(request, f"Deleted {plural(deleted, 'waiting job')} of queue {name}.")
    return back("/queues")


@form_action
def retry_job(request: Request, form: FormData) -> Response:
    job_id = request.path_params["id"]
    flash(request, retry_message(request.app.state.admin.retry([job_id])))
    return back(f"/jobs/{job_id}")


@form_action
def forget_job(request: Request, form: FormData) -> Response:
    job_id = request.path_params["id"]
    if request.app.state.admin.forget(job_id):
        flash(request, f"Failed job {job_id} forgotten.")
        return back("/failed")
    flash(request, f"There is no failed job with id {job_id}.")
    return back(f"/jobs/{job_id}")


@form_action
def cancel_job(request: Request, form: FormData) -> Response:
    job_id = request.path_params["id"]
    flash(request, cancel_one_job(job_id)[1])
    return back(f"/jobs/{job_id}")


@form_action
def cancel_batch(request: Request, form: FormData) -> Response:
    batch_id = request.path_params["id"]
    flash(request, cancel_one_batch(batch_id)[1])
    return back(f"/batches/{batch_id}")


@form_action
def retry_failed_of_batch(request: Request, form: FormData) -> Response:
    batch_id = request.path_params["id"]
    result = retry_batch(request.app.state.admin, batch_id)
    if result is None:
        flash(request, f"There is no batch with id {batch_id}.")
    elif not result.retried and not result.kept:
        flash(request, f"Batch {batch_id} has no failed jobs to retry.")
    else:
        flash(request, retry_message(result))
    return back(f"/batches/{batch_id}")


def retry_message(result: RetryResult) -> str:
    parts = [f"{plural(len(result.retried), 'failed job')} pushed back onto the queue."]
    if result.unknown:
        parts.append(f"{plural(len(result.unknown), 'job')} no longer failed.")
    if result.kept:
        parts.append(f"{plural(len(result.kept), 'job')} left: a job with the same id is "
                     "queued.")
    if result.held:
        parts.append(f"{plural(len(result.held), 'job')} left: a unique job like it holds "
                     "the lock.")
    return " ".join(parts)


def selection(request: Request, form: FormData) -> tuple[list[str], bool, FailedFilter]:
    """(ids ticked, whether "all matching" was asked, the page's filter)."""
    ids = [value for value in form.getlist("ids") if isinstance(value, str) and value]
    try:
        where = failed_filter(request, form.get("queue"), form.get("class"))
    except FieldError as exc:
        raise HTTPException(422, as_sentence(str(exc))) from None
    return ids, form.get("all") == "1", where


@form_action
def retry_failed(request: Request, form: FormData) -> Response:
    """"Retry all" takes the ids matching the filter, then QueueAdmin.retry moves them back a
    thousand per transaction (QueueAdmin.retry_all filters by queue only)."""
    ids, everything, where = selection(request, form)
    if everything:
        ids = request.app.state.store.failed_ids_matching(where, shown_at(request, form))
    elif not ids:
        flash(request, "Tick the failed jobs to retry, or retry all that match.")
        return back("/failed", **where.query)
    flash(request, retry_message(request.app.state.admin.retry(ids)))
    return back("/failed", **where.query)


def shown_at(request: Request, form: FormData) -> dt.datetime:
    """When the failed-jobs page was shown (now if the form does not say): "retry all" and
    "forget all" spare jobs that failed since, which the user has not seen."""
    value = form.get("shown_at")
    if not isinstance(value, str) or not value:
        return request.app.state.admin.now()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, "the form's shown_at is not a time: reload the page") from None
    if moment.tzinfo is None:
        raise HTTPException(422, "the form's shown_at has no time zone: reload the page")
    return moment


@form_action
def forget_failed(request: Request, form: FormData) -> Response:
    ids, everything, where = selection(request, form)
    store = request.app.state.store
    if everything:
        count = store.forget_failed_matching(where, shown_at(request, form))
    elif ids:
        count = len(store.forget_failed(ids))
    else:
        flash(request, "Tick the failed jobs to forget, or forget all that match.")
        return back("/failed", **where.query)
    flash(request, f"{plural(count, 'failed job')} forgotten.")
    return back("/failed", **where.query)


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", overview),
    Route("/queues", queues),
    Route("/queues/pause", pause_queue, methods=["POST"]),
    Route("/queues/resume", resume_queue, methods=["POST"]),
    Route("/queues/clear", clear_queue, methods=["POST"]),
    Route("/jobs", jobs),
    Route("/jobs/{id}", job),
    Route("/jobs/{id}/retry", retry_job, methods=["POST"]),
    Route("/jobs/{id}/forget", forget_job, methods=["POST"]),
    Route("/jobs/{id}/cancel", cancel_job, methods=["POST"]),
    Route("/failed", failed),
    Route("/failed/retry", retry_failed, methods=["POST"]),
    Route("/failed/forget", forget_failed, methods=["POST"]),
    Route("/batches", batches),
    Route("/batches/{id}", batch),
    Route("/batches/{id}/cancel", cancel_batch, methods=["POST"]),
    Route("/batches/{id}/retry", retry_failed_of_batch, methods=["POST"]),
    Route("/workers", workers),
    Route("/schedule", schedule),
]
