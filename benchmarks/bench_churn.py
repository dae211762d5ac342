"""Benchmark: calibrated churn classifier, scoring, TreeSHAP reasons, one-customer latency and Kaplan-Meier.

Run: ``python -m benchmarks churn [-- --customers 1000000 --features 30 --explain 100000 --calls 1000]``.

Two child processes, each with its own peak memory (``ru_maxrss``, which only grows, so the figure after a step
is the peak so far):

* **Patron**: ``CalibratedBoostingClassifier`` (LightGBM + ``CalibratedClassifierCV``, isotonic, ``--cv`` folds,
  ``ensemble=False``) trained and calibrated on ``--customers`` x ``--features``; ``predict_proba`` on all of them;
  TreeSHAP contributions + reason codes for ``--explain`` customers; ``score_one`` (probability + 3 reasons) of
  one customer, ``--calls`` times (median and p99); ``patron.models.churn.kaplan_meier`` on all durations.
* **Anchor**: scikit-learn's ``HistGradientBoostingClassifier`` with the same budget (300 iterations, learning
  rate 0.03, 7 leaves, 50 samples per leaf) inside the same ``CalibratedClassifierCV``; ``predict_proba`` on all;
  one-row ``predict_proba`` latency (no reasons: it has no exact contributions); lifelines'
  ``KaplanMeierFitter`` on the same durations. No anchor for the explanation step (SHAP is not a dependency).

Synthetic data (seeded, generated in each child, not timed): features with mixed scales (gamma, normal,
Poisson, uniform, 20 % missing in two columns), a label from a known non-linear logit, Weibull durations with
censoring. The machine is shared with other jobs: times vary run to run; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_data(n: int, p: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for j in range(p):
        kind = j % 4
        if kind == 0:
            cols[f"f{j}"] = rng.gamma(2.0, 50.0, n)
        elif kind == 1:
            cols[f"f{j}"] = rng.normal(size=n)
        elif kind == 2:
            cols[f"f{j}"] = rng.poisson(3.0, n).astype(float)
        else:
            cols[f"f{j}"] = rng.uniform(size=n)
    X = pd.DataFrame(cols)
    logit = (
        -0.5
        + 0.8 * X["f1"]
        - 0.01 * X["f0"]
        + 0.3 * np.sin(3 * X["f3"])
        - 0.2 * X["f2"]
        + 0.5 * (X["f5"] > 0)
        + 0.4 * X["f9"] * X["f13"]
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    for j in (4, 8):
        X.loc[rng.uniform(size=n) < 0.2, f"f{j}"] = np.nan
    durations = np.ceil(rng.weibull(1.3, n) * 200)
    events = (rng.uniform(size=n) < 0.7).astype(int)
    return X, y, durations, events


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(results: dict, name: str, fn):  # type: ignore[no-untyped-def]
    import time

    t0 = time.perf_counter()
    out = fn()
    results[name] = {"seconds": round(time.perf_counter() - t0, 3), "peak_rss_mb": round(_rss_mb(), 1)}
    return out


def run_patron(args: argparse.Namespace) -> dict:
    import time

    import numpy as np

    from patron.explain import reason_codes, tree_contributions
    from patron.models.churn import kaplan_meier
    from patron.models.classify import CalibratedBoostingClassifier
    from patron.models.classify.scoring import ScoringModel, score_one

    X, y, durations, events = make_data(args.customers, args.features)
    results: dict = {"data_rss_mb": round(_rss_mb(), 1)}
    model = CalibratedBoostingClassifier(cv=args.cv, n_jobs=args.threads)
    _timed(results, "fit_calibrate", lambda: model.fit(X, y))
    _timed(results, "score_all", lambda: model.predict_proba(X))
    sub = X.iloc[: args.explain]

    def explain() -> int:
        return len(reason_codes(tree_contributions(model, sub), sub, top=3))

    _timed(results, "explain", explain)
    bundle = ScoringModel.from_training(
        model, X.head(1000), version="bench", outcome="churn risk", source="table"
    )
    rows = X.iloc[: args.calls].to_dict("records")
    model.booster_.set_params(n_jobs=1)  # one row: threads only add overhead
    latencies = []
    for row in rows:
        t0 = time.perf_counter()
        score_one(bundle, row)
        latencies.append(time.perf_counter() - t0)
    results["one_customer_ms"] = {
        "median": round(1000 * float(np.median(latencies)), 3),
        "p99": round(1000 * float(np.percentile(latencies, 99)), 3),
    }
    _timed(results, "kaplan_meier", lambda: kaplan_meier(durations, events))
    return results


def run_anchor(args: argparse.Namespace) -> dict:
    import time

    import numpy as np
    from lifelines import KaplanMeierFitter
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    X, y, durations, events = make_data(args.customers, args.features)
    results: dict = {"data_rss_mb": round(_rss_mb(), 1)}
    hgb = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.03, max_leaf_nodes=7, min_samples_leaf=50, early_stopping=False
    )
    model = CalibratedClassifierCV(
        hgb, method="isotonic", cv=StratifiedKFold(args.cv, shuffle=True, random_state=0), ensemble=False
    )
    _timed(results, "fit_calibrate", lambda: model.fit(X, y))
    _timed(results, "score_all", lambda: model.predict_proba(X))
    latencies = []
    for i in range(args.calls):
        row = X.iloc[[i]]
        t0 = time.perf_counter()
        model.predict_proba(row)
        latencies.append(time.perf_counter() - t0)
    results["one_customer_ms"] = {
        "median": round(1000 * float(np.median(latencies)), 3),
        "p99": round(1000 * float(np.percentile(latencies, 99)), 3),
    }
    _timed(results, "kaplan_meier", lambda: KaplanMeierFitter().fit(durations, events))
    return results


def _child(which: str, argv: list[str]) -> dict:
    code = (
        "import json, sys; from benchmarks import bench_churn as b; "
        f"args = b.parse(sys.argv[1:]); print('RESULT' + json.dumps(b.run_{which}(args)))"
    )
    env_threads = str(parse(argv).threads)
    import os

    env = {**os.environ, "OMP_NUM_THREADS": env_threads}
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{which} child failed:\n{proc.stderr[-3000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line.removeprefix("RESULT"))


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks churn")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--explain", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--cv", type=int, default=3, help="calibration folds (both tools)")
    ap.add_argument(
        "--threads", type=int, default=1, help="1: on a shared machine OpenMP threads spin and oversubscribe"
    )
    return ap.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    print(
        f"{args.customers:,} customers x {args.features} features, calibration on {args.cv} folds, "
        f"{args.threads} threads; explain {args.explain:,}; one-customer latency over {args.calls} calls. "
        "The machine is shared with other jobs: times vary, compare the ratios.",
        flush=True,
    )
    patron = _child("patron", argv)
    anchor = _child("anchor", argv)
    print(f"{'step':<28}{'Patron s':>10}{'anchor s':>10}{'ratio':>8}{'Patron MB':>11}{'anchor MB':>11}")
    for step, label in (
        ("fit_calibrate", "train + calibrate"),
        ("score_all", "score all"),
        ("kaplan_meier", "Kaplan-Meier"),
    ):
        p, a = patron[step], anchor[step]
        print(
            f"{label:<28}{p['seconds']:>10.2f}{a['seconds']:>10.2f}{p['seconds'] / a['seconds']:>8.2f}"
            f"{p['peak_rss_mb']:>11.0f}{a['peak_rss_mb']:>11.0f}"
        )
    e = patron["explain"]
    print(
        f"{'explain + reasons':<28}{e['seconds']:>10.2f}{'-':>10}{'-':>8}{e['peak_rss_mb']:>11.0f}{'-':>11}"
    )
    po, ao = patron["one_customer_ms"], anchor["one_customer_ms"]
    print(
        f"one customer (ms): Patron score + 3 reasons median {po['median']:.2f}, p99 {po['p99']:.2f}; "
        f"anchor predict_proba only median {ao['median']:.2f}, p99 {ao['p99']:.2f} "
        f"(goal < 5 ms: {'met' if po['median'] < 5 else 'NOT met'})"
    )
    print(
        "anchors: sklearn HistGradientBoostingClassifier in the same CalibratedClassifierCV; lifelines "
        "KaplanMeierFitter. Memory = peak RSS of each child after the step (includes the data)."
    )
