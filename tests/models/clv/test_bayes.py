"""Bayesian fitting through PyMC-Marketing (``patron.models.clv.bayes``): with flat priors the MAP is the published
maximum likelihood; a short NUTS run gives posterior means near it and intervals from posterior draws."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from patron.errors import ModelError
from patron.models.clv import BetaGeoModel
from patron.models.clv.bayes import BayesianBetaGeoModel, BayesianGammaGammaModel, BayesianParetoNBDModel
from tests.models.clv.data import cdnow_with_spend

pytestmark = [pytest.mark.xdist_group("pymc"), pytest.mark.filterwarnings("ignore")]


@pytest.mark.parametrize(
    ("cls", "published", "ll"),
    [
        # Fader, Hardie & Lee (2005), CDNOW: BG/NBD and Pareto/NBD (4-decimal refits in the data README).
        (BayesianBetaGeoModel, {"r": 0.2426, "alpha": 4.4136, "a": 0.7930, "b": 2.4261}, -9582.43),
        (BayesianParetoNBDModel, {"r": 0.5533, "alpha": 10.5777, "s": 0.6062, "beta": 11.6677}, -9594.97),
        # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": the 946 CDNOW repeaters.
        (BayesianGammaGammaModel, {"p": 6.2489, "q": 3.7446, "gamma": 15.4476}, -4055.92),
    ],
)
def test_flat_prior_map_is_the_published_mle(cls, published, ll, shared_data: Path) -> None:
    m = cls(method="map", flat_priors=True).fit(cdnow_with_spend(shared_data))
    for name, value in published.items():
        assert m.params_[name] == pytest.approx(value, abs=2e-3 * max(1.0, value / 5)), name
    assert m.log_likelihood_ == pytest.approx(ll, abs=0.01)
    # MAP: sd from the curvature at the mode, the MLE's standard errors (flat priors).
    assert np.all(np.isfinite(m.summary_["sd"])) and (m.summary_["lower_95"] < m.params_).all()


def test_short_nuts_run_posterior_and_intervals(shared_data: Path) -> None:
    data = cdnow_with_spend(shared_data)
    mle = BetaGeoModel().fit(data)
    m = BayesianBetaGeoModel(draws=200, tune=200, chains=2, random_seed=1).fit(data)
    assert m.posterior_.shape == (400, 4)
    # Posterior means with weakly informative priors on 2,357 customers: within 3 posterior sd of the MLE.
    z = (m.params_ - mle.params_) / m.summary_["sd"]
    assert (z.abs() < 3).all(), z
    assert m.params_["r"] == pytest.approx(0.243, abs=0.01)
    s = m.summary_
    assert (s["lower_95"] < s["estimate"]).all() and (s["estimate"] < s["upper_95"]).all()
    # Intervals come from posterior draws: every draw is a posterior sample.
    draws = np.exp(m.parameter_draws(50, random_state=2))
    post = m.posterior_.to_numpy()
    assert all(np.any(np.all(np.isclose(post, d, rtol=1e-12), axis=1)) for d in draws)
    one = data.loc[[1]]
    pred = m.expected_purchases(one, 39, level=[80], n_draws=300)
    lo, mid, hi = (
        pred["expected_purchases-lo-80"].iloc[0],
        pred["expected_purchases"].iloc[0],
        pred["expected_purchases-hi-80"].iloc[0],
    )
    assert lo < mid < hi and mid == pytest.approx(1.226, abs=0.05)  # FHL (2005): 1.226 at the MLE


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    monkeypatch.setitem(sys.modules, "pymc_marketing", None)  # import fails as if not installed
    with pytest.raises(ModelError, match=r"patron\[bayes\]"):
        BayesianBetaGeoModel(method="map").fit(cdnow_with_spend(shared_data))


def test_bad_method_and_weights_are_refused(shared_data: Path) -> None:
    data = cdnow_with_spend(shared_data)
    with pytest.raises(ModelError, match="method"):
        BayesianBetaGeoModel(method="nuts").fit(data)
    with pytest.raises(ModelError, match="sample_weight"):
        BayesianBetaGeoModel(method="map").fit(data, sample_weight=np.ones(len(data)))
