"""Command modules; importing this package registers every command on the CLI."""

from app.console.commands import bench  # noqa: F401
from app.console.commands import database  # noqa: F401
from app.console.commands import inspect  # noqa: F401
from app.console.commands import work  # noqa: F401
from app.console.commands import make  # noqa: F401
