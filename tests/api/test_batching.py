"""Scoring several requests in one pass (``score_many``, ``ScoreBatcher``) answers each exactly as scoring it alone
would, keeps a bad request's error to that request, and does form passes of several requests."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from patron.api.batching import ScoreBatcher
from patron.errors import InputError, ModelError
from patron.services.scoring import ScoringModels, score_customers, score_many


@pytest.fixture(scope="module")
def models(shared_data) -> ScoringModels:
    from patron.models.clv import BetaGeoModel, GammaGammaModel

    raw = pd.read_csv(shared_data / "cdnow_customers_summary_with_transactions.csv.gz")
    summary = pd.DataFrame(
        {"frequency": raw["x"], "recency": raw["t_x"], "T": raw["T"], "monetary_value": raw["zbar"]}
    ).astype(float)
    summary.index = pd.Index(raw["ID"].astype(str), name="customer_id")
    return ScoringModels(
        BetaGeoModel().fit(summary[["frequency", "recency", "T"]]), GammaGammaModel().fit(summary), "run"
    )


def _requests() -> list[list[dict]]:
    rng = np.random.default_rng(3)
    out = []
    for r in range(6):
        customers = []
        for j in range(1 + r % 3):
            x = int(rng.integers(0, 8))
            T = float(rng.uniform(5, 70))
            c = {
                "customer_id": f"C{j}",
                "frequency": x,
                "recency": float(rng.uniform(0, T)) if x else 0.0,
                "T": T,
            }
            if x:
                c["monetary_value"] = float(rng.uniform(5, 200))
            customers.append(c)
        out.append(customers)  # ids C0, C1 ... repeat across requests on purpose
    return out


def test_one_pass_equals_each_request_alone(models) -> None:
    requests = _requests()
    together = score_many(models, requests, horizon=39, discount_rate=0.01, margin=0.3)
    for request, got in zip(requests, together, strict=True):
        _assert_same(got, score_customers(models, request, horizon=39, discount_rate=0.01, margin=0.3))


def _assert_same(got: list[dict], alone: list[dict]) -> None:
    """Same customers, keys and numbers (to rounding: the quadrature sums run over differently shaped arrays)."""
    assert [g["customer_id"] for g in got] == [a["customer_id"] for a in alone]
    for g, a in zip(got, alone, strict=True):
        assert g.keys() == a.keys()
        for key in ("probability_alive", "expected_purchases", "expected_spend", "clv"):
            np.testing.assert_allclose(g[key], a[key], rtol=1e-12, err_msg=key)


def test_a_bad_request_gets_its_own_error(models) -> None:
    requests = _requests()
    requests[1] = [{"customer_id": "x", "frequency": 2, "recency": 3.0, "T": 9.0}]  # no monetary_value
    requests[4] = [
        {"customer_id": "y", "frequency": 0, "recency": 0.0, "T": 9.0, "features": {"orders": 1.0}}
    ]
    results = score_many(models, requests)
    assert isinstance(results[1], InputError) and "monetary_value" in str(results[1])
    assert isinstance(results[4], ModelError) and "churn" in str(results[4])  # fails the pass: rescored alone
    for i in (0, 2, 3, 5):
        assert results[i] == score_customers(models, requests[i])


def test_batcher_forms_passes_and_answers_each_request(models) -> None:
    requests = _requests() * 5

    async def main() -> tuple[list, ScoreBatcher]:
        batcher = ScoreBatcher()
        kw = {"horizon": 52, "discount_rate": 0.0, "margin": 1.0}
        bad = [{"customer_id": "x", "frequency": 2, "recency": 3.0, "T": 9.0}]
        results = await asyncio.gather(
            *(batcher.score(models, r, **kw) for r in requests),
            batcher.score(models, bad, **kw),
            return_exceptions=True,
        )
        return results, batcher

    results, batcher = asyncio.run(main())
    assert isinstance(results[-1], InputError)
    for got, request in zip(results[:-1], requests, strict=True):
        _assert_same(got, score_customers(models, request))
    assert batcher.requests == len(requests) + 1 and batcher.passes < batcher.requests / 5
