"""The segmentation service on a synthetic store with planted customer types over a year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from patron.errors import ConfigError, InputError, NotFoundError
from patron.features.segment_features import segment_features
from patron.io.schema import CANONICAL_NAMES
from patron.services.segmentation import assign, segment
from patron.services.segments import members
from patron.services.summary import build_summaries

TYPES = ("loyal", "lapsed", "newcomer")
PREFIX = {"loyal": "L", "lapsed": "P", "newcomer": "N"}


def planted_lines(n_per: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Loyal customers buy category A every ~2 weeks all year and spend a lot; lapsed ones bought B a few
    times in the first quarter; newcomers started C in the last two months."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows, kinds = [], {}
    for kind in TYPES:
        for i in range(n_per):
            cid = f"{PREFIX[kind]}{i:03d}"
            kinds[cid] = kind
            if kind == "loyal":
                days = np.sort(rng.choice(np.arange(0, 365), size=24, replace=False))
                cat, price = "A", 80.0
            elif kind == "lapsed":
                days = np.sort(rng.choice(np.arange(0, 80), size=3, replace=False))
                cat, price = "B", 15.0
            else:
                days = np.sort(rng.choice(np.arange(305, 365), size=2, replace=False))
                cat, price = "C", 30.0
            for o, d in enumerate(days):
                amount = float(rng.gamma(20.0, price / 20.0))
                rows.append(
                    (cid, f"{cid}-{o}", start + pd.Timedelta(days=int(d), hours=10), 1.0, amount, cat)
                )
    lines = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "timestamp", "quantity", "amount", "category"]
    )
    lines["unit_price"] = lines["amount"]
    lines["source_customer_id"] = lines["customer_id"]
    lines["product"] = lines["category"] + "-sku"
    for col in ("product_name", "channel", "region", "email", "address"):
        lines[col] = None
    lines["source"] = "synthetic"
    lines["source_row"] = np.arange(2, len(lines) + 2)
    return lines[list(CANONICAL_NAMES)], pd.Series(kinds).sort_index()


@pytest.fixture
def store(repo):
    lines, kinds = planted_lines()
    repo.replace_tables({"transactions": lines})
    build_summaries(repo, time_unit="W")
    return repo, kinds


@pytest.mark.parametrize("method", ["hdbscan", "kmeans", "glrm"])
def test_planted_types_recovered_and_stored(store, method) -> None:
    repo, kinds = store
    run_id = segment(
        repo,
        method=method,
        min_cluster_size=20 if method == "hdbscan" else None,
        k=3 if method == "glrm" else None,  # GLRM + K-Means needs k; K-Means picks it by silhouette
    )
    a = repo.read_results("segment_assignments", run_id=run_id).sort_values("customer_id")
    assert a["customer_id"].tolist() == kinds.index.tolist()
    assert adjusted_rand_score(kinds.to_numpy(), a["segment"].to_numpy()) >= 0.9
    assert set(a["method"]) == {method} and a["strength"].between(0, 1).all()
    p = repo.read_results("segment_profiles", run_id=run_id)
    assert p["size"].sum() == len(kinds) and p["share"].sum() == pytest.approx(1.0)
    record = repo.get_run(run_id)
    assert record["report"]["stability"] >= 0.9 and record["report"]["segments"] == 3
    assert record["report"]["fit_rows"] == len(kinds)  # a small store: every customer in the fit
    # the loyal segment is described by its category, by lift (3x: one third of customers buy A)
    loyal = a.loc[a["customer_id"].str.startswith("L"), "segment"].mode()[0]
    row = p.set_index("segment").loc[loyal]
    assert row["behaviours"].startswith("A (3.0x, 100% vs 33%)")
    assert "3.0x as likely as the average customer to buy A" in row["description"]
    # registered as a model segment: members by name
    got = members(repo, f"{method}-{loyal}")["customer_id"].tolist()
    assert got == sorted(a.loc[a["segment"] == loyal, "customer_id"])


def test_rfm_method_names_segments(store) -> None:
    repo, _ = store
    run_id = segment(repo, method="rfm")
    a = repo.read_results("segment_assignments", run_id=run_id)
    assert set(a["segment_name"]) <= {
        "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
        "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
    }  # fmt: skip
    assert (
        a.loc[a["customer_id"].str.startswith("L"), "segment_name"].isin({"Champions", "Loyal"}).mean() > 0.9
    )
    assert (
        a.loc[a["customer_id"].str.startswith("P"), "segment_name"]
        .isin({"Lost", "Hibernating", "At Risk"})
        .all()
    )
    champions = members(repo, "rfm-Champions")
    assert len(champions) == (a["segment_name"] == "Champions").sum()


def test_assignment_invariant_to_row_order(store, tmp_path) -> None:
    repo, _ = store
    first = repo.read_results("segment_assignments", run_id=segment(repo, min_cluster_size=20))
    from patron.storage import DuckDBRepository

    lines = repo.read_table("transactions").sample(frac=1.0, random_state=3)
    with DuckDBRepository(tmp_path / "shuffled.duckdb") as other:
        other.replace_tables({"transactions": lines})
        build_summaries(other, time_unit="W")
        second = other.read_results("segment_assignments", run_id=segment(other, min_cluster_size=20))
    key = ["customer_id"]
    pd.testing.assert_frame_equal(
        first.drop(columns="run_id").sort_values(key).reset_index(drop=True),
        second.drop(columns="run_id").sort_values(key).reset_index(drop=True),
    )


@pytest.mark.parametrize("method", ["kmeans", "glrm"])
def test_assign_new_customers_matches_stored_labels(store, method) -> None:
    repo, _ = store
    run_id = segment(repo, method=method, k=3 if method == "glrm" else None)
    stored = repo.read_results("segment_assignments", run_id=run_id).set_index("customer_id")
    features = segment_features(repo).reset_index()
    got = assign(repo, features.iloc[::-1]).set_index("customer_id").loc[stored.index]
    np.testing.assert_array_equal(got["segment"], stored["segment"])
    assert (got["segment_name"] == stored["segment_name"]).all()
    # the strengths of the fitted customers, recomputed from their features, are the stored ones
    np.testing.assert_allclose(got["strength"], stored["strength"], atol=1e-6)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['log_monetary'\]"):
        assign(repo, features.drop(columns="log_monetary"))


def test_periods_transitions_conserve_customers(store) -> None:
    repo, kinds = store
    run_id = segment(repo, method="kmeans", k=3, period="quarter")
    states = repo.read_results("segment_periods", run_id=run_id)
    trans = repo.read_results("segment_transitions", run_id=run_id)
    periods = list(dict.fromkeys(states["period"]))
    assert periods[-1] == "2024Q4" and len(trans) > 0
    sizes = {p: g["segment"].value_counts() for p, g in states.groupby("period")}
    for (frm, to), t in trans.groupby(["from_period", "to_period"]):
        rows = t.groupby("from_segment")["customers"].sum()
        cols = t.groupby("to_segment")["customers"].sum()
        # rows sum to the previous period's state sizes (plus the newcomers), columns to the current ones
        assert rows.drop("new", errors="ignore").to_dict() == sizes[frm].to_dict()
        assert cols.to_dict() == sizes[to].to_dict()
        newcomers = set(states.loc[states["period"] == to, "customer_id"]) - set(
            states.loc[states["period"] == frm, "customer_id"]
        )
        assert rows.get("new", 0) == len(newcomers)
    # lapsed customers (last order before day 80) are lost by Q4 (180 days without an order)
    q4 = states[states["period"] == "2024Q4"].set_index("customer_id")["segment"]
    assert (q4[kinds[kinds == "lapsed"].index] == "lost").all()
    # loyal customers keep one segment number across quarters (labels aligned across refits)
    loyal = states[states["customer_id"].str.startswith("L")]
    per_period = loyal.groupby("period")["segment"].agg(lambda s: s.mode()[0])
    assert per_period.nunique() == 1


def test_bad_options_are_named(store, repo) -> None:
    with pytest.raises(ConfigError, match="method must be one of"):
        segment(repo, method="dbscan")
    with pytest.raises(ConfigError, match="period must be one of"):
        segment(repo, period="week")


def test_needs_summary_first(tmp_path) -> None:
    from patron.storage import DuckDBRepository

    with (
        DuckDBRepository(tmp_path / "empty.duckdb") as empty,
        pytest.raises(NotFoundError, match="patron summary"),
    ):
        segment(empty)


def test_clv_and_churn_scores_join_features_and_profiles(store) -> None:
    repo, kinds = store
    ids = kinds.index.tolist()
    clv = np.where(kinds.to_numpy() == "loyal", 900.0, 20.0)
    with repo.run("clv_score", {}) as run:
        run.write(
            "clv_scores",
            pd.DataFrame(
                {"customer_id": ids, "probability_alive": 0.5, "expected_purchases": 1.0, "clv": clv}
            ),
        )
    with repo.run("churn_score", {}) as run:
        run.write(
            "churn_scores", pd.DataFrame({"customer_id": ids, "probability": np.linspace(0, 1, len(ids))})
        )
    run_id = segment(repo, method="kmeans", k=3)
    assert "log_clv" in repo.get_run(run_id)["report"]["features"]
    p = repo.read_results("segment_profiles", run_id=run_id)
    a = repo.read_results("segment_assignments", run_id=run_id).set_index("customer_id")
    loyal = a.loc["L000", "segment"]
    row = p.set_index("segment").loc[loyal]
    assert row["mean_clv"] == pytest.approx(900.0) and "Mean CLV 900" in row["description"]
    churn = pd.Series(np.linspace(0, 1, len(ids)), index=ids)
    assert row["churn_probability"] == pytest.approx(churn[a.index[a["segment"] == loyal]].mean())


def test_rerun_keeps_segment_numbers(store) -> None:
    repo, _ = store
    first = repo.read_results("segment_assignments", run_id=segment(repo, method="kmeans", k=3))
    before = first.set_index("customer_id")["segment"]
    # twice as many newcomers: the newcomer segment becomes the largest, which alone would renumber it 0
    lines = repo.read_table("transactions")
    extra, _ = planted_lines(n_per=130, seed=7)
    extra = extra[extra["customer_id"].str.startswith("N")].copy()
    extra["customer_id"] = "X" + extra["customer_id"]
    extra["source_customer_id"] = extra["customer_id"]
    repo.replace_tables({"transactions": pd.concat([lines, extra], ignore_index=True)})
    build_summaries(repo, time_unit="W")
    run_id = segment(repo, method="kmeans", k=3)
    after = repo.read_results("segment_assignments", run_id=run_id).set_index("customer_id")["segment"]
    assert repo.get_run(run_id)["report"]["aligned_to"] is not None
    assert (after.loc[before.index] == before).mean() > 0.95
    unaligned = repo.read_results(
        "segment_assignments", run_id=segment(repo, method="kmeans", k=3, align=False)
    )
    assert unaligned.set_index("customer_id")["segment"].loc[before.index].ne(before).any()
