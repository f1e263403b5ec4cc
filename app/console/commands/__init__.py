"""Command modules; importing this package registers every command on the CLI."""

from app.console.commands import bench, dashboard, database, inspect, make, schedule, work  # noqa: F401
