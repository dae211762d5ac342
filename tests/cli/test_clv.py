"""``patron fit`` and ``patron score`` through Typer's CliRunner on the bundled sample."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from patron.cli.main import app
from patron.data import sample_path

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_fit_and_score(in_tmp_cwd: Path) -> None:
    assert _invoke("ingest", str(sample_path())).exit_code == 0
    assert _invoke("summary").exit_code == 0
    fit = _invoke("fit", "--model", "bgnbd")
    assert fit.exit_code == 0, fit.output
    assert "Parameters" in fit.output and "gamma_gamma" in fit.output and "alpha" in fit.output
    assert "run " in fit.output
    score = _invoke("score", "--horizon", "4", "--discount-rate", "0.01", "--level", "90", "--top", "3")
    assert score.exit_code == 0, score.output
    assert "Top 3 customers" in score.output and "CLV 90% interval" in score.output
    assert "clv_scores" in score.output


def test_fit_auto_prints_the_comparison(in_tmp_cwd: Path) -> None:
    _invoke("ingest", str(sample_path()))
    _invoke("summary")
    fit = _invoke("fit")
    assert fit.exit_code == 0, fit.output
    assert "holdout MAE" in fit.output and "pareto_nbd" in fit.output


def test_errors_are_clear(in_tmp_cwd: Path) -> None:
    bad = _invoke("fit", "--model", "bg")
    assert bad.exit_code == 2 and "--model must be" in bad.output
    empty = _invoke("fit", "--model", "bgnbd")
    assert empty.exit_code == 2 and "patron summary" in empty.output
    none = _invoke("score")
    assert none.exit_code == 2 and "patron fit" in none.output
