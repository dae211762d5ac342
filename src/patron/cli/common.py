"""Shared CLI pieces: the console, the store option, progress bars and the user-error wrapper."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from patron.config import get_settings
from patron.errors import PatronError
from patron.storage import Repository, open_repository


def _width() -> int | None:
    """Full width on a terminal; 120 columns when piped or captured, so tables and sentences don't wrap at 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    return None if sys.stdout.isatty() else 120


console = Console(highlight=False, width=_width())

StoreOption = typer.Option(
    None,
    "--store",
    "-s",
    help="DuckDB file or postgresql:// URL \\[env: PATRON_STORE; default: patron.duckdb].",
)


def progress() -> Progress:
    """A progress bar for long steps (drawn only on a terminal)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def store(url: str | None) -> Iterator[Repository]:
    """Open the store for one command and close it afterwards."""
    repo = open_repository(url or get_settings().store)
    try:
        yield repo
    finally:
        repo.close()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a PatronError into a red one-line message and exit code 2 (also under CliRunner)."""
    try:
        yield
    except PatronError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
