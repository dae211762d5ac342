"""Prediction methods shared by the continuous-time purchase models (BG/NBD, MBG/NBD, Pareto/NBD).

A model supplies static hooks ``_alive(params, data)``, ``_expected(params, data, t)``, ``_pmf(params, data, t, n)``,
``_expected_new(params, t)`` and ``_simulate(params, T, rng)`` built on its pure numerics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError


def _check_t(t: Any, name: str = "t") -> float:
    value = float(t)
    if not np.isfinite(value) or value < 0:
        raise InputError("the prediction horizon must be a finite number >= 0", column=name, found=t)
    return value


class PurchaseModelMixin:
    """``expected_purchases``, ``probability_alive``, ``probability_of_n_purchases``,
    ``expected_purchases_new_customer`` and ``simulate`` for a fitted purchase model."""

    # The purchase models' numerics take per-row parameters, so intervals evaluate draws in batches.
    _batched_draws = True

    def expected_purchases(
        self,
        X: Any,
        t: float,
        level: Sequence[float] | None = None,
        *,
        n_draws: int = 500,
        random_state: int | np.random.Generator | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """Expected number of purchases in the next ``t`` time units given each customer's history.

        Returns a Series ``expected_purchases`` indexed by customer_id, or with ``level`` a frame adding
        ``expected_purchases-lo-<level>`` / ``-hi-<level>`` columns from ``n_draws`` parameter draws.
        """
        t = _check_t(t)
        return self._predict(  # type: ignore[attr-defined]
            "expected_purchases",
            lambda p, d: self._expected(p, d, t),  # type: ignore[attr-defined]
            X,
            level,
            n_draws=n_draws,
            random_state=random_state,
        )

    def probability_alive(
        self,
        X: Any,
        level: Sequence[float] | None = None,
        *,
        n_draws: int = 500,
        random_state: int | np.random.Generator | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """Probability that each customer is still active at the end of the observation period (their T)."""
        return self._predict(  # type: ignore[attr-defined]
            "probability_alive",
            self._alive,
            X,
            level,
            n_draws=n_draws,
            random_state=random_state,  # type: ignore[attr-defined]
        )

    def probability_of_n_purchases(self, X: Any, t: float, n: int) -> pd.Series:
        """Probability that each customer makes exactly ``n`` purchases in the next ``t`` time units."""
        t = _check_t(t)
        if int(n) != n or n < 0:
            raise InputError("n must be a whole number >= 0", column="n", found=n)
        return self._predict(  # type: ignore[attr-defined]
            f"probability_of_{int(n)}_purchases",
            lambda p, d: self._pmf(p, d, t, float(n)),  # type: ignore[attr-defined]
            X,
            None,
        )

    def expected_purchases_new_customer(self, t: float | Sequence[float]) -> float | pd.Series:
        """Expected repeat purchases in the first ``t`` time units of a customer just acquired (population level;
        with covariates, a customer whose covariates are all 0)."""
        self._check_fitted()  # type: ignore[attr-defined]
        params = self._natural(self.theta_, np.zeros((1, 0)))  # type: ignore[attr-defined]
        if np.ndim(t) == 0:
            return float(np.ravel(self._expected_new(params, _check_t(t)))[0])  # type: ignore[attr-defined]
        ts = np.array([_check_t(v) for v in t])
        return pd.Series(
            self._expected_new(params, ts),  # type: ignore[attr-defined]
            index=pd.Index(ts, name="t"),
            name="expected_purchases",
        )

    def simulate(self, T: Any, random_state: int | np.random.Generator | None = 0) -> pd.DataFrame:
        """Simulate a summary (frequency, recency, T) for customers with observation lengths ``T`` from the fitted
        population parameters (covariates at 0)."""
        self._check_fitted()  # type: ignore[attr-defined]
        rng = np.random.default_rng(random_state)
        T = np.asarray(T, dtype=float)
        params = self._natural(self.theta_, np.zeros((1, 0)))  # type: ignore[attr-defined]
        x, t_x = self._simulate(params, T, rng)  # type: ignore[attr-defined]
        return pd.DataFrame(
            {"frequency": x, "recency": t_x, "T": T}, index=pd.RangeIndex(len(T), name="customer_id")
        )
