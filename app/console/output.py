"""Console output helpers shared by the commands (rich for tables, plain lines otherwise)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def echo(text: str) -> None:
    typer.echo(text)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))
