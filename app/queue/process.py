"""The old path of app/queue/worker/process.py: the very module, not a copy (its flags are
module state the worker and the console share)."""

from __future__ import annotations

import sys

from app.queue.worker import process

sys.modules[__name__] = process
