"""Which job class a row names: its path is checked before anything is imported.

A worker runs whatever class path a row holds, so the path is checked as text first, then the
module's file is found and read without running it, and only then imported. Dispatch asks the
same resolver, so that no job is stored that no worker would run.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from app.queue.class_paths import DOTTED, importable_path
from app.queue.errors import PayloadError
from app.queue.job import Job


class JobClassResolver:
    """Turns a class path from a row into a `Job` subclass, importing only job modules.

    What a row cannot do: name a module outside the job packages, or a private or dunder
    segment (`app.jobs.__init__.X` would run the package's `__init__` again as a new module);
    have a module imported whose source defines no class of that name (`app.jobs.helpers.X`
    with no `class X` in it: refused before its top-level code runs); reach a class through
    a module that is not its own (a class imported into `app.jobs` from elsewhere, or a name
    rebound to another class). What it can do: have a module of the job packages that defines
    a class of that name imported, which runs that module's top-level code, as importing any
    of the user's job modules does; and the packages' own `__init__` run, once.
    """

    def __init__(self, packages: tuple[str, ...]) -> None:
        self.packages = packages
        self._cache: dict[str, type[Job]] = {}
        self._dispatchable: set[type] = set()

    def is_allowed_module(self, module_name: str) -> bool:
        return self.package_of(module_name) is not None

    def package_of(self, module_name: str) -> str | None:
        """The job package `module_name` is in (the innermost, if packages nest), or None."""
        inside = [p for p in self.packages if module_name == p or module_name.startswith(p + ".")]
        return max(inside, key=len) if inside else None

    def resolve(self, path: Any) -> type[Job]:
        cached = self._cache.get(path) if isinstance(path, str) else None
        if cached is not None:
            return cached
        module_name, class_name = self.split_path(path)
        # Also for a module already imported: dispatch, which always finds it imported, must
        # refuse what a worker that has not imported it yet would refuse.
        self.refuse_unless_defined_in_source(module_name, class_name)
        module = import_job_module(module_name)
        # getattr_static: a module's __getattr__ (lazy imports) must not run for a row.
        cls = inspect.getattr_static(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Job)):
            raise PayloadError(f"refused job class {path!r}: not a subclass of app.queue.Job")
        if (cls.__module__, cls.__qualname__) != (module_name, class_name):
            raise PayloadError(f"refused job class {path!r}: that name holds "
                               f"{cls.__module__}.{cls.__qualname__}; a job is named by the "
                               "module that defines it")
        self._cache[path] = cls
        return cls

    def split_path(self, path: Any) -> tuple[str, str]:
        """(module, class) of a well-formed path inside the job packages, checked as text."""
        if not isinstance(path, str) or not DOTTED.match(path):
            raise PayloadError(f"malformed job class path {path!r}")
        module_name, _, class_name = path.rpartition(".")
        if not self.is_allowed_module(module_name):
            raise PayloadError(
                f"refused job class {path!r}: module {module_name!r} is outside the job packages "
                f"({', '.join(self.packages)}; see QUEUE_JOB_PACKAGES)"
            )
        if any(part.startswith("_") for part in path.split(".")):
            raise PayloadError(f"refused job class {path!r}: a private or dunder name in the "
                               "path (job modules and classes are public names)")
        return module_name, class_name

    def refuse_unless_defined_in_source(self, module_name: str, class_name: str) -> None:
        """Find the module file as `import` would, without running it, and read it: a module
        whose source holds no `class <class_name>` is never imported for a row. A module whose
        source cannot be read (a deployment of .pyc files only) is imported, as before."""
        spec = self.find_spec_without_running(module_name)
        if spec is None:
            raise PayloadError(f"cannot import job module {module_name!r}: no such module in "
                               "the job packages")
        get_source = getattr(spec.loader, "get_source", None)  # an InspectLoader's
        try:
            source = get_source(module_name) if get_source is not None else None
        except (ImportError, OSError) as exc:
            raise PayloadError(f"cannot import job module {module_name!r}: {exc}") from None
        if source is not None and not defines_class(source, class_name):
            raise PayloadError(f"refused job class '{module_name}.{class_name}': module "
                               f"{module_name!r} defines no class {class_name!r}")

    def find_spec_without_running(self, module_name: str) -> ModuleSpec | None:
        """The module's spec, walking down from the job package it is under. Only the parents
        of that package are imported (as `import` would); nothing inside it is run."""
        package = self.package_of(module_name)
        if package is None:
            return None
        try:
            spec = importlib.util.find_spec(package)
            for part in module_name[len(package):].split(".")[1:]:
                if spec is None or spec.submodule_search_locations is None:
                    return None  # the level above is a module, not a package
                name = f"{spec.name}.{part}"
                loaded = sys.modules.get(name)
                spec = loaded.__spec__ if loaded is not None else \
                    importlib.machinery.PathFinder.find_spec(
                        name, list(spec.submodule_search_locations))
        except (ImportError, ValueError) as exc:
            raise PayloadError(f"cannot import job module {module_name!r}: {exc}") from None
        return spec

    def refuse_undispatchable(self, cls: type) -> None:
        """`TypeError` unless a worker would find `cls` by its path: the same checks as a
        worker's, made once per class at dispatch, so that no job is stored that no worker
        will run."""
        if cls in self._dispatchable:
            return
        path = importable_path(cls, "job")
        try:
            found = self.resolve(path)
        except PayloadError as exc:
            raise TypeError(f"cannot dispatch {cls.__qualname__}: a worker would refuse it: "
                            f"{exc}") from None
        if found is not cls:
            raise TypeError(f"cannot dispatch {cls.__qualname__}: a worker would find another "
                            f"class at {path!r}")
        self._dispatchable.add(cls)


def import_job_module(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise PayloadError(f"cannot import job module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the module's own top-level code failed
        raise PayloadError(f"importing job module {module_name!r} raised "
                           f"{type(exc).__name__}: {exc}") from None


def defines_class(source: str, class_name: str) -> bool:
    """Whether the module's own statements (also under `if`/`try` at its top level, not in
    functions or classes) define `class <class_name>`."""
    try:
        pending: list[ast.AST] = list(ast.parse(source).body)
    except (SyntaxError, ValueError):
        return False
    while pending:
        node = pending.pop()
        if isinstance(node, ast.ClassDef):
            if node.name == class_name:
                return True
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            pending.extend(child for child in ast.iter_child_nodes(node)
                           if not isinstance(child, ast.expr))
    return False
