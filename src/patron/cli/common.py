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
    """The terminal's width on a terminal; when piped or captured, at least 160 columns.

    Rich falls back to 80 columns off a terminal, which truncates the metric tables and plain-language sentences
    in logs and captured output (CI sets COLUMNS=80 too); nobody reads a log on an 80-column screen any more.
    """
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return max(int(columns), 160) if columns.isdigit() else 160


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
