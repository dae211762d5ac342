"""Every command module the CLI lists exists and registers, and --help reads well."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from patron.cli.main import COMMAND_MODULES, app


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_command_module_exists(name: str) -> None:
    module = importlib.import_module(f"patron.cli.{name}")
    assert callable(module.register)


def test_help_lists_every_command() -> None:
    import typer

    registered = typer.main.get_command(app).commands
    assert {"ingest", "summary", "demo", "relate", "export", "runs"} <= set(registered)
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, command in registered.items():
        assert name in result.output
        assert command.help or command.short_help, f"patron {name} has no help text"
