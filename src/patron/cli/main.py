"""The ``patron`` command line.

Commands are thin: each lives in its own module under ``patron.cli`` and exposes ``register(app)``; the numerics
and orchestration they call live in ``patron.services``.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape

from patron import __version__
from patron.cli.common import console

# One entry per command module; each defines register(app: typer.Typer) -> None.
COMMAND_MODULES: tuple[str, ...] = (
    "ingest",
    "summary",
    "demo",
    "relate",
    "export",
    "report",
    "runs",
    "keys",
    "serve",
)

app = typer.Typer(
    name="patron",
    help=(
        "Patron turns transaction history into customer intelligence: clean data, CLV, segments, churn and "
        "reasons, stored in an embedded DuckDB file (or PostgreSQL)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"patron {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Patron: customer intelligence from transaction history."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"patron.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point: user errors print a clear message and exit 2, never a traceback."""
    from patron.errors import PatronError

    try:
        # standalone_mode=False makes click return typer.Exit's code instead of raising it.
        code = app(standalone_mode=False)
    except PatronError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted")
        sys.exit(1)
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
