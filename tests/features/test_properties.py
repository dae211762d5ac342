"""Invariants of the BTYD summary and the calibration/holdout split (hypothesis).

Exactly what is invariant:

* always ``frequency >= 0`` and ``0 <= recency <= T``; ``frequency`` = distinct purchase periods - 1;
* shuffling the rows changes nothing at all (amounts are multiples of 1/4, so float sums are exact in any order);
* adding a purchase in a period where the customer already bought leaves frequency, recency and T unchanged;
  monetary_value (mean of repeat-period totals) grows by amount / frequency when that period is a repeat period
  and is unchanged when it is the first period (the first period never enters the mean);
* calibration + holdout: the calibration columns equal the summary of the rows up to the calibration end, and
  ``frequency_cal + 1 + frequency_holdout`` = distinct periods through the observation end, plus one when the
  calibration end's period holds purchases on both sides of the (raw-timestamp) cut.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.features import calibration_and_holdout, summary_from_transactions

START = pd.Timestamp("2021-01-01")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def transactions(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    customers = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
    minutes = draw(st.lists(st.integers(0, 700 * 24 * 60), min_size=n, max_size=n))
    quarters = draw(st.lists(st.integers(-40, 4000), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "cid": customers,
            "ts": START + pd.to_timedelta(minutes, unit="min"),
            "spend": np.array(quarters, dtype=float) / 4.0,
        }
    )


units = st.sampled_from(["D", "W", "M"])


def _period_start(ts: pd.Series, freq: str) -> pd.Series:
    return ts.dt.to_period(freq).dt.start_time


@SETTINGS
@given(transactions(), units)
def test_bounds_and_frequency_counts_periods(tx: pd.DataFrame, freq: str) -> None:
    out = summary_from_transactions(tx, "cid", "ts", "spend", freq=freq)
    assert (out["frequency"] >= 0).all()
    assert (out["recency"] >= 0).all() and (out["recency"] <= out["T"] + 1e-12).all()
    periods = tx.assign(p=_period_start(tx["ts"], freq)).groupby("cid")["p"].nunique()
    assert (out["frequency"] == periods.loc[out.index] - 1).all()
    assert (out.loc[out["frequency"] == 0, ["recency", "monetary_value"]] == 0).all().all()


@SETTINGS
@given(transactions(), units, st.randoms(use_true_random=False))
def test_invariant_to_row_order(tx: pd.DataFrame, freq: str, rnd) -> None:
    order = list(range(len(tx)))
    rnd.shuffle(order)
    a = summary_from_transactions(tx, "cid", "ts", "spend", freq=freq)
    b = summary_from_transactions(tx.iloc[order].reset_index(drop=True), "cid", "ts", "spend", freq=freq)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@SETTINGS
@given(transactions(), units, st.integers(0, 10_000), st.integers(0, 24 * 60 - 1), st.integers(1, 400))
def test_same_period_purchase_changes_only_monetary(
    tx: pd.DataFrame, freq: str, pick: int, minute: int, quarters: int
) -> None:
    row = tx.iloc[pick % len(tx)]
    ts = row["ts"].normalize() + pd.Timedelta(minutes=minute)  # same day, hence same day/week/month
    amount = quarters / 4.0
    end = tx["ts"].max().normalize() + pd.Timedelta(days=1)  # fixed, so the extra row cannot move T
    before = summary_from_transactions(tx, "cid", "ts", "spend", freq=freq, observation_period_end=end)
    extra = pd.DataFrame({"cid": [row["cid"]], "ts": [ts], "spend": [amount]})
    after = summary_from_transactions(
        pd.concat([tx, extra], ignore_index=True), "cid", "ts", "spend", freq=freq, observation_period_end=end
    )
    cols = ["frequency", "recency", "T"]
    pd.testing.assert_frame_equal(before[cols], after[cols], check_exact=True)
    c = row["cid"]
    first_period = _period_start(tx.loc[tx["cid"] == c, "ts"], freq).min()
    in_first = _period_start(pd.Series([ts]), freq).iloc[0] == first_period
    expected = before.loc[c, "monetary_value"] + (0 if in_first else amount / before.loc[c, "frequency"])
    assert np.isclose(after.loc[c, "monetary_value"], expected, rtol=1e-12, atol=1e-12)
    others = before.index != c
    pd.testing.assert_frame_equal(before[others], after[after.index != c], check_exact=True)


@SETTINGS
@given(transactions(), units, st.integers(30, 650))
def test_calibration_and_holdout_are_consistent(tx: pd.DataFrame, freq: str, cut_day: int) -> None:
    cal_end = START + pd.Timedelta(days=cut_day, hours=12)
    obs_end = tx["ts"].max()
    if cal_end >= obs_end or not (tx["ts"] <= cal_end).any():
        return
    split = calibration_and_holdout(
        tx, "cid", "ts", cal_end, observation_period_end=obs_end, freq=freq, monetary_value_col="spend"
    )
    cal_only = summary_from_transactions(
        tx[tx["ts"] <= cal_end], "cid", "ts", "spend", freq=freq, observation_period_end=cal_end
    )
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(split[f"{col}_cal"], cal_only.loc[split.index, col], rtol=1e-12)
    assert (split["recency_cal"] <= split["T_cal"]).all()
    assert (split["frequency_holdout"] >= 0).all()
    assert (split.loc[split["frequency_holdout"] == 0, "monetary_value_holdout"] == 0).all()

    p = tx.assign(p=_period_start(tx["ts"], freq))
    cut_period = _period_start(pd.Series([cal_end]), freq).iloc[0]
    for c in split.index:
        mine = p[p["cid"] == c]
        boundary = mine[mine["p"] == cut_period]
        straddles = int((boundary["ts"] <= cal_end).any() and (boundary["ts"] > cal_end).any())
        total = split.loc[c, "frequency_cal"] + 1 + split.loc[c, "frequency_holdout"]
        assert total == mine["p"].nunique() + straddles
