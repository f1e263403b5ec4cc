"""The old home of the PostgreSQL driver, now app/queue/connections/database/.

`app.queue.db.store` (and every other module that lived here) is the very module at its new
path, not a copy: code written against the old paths (user code, branches started before the
move) keeps importing the same classes, queries and enums, and patching one patches the other.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

OLD = __name__ + "."
NEW = "app.queue.connections.database."
MOVED_UP = {"records": "app.queue.connections.records"}
"""Modules that left the driver for the contract's side: the rows every driver shares."""


class OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `app.queue.db.X` as the module `app.queue.connections.database.X`."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(OLD):
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        name = spec.name.removeprefix(OLD)
        return importlib.import_module(MOVED_UP.get(name, NEW + name))

    def exec_module(self, module: types.ModuleType) -> None:
        """Already executed under its new name."""


if not any(isinstance(finder, OldPaths) for finder in sys.meta_path):
    sys.meta_path.insert(0, OldPaths())
