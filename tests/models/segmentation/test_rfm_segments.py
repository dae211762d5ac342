"""RFM scores and named segments, checked against an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.errors import ConfigError, InputError
from patron.models.segmentation.rfm import RFM_SEGMENTS, RFMSegmenter, rfm_scores


def _table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "recency_days": rng.integers(0, 365, n),
            "frequency": rng.geometric(0.4, n),  # heavy ties: most customers buy once or twice
            "monetary": np.round(rng.lognormal(4, 1, n), 2),
        }
    ).set_index("customer_id")


def _pandas_scores(t: pd.DataFrame, bins: int) -> pd.DataFrame:
    """Independent: score = 1 + floor(bins * (customers strictly worse) / n), via pandas' min-rank."""
    n = len(t)

    def score(worse: pd.Series) -> pd.Series:
        return (1 + np.floor(bins * worse / n)).clip(upper=bins).astype(int)

    r = score(t["recency_days"].rank(method="min", ascending=False) - 1)
    f = score(t["frequency"].rank(method="min") - 1)
    m = score(t["monetary"].rank(method="min") - 1)
    return pd.DataFrame({"r_score": r, "f_score": f, "m_score": m})


GRID = {  # R x FM (5-point) -> name, written out cell by cell
    **{f"5{fm}": "Champions" for fm in (4, 5)},
    "51": "New",
    **{f"5{fm}": "Potential Loyalist" for fm in (2, 3)},
    "41": "Promising",
    **{f"4{fm}": "Potential Loyalist" for fm in (2, 3)},
    **{f"4{fm}": "Loyal" for fm in (4, 5)},
    **{f"3{fm}": "Loyal" for fm in (4, 5)},
    "33": "Need Attention",
    **{f"3{fm}": "About to Sleep" for fm in (1, 2)},
    **{f"{r}{fm}": "At Risk" for r in (1, 2) for fm in (3, 4)},
    **{f"{r}5": "Can't Lose Them" for r in (1, 2)},
    **{f"2{fm}": "Hibernating" for fm in (1, 2)},
    **{f"1{fm}": "Lost" for fm in (1, 2)},
}


@pytest.mark.parametrize("bins", [3, 4, 5, 10])
def test_scores_equal_pandas_min_rank(bins: int) -> None:
    t = _table()
    got = rfm_scores(t, n_bins=bins)
    want = _pandas_scores(t, bins)
    pd.testing.assert_frame_equal(got[["r_score", "f_score", "m_score"]], want, check_dtype=False)
    # ties share a score: every frequency value maps to one score
    assert (got.groupby(t["frequency"])["f_score"].nunique() == 1).all()


def test_named_segments_follow_the_grid() -> None:
    t = _table(2000, seed=1)
    got = rfm_scores(t, n_bins=5)
    fm = np.floor((got["f_score"] + got["m_score"]) / 2 + 0.5).astype(int)
    want = [GRID[f"{r}{x}"] for r, x in zip(got["r_score"], fm, strict=True)]
    assert got["segment"].tolist() == want
    assert len(GRID) == 25 and set(GRID.values()) == set(RFM_SEGMENTS)
    assert set(got["segment"]) >= {"Champions", "Lost", "At Risk", "Hibernating"}


def test_predict_scores_new_customers_against_training_reference() -> None:
    t = _table()
    model = RFMSegmenter().fit(t)
    best = pd.DataFrame({"recency_days": [0], "frequency": [100], "monetary": [1e6]})
    worst = pd.DataFrame({"recency_days": [10_000], "frequency": [0], "monetary": [0.0]})
    assert RFM_SEGMENTS[model.predict(best)[0]] == "Champions"
    assert RFM_SEGMENTS[model.predict(worst)[0]] == "Lost"
    np.testing.assert_array_equal(model.predict(t), model.labels_)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 9))
def test_labels_invariant_to_row_order(seed: int, bins: int) -> None:
    t = _table(120, seed=seed % 50)
    perm = np.random.default_rng(seed).permutation(len(t))
    a = pd.Series(RFMSegmenter(bins).fit(t).labels_, index=t.index)
    b = pd.Series(RFMSegmenter(bins).fit(t.iloc[perm]).labels_, index=t.index[perm])
    pd.testing.assert_series_equal(a, b.loc[a.index])


def test_bad_input_is_named() -> None:
    with pytest.raises(InputError, match=r"RFM needs column\(s\) \['monetary'\]"):
        RFMSegmenter().fit(pd.DataFrame({"recency_days": [1], "frequency": [1]}))
    bad = pd.DataFrame({"recency_days": [1, 2], "frequency": [1, np.nan], "monetary": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"row 2: .*missing or infinite frequency"):
        RFMSegmenter().fit(bad)
    with pytest.raises(ConfigError, match="n_bins must be an integer >= 2"):
        RFMSegmenter(n_bins=1).fit(_table(10))
