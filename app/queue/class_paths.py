"""A job's (or an enum's) class path: `module.Class`, what a row stores and a worker imports.
Shared by the payload, which writes it, and the resolver, which reads it back."""

from __future__ import annotations

import re

DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def importable_path(cls: type, what: str) -> str:
    """`module.Class`, refusing classes a worker could never find by that path."""
    path = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise TypeError(f"{what} class {path} cannot be imported by a worker: define it at the "
                        "top level of a module (jobs go in app/jobs/)")
    if what == "job" and "." in cls.__qualname__:
        raise TypeError(f"job class {path} is nested in a class: define it at the top level "
                        "of its module")
    return path
