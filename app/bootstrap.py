"""Wires config/ into the queue core: the provider behind `app.queue.context.current()`."""

from __future__ import annotations

import importlib

import config.app
import config.dashboard
import config.queue
from app.queue.context import QueueContext
from app.queue.settings import QueueSettings


def queue_settings() -> QueueSettings:
    cfg = config.queue.load()
    return QueueSettings(
        connection=cfg.connection,
        default_queue=cfg.default_queue,
        retry_after=cfg.retry_after,
        max_tries=cfg.max_tries,
        retry_delay=cfg.retry_delay,
        timeout=cfg.timeout,
        job_packages=cfg.job_packages,
        listen=cfg.listen,
        dispatch_lock_timeout=cfg.dispatch_lock_timeout,
        metrics_days=config.dashboard.load().metrics_days,
        app_keys=config.app.load().keys,
        vacuum_every=cfg.vacuum_every,
    )


def make_context() -> QueueContext:
    from app.database import engine

    context = QueueContext(settings=queue_settings(), engine_factory=engine)
    boot_providers()
    return context


_booted = False


def boot_providers() -> None:
    """app/providers.py's boot() (or APP_PROVIDERS'), once per process (a context made again,
    in tests, does not register its listeners twice)."""
    global _booted
    if _booted:
        return
    _booted = True
    importlib.import_module(config.app.load().providers).boot()
