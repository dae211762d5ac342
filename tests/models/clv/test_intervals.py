"""Prediction intervals: draws evaluated in batches (draws x customers in one call) give exactly what one call per
draw gives, with the same seed; and the batched Gauss-Jacobi rules match the 32-node rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.models.clv import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.models.clv._base import CLVModel
from patron.models.clv.beta_geo import _beta_quadrature, _nodes_for, beta_quadratures, bgnbd_expected_path
from tests.models.clv.data import cdnow_with_spend


def _per_draw(monkeypatch: pytest.MonkeyPatch, models: list[CLVModel]) -> None:
    for m in models:
        monkeypatch.setattr(type(m), "_batched_draws", False)


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_batched_intervals_equal_one_call_per_draw(
    cls, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = cdnow_with_spend(shared_data)
    data["channel"] = (np.arange(len(data)) % 3 == 0).astype(float)  # a covariate: per-row alpha in the draws
    model = cls(covariates=["channel"]).fit(data)
    frame = data.iloc[::7]
    fast = [
        model.expected_purchases(frame, 39, level=[80, 95], n_draws=120, random_state=3),
        model.probability_alive(frame, level=[90], n_draws=120, random_state=4),
    ]
    _per_draw(monkeypatch, [model])
    slow = [
        model.expected_purchases(frame, 39, level=[80, 95], n_draws=120, random_state=3),
        model.probability_alive(frame, level=[90], n_draws=120, random_state=4),
    ]
    for a, b in zip(fast, slow, strict=True):
        pd.testing.assert_frame_equal(a, b, rtol=1e-11, atol=1e-13)
        assert (a.iloc[:, 1] <= a.iloc[:, 0] + 1e-12).all() and (a.iloc[:, 0] <= a.iloc[:, 2] + 1e-12).all()


def test_batched_clv_intervals_equal_one_call_per_draw(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = cdnow_with_spend(shared_data)
    bg, gg = BetaGeoModel().fit(data), GammaGammaModel().fit(data)
    frame = data.iloc[::5]
    kw = {"horizon": 26, "discount_rate": 0.01, "level": [80, 95], "n_draws": 100, "random_state": 1}
    fast = gg.customer_lifetime_value(bg, frame, **kw)
    _per_draw(monkeypatch, [bg, gg])
    slow = gg.customer_lifetime_value(bg, frame, **kw)
    pd.testing.assert_frame_equal(fast, slow, rtol=1e-11, atol=1e-11)
    assert (fast["clv-lo-95"] < fast["clv-hi-95"]).all()


def test_batched_beta_rules_match_the_single_rule() -> None:
    rng = np.random.default_rng(0)
    a, b = np.exp(rng.uniform(-3, 4, 50)), np.exp(rng.uniform(-3, 7, 50))
    nodes, weights = beta_quadratures(16, a, b)
    for i in range(len(a)):
        p, w = _beta_quadrature(16, a[i], b[i])
        np.testing.assert_allclose(np.sort(nodes[i]), np.sort(p), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(weights[i] @ nodes[i] ** 2, w @ p**2, rtol=1e-10)


def test_fewer_jacobi_nodes_match_the_32_node_rule() -> None:
    """Rows given 8-24 nodes (by t/alpha and r) agree with the 32-node rule to 1e-11 relative."""
    rng = np.random.default_rng(4)
    n = 5000
    r, alpha = (
        np.exp(rng.uniform(np.log(0.01), np.log(200), n)),
        np.exp(rng.uniform(np.log(1), np.log(1e3), n)),
    )
    a, b = np.exp(rng.uniform(np.log(0.05), np.log(50), n)), np.exp(rng.uniform(np.log(0.05), np.log(1e3), n))
    times = np.array([1.0, 13.0, 52.0])
    got = bgnbd_expected_path(times, r, alpha, a, b)
    # Only rows inside the table: the others use the split rule, which the 32-node rule cannot check (it is the less
    # accurate of the two there; see test_expected_accuracy.py for those rows against mpmath).
    in_table = np.flatnonzero(_nodes_for(times.max() / alpha, r) < 32)
    for i in rng.choice(in_table, 300, replace=False):
        p, w = _beta_quadrature(32, a[i], b[i])
        ref = [(-np.expm1(-r[i] * np.log1p(t * p / alpha[i])) / p) @ w for t in times]
        np.testing.assert_allclose(got[:, i], ref, rtol=1e-11)


def test_quantiles_match_numpy() -> None:
    from patron.models.clv._base import _quantiles

    rng = np.random.default_rng(0)
    vals = rng.gamma(2.0, size=(201, 300))
    vals[5, 7] = vals[:, 11] = np.nan  # one NaN in a column; a column of NaN
    qs = [0.025, 0.1, 0.5, 0.9, 0.975]
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanquantile(vals, qs, axis=0)
    np.testing.assert_allclose(_quantiles(vals, qs), expected, rtol=1e-13, equal_nan=True)


def test_level_step_functions_reproduce_the_node_table() -> None:
    """The per-level step functions the path uses give _nodes_for's count for any z inside each level."""
    from patron.models.clv.beta_geo import _NODE_TABLE, _level_nodes

    rng = np.random.default_rng(5)
    r = np.concatenate(
        [np.exp(rng.uniform(np.log(1e-3), np.log(5e3), 2000)), [1.0, 5.0, 20.0, 100.0, 1000.0]]
    )
    edges = [0.0] + [z_top for z_top, _ in _NODE_TABLE] + [50.0]
    got = _level_nodes(r)
    for j in range(len(edges) - 1):
        for z in (edges[j], 0.5 * (edges[j] + edges[j + 1]), np.nextafter(edges[j + 1], 0.0)):
            np.testing.assert_array_equal(got[j], _nodes_for(np.full(r.shape, z), r))
