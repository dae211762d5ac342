"""CLV use-cases: fit the purchase and spend models on the stored summary, and score customers.

* :func:`fit_clv` (run kind ``clv_fit``) reads ``btyd_summary`` (and ``btyd_calibration`` to compare the purchase
  models on holdout error when ``model="auto"``), fits the chosen purchase model on the whole summary and
  Gamma-Gamma on the repeat customers, saves them as models ``purchase`` and ``spend`` and writes
  ``clv_parameters(run_id, model, parameter, estimate, se, lower_95, upper_95)`` and, for ``auto``,
  ``clv_model_comparison(run_id, model, n_params, log_likelihood, aic, bic, holdout_mae, holdout_rmse,
  holdout_total_error, converged, chosen)``.
* :func:`score_clv` (run kind ``clv_score``) loads the latest (or a given) ``clv_fit`` run's models and writes
  ``clv_scores(run_id, customer_id, probability_alive, expected_purchases, expected_spend, clv, clv_lo_<L>,
  clv_hi_<L>, expected_purchases_lo_<L>, expected_purchases_hi_<L>)`` for every level L.
* :func:`score_frame` scores any summary-like frame with fitted models (the API uses it on JSON input).

Covariates are names of columns of ``btyd_summary`` or ``customers`` (numeric, used as they are) or of
``transactions`` (``channel``, ``region``...: the value on the customer's first transaction, i.e. at acquisition,
one-hot encoded against the most common value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ConfigError, InputError, NotFoundError
from patron.io.schema import BTYD_CALIBRATION, BTYD_SUMMARY, CUSTOMERS, TRANSACTIONS
from patron.models.clv import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.storage import Repository

Progress = Callable[[str], None]

PURCHASE_MODELS: dict[str, type] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
}
FIT_STEPS = ("read", "compare", "purchase", "spend", "write")
SCORE_STEPS = ("read", "score", "write")
SCORE_COLUMNS = ("probability_alive", "expected_purchases", "expected_spend", "clv")


def fit_clv(
    repo: Repository,
    *,
    model: str = "auto",
    covariates: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> str:
    """Fit a purchase model (``bgnbd``, ``mbgnbd``, ``pareto_nbd`` or ``auto``) and Gamma-Gamma; return the run id.

    ``auto`` fits every purchase model on the calibration period, predicts the holdout purchases and picks the
    model with the lowest mean absolute error per customer (ties: the higher full-data log-likelihood).
    Covariates act on alpha (purchase models) and on gamma (Gamma-Gamma).
    """
    if model != "auto" and model not in PURCHASE_MODELS:
        raise ConfigError(f"unknown model {model!r}: use auto, {', '.join(PURCHASE_MODELS)}")
    covariates = list(covariates or [])
    params = {"model": model, "covariates": covariates}
    _step(progress, "read")
    summary = _read_summary(repo)
    cov_frame = covariate_frame(repo, covariates, summary.index)
    data = summary.join(cov_frame) if covariates else summary
    cov_cols = list(cov_frame.columns)
    time_unit = _time_unit(repo)
    with repo.run("clv_fit", {**params, "time_unit": time_unit}) as run:
        comparison = None
        chosen = model
        _step(progress, "compare")
        with run.timed("compare"):
            if model == "auto":
                comparison = compare_models(repo, data, cov_cols)
                chosen = str(comparison.loc[comparison["chosen"], "model"].iloc[0])
        _step(progress, "purchase")
        with run.timed("purchase"):
            purchase = PURCHASE_MODELS[chosen](covariates=cov_cols or None).fit(data)
        _step(progress, "spend")
        with run.timed("spend"):
            repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
            if repeat.empty:
                raise InputError(
                    "Gamma-Gamma needs customers with repeat purchases of positive value",
                    column="monetary_value",
                    expected="at least one customer with frequency > 0 and monetary_value > 0",
                )
            spend = GammaGammaModel(covariates=cov_cols or None).fit(repeat)
        _step(progress, "write")
        run.save_model("purchase", purchase)
        run.save_model("spend", spend)
        run.write("clv_parameters", parameter_table({chosen: purchase, "gamma_gamma": spend}))
        if comparison is not None:
            run.write("clv_model_comparison", comparison)
        run.report.update(
            {
                "model": chosen,
                "customers": len(data),
                "repeat_customers_for_spend": len(repeat),
                "skipped_nonpositive_spend": int(
                    ((data["frequency"] > 0) & ~(data["monetary_value"] > 0)).sum()
                ),
                "log_likelihood": purchase.log_likelihood_,
                "spend_log_likelihood": spend.log_likelihood_,
                "converged": bool(purchase.converged_ and spend.converged_),
                "at_boundary": list(purchase.at_boundary_) + [f"spend:{n}" for n in spend.at_boundary_],
                "covariate_columns": cov_cols,
                "time_unit": time_unit,
            }
        )
        return run.run_id


def compare_models(repo: Repository, data: pd.DataFrame, cov_cols: Sequence[str]) -> pd.DataFrame:
    """LL / AIC / BIC on the full summary and holdout error from the calibration split, one row per model."""
    cal = _read_calibration(repo)
    if cov_cols:
        cal = cal.join(data[list(cov_cols)], how="inner")
    rows = []
    for name, cls in PURCHASE_MODELS.items():
        full = cls(covariates=list(cov_cols) or None).fit(data)
        row: dict[str, Any] = {
            "model": name,
            "n_params": full.n_params_,
            "log_likelihood": full.log_likelihood_,
            "aic": full.aic_,
            "bic": full.bic_,
            "converged": bool(full.converged_),
        }
        cal_x = cal.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"})
        m = cls(covariates=list(cov_cols) or None).fit(cal_x)
        duration = cal_x["duration_holdout"].to_numpy(dtype=float)
        pred = np.empty(len(cal_x))
        for d in np.unique(duration):  # one horizon per distinct holdout length (usually one)
            rows_d = duration == d
            pred[rows_d] = m.expected_purchases(cal_x[rows_d], float(d)).to_numpy()
        err = pred - cal_x["frequency_holdout"].to_numpy(dtype=float)
        row.update(
            holdout_mae=float(np.mean(np.abs(err))),
            holdout_rmse=float(np.sqrt(np.mean(err**2))),
            holdout_total_error=float(err.sum()),
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    order = table.sort_values(["holdout_mae", "log_likelihood"], ascending=[True, False])
    table["chosen"] = table.index == order.index[0]
    return table


def score_clv(
    repo: Repository,
    *,
    horizon: int = 52,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    level: Sequence[float] = (80,),
    run_id: str | None = None,
    progress: Progress | None = None,
) -> str:
    """Score every customer of ``btyd_summary`` with a ``clv_fit`` run's models (latest by default).

    ``horizon`` is in periods of the summary's time unit (52 weeks by default) and ``discount_rate`` is per period.
    """
    _step(progress, "read")
    fit_run = repo.get_run(run_id) if run_id else repo.latest_run("clv_fit")
    if fit_run is None:
        raise NotFoundError("no succeeded clv_fit run in the store: run `patron fit` first")
    if fit_run["kind"] != "clv_fit":
        raise ConfigError(f"run {run_id!r} is a {fit_run['kind']!r} run, not clv_fit")
    purchase = repo.load_model("purchase", run_id=fit_run["run_id"])
    spend = repo.load_model("spend", run_id=fit_run["run_id"])
    summary = _read_summary(repo)
    covariates = list(fit_run["params"].get("covariates") or [])
    frame = (
        summary.join(_aligned_covariates(repo, covariates, summary.index, purchase))
        if covariates
        else summary
    )
    params = {
        "fit_run_id": fit_run["run_id"],
        "horizon": horizon,
        "discount_rate": discount_rate,
        "margin": margin,
        "level": list(level),
    }
    with repo.run("clv_score", params) as run:
        _step(progress, "score")
        with run.timed("score"):
            scores = score_frame(
                purchase,
                spend,
                frame,
                horizon=horizon,
                discount_rate=discount_rate,
                margin=margin,
                level=level,
            )
        _step(progress, "write")
        run.write("clv_scores", scores)
        run.report.update(
            {
                "customers": len(scores),
                "total_clv": float(scores["clv"].sum()),
                "mean_clv": float(scores["clv"].mean()) if len(scores) else 0.0,
                "mean_probability_alive": float(scores["probability_alive"].mean()) if len(scores) else 0.0,
                "fit_run_id": fit_run["run_id"],
            }
        )
        return run.run_id


def score_frame(
    purchase_model: Any,
    spend_model: GammaGammaModel,
    frame: pd.DataFrame,
    *,
    horizon: int,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    level: Sequence[float] | None = None,
    n_draws: int = 200,
    random_state: int = 0,
) -> pd.DataFrame:
    """Per-customer scores of a summary-like frame (frequency, recency, T, monetary_value[, covariates]).

    Columns: probability_alive, expected_purchases (over ``horizon`` periods), expected_spend, clv, and for each
    level L ``clv_lo_L``, ``clv_hi_L``, ``expected_purchases_lo_L``, ``expected_purchases_hi_L``; indexed by
    customer_id. Customers with no repeat purchase get the population mean spend from Gamma-Gamma (their first
    purchase is not part of the spend model's data), so their CLV is expected purchases times that mean.
    The horizon counts periods of the summary's time unit. Intervals use ``n_draws`` parameter draws (200 keeps a
    CLV path over a 52-period horizon quick; the quantiles move by well under 1% against 500).
    """
    if "monetary_value" not in frame.columns:
        raise InputError("scoring needs the mean repeat spend", column="monetary_value", expected="a column")
    levels = list(level or [])
    if not levels:
        # Point scores (every API request): one validated conversion of the frame per model, not one per output.
        out = spend_model.score_customers(
            purchase_model, frame, horizon=horizon, discount_rate=discount_rate, margin=margin
        )
        out.index.name = "customer_id"
        return out  # columns SCORE_COLUMNS, in that order
    alive = purchase_model.probability_alive(frame)
    purchases = purchase_model.expected_purchases(
        frame, horizon, levels or None, n_draws=n_draws, random_state=random_state
    )
    spend = spend_model.expected_spend(frame)
    clv = spend_model.customer_lifetime_value(
        purchase_model,
        frame,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
        level=levels or None,
        n_draws=n_draws,
        random_state=random_state,
    )
    out = pd.DataFrame({"probability_alive": alive})
    out["expected_purchases"] = purchases if not levels else purchases["expected_purchases"]
    out["expected_spend"] = spend
    out["clv"] = clv if not levels else clv["clv"]
    for lv in levels:
        tag = f"{float(lv):g}"
        col = tag.replace(".", "_")
        out[f"clv_lo_{col}"] = clv[f"clv-lo-{tag}"]
        out[f"clv_hi_{col}"] = clv[f"clv-hi-{tag}"]
        out[f"expected_purchases_lo_{col}"] = purchases[f"expected_purchases-lo-{tag}"]
        out[f"expected_purchases_hi_{col}"] = purchases[f"expected_purchases-hi-{tag}"]
    out.index.name = "customer_id"
    return out


def parameter_table(models: dict[str, Any]) -> pd.DataFrame:
    """``model, parameter, estimate, se, lower_95, upper_95`` rows of fitted models' ``summary_``."""
    parts = []
    for name, m in models.items():
        s = m.summary_.reset_index()
        s.insert(0, "model", name)
        parts.append(s)
    return pd.concat(parts, ignore_index=True)[
        ["model", "parameter", "estimate", "se", "lower_95", "upper_95"]
    ]


