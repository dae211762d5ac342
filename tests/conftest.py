"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from patron.storage import DuckDBRepository

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``shared/data`` beside the checkout or beside a folder above it (override with PATRON_SHARED_DATA).

    Looking above the parent lets git worktrees nested one level deeper (``work/wt/NAME``) find it too.
    """
    if "PATRON_SHARED_DATA" in os.environ:
        return Path(os.environ["PATRON_SHARED_DATA"])
    for parent in REPO_ROOT.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"the shared datasets are missing: {path} (set PATRON_SHARED_DATA)")
    return path


@pytest.fixture
def repo(tmp_path: Path):
    """A fresh embedded store in a temporary directory."""
    r = DuckDBRepository(tmp_path / "test.duckdb")
    yield r
    r.close()


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty working directory with the default store there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATRON_STORE", str(tmp_path / "patron.duckdb"))
    monkeypatch.setenv("PATRON_OUTPUT_DIR", str(tmp_path / "patron-out"))
    return tmp_path
