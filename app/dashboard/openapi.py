"""The OpenAPI 3 description of /api, served at /api/openapi.json (hand-written: the routes
are few, and a reader of this file sees the whole contract at once)."""

from __future__ import annotations

from typing import Any

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$",
        "description": "No NUL character: PostgreSQL text cannot hold one (422)"}
"""A name or id in a path or query."""


def obj(properties: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(required if required is not None else properties)}


ERROR = obj({"error": {"type": "string"}, "field": {"type": "string"}}, ("error",))

QUEUE = obj({
    "queue": {"type": "string"}, "pending": {"type": "integer"}, "delayed": {"type": "integer"},
    "reserved": {"type": "integer"}, "failed": {"type": "integer"},
    "paused": {"type": "boolean"}, "oldest_pending_age_seconds": NULLABLE_NUMBER})

STATE = {"type": "string", "enum": ["pending", "delayed", "reserved", "failed"]}

JOB_ROW = obj({
    "id": {"type": "string"}, "queue": {"type": "string"}, "job_class": NULLABLE_STRING,
    "state": STATE, "attempts": {"type": "integer"}, "progress": NULLABLE_NUMBER, "at": TIME})

JOB = obj({
    "id": {"type": "string"}, "state": STATE, "queue": {"type": "string"},
    "job_class": NULLABLE_STRING,
    "arguments": {"description": "The constructor's arguments, or the string '[encrypted]'"},
    "attempts": {"type": "integer"}, "priority": {"type": ["integer", "null"]},
    "progress": NULLABLE_NUMBER, "progress_message": NULLABLE_STRING,
    "error": NULLABLE_STRING, "traceback": NULLABLE_STRING, "created_at": TIME,
    "available_at": TIME, "reserved_at": TIME, "failed_at": TIME, "worker": NULLABLE_STRING,
    "batch_id": NULLABLE_STRING})

BATCH_FIELDS = {
    "id": {"type": "string"}, "name": {"type": "string"},
    "state": {"type": "string", "enum": ["running", "finished", "cancelled"]},
    "total_jobs": {"type": "integer"}, "pending_jobs": {"type": "integer"},
    "processed_jobs": {"type": "integer"}, "failed_jobs": {"type": "integer"},
    "progress": {"type": "number", "minimum": 0, "maximum": 100},
    "cancelled": {"type": "boolean"}, "finished": {"type": "boolean"}, "created_at": TIME,
    "cancelled_at": TIME, "finished_at": TIME}
BATCH_ROW = obj(BATCH_FIELDS)
BATCH = obj({**BATCH_FIELDS, "failed_job_ids": {
    "type": "array", "items": {"type": "string"},
    "description": "The first 100 failed jobs' ids"}})

NEW_JOB = {
    "type": "object", "required": ["job"],
    "properties": {
        "job": {"type": "string", "description": "Job class path, in QUEUE_JOB_PACKAGES",
                "example": "app.jobs.send_welcome_email.SendWelcomeEmail"},
        "args": {"type": "object", "description": "Constructor arguments, by name"},
        "queue": NULLABLE_STRING,
        "delay": {"type": ["number", "null"], "minimum": 0, "description": "Seconds"},
        "priority": {"type": ["integer", "null"]},
    },
}

SERIES = {"type": "array", "items": NULLABLE_NUMBER}
HISTORY = obj({key: SERIES for key in ("minute", "processed", "failed", "runtime_avg",
                                       "runtime_max", "wait_avg", "wait_max")})

METRICS_ROW = obj({
    "name": {"type": "string", "description": "The job class path, or the queue"},
    "processed": {"type": "integer", "description": "Attempts finished in the window"},
    "failed": {"type": "integer", "description": "Jobs moved to failed jobs in the window"},
    "throughput": {"type": "number", "description": "Attempts finished per minute"},
    "runtime_avg": NULLABLE_NUMBER, "runtime_max": NULLABLE_NUMBER,
    "wait_avg": NULLABLE_NUMBER, "wait_max": NULLABLE_NUMBER})
METRICS = obj({"by": {"type": "string", "enum": ["class", "queue"]},
               "minutes": {"type": "integer"},
               "metrics": {"type": "array", "items": METRICS_ROW}})


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


COMMON = {
    "401": answer("No token, or a wrong one", ERROR),
    "429": answer("Too many wrong tokens from this client (10 a minute): wait the "
                  "Retry-After header's seconds", ERROR),
    "503": answer("The database cannot be reached", ERROR),
}
ACTION = {**COMMON, "403": answer("The dashboard runs read-only", ERROR)}
ID = [{"name": "id", "in": "path", "required": True, "schema": TEXT}]


def operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