def covariate_frame(repo: Repository, covariates: Sequence[str], index: pd.Index) -> pd.DataFrame:
    """Model-ready covariate columns for the customers in ``index`` (see the module docstring for the sources)."""
    out = pd.DataFrame(index=index)
    for name in covariates:
        values = _covariate_values(repo, name, index)
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            v = values.astype(float)
            if v.isna().any():
                raise InputError(
                    f"covariate {name!r} is missing for customer_id {v.index[v.isna()][0]!r}",
                    column=name,
                    expected="a value for every customer",
                )
            out[name] = v
            continue
        text = values.astype("string").fillna("(missing)")
        counts = text.value_counts()
        # Levels too rare to estimate (under 30 customers or 1%) are pooled into "(other)".
        rare = counts.index[counts < max(30, 0.01 * len(text))]
        text = text.where(~text.isin(rare), "(other)")
        levels = text.value_counts()
        baseline = levels.index[0]
        for lvl in sorted(map(str, levels.index)):
            if lvl != baseline:
                out[f"{name}={lvl}"] = (text == lvl).astype(float).to_numpy()
    return out


def _aligned_covariates(
    repo: Repository, covariates: Sequence[str], index: pd.Index, model: Any
) -> pd.DataFrame:
    """Covariates encoded as at fit time (levels unseen then are the baseline; levels absent now are 0)."""
    frame = covariate_frame(repo, covariates, index)
    cols = list(getattr(model, "covariates_", []) or [])
    return frame.reindex(columns=cols, fill_value=0.0)


