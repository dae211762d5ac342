"""The run contract every backend honours: atomic results, failed runs leave earlier results served."""

from __future__ import annotations

import pandas as pd
import pytest

from patron.errors import NotFoundError


def test_failed_run_leaves_previous_results(repo) -> None:
    with repo.run("clv", {"model": "bgnbd"}) as run:
        run.write("scores", pd.DataFrame({"customer_id": ["a", "b"], "clv": [1.0, 2.0]}))
    first = repo.latest_run("clv")["run_id"]
    with pytest.raises(RuntimeError, match="boom"), repo.run("clv") as run:
        run.write("scores", pd.DataFrame({"customer_id": ["a"], "clv": [9.0]}))
        raise RuntimeError("boom")
    served = repo.read_results("scores", kind="clv")
    assert served["run_id"].unique().tolist() == [first]
    assert served["clv"].tolist() == [1.0, 2.0]
    runs = repo.list_runs("clv")
    assert sorted(runs["status"]) == ["failed", "succeeded"]
    assert "boom" in runs.loc[runs.status == "failed", "error"].iloc[0]
    assert repo.query("SELECT count(*) AS n FROM scores")["n"].iloc[0] == 2


def test_models_round_trip_and_missing_model_is_named(repo) -> None:
    with repo.run("clv") as run:
        run.save_model("bgnbd", {"r": 0.24})
    assert repo.load_model("bgnbd", kind="clv") == {"r": 0.24}
    with pytest.raises(NotFoundError, match="no model 'other'"):
        repo.load_model("other", kind="clv")


def test_replace_tables_is_all_or_nothing(repo) -> None:
    repo.replace_tables({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"y": [1]})})
    with pytest.raises(Exception), repo.transaction():  # noqa: B017 - any backend error
        repo._replace_frame("a", pd.DataFrame({"x": [2, 3]}))
        repo.execute("SELECT * FROM no_such_table")
    assert repo.read_table("a")["x"].tolist() == [1]


def test_new_columns_are_added_on_append(repo) -> None:
    with repo.run("k") as run:
        run.write("t", pd.DataFrame({"customer_id": ["a"], "p": [0.1]}))
    with repo.run("k") as run:
        run.write("t", pd.DataFrame({"customer_id": ["b"], "p": [0.2], "extra": ["x"]}))
    assert repo.read_results("t", kind="k")["extra"].tolist() == ["x"]