PATHS = {
    "/api/health": {"get": operation(
        "200 when healthy; 503 naming the reasons", {
            "200": answer("Healthy", obj({"healthy": {"type": "boolean"},
                                          "reasons": {"type": "array",
                                                      "items": {"type": "string"}}})),
            "401": COMMON["401"], "429": COMMON["429"],
            "503": answer("Unhealthy: database unreachable, pending jobs with no live worker, "
                          "or the oldest pending job older than QUEUE_HEALTH_MAX_WAIT",
                          obj({"healthy": {"type": "boolean"},
                               "reasons": {"type": "array", "items": {"type": "string"}}})),
        })},
    "/api/queues": {"get": operation("Counts per queue", {
        "200": answer("Queues", obj({"queues": {"type": "array", "items": QUEUE}})),
        **COMMON})},
    "/api/jobs": {
        "get": operation(
            "Jobs, newest first; page on with ?before=<next_before> until it is null (a page "
            "may hold fewer than `limit` jobs: each looks at a bounded number of rows)", {
            "200": answer("A page", obj({"jobs": {"type": "array", "items": JOB_ROW},
                                         "next_before": NULLABLE_STRING})),
            "422": answer("A bad filter", ERROR), **COMMON},
            parameters=[
                {"name": "state", "in": "query", "schema": STATE},
                {"name": "queue", "in": "query", "schema": TEXT},
                {"name": "class", "in": "query", "schema": TEXT,
                 "description": "The job class's full path, or its short name when only one "
                                "class of recent jobs has it (422 naming them when several do)"},
                {"name": "before", "in": "query", "schema": TEXT},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
            ]),
        "post": operation("Dispatch a job: 201 with its id", {
            "201": answer("Queued", obj({"id": {"type": "string"}})),
            "409": answer("Nothing is queued: QUEUE_CONNECTION=sync, or a unique job like it "
                          "is queued or running", ERROR),
            "413": answer("The body is larger than 1 MiB", ERROR),
            "422": answer("A bad class, argument, queue, delay or priority (see `field`); "
                          "JSON nested deeper than 64; an encrypted job while APP_KEY is not "
                          "set", ERROR), **ACTION},
            requestBody={"required": True,
                         "content": {"application/json": {"schema": NEW_JOB}}}),
    },
    "/api/jobs/{id}": {"get": operation("One job, wherever it is", {
        "200": answer("The job", JOB), "404": answer("No such job", ERROR), **COMMON},
        parameters=ID)},
    "/api/jobs/{id}/retry": {"post": operation("Push a failed job back onto its queue", {
        "200": answer("Retried", obj({"retried": {"type": "string"},
                                      "queue": {"type": "string"}})),
        "404": answer("No failed job has this id", ERROR),
        "409": answer("A job with this id is queued again", ERROR), **ACTION},
        parameters=ID)},
    "/api/jobs/{id}/cancel": {"post": operation(
        "Cancel a waiting job (moved to failed jobs as cancelled) or a running one (its "
        "worker stops it); never retried", {
            "200": answer("Cancelled: `removed` from its queue, or its worker is `stopping` it",
                          obj({"cancelled": {"type": "string"}, "outcome": {
                              "type": "string", "enum": ["removed", "stopping"]}})),
            "404": answer("No job with this id is waiting or running (a job that succeeded "
                          "leaves no row)", ERROR),
            "409": answer("The job had already failed: nothing to cancel", ERROR), **ACTION},
        parameters=ID)},
    "/api/failed/{id}": {"delete": operation("Forget a failed job", {
        "200": answer("Forgotten", obj({"forgotten": {"type": "string"}})),
        "404": answer("No failed job has this id", ERROR), **ACTION},
        parameters=ID)},
    "/api/batches": {"get": operation(
        "Batches, newest first; page on with ?before=<next_before> until it is null", {
            "200": answer("A page", obj({"batches": {"type": "array", "items": BATCH_ROW},
                                         "next_before": NULLABLE_STRING})),
            "422": answer("A bad limit", ERROR), **COMMON},
        parameters=[{"name": "before", "in": "query", "schema": TEXT},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500}}])},
    "/api/batches/{id}": {"get": operation("One batch: progress, counts, state", {
        "200": answer("The batch", BATCH), "404": answer("No such batch", ERROR), **COMMON},
        parameters=ID)},
    "/api/batches/{id}/cancel": {"post": operation(
        "Cancel a batch: its waiting jobs never run; running ones see it cancelled", {
            "200": answer("Cancelled", obj({"cancelled": {"type": "string"}})),
            "404": answer("No such batch", ERROR),
            "409": answer("The batch had finished, or was cancelled already", ERROR),
            **ACTION},
        parameters=ID)},
    "/api/batches/{id}/retry": {"post": operation(
        "Push the batch's failed jobs back onto their queues (as queue:retry-batch)", {
            "200": answer("What was retried (empty lists: it had no failed job); `kept`: "
                          "left in failed jobs, a job with the same id is queued", obj({
                              "retried": {"type": "array", "items": {"type": "string"}},
                              "queues": {"type": "array", "items": {"type": "string"}},
                              "kept": {"type": "array", "items": {"type": "string"}}})),
            "404": answer("No such batch", ERROR), **ACTION},
        parameters=ID)},
    "/api/metrics/history": {"get": operation(
        "Per minute: processed, failed, runtime and wait (the overview's charts)", {
            "200": answer("Column arrays, one per series; minute is Unix seconds", HISTORY),
            "422": answer("A bad window", ERROR), **COMMON},
        parameters=[{"name": "window", "in": "query",
                     "schema": {"type": "string", "enum": ["hour", "day"]}},
                    {"name": "queue", "in": "query", "schema": TEXT},
                    {"name": "class", "in": "query", "schema": TEXT}])},
    "/api/metrics": {"get": operation(
        "Per job class (by=class) or per queue (by=queue) over the last `minutes` (this one "
        "and those before it): throughput, runtime and wait; busiest first", {
            "200": answer("The window's figures", METRICS),
            "422": answer("A bad `by` or `minutes`", ERROR), **COMMON},
        parameters=[{"name": "by", "in": "query",
                     "schema": {"type": "string", "enum": ["class", "queue"]}},
                    {"name": "minutes", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 43200}}])},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Skiplock dashboard API", "version": "1",
             "description": "Every request needs 'Authorization: Bearer <DASHBOARD_TOKEN>'."},
    "paths": PATHS,
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "security": [{"token": []}],
}
