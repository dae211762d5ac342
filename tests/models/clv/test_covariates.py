"""Time-invariant covariates on the purchase models: a log-linear link on alpha."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.errors import InputError, ModelError
from patron.models.clv import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.models.clv.beta_geo import bgnbd_simulate
from patron.models.clv.pareto_nbd import pnbd_simulate


@pytest.mark.parametrize(
    ("model", "simulate", "truth"),
    [
        (BetaGeoModel, bgnbd_simulate, (0.5, 4.0, 0.8, 2.5)),
        (ParetoNBDModel, pnbd_simulate, (0.6, 8.0, 0.6, 12.0)),
    ],
)
def test_alpha_link_is_recovered(model, simulate, truth) -> None:
    """Group 1 has alpha doubled (half the purchase rate): coefficient log(2) within 4 standard errors."""
    rng = np.random.default_rng(2)
    n = 8000
    T = rng.uniform(20, 40, size=n)
    g = (np.arange(n) % 2).astype(float)
    x0, t0 = simulate(truth, T[g == 0], rng)
    t1p = (truth[0], truth[1] * 2, *truth[2:])
    x1, t1 = simulate(t1p, T[g == 1], rng)
    frame = pd.DataFrame(
        {
            "frequency": np.concatenate([x0, x1]),
            "recency": np.concatenate([t0, t1]),
            "T": np.concatenate([T[g == 0], T[g == 1]]),
            "web": np.concatenate([np.zeros(len(x0)), np.ones(len(x1))]),
        }
    )
    m = model(covariates=["web"]).fit(frame)
    est, se = m.params_["alpha[web]"], m.summary_.loc["alpha[web]", "se"]
    assert abs(est - np.log(2)) < 4 * se
    # a customer's prediction uses their own alpha
    one = frame.iloc[[0]].copy()
    a = m.expected_purchases(one.assign(web=0.0), 10).iloc[0]
    b = m.expected_purchases(one.assign(web=1.0), 10).iloc[0]
    assert b < a


def test_covariate_must_be_a_numeric_column() -> None:
    frame = pd.DataFrame({"frequency": [1, 0], "recency": [2.0, 0.0], "T": [5.0, 5.0], "region": ["N", "S"]})
    with pytest.raises(InputError, match="region"):
        BetaGeoModel(covariates=["region"]).fit(frame)
    with pytest.raises(InputError, match="'channel'"):
        BetaGeoModel(covariates=["channel"]).fit(frame)


def test_model_without_link_refuses_covariates() -> None:
    frame = pd.DataFrame({"frequency": [1, 0], "recency": [2.0, 0.0], "T": [5.0, 5.0], "w": [0.0, 1.0]})
    ModifiedBetaGeoModel(covariates=["w"]).fit(frame)  # MBG/NBD shares the alpha link
    from patron.models.clv._base import CLVModel

    class NoLink(CLVModel):
        _param_names = ("r",)

    with pytest.raises(ModelError, match="takes no covariates"):
        NoLink(covariates=["w"]).fit(frame)
