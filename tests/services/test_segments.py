"""Segments as objects: definitions, members, profile, restrict, exports, weekly covariates, audiences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.errors import ConfigError, InputError, NotFoundError
from patron.services.segments import (
    audience,
    define_segment,
    export_members,
    get_segment,
    list_segments,
    members,
    profile,
    restrict,
    weekly_covariates,
)
from tests.query.synthetic import fill_store


@pytest.fixture
def store(repo):
    lines = fill_store(repo, n_customers=300, seed=3)
    return repo, lines


def test_where_segment_members_equal_pandas(store) -> None:
    repo, lines = store
    define_segment(repo, "big", {"where": {"$and": [{"revenue": {"$gte": 60}}, {"age": {"$in": ["18-34"]}}]}})
    got = members(repo, "big")["customer_id"].tolist()
    attrs = repo.read_table("customer_attributes").set_index("customer_id")["age"]
    revenue = lines.groupby("customer_id")["amount"].sum()
    want = sorted(c for c, r in revenue.items() if r >= 60 and attrs[c] == "18-34")
    assert got == want and len(got) > 5
    assert get_segment(repo, "big").kind == "where"


def test_top_band_segment_and_redefinition(store) -> None:
    repo, _ = store
    define_segment(repo, "top", {"where": {"$top": {"revenue": 0.1}}})
    assert len(members(repo, "top")) == 30  # 300 customers, continuous revenue: no ties at the boundary
    define_segment(repo, "top", {"where": {"$top": {"revenue": 0.2}}})
    assert len(members(repo, "top")) == 60
    assert [s.name for s in list_segments(repo)] == ["top"]


def test_relate_segment_members_have_every_item(store) -> None:
    repo, lines = store
    query = {"relate": ["category", "age"], "target": {"$top": {"revenue": 0.2}}, "max_order": 2}
    define_segment(repo, "pair", {"relate": query, "pattern": "category=cat01 AND category=cat02"})
    got = set(members(repo, "pair")["customer_id"])
    cats = lines.groupby("customer_id")["category"].agg(set)
    assert got == {c for c, s in cats.items() if {"cat01", "cat02"} <= s}
    # customers may belong to several relate segments
    define_segment(repo, "one", {"relate": query, "pattern": "category=cat01"})
    assert got < set(members(repo, "one")["customer_id"])
    define_segment(repo, "gone", {"relate": query, "pattern": "category=cat99"})
    with pytest.raises(NotFoundError, match=r"item\(s\) \['category=cat99'\] do not occur"):
        members(repo, "gone")


def test_model_segment_reads_latest_segment_run(store) -> None:
    repo, _ = store
    with repo.run("segment", {"method": "rfm"}) as run:
        run.write(
            "segment_assignments",
            pd.DataFrame(
                {
                    "customer_id": ["C0001", "C0002", "C0003"],
                    "segment": [1, 2, 1],
                    "strength": [0.9, 0.5, 0.7],
                    "method": "rfm",
                }
            ),
        )
    define_segment(repo, "one", {"model": {"label": "1"}})
    got = members(repo, "one")
    assert got["customer_id"].tolist() == ["C0001", "C0003"]
    assert got["strength"].tolist() == [0.9, 0.7]
    define_segment(repo, "nine", {"model": {"label": 9}})
    with pytest.raises(NotFoundError, match=r"no customer has label 9; labels: \['1', '2'\]"):
        members(repo, "nine")


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"where": {"colour": "red"}}, r"unknown field 'colour' in \"where\""),
        ({"where": {"revenue": 1}, "model": {"label": 1}}, "exactly one of the keys"),
        ({"where": {"revenue": 1}, "pattern": "x"}, r"unknown key\(s\) \['pattern'\]"),
        ({"model": {"lable": 1}}, "needs"),
        ({"relate": {"relate": ["category"], "target": {"revenue": 1}}}, 'needs "pattern"'),
    ],
)
def test_bad_definitions_fail_when_defined(store, definition, message) -> None:
    repo, _ = store
    with pytest.raises(InputError, match=message):
        define_segment(repo, "bad", definition)
    with pytest.raises(NotFoundError, match="no segment named 'bad'; defined segments: none yet"):
        get_segment(repo, "bad")


def test_profile_names_the_planted_categories(store) -> None:
    repo, lines = store
    define_segment(
        repo,
        "pair",
        {
            "relate": {"relate": ["category"], "target": {"revenue": {"$gte": 0}}},
            "pattern": "category=cat01 AND category=cat02",
        },
    )
    prof = profile(repo, "pair")
    ids = set(members(repo, "pair")["customer_id"])
    assert prof.size == len(ids)
    assert prof.revenue == pytest.approx(lines.loc[lines["customer_id"].isin(ids), "amount"].sum())
    assert prof.revenue_share > prof.share  # planted: these customers spend more
    assert {"category=cat01", "category=cat02"} <= set(prof.distinguishing["item"])
    row = prof.distinguishing.set_index("item").loc["category=cat01"]
    assert row["member_share"] == 1.0
    assert "as likely to have category=cat01 (100% vs" in prof.description
    assert prof.mean_clv is None


def test_restrict_filters_any_frame(store) -> None:
    repo, _ = store
    define_segment(repo, "top", {"where": {"$top": {"revenue": 0.1}}})
    frame = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(300)], "x": range(300)})
    kept = restrict(frame, "top", repo)
    assert set(kept["customer_id"]) == set(members(repo, "top")["customer_id"])
    assert len(restrict(frame.set_index("customer_id"), members(repo, "top"))) == 30
    assert restrict(frame, ["C0001", "C0002"])["x"].tolist() == [1, 2]
    with pytest.raises(ConfigError, match="needs the repo"):
        restrict(frame, "top")


def test_exports_round_trip(store, tmp_path) -> None:
    repo, _ = store
    define_segment(repo, "top", {"where": {"$top": {"revenue": 0.1}}})
    csv = export_members(repo, "top", tmp_path / "top.csv")
    parquet = export_members(repo, "top", tmp_path / "out" / "top.parquet")
    a = pd.read_csv(csv, dtype=str)
    b = pd.read_parquet(parquet)
    assert (
        a["customer_id"].tolist() == b["customer_id"].tolist() == members(repo, "top")["customer_id"].tolist()
    )
    assert (a["segment"] == "top").all()
    with pytest.raises(ConfigError, match="csv or parquet, got 'xlsx'"):
        export_members(repo, "top", tmp_path / "top.xlsx")


def test_weekly_covariates_equal_pandas(store) -> None:
    repo, lines = store
    define_segment(repo, "top", {"where": {"$top": {"revenue": 0.2}}})
    ids = set(members(repo, "top")["customer_id"])
    series = weekly_covariates(repo, "top")
    sub = lines[lines["customer_id"].isin(ids)].copy()
    sub["week"] = sub["timestamp"].dt.to_period("W-SUN").dt.start_time
    want = sub.groupby("week").agg(
        members_active=("customer_id", "nunique"), revenue=("amount", "sum"), orders=("order_id", "nunique")
    )
    got = series.set_index("week")
    assert got.index.is_monotonic_increasing and (got.index.dayofweek == 0).all()
    assert len(got) == len(pd.date_range(got.index[0], got.index[-1], freq="W-MON"))
    np.testing.assert_allclose(got.loc[want.index, "revenue"], want["revenue"])
    assert (got.loc[want.index, "members_active"] == want["members_active"]).all()
    assert (got.loc[want.index, "orders"] == want["orders"]).all()
    assert got["revenue"].sum() == pytest.approx(sub["amount"].sum())
    assert got["members_acquired"].is_monotonic_increasing and got["members_acquired"].iloc[-1] == len(ids)


def test_audience_is_reproducible_and_balanced(store) -> None:
    repo, _ = store
    define_segment(repo, "all", {"where": {"revenue": {"$gt": 0}}})
    a = audience(repo, "all", treatment_share=0.3, seed=7)
    b = audience(repo, "all", treatment_share=0.3, seed=7)
    c = audience(repo, "all", treatment_share=0.3, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["group"].equals(c["group"])
    assert a["stratum"].nunique() == 4
    for _, grp in a.groupby("stratum"):
        treated = (grp["group"] == "treatment").sum()
        assert abs(treated - 0.3 * len(grp)) < 1
    plain = audience(repo, "all", treatment_share=0.5, seed=1, stratify=None)
    assert set(plain["stratum"]) == {"all"}
    with pytest.raises(ConfigError, match=r"treatment_share must be in \(0, 1\)"):
        audience(repo, "all", treatment_share=1.5)


def test_profile_reports_mean_clv_of_members(store) -> None:
    repo, _ = store
    define_segment(repo, "top", {"where": {"$top": {"revenue": 0.1}}})
    ids = members(repo, "top")["customer_id"]
    scores = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(300)], "clv": np.arange(300.0)})
    with repo.run("clv_score", {}) as run:
        run.write("clv_scores", scores)
    prof = profile(repo, "top")
    assert prof.mean_clv == pytest.approx(scores.set_index("customer_id").loc[ids, "clv"].mean())
    assert f"mean CLV {prof.mean_clv:,.2f}" in prof.description


def test_profile_falls_back_to_products_when_there_are_no_categories(tmp_path) -> None:
    """Online Retail has no categories: the profile compares members by product instead of failing."""
    from patron.data import sample_path
    from patron.services.ingest import ingest
    from patron.storage import open_repository

    repo = open_repository(str(tmp_path / "retail.duckdb"))
    try:
        ingest(repo, sample_path())
        define_segment(repo, "frequent", {"where": {"orders": {"$gte": 5}}})
        prof = profile(repo, "frequent")
        assert prof.size > 0
        assert len(prof.distinguishing) and prof.distinguishing["item"].str.startswith("product=").all()
    finally:
        repo.close()
