"""A scoring run killed halfway leaves the previous run's scores served and no partial rows visible.

Two ways to die, on both backends: an exception inside ``repo.run(...)``, and a separate process killed with
SIGKILL while it is inside the commit (one result table written, the other not yet).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from patron.storage import open_repository

IDS = [f"C{i:03d}" for i in range(50)]


def _scores(value: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    clv = pd.DataFrame({"customer_id": IDS, "clv": value, "probability_alive": 0.5})
    churn = pd.DataFrame({"customer_id": IDS, "probability": value / 100, "model_version": "v1"})
    return clv, churn


def _first_run(repo) -> str:
    clv, churn = _scores(10.0)
    with repo.run("score") as run:
        run.write("clv_scores", clv)
        run.write("churn_scores", churn)
    return run.run_id


def _assert_only(repo, run_id: str) -> None:
    for table in ("clv_scores", "churn_scores"):
        served = repo.read_results(table, kind="score")
        assert served["run_id"].unique().tolist() == [run_id]
        assert len(served) == len(IDS)
        everything = repo.query(f"SELECT DISTINCT run_id FROM {table}")
        assert everything["run_id"].tolist() == [run_id], f"partial rows of a dead run in {table}"


def test_exception_inside_run_leaves_previous_scores(repo) -> None:
    first = _first_run(repo)
    clv, churn = _scores(99.0)
    with pytest.raises(ZeroDivisionError), repo.run("score") as run:
        run.write("clv_scores", clv)
        run.write("churn_scores", churn)
        _ = 1 / 0  # halfway: the scores are staged, the run dies before it commits
    _assert_only(repo, first)
    runs = repo.list_runs("score")
    assert runs.set_index("run_id").loc[run.run_id, "status"] == "failed"


def test_exception_during_commit_rolls_back(repo, monkeypatch) -> None:
    """The commit itself fails after writing the first table: the transaction rolls the first one back."""
    first = _first_run(repo)
    original = type(repo)._insert_frame

    def failing_insert(self, name, frame):
        if name == "churn_scores":
            raise OSError("disk full")
        return original(self, name, frame)

    monkeypatch.setattr(type(repo), "_insert_frame", failing_insert)
    clv, churn = _scores(99.0)
    with pytest.raises(OSError, match="disk full"), repo.run("score") as run:
        run.write("clv_scores", clv)
        run.write("churn_scores", churn)
    monkeypatch.undo()
    _assert_only(repo, first)


CHILD = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from patron.storage import open_repository

    repo = open_repository(sys.argv[1])
    original = type(repo)._insert_frame

    def insert_then_hang(self, name, frame):
        original(self, name, frame)
        if name == "clv_scores":
            print("HALF", flush=True)  # one table written inside the commit's transaction
            time.sleep(600)

    type(repo)._insert_frame = insert_then_hang
    ids = [f"C{i:03d}" for i in range(50)]
    with repo.run("score") as run:
        run.write("clv_scores", pd.DataFrame({"customer_id": ids, "clv": 99.0, "probability_alive": 0.5}))
        run.write("churn_scores", pd.DataFrame({"customer_id": ids, "probability": 0.99, "model_version": "v2"}))
    """
)


def test_sigkill_mid_write_leaves_previous_scores(url) -> None:
    with open_repository(url) as repo:
        first = _first_run(repo)
    # DuckDB allows one process per file: the parent has closed the store before the child opens it.
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "HALF", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    with open_repository(url) as repo:
        _assert_only(repo, first)
        runs = repo.list_runs("score")
        assert sorted(runs["status"]) == ["running", "succeeded"]  # the dead run never claims success
