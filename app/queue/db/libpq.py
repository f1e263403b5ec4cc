"""The old path of app/queue/connections/database/libpq.py (see __init__)."""

from __future__ import annotations

import sys

from app.queue.connections.database import libpq
from app.queue.connections.database.libpq import *  # noqa: F403 - what type checkers read; at run time, the line below

sys.modules[__name__] = libpq
