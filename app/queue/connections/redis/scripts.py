"""LuaScripts: the driver's scripts, read in one place (as Laravel's `LuaScripts` class).

Each atomic step is one file of scripts/, with _lib.lua (the steps they share) put before
it. They are registered once per client by name: redis-py's `register_script` sends EVALSHA
and, on NOSCRIPT (a restarted or failed-over server), loads the script and sends it again.
A Redis Cluster pipeline cannot load a script, so `load_everywhere` loads them all on every
master before a pipelined push (and again after a NOSCRIPT there)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from redis.commands.core import Script

NAMES = ("push", "claim", "release", "fail", "cancel", "progress", "give_back", "rescue",
         "worker_register", "worker_beat", "worker_stop", "worker_dead", "worker_prune")


@functools.cache
def source(name: str) -> str:
    """The text sent for script `name`: the shared steps, then its own."""
    folder = resources.files(__package__).joinpath("scripts")
    lib = folder.joinpath("_lib.lua").read_text(encoding="utf-8")
    return lib + "\n" + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")


class LuaScripts:
    """Every script, registered on `client` (a Redis or a RedisCluster)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._scripts: dict[str, Script] = {
            name: client.register_script(source(name)) for name in NAMES}

    def __getitem__(self, name: str) -> Script:
        return self._scripts[name]

    def load_everywhere(self) -> None:
        """Load every script on every master (a cluster pipeline cannot load on NOSCRIPT)."""
        for script in self._scripts.values():
            script.sha = self._client.script_load(script.script)
