"""The key layout of the Redis driver: where each thing of a queue lives, and how a queue's
user-given name becomes part of a key.

Every key of one queue carries the hash tag `{<queue>}` (`skiplock:{default}:ready`), so a
Redis Cluster keeps all of a queue on one slot and each script, which touches one queue only,
runs on one node. What spans queues (the workers, the set of queues, the paused list) lives
under the tag `{%}`, which no escaped queue name can produce, and is driven from the client
one queue at a time, never by one script over many slots.

A queue name is user text (app/queue/names.py allows any printable text but commas). Inside
the tag it is percent-escaped: `%` -> `%25`, `{` -> `%7B`, `}` -> `%7D`. Without it a `}` in a
name would end the tag early (`{a}b}` hashes as `a`) and two names could share keys; escaped,
the tag is exactly the name, and different names never make the same key.
"""

from __future__ import annotations

PREFIX = "skiplock"
GLOBAL_TAG = "{%}"
"""A lone `%` is never the escape of a queue name (escaping makes `%` into `%25`)."""

_ESCAPES = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D"})


def escape_queue(name: str) -> str:
    """`name` as it appears inside the hash tag."""
    return name.translate(_ESCAPES)


class QueueKeys:
    """The keys of one queue. `prefix` ends with ':'; the scripts build per-job keys from it
    (`<prefix>job:<id>`, `<prefix>w:<worker>`, `<prefix>unique:<key>`), which share the tag."""

    __slots__ = ("cancel_channel", "cancelled", "delayed", "failed", "failed_order", "name",
                 "paused", "prefix", "ready", "reserved", "wake_channel")

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = f"{PREFIX}:{{{escape_queue(name)}}}:"
        self.ready = self.prefix + "ready"
        """ZSET: score the priority, member `<available-at ms, 15 digits>:<id>`, so equal
        priorities sort by availability, then id (Redis orders equal scores by member)."""
        self.delayed = self.prefix + "delayed"
        """ZSET: id scored by the ms it becomes available; claims move the due ones to ready."""
        self.reserved = self.prefix + "reserved"
        """ZSET: id scored by when it was reserved (orphaned reservations, counts)."""
        self.cancelled = self.prefix + "cancelled"
        """SET: reserved jobs a cancel marked (read by the heartbeat)."""
        self.paused = self.prefix + "paused"
        self.failed = self.prefix + "failed"
        """HASH: id -> the failed record (JSON), until it is moved to the database."""
        self.failed_order = self.prefix + "failed:order"
        """ZSET: failed id scored by when it failed."""
        self.wake_channel = self.prefix + "wake"
        self.cancel_channel = self.prefix + "cancel"

    def job(self, job_id: str) -> str:
        """HASH of one job: p payload, pr priority, a attempts (absent: 0), at available-at
        ms (its member in ready is made from it), wb/wt reserved by/at, c cancelled at,
        e last error, uk/us its unique lock and whether it ends at the start, pg/pm
        progress."""
        return f"{self.prefix}job:{job_id}"

    def worker_jobs(self, worker_id: str) -> str:
        """SET: the jobs of this queue `worker_id` holds."""
        return f"{self.prefix}w:{worker_id}"

    def unique(self, key: str) -> str:
        """STRING: the id of the job holding the unique lock `key` (expires with the lock)."""
        return f"{self.prefix}unique:{key}"


class GlobalKeys:
    """What spans queues, on the one slot of the tag `{%}`."""

    prefix = f"{PREFIX}:{GLOBAL_TAG}:"
    workers = prefix + "workers"
    """ZSET: worker id scored by its last heartbeat (ms)."""
    queues = prefix + "queues"
    """SET: every queue pushed to or worked (what cross-queue reads iterate)."""
    paused = prefix + "paused"
    """SET: the paused queues (the per-queue `paused` key is what claims obey)."""
    restart = prefix + "restart"
    """STRING: ms of the last queue:restart."""

    @classmethod
    def worker(cls, worker_id: str) -> str:
        """HASH: one worker's record."""
        return f"{cls.prefix}worker:{worker_id}"
