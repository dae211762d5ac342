"""The BTYD features and baselines of the churn service (BG/NBD P(alive) and expected purchases)."""

from __future__ import annotations

import numpy as np

from patron.features.churn_features import churn_features_from_transactions
from patron.services.churn import btyd_baselines, btyd_features


def test_btyd_features_and_baselines(shared_data) -> None:
    import pandas as pd

    raw = pd.read_csv(
        shared_data / "cdnow_sample.txt.gz",
        sep=r"\s+",
        header=None,
        names=["customer_id", "index", "date", "cds", "dollars"],
        dtype={"customer_id": str, "date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    features = churn_features_from_transactions(raw, "customer_id", "date", "dollars", cutoff="1997-10-01")
    out, model = btyd_features(features, 90)
    assert model is not None
    assert out["p_alive"].between(0, 1).all() and out["p_no_purchase"].between(0, 1).all()
    # BG/NBD: a customer with no repeat purchase is alive for sure (FHL 2005, eq. 13 with x = 0)
    np.testing.assert_allclose(out.loc[out["btyd_frequency"] == 0, "p_alive"], 1.0)
    assert (out["expected_purchases"] >= 0).all()
    # the fitted model scores a new frame the same way
    again, _ = btyd_features(features, 90, model)
    np.testing.assert_allclose(again["p_alive"], out["p_alive"])
    base = btyd_baselines(out)
    assert set(base) == {"p_alive", "btyd_no_purchase"}
    np.testing.assert_allclose(base["p_alive"], 1 - out["p_alive"])
