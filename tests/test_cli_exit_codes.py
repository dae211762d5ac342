"""The installed console script exits non-zero on a user error (CliRunner does not go through main())."""

from __future__ import annotations

import subprocess
import sys


def test_user_error_exits_2_with_a_one_line_message(in_tmp_cwd) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "patron.cli.main", "ingest", "no-such-file.csv"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "no-such-file.csv" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_version_exits_0(in_tmp_cwd) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "patron.cli.main", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("patron ")
