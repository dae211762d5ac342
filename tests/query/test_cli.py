"""`patron relate` and `patron export ...` through the real CLI (Typer's CliRunner)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.cli.main import app
from patron.storage import DuckDBRepository
from tests.query.synthetic import fill_store


@pytest.fixture
def cli_store(in_tmp_cwd):
    path = in_tmp_cwd / "patron.duckdb"
    with DuckDBRepository(path) as repo:
        fill_store(repo, n_customers=300, seed=2)
    query = {"relate": ["category", "age"], "target": {"$top": {"revenue": 0.2}}, "max_order": 2, "limit": 3}
    (in_tmp_cwd / "q.json").write_text(json.dumps(query))
    return in_tmp_cwd


def _run(*args: str):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    return result


def test_relate_prints_plain_words_and_saves_a_segment(cli_store) -> None:
    result = _run("relate", "q.json", "--save-as", "pair")
    assert result.exit_code == 0, result.output
    assert "customers who buy cat01 and cat02 are" in result.output
    assert "as likely to be in the top 20% by revenue" in result.output
    assert "segment 'pair' saved: category=cat01 AND category=cat02" in result.output
    with DuckDBRepository(cli_store / "patron.duckdb") as repo:
        assert repo.latest_run("relate") is not None


def test_export_define_segment_audience_covariates(cli_store) -> None:
    assert _run("export", "define", "big", "--where", '{"revenue": {"$gte": 100}}').exit_code == 0
    result = _run("export", "segment", "big", "--format", "parquet", "--out", "big.parquet")
    assert result.exit_code == 0, result.output
    members = pd.read_parquet(cli_store / "big.parquet")
    assert len(members) > 10 and set(members.columns) == {"segment", "customer_id"}
    assert (
        _run("export", "segment", "big", "--audience", "--treatment-share", "0.5", "--seed", "42").exit_code
        == 0
    )
    split = pd.read_csv(cli_store / "patron-out" / "segment-big-audience.csv")
    assert set(split["group"]) == {"treatment", "control"} and len(split) == len(members)
    assert _run("export", "segment", "big", "--covariates", "--out", "weekly.csv").exit_code == 0
    weekly = pd.read_csv(cli_store / "weekly.csv")
    assert list(weekly.columns) == [
        "segment",
        "week",
        "members_active",
        "revenue",
        "orders",
        "members_acquired",
    ]
    listing = _run("export", "list")
    assert "big" in listing.output and "where" in listing.output
    assert "customers (" in _run("export", "profile", "big").output


def test_cli_errors_are_one_clear_line(cli_store) -> None:
    (cli_store / "bad.json").write_text('{"relate": [\n')
    result = _run("relate", "bad.json")
    assert result.exit_code == 2
    assert "file bad.json, row 2: the relate query is not valid JSON" in result.output
    result = _run("export", "define", "x", "--where", '{"colour": 1}')
    assert result.exit_code == 2 and "unknown field 'colour'" in result.output
    result = _run("export", "segment", "nope")
    assert result.exit_code == 2 and "no segment named 'nope'" in result.output
    result = _run("export", "define", "x")
    assert result.exit_code == 2 and "give exactly one of --where, --model-label, --relate" in result.output
