"""Command modules; importing this package registers every command on the CLI."""

from app.console.commands import bench, database, inspect, key, make, schedule, work  # noqa: F401
