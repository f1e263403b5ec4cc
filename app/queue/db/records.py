"""The old path of app/queue/connections/records.py (see __init__)."""

from __future__ import annotations

import sys

from app.queue.connections import records
from app.queue.connections.records import *  # noqa: F403 - what type checkers read; at run time, the line below

sys.modules[__name__] = records
