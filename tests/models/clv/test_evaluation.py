"""Model evaluation on CDNOW (Fader, Hardie & Lee 2005) and on simulated BG/BB data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import roots_jacobi

from patron.errors import ConfigError, InputError
from patron.features import calibration_and_holdout
from patron.models.clv import beta_geo_beta_binom as bgbb
from patron.models.clv import evaluation as ev
from patron.models.clv.beta_geo import BetaGeoModel
from patron.models.clv.beta_geo_beta_binom import BetaGeoBetaBinomModel
from patron.models.clv.pareto_nbd import ParetoNBDModel


@pytest.fixture(scope="module")
def cdnow_tx(shared_data):
    tx = pd.read_csv(
        shared_data / "cdnow_sample.txt.gz",
        sep=r"\s+",
        header=None,
        names=["customer_id", "customer_index", "date", "cds", "dollars"],
        dtype={"customer_id": str, "date": str},
    )
    tx["timestamp"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def cdnow_cal(cdnow_tx):
    """39 + 39 weeks: calibration ends 1997-09-30, holdout to 1998-06-30 (FHL 2005 sec. 4)."""
    return calibration_and_holdout(
        cdnow_tx, "customer_id", "timestamp", "1997-09-30", "1998-06-30", freq="D", freq_multiplier=7
    )


@pytest.fixture(scope="module")
def bgnbd(cdnow_cal):
    return BetaGeoModel().fit(ev.calibration_summary(cdnow_cal))


def bgnbd_expected_new_by_quadrature(t, r, alpha, a, b):
    """E[X(t)] of a new BG/NBD customer by direct integration, independent of the 2F1 closed form: given lambda and
    p, E[X(t)] = (1 - exp(-lambda p t))/p (FHL eq. 6's integrand); the gamma mixture over lambda is
    1 - (alpha/(alpha + p t))^r, leaving an integral over p ~ Beta(a, b), done by Gauss-Jacobi quadrature (the
    beta density is the Jacobi weight, so its endpoint singularities are exact)."""
    u, w = roots_jacobi(400, b - 1, a - 1)
    p = (1 + u) / 2
    t = np.asarray(t, dtype=float)[..., None]
    return ((1 - (alpha / (alpha + p * t)) ** r) / p) @ w / w.sum()


def test_backtest_predictions_and_metrics(bgnbd, cdnow_cal):
    pred = ev.holdout_predictions(bgnbd, cdnow_cal)
    assert len(pred) == 2357 and pred.index.name == "customer_id"
    direct = bgnbd.expected_purchases(ev.calibration_summary(cdnow_cal), 39)
    np.testing.assert_allclose(pred["predicted"], direct.to_numpy(), rtol=1e-12)
    # FHL (2005) sec. 4 worked example: x = 2, t_x = 30.43, T = 38.86 -> E[X(39)] = 1.226.
    assert pred.loc["00004", "predicted"] == pytest.approx(1.226, abs=5e-4)
    m = ev.holdout_metrics(pred)
    err = pred["predicted"] - cdnow_cal["frequency_holdout"]
    assert m["mae"] == pytest.approx(err.abs().mean()) and m["rmse"] == pytest.approx(
        np.sqrt((err**2).mean())
    )
    assert m["actual_total"] == cdnow_cal["frequency_holdout"].sum()
    assert m["aggregate_error"] == pytest.approx(err.sum())


def test_conditional_expectations_table(bgnbd, cdnow_cal):
    """FHL (2005) fig. 4: mean holdout purchases by calibration frequency 0..7+; the model tracks every bucket."""
    pred = ev.holdout_predictions(bgnbd, cdnow_cal)
    table = ev.conditional_expectations(pred)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["n_customers"].sum() == 2357 and table.loc["0", "n_customers"] == 1411
    direct = pred.groupby(np.minimum(pred["frequency_cal"], 7))["actual"].mean().to_numpy()
    np.testing.assert_allclose(table["actual"], direct)
    assert table["predicted"].is_monotonic_increasing
    np.testing.assert_allclose(table["predicted"], table["actual"], atol=0.5)


def test_tracking_against_independent_computation(bgnbd, cdnow_tx, cdnow_cal):
    """FHL (2005) fig. 2: cumulative repeat transactions, weeks 1-78 from 1997-01-01, calibration ending week 39.

    Checked against independent computations rather than the plot: the actual counts at weeks 39 and 78 equal the
    SQL calibration/holdout summary's totals; the expected cumulative at week 39 (78) equals the sum over customers
    of E[X(T_cal)] (E[X(T_cal + 39)]) with E[X(t)] integrated numerically from the model's definition. As in the
    paper's figure, the model tracks the actual curve closely: within 2% at week 39 and 5% at week 78.
    """
    tr = ev.tracking(bgnbd, cdnow_tx, calibration_end="1997-09-30", observation_end="1998-06-30")
    assert len(tr) == 78 and tr["in_calibration"].sum() == 39
    assert tr.loc[39, "period_end"] == pd.Timestamp("1997-09-30")
    assert tr.loc[78, "period_end"] == pd.Timestamp("1998-06-30")
    assert tr.loc[39, "actual_cumulative"] == cdnow_cal["frequency_cal"].sum()
    assert (
        tr.loc[78, "actual_cumulative"] - tr.loc[39, "actual_cumulative"]
        == cdnow_cal["frequency_holdout"].sum()
    )
    np.testing.assert_allclose(tr["actual"].cumsum(), tr["actual_cumulative"])
    np.testing.assert_allclose(tr["expected"].cumsum(), tr["expected_cumulative"], rtol=1e-12)

    params = bgnbd.params_[["r", "alpha", "a", "b"]].to_numpy()
    T_cal, counts = np.unique(np.round(cdnow_cal["T_cal"].to_numpy() * 7).astype(int), return_counts=True)
    at39 = counts @ bgnbd_expected_new_by_quadrature(T_cal / 7, *params)
    at78 = counts @ bgnbd_expected_new_by_quadrature(T_cal / 7 + 39, *params)
    assert tr.loc[39, "expected_cumulative"] == pytest.approx(at39, rel=1e-7)
    assert tr.loc[78, "expected_cumulative"] == pytest.approx(at78, rel=1e-7)
    assert tr.loc[39, "expected_cumulative"] == pytest.approx(tr.loc[39, "actual_cumulative"], rel=0.02)
    assert tr.loc[78, "expected_cumulative"] == pytest.approx(tr.loc[78, "actual_cumulative"], rel=0.05)


def test_tracking_ignores_customers_acquired_after_calibration(bgnbd, cdnow_tx):
    late = pd.DataFrame({"customer_id": ["new"], "timestamp": [pd.Timestamp("1998-01-05")]})
    tx = pd.concat(
        [cdnow_tx[["customer_id", "timestamp"]], late, late.assign(timestamp=pd.Timestamp("1998-02-01"))]
    )
    tr = ev.tracking(bgnbd, tx, calibration_end="1997-09-30")
    assert tr.attrs["cohort"] == 2357  # the late customer and its repeat purchase are left out
    assert tr["actual"].sum() == len(cdnow_tx.drop_duplicates(["customer_id", "timestamp"])) - 2357


def test_matrices(bgnbd):
    alive = ev.probability_alive_matrix(bgnbd, T=39, max_frequency=6)
    assert alive.shape == (7, 40) and alive.loc[0, 0.0] == pytest.approx(1.0)
    assert np.isnan(alive.loc[0, 5.0]) and np.isnan(alive.loc[3, 0.0])
    one = bgnbd.probability_alive(pd.DataFrame({"frequency": [3.0], "recency": [20.0], "T": [39.0]}))
    assert alive.loc[3, 20.0] == pytest.approx(one.iloc[0])
    row = alive.loc[3].dropna().to_numpy()
    assert np.all(np.diff(row) > 0)  # a later last purchase: more likely alive
    exp = ev.frequency_recency_matrix(bgnbd, T=39, max_frequency=4, t=10, n_recency=5)
    assert list(exp.columns) == [0.0, 9.75, 19.5, 29.25, 39.0]
    assert exp.loc[4, 39.0] > exp.loc[1, 39.0]


def test_compare_models(cdnow_cal):
    """Both fits reach the published CDNOW log-likelihoods (FHL 2005: BG/NBD -9582.4; Pareto/NBD -9595.0)."""
    table = ev.compare_models({"bgnbd": BetaGeoModel(), "pnbd": ParetoNBDModel()}, cdnow_cal)
    assert set(table.index) == {"bgnbd", "pnbd"} and table["winner"].sum() == 1
    assert table.attrs["winner"] == table.index[0] == table["holdout_mae"].idxmin()
    assert table.loc["bgnbd", "log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    assert table.loc["pnbd", "log_likelihood"] == pytest.approx(-9594.98, abs=0.01)
    assert table.loc["bgnbd", "aic"] == pytest.approx(8 + 2 * 9582.43, abs=0.03)
    assert table.loc["bgnbd", "bic"] == pytest.approx(4 * np.log(2357) + 2 * 9582.43, abs=0.03)
    by_bic = ev.compare_models([BetaGeoModel(), ParetoNBDModel()], cdnow_cal, criterion="bic")
    assert by_bic.attrs["winner"] == "BetaGeoModel"


def test_backtest_works_for_bgbb_on_opportunities():
    """BG/BB through the same backtest: 6 calibration + 6 holdout opportunities of 100k simulated customers; the
    predicted holdout total is within 3% of the simulated one."""
    rng = np.random.default_rng(3)
    params = (1.2, 0.75, 0.66, 2.8)
    p, theta = rng.beta(params[0], params[1], 100_000), rng.beta(params[2], params[3], 100_000)
    death = rng.geometric(theta)
    buys = (rng.random((len(p), 12)) < p[:, None]) & (np.arange(1, 13)[None, :] < death[:, None])
    first = buys[:, :6]
    x = first.sum(1)
    cal = pd.DataFrame(
        {
            "frequency_cal": x,
            "recency_cal": np.where(x > 0, 6 - np.argmax(first[:, ::-1], axis=1), 0),
            "T_cal": 6,
            "frequency_holdout": buys[:, 6:].sum(1),
            "duration_holdout": 6,
        }
    )
    model = BetaGeoBetaBinomModel().fit(ev.calibration_summary(cal))
    metrics = ev.holdout_metrics(ev.holdout_predictions(model, cal))
    assert abs(metrics["aggregate_error_pct"]) < 3
    assert bgbb.expected_purchases(*model.params_, 0, 0, 6, 6) < 0.2


def test_input_errors(bgnbd, cdnow_cal, cdnow_tx):
    with pytest.raises(InputError, match="duration_holdout"):
        ev.holdout_predictions(bgnbd, cdnow_cal.drop(columns="duration_holdout"))
    with pytest.raises(ConfigError, match="not a purchase model"):
        ev.holdout_predictions(object(), cdnow_cal)
    with pytest.raises(ConfigError, match="criterion"):
        ev.compare_models([BetaGeoModel()], cdnow_cal, criterion="r2")
    with pytest.raises(InputError, match="calibration_end"):
        ev.tracking(bgnbd, cdnow_tx, calibration_end="1990-01-01")
    with pytest.raises(InputError, match="'timestamp'"):
        ev.tracking(bgnbd, cdnow_tx.drop(columns="timestamp"), calibration_end="1997-09-30")
    with pytest.raises(ConfigError, match="max_recency"):
        ev.probability_alive_matrix(bgnbd, T=39, max_recency=50)


def test_evaluation_on_the_stored_tables(repo, cdnow_tx, cdnow_cal, bgnbd):
    """The stored ``btyd_calibration`` and ``transactions`` tables (written by the summary service) feed the same
    functions and give the same numbers as the in-memory frames."""
    from patron.services.summary import build_summaries

    canonical = pd.DataFrame(
        {
            "customer_id": cdnow_tx["customer_id"],
            "order_id": None,
            "timestamp": cdnow_tx["timestamp"],
            "quantity": cdnow_tx["cds"].astype(float),
            "amount": cdnow_tx["dollars"].astype(float),
            "category": None,
            "product": None,
        }
    )
    repo.replace_tables({"transactions": canonical})
    build_summaries(
        repo,
        time_unit="D",
        freq_multiplier=7,
        calibration_end="1997-09-30",
        observation_period_end="1998-06-30",
    )
    stored = repo.read_table("btyd_calibration")
    pred = ev.holdout_predictions(bgnbd, stored).sort_index()
    mem = ev.holdout_predictions(bgnbd, cdnow_cal).sort_index()
    np.testing.assert_allclose(pred["predicted"], mem["predicted"], rtol=1e-9)
    np.testing.assert_array_equal(pred["actual"], mem["actual"])
    tr = ev.tracking(bgnbd, repo.read_table("transactions"), calibration_end="1997-09-30")
    assert tr.loc[78, "actual_cumulative"] == 4339


def test_daily_tracking_agrees_with_weekly(bgnbd, cdnow_tx):
    """Days 7w - 1 of a daily tracking are the ends of the weekly periods: the cumulative curves coincide there."""
    weekly = ev.tracking(bgnbd, cdnow_tx, calibration_end="1997-09-30", observation_end="1998-06-30")
    daily = ev.tracking(
        bgnbd, cdnow_tx, calibration_end="1997-09-30", observation_end="1998-06-30", period="D"
    )
    at = daily.loc[weekly.index * 7]
    np.testing.assert_allclose(at["actual_cumulative"], weekly["actual_cumulative"])
    np.testing.assert_allclose(at["expected_cumulative"], weekly["expected_cumulative"], rtol=1e-12)
    monthly = ev.tracking(bgnbd, cdnow_tx, calibration_end="1997-09-30", period="M")
    assert monthly["actual"].sum() == weekly["actual"].sum() and len(monthly) == 18
