"""``patron churn fit|score`` and ``patron classify fit|score`` through the real CLI on the bundled sample."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.cli.main import app

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_churn_fit_and_score_write_plots(in_tmp_cwd) -> None:
    _ok(["ingest", "--sample"])
    out = _ok(["churn", "fit", "--cutoff", "2011-09-09", "--evaluation", "holdout"])
    assert "Held-out metrics" in out and "lightgbm_isotonic" in out and "logistic" in out
    assert "concordance" in out
    for name in ("churn_reliability.html", "churn_lift.html", "churn_km.html"):
        html = (in_tmp_cwd / "patron-out" / name).read_text()
        assert '<script src="http' not in html and len(html) > 1_000_000  # plotly.js inlined: works offline
    out = _ok(["churn", "score", "--top", "3"])
    assert "Top 3 customers by churn risk" in out and "churn_reasons" in out


def test_classify_fit_and_score_a_table(in_tmp_cwd) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "plan": rng.choice(["a", "b"], n),
            "usage": rng.normal(size=n),
        }
    )
    frame["left"] = np.where(rng.uniform(size=n) < np.where(frame["plan"] == "a", 0.6, 0.2), "yes", "no")
    frame.to_csv(in_tmp_cwd / "labelled.csv", index=False)
    out = _ok(
        ["classify", "fit", "labelled.csv", "--target", "left", "--id", "id", "--evaluation", "holdout"]
    )
    assert "400 customers" in out and "lightgbm_isotonic" in out
    assert (in_tmp_cwd / "patron-out" / "classify_reliability.html").is_file()
    out = _ok(["classify", "score", "labelled.csv", "--top", "2"])
    assert "scored 400 customers" in out


def test_bad_options_exit_2(in_tmp_cwd) -> None:
    result = runner.invoke(app, ["churn", "fit", "--calibration", "beta"])
    assert result.exit_code == 2 and "calibration must be one of" in result.output
    result = runner.invoke(app, ["churn", "score"])
    assert result.exit_code == 2 and "churn_fit" in result.output
    result = runner.invoke(app, ["classify", "fit", "--target", "Churn"])
    assert result.exit_code == 2 and "needs a labelled table" in result.output
