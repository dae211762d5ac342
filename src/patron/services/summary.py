"""Use-case: turn the store's cleaned ``transactions`` into the per-customer summary tables, in one run.

Writes, atomically in one run of kind ``summary`` (dataset tables, replaced whole):

* ``btyd_summary``: customer_id, frequency, recency, T, monetary_value (the time unit is in the run's params),
* ``btyd_calibration``: customer_id, frequency_cal, recency_cal, T_cal, monetary_value_cal, frequency_holdout,
  monetary_value_holdout, duration_holdout,
* ``rfm``: customer_id, recency_days, frequency, monetary, monetary_mean, first_purchase, last_purchase,
* ``behaviour``: customer_id, category, orders, quantity, amount (long form).

Choices (recorded in the run's params and report):

* ``observation_period_end`` defaults to the latest transaction.
* ``calibration_end`` defaults to 3/4 of the way from the first transaction to the observation end, floored to a
  day, so the holdout is the last quarter of the history (the usual validation split; Fader, Hardie & Lee 2005
  use 39 + 39 weeks of 78, i.e. half, on CDNOW, so pass ``calibration_end`` to reproduce that).
* The holdout's mean spend averages holdout *period* totals (``holdout_monetary="period"``), consistent with
  ``monetary_value_cal``; lifetimes averages raw rows, which for line-item data would be a mean line value.
* The behaviour matrix is by ``category``; when no row has a category (CDNOW, Online Retail) it is by ``product``
  instead, so it is never an empty shell.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pandas as pd

from patron.errors import InputError, NotFoundError
from patron.features import behaviour, btyd_calibration, btyd_summary, rfm
from patron.features._sql import ident, runner_for, timestamp_literal, to_timestamp
from patron.features._sql import time_unit as parse_time_unit
from patron.io.schema import BEHAVIOUR, BTYD_CALIBRATION, BTYD_SUMMARY, RFM, TRANSACTIONS
from patron.storage.base import Repository

STEPS = ("btyd_summary", "btyd_calibration", "rfm", "behaviour")

Progress = Callable[[str], None]


def build_summaries(
    repo: Repository,
    *,
    time_unit: str = "W",
    observation_period_end: Any = None,
    calibration_end: Any = None,
    freq_multiplier: float = 1,
    progress: Progress | None = None,
) -> str:
    """Build the BTYD summary, the calibration/holdout split, RFM and the behaviour matrix; return the run id.

    Parameters
    ----------
    repo : Repository
        The store; its ``transactions`` table (canonical columns, written by ``patron ingest``) is the input.
    time_unit : {"D", "W", "M"} (or day/week/month)
        Period of the BTYD summary (lifetimes' ``freq``).
    observation_period_end, calibration_end : date-like, optional
        See the module docstring for the defaults.
    freq_multiplier : float
        Divide times by this (``time_unit="D", freq_multiplier=7``: exact weeks, the published CDNOW convention).
    progress : callable, optional
        Called with each step's name as it starts (the CLI draws a progress bar with it).
    """
    unit = parse_time_unit(time_unit).code
    stats = _transaction_stats(repo)
    obs_end = (
        stats["last"]
        if observation_period_end is None
        else to_timestamp(observation_period_end, what="observation_period_end")
    )
    cal_end = (
        _default_calibration_end(stats["first"], obs_end)
        if calibration_end is None
        else to_timestamp(calibration_end, what="calibration_end")
    )
    by = "category" if stats["with_category"] > 0 or stats["with_product"] == 0 else "product"
    params = {
        "time_unit": unit,
        "freq_multiplier": freq_multiplier,
        "observation_period_end": obs_end.isoformat(),
        "calibration_end": cal_end.isoformat(),
        "calibration_end_default": calibration_end is None,
        "holdout_monetary": "period",
        "behaviour_by": by,
    }
    with repo.run("summary", params, input_fingerprint=stats["fingerprint"]) as run:
        _step(progress, STEPS[0])
        with run.timed(STEPS[0]):
            summary = btyd_summary(
                repo, freq=unit, observation_period_end=obs_end, freq_multiplier=freq_multiplier
            )
        _step(progress, STEPS[1])
        with run.timed(STEPS[1]):
            calibration = btyd_calibration(
                repo,
                calibration_period_end=cal_end,
                observation_period_end=obs_end,
                freq=unit,
                freq_multiplier=freq_multiplier,
                holdout_monetary="period",
            )
        _step(progress, STEPS[2])
        with run.timed(STEPS[2]):
            rfm_frame = rfm(repo, observation_period_end=obs_end)
        _step(progress, STEPS[3])
        with run.timed(STEPS[3]):
            behaviour_frame = behaviour(repo, observation_period_end=obs_end, category=by)
        run.replace(BTYD_SUMMARY, summary)
        run.replace(BTYD_CALIBRATION, calibration)
        run.replace(RFM, rfm_frame)
        run.replace(BEHAVIOUR, behaviour_frame)
        run.report.update(
            {
                "rows": stats["rows"],
                "rows_after_observation_end": _rows_after(repo, obs_end),
                **summary_report(summary),
                "calibration_customers": len(calibration),
                "holdout_repeaters": int((calibration["frequency_holdout"] > 0).sum()),
                "duration_holdout": float(calibration["duration_holdout"].iloc[0])
                if len(calibration)
                else 0.0,
                "behaviour_cells": len(behaviour_frame),
            }
        )
        return run.run_id


def summary_report(summary: pd.DataFrame) -> dict[str, Any]:
    """The headline numbers of a BTYD summary (what the CLI prints)."""
    n = len(summary)
    return {
        "customers": n,
        "repeaters": int((summary["frequency"] > 0).sum()),
        "mean_frequency": float(summary["frequency"].mean()) if n else 0.0,
        "mean_recency": float(summary["recency"].mean()) if n else 0.0,
        "mean_T": float(summary["T"].mean()) if n else 0.0,
        "mean_monetary_value": float(summary["monetary_value"].mean()) if n else 0.0,
    }


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def _default_calibration_end(first: pd.Timestamp, obs_end: pd.Timestamp) -> pd.Timestamp:
    return (first + (obs_end - first) * 0.75).normalize()


def _transaction_stats(repo: Repository) -> dict[str, Any]:
    """Row count, date range and completeness of ``transactions``; a missing required value is an error."""
    if not repo.has_table(TRANSACTIONS):
        raise NotFoundError(
            f"the store {repo.url} has no {TRANSACTIONS!r} table: run `patron ingest FILE` first"
        )
    columns = set(repo.table_columns(TRANSACTIONS))
    missing = [c for c in ("customer_id", "timestamp", "amount") if c not in columns]
    if missing:
        raise InputError(
            f"the {TRANSACTIONS!r} table lacks column(s) {missing}",
            expected="the canonical columns of io/schema.py",
        )
    category = "COUNT(category)" if "category" in columns else "0"
    product = "COUNT(product)" if "product" in columns else "0"
    run, _ = runner_for(repo)
    ts = ident("timestamp")
    row = run(
        f"SELECT COUNT(*) AS n_rows, COUNT(customer_id) AS with_customer, COUNT({ts}) AS with_timestamp, "
        f"COUNT(amount) AS with_amount, {category} AS with_category, {product} AS with_product, "
        f"MIN({ts}) AS first_ts, MAX({ts}) AS last_ts, SUM(amount) AS revenue FROM {ident(TRANSACTIONS)}"
    ).iloc[0]
    rows = int(row["n_rows"])
    if rows == 0:
        raise InputError(f"the {TRANSACTIONS!r} table in {repo.url} is empty: nothing to summarise")
    for col in ("customer", "timestamp", "amount"):
        gaps = rows - int(row[f"with_{col}"])
        if gaps:
            name = "customer_id" if col == "customer" else col
            raise InputError(
                f"{gaps:,} row(s) of {TRANSACTIONS!r} have no {name}",
                column=name,
                expected="a value on every row (ingest cleans these)",
            )
    fingerprint = hashlib.sha256(
        f"{rows}|{row['first_ts']}|{row['last_ts']}|{float(row['revenue']):.6f}".encode()
    ).hexdigest()[:16]
    return {
        "rows": rows,
        "first": pd.Timestamp(row["first_ts"]),
        "last": pd.Timestamp(row["last_ts"]),
        "with_category": int(row["with_category"]),
        "with_product": int(row["with_product"]),
        "fingerprint": fingerprint,
    }


def _rows_after(repo: Repository, obs_end: pd.Timestamp) -> int:
    """Rows after the observation end: not used by the summaries, counted so nothing disappears unexplained."""
    run, _ = runner_for(repo)
    value = run(
        f"SELECT COUNT(*) AS n FROM {ident(TRANSACTIONS)} WHERE {ident('timestamp')} > {timestamp_literal(obs_end)}"
    ).iloc[0, 0]
    return int(value)
