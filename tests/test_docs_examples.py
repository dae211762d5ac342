"""Every example in README.md and docs/*.md is executed.

* ```python blocks of one file run in order in one namespace (like a notebook), in an empty working directory
  whose default store is fresh. ``SHARED_DATA`` (the path of ../shared/data) is predefined.
* ```console blocks: each ``$ patron ...`` line runs through the real CLI and must exit 0.
  ``$ make ...`` lines must name a target the Makefile has (CI itself runs ``make test``; ``make demo`` is
  ``patron demo``, which runs here too).
* A block directly after the line ``<!-- example: skip (reason) -->`` is not run (used only for ``patron serve``,
  which blocks; the API tests exercise it).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO_ROOT, shared_data_dir

FENCE = re.compile(r"(<!-- example: skip[^>]*-->\s*)?```(python|console)\n(.*?)```", re.S)
DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def _blocks(path: Path) -> list[tuple[str, str]]:
    return [(kind, body) for skip, kind, body in FENCE.findall(path.read_text()) if not skip]


def _make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_examples_run(path: Path, in_tmp_cwd: Path) -> None:
    from patron.cli.main import app

    namespace: dict[str, object] = {"SHARED_DATA": shared_data_dir(), "__name__": "__docs__"}
    runner = CliRunner()
    for kind, body in _blocks(path):
        if kind == "python":
            exec(compile(body, f"{path.name}:example", "exec"), namespace)
            continue
        for line in body.splitlines():
            if not line.startswith("$ "):
                continue
            argv = shlex.split(line[2:].replace("../shared/data", str(shared_data_dir())))
            if argv[0] == "make":
                assert argv[1] in _make_targets(), f"{path.name}: Makefile has no target {argv[1]!r}"
                continue
            assert argv[0] == "patron", (
                f"{path.name}: only patron and make commands may be shown, got {line!r}"
            )
            result = runner.invoke(app, argv[1:], catch_exceptions=False)
            assert result.exit_code == 0, f"{path.name}: {line!r} exited {result.exit_code}:\n{result.output}"
