"""Benchmark: BG/BB fitting with Patron vs lifetimes' ``BetaGeoBetaBinomFitter``.

Run: ``python -m benchmarks bgbb [-- --customers 1000000 --opportunities 52 --timeout 300]``.

Two datasets, each tool in its own child process (peak memory = the child's ``VmHWM``; ``ru_maxrss`` would carry
the parent's peak across ``exec`` on Linux):

* ``donations``: the published FHS (2010) data as shipped, 22 (x, t_x, n) patterns with counts as weights.
* ``synthetic``: ``customers`` customers simulated from BG/BB (alpha 1.2, beta 0.75, gamma 0.66, delta 2.8) over
  ``opportunities`` opportunities, one row per customer, as a user's summary table arrives. Patron compresses the
  rows itself; lifetimes gets the rows as they are (weights 1), which is what its ``fit`` accepts, and then the
  same data as a table of distinct patterns with counts (what a lifetimes user must build first).

Timed: the ``fit`` call only (loading the ``.npz`` file is not). Reported: seconds, peak RSS of the child, the
log-likelihood reached (lifetimes' total is recomputed with Patron's per-row function at its estimates, so both are
on one scale). lifetimes comes from ``LIFETIMES_PYTHON`` (default: the venv ``benchmarks/anchors.sh`` builds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"

from benchmarks.anchors import LIFETIMES_PYTHON, available, shared_data  # noqa: E402

_PATRON = """
import json, sys, time
import numpy as np, pandas as pd
from patron.models.clv.beta_geo_beta_binom import BetaGeoBetaBinomModel
d = np.load(sys.argv[1])
X = pd.DataFrame({"frequency": d["x"], "recency": d["t"], "n_periods": d["n"]})
t0 = time.perf_counter()
m = BetaGeoBetaBinomModel().fit(X, sample_weight=d["w"])
sec = time.perf_counter() - t0
rss = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024.0
print(json.dumps({"seconds": sec, "rss_mb": rss, "params": m.params_.tolist()}))
"""

_LIFETIMES = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from lifetimes import BetaGeoBetaBinomFitter
d = np.load(sys.argv[1])
t0 = time.perf_counter()
f = BetaGeoBetaBinomFitter().fit(pd.Series(d["x"]), pd.Series(d["t"]), pd.Series(d["n"]), weights=pd.Series(d["w"]))
sec = time.perf_counter() - t0
rss = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024.0
p = f.params_
print(json.dumps({"seconds": sec, "rss_mb": rss, "params": [p["alpha"], p["beta"], p["gamma"], p["delta"]]}))
"""


def datasets(customers: int, opportunities: int) -> dict[str, Path]:
    from patron.models.clv.beta_geo_beta_binom import simulate

    CACHE.mkdir(exist_ok=True)
    out = {}
    don = pd.read_csv(shared_data() / "donations.csv.gz")
    path = CACHE / "bgbb_donations.npz"
    np.savez(path, x=don["frequency"], t=don["recency"], n=don["periods"], w=don["weights"].astype(float))
    out["donations"] = path
    path = CACHE / f"bgbb_synthetic_{customers}_{opportunities}.npz"
    if not path.exists():
        sim = simulate(1.2, 0.75, 0.66, 2.8, n=opportunities, size=customers, rng=np.random.default_rng(2010))
        np.savez(path, x=sim["frequency"], t=sim["recency"], n=sim["n_periods"], w=np.ones(customers))
    out[f"synthetic {customers:,} x {opportunities}"] = path
    # The same customers as a pattern table with counts: lifetimes' fit is only practical this way.
    d = np.load(path)
    frame = pd.DataFrame({"x": d["x"], "t": d["t"], "n": d["n"]}).value_counts().reset_index(name="w")
    packed = CACHE / f"bgbb_synthetic_{customers}_{opportunities}_patterns.npz"
    np.savez(packed, x=frame["x"], t=frame["t"], n=frame["n"], w=frame["w"].astype(float))
    out[f"  same as {len(frame):,} patterns"] = packed
    return out


def run(python: str, script: str, path: Path, timeout: float) -> dict:
    try:
        proc = subprocess.run(
            [python, "-c", script, str(path)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def total_ll(params: list[float], path: Path) -> float:
    from patron.models.clv.beta_geo_beta_binom import log_likelihood

    d = np.load(path)
    return float(d["w"] @ log_likelihood(*params, d["x"], d["t"], d["n"]))


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks bgbb")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--opportunities", type=int, default=52)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    print(
        f"BG/BB fit; machine shared with other jobs (os.cpu_count() = {os.cpu_count()}): times are indicative."
    )
    have_lifetimes = available(LIFETIMES_PYTHON)
    if not have_lifetimes:
        print(
            f"lifetimes not found at {LIFETIMES_PYTHON} (run benchmarks/anchors.sh or set LIFETIMES_PYTHON)"
        )
    header = f"{'data':<28} {'tool':<10} {'seconds':>9} {'peak MB':>9} {'log-likelihood':>16}"
    print(header)
    print("-" * len(header))
    for name, path in datasets(args.customers, args.opportunities).items():
        results = {"patron": run(sys.executable, _PATRON, path, args.timeout)}
        if have_lifetimes:
            results["lifetimes"] = run(LIFETIMES_PYTHON, _LIFETIMES, path, args.timeout)
        for tool, r in results.items():
            if "error" in r:
                print(f"{name:<28} {tool:<10} {r['error']}")
                continue
            r["ll"] = total_ll(r["params"], path)
            print(f"{name:<28} {tool:<10} {r['seconds']:>9.2f} {r['rss_mb']:>9.0f} {r['ll']:>16.2f}")
        p, lt = results["patron"], results.get("lifetimes", {})
        if "seconds" in p and "seconds" in lt:
            print(
                f"{'':<28} ratio      lifetimes/patron time {lt['seconds'] / p['seconds']:.1f}x, "
                f"memory {lt['rss_mb'] / p['rss_mb']:.1f}x, LL difference {p['ll'] - lt['ll']:+.3f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