def _covariate_values(repo: Repository, name: str, index: pd.Index) -> pd.Series:
    for table in (BTYD_SUMMARY, CUSTOMERS):
        if repo.has_table(table) and name in repo.table_columns(table):
            frame = repo.read_table(table, ["customer_id", name]).set_index("customer_id")[name]
            frame.index = frame.index.astype(str)
            return frame.reindex(index.astype(str)).set_axis(index)
    if repo.has_table(TRANSACTIONS) and name in repo.table_columns(TRANSACTIONS):
        tx = repo.read_table(TRANSACTIONS, ["customer_id", "timestamp", name])
        first = tx.sort_values(["customer_id", "timestamp"]).groupby("customer_id", sort=False)[name].first()
        first.index = first.index.astype(str)
        return first.reindex(index.astype(str)).set_axis(index)
    raise ConfigError(
        f"covariate {name!r} is not a column of {BTYD_SUMMARY}, {CUSTOMERS} or {TRANSACTIONS}",
    )


def _read_summary(repo: Repository) -> pd.DataFrame:
    if not repo.has_table(BTYD_SUMMARY):
        raise NotFoundError(f"no {BTYD_SUMMARY} table in the store {repo.url}: run `patron summary` first")
    frame = repo.read_table(BTYD_SUMMARY)
    return frame.set_index("customer_id")


def _read_calibration(repo: Repository) -> pd.DataFrame:
    if not repo.has_table(BTYD_CALIBRATION):
        raise NotFoundError(
            f"model='auto' compares models on {BTYD_CALIBRATION}, which is not in the store {repo.url}: "
            "run `patron summary` first or choose a model"
        )
    return repo.read_table(BTYD_CALIBRATION).set_index("customer_id")


def _time_unit(repo: Repository) -> str | None:
    latest = repo.latest_run("summary")
    return None if latest is None else latest["params"].get("time_unit")


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)
