"""The pipeline's old path: it is app/queue/pipeline.py now, below the runner that uses it
(the built-in middleware in this package sits above the worker)."""

from __future__ import annotations

from app.queue.pipeline import (
    MiddlewareError,
    Next,
    hold_back,
    middleware_of,
    run_through_middleware,
    worker_of,
)

__all__ = ["MiddlewareError", "Next", "hold_back", "middleware_of", "run_through_middleware",
           "worker_of"]
