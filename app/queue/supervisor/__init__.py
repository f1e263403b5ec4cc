"""Process supervision (SPEC §16): pools of `queue:work` children per supervisor, balanced by
the work waiting, restarted when they die, controlled across hosts through the database.

settings.py   the settings of a supervisor, checked (SupervisorConfigError)
balancer.py   processes per pool: a pure function of settings, current counts and work
pool.py       the child processes: start, stop, reap, restart with backoff
store.py      the supervisors' rows and history (supervisors.sql)
supervisor.py the `supervise` loop: tick, signals, pause/continue/terminate
"""

from app.queue.supervisor.settings import (
    Balance,
    Strategy,
    SupervisorConfigError,
    SupervisorSettings,
    merged,
    parse_all,
)

__all__ = ["Balance", "Strategy", "SupervisorConfigError", "SupervisorSettings", "merged",
           "parse_all"]
