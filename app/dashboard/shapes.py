"""The JSON shapes of the API's answers (described in openapi.py: keep the two in step)."""

from __future__ import annotations

from typing import Any

from app.dashboard.arguments import visible_arguments
from app.dashboard.store import BatchRow, JobRow, MinuteMetrics
from app.formatting import iso
from app.queue.admin import FailedJob, JobInfo, QueueStats, WorkerInfo, error_summary


def queue_json(stats: QueueStats) -> dict[str, Any]:
    return {"queue": stats.queue, "pending": stats.pending, "delayed": stats.delayed,
            "reserved": stats.reserved, "failed": stats.failed, "paused": stats.paused,
            "oldest_pending_age_seconds": stats.oldest_pending_age}


def job_row_json(job: JobRow) -> dict[str, Any]:
    return {"id": job.id, "queue": job.queue, "job_class": job.job_class, "state": job.state,
            "attempts": job.attempts, "progress": job.progress, "at": iso(job.at)}


def job_json(job: JobInfo, payload: Any, batch_id: str | None) -> dict[str, Any]:
    return {"id": job.id, "state": job.state.value, "queue": job.queue,
            "job_class": job.job_class, "arguments": visible_arguments(payload),
            "attempts": job.attempts, "priority": job.priority, "progress": job.progress,
            "progress_message": job.progress_message,
            "error": error_summary(job.error) if job.error else None, "traceback": job.error,
            "created_at": iso(job.created_at), "available_at": iso(job.available_at),
            "reserved_at": iso(job.reserved_at), "failed_at": iso(job.failed_at),
            "worker": job.worker_name, "batch_id": batch_id}


def failed_json(job: FailedJob) -> dict[str, Any]:
    return {"id": job.id, "queue": job.queue, "job_class": job.job_class,
            "attempts": job.attempts, "failed_at": iso(job.failed_at), "error": job.error}


def worker_json(worker: WorkerInfo) -> dict[str, Any]:
    return {"id": worker.id, "name": worker.name, "host": worker.host, "pid": worker.pid,
            "queues": list(worker.queues), "state": worker.state.value,
            "concurrency": worker.concurrency, "running": worker.running,
            "processed": worker.processed, "failed": worker.failed,
            "heartbeat_age_seconds": worker.heartbeat_age, "started_at": iso(worker.started_at)}


def batch_json(batch: BatchRow) -> dict[str, Any]:
    """The names of SPEC §9's Batch; failed_job_ids only in the answer for one batch."""
    shape = {"id": batch.id, "name": batch.name, "state": batch.state,
             "total_jobs": batch.total_jobs, "pending_jobs": batch.pending_jobs,
             "processed_jobs": batch.processed_jobs, "failed_jobs": batch.failed_jobs,
             "progress": round(batch.progress, 2), "cancelled": batch.cancelled_at is not None,
             "finished": batch.finished_at is not None, "created_at": iso(batch.created_at),
             "cancelled_at": iso(batch.cancelled_at), "finished_at": iso(batch.finished_at)}
    if batch.failed_job_ids is not None:
        shape["failed_job_ids"] = batch.failed_job_ids
    return shape


def history_json(minutes: list[MinuteMetrics]) -> dict[str, Any]:
    """Column arrays, as uPlot takes them (one x array, one array per series)."""
    return {"minute": [m.minute for m in minutes],
            "processed": [m.processed for m in minutes],
            "failed": [m.failed for m in minutes],
            "runtime_avg": [m.runtime_avg for m in minutes],
            "runtime_max": [m.runtime_max for m in minutes],
            "wait_avg": [m.wait_avg for m in minutes],
            "wait_max": [m.wait_max for m in minutes]}
