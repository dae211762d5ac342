"""Benchmark: BG/NBD and Pareto/NBD fits with Patron vs lifetimes 0.11.3 and pymc-marketing (MAP).

Run: ``python -m benchmarks clv [-- --sizes 100000,1000000 --no-weekly --robustness 20]`` (the anchors run on
every size up to ``--anchor-max``, 1M by default: lifetimes' Pareto/NBD takes minutes there). Each line prints
wall time, process CPU time and the 1-min load average.

Datasets: the CDNOW summary (2,357 customers), and synthetic summaries of N customers simulated from CDNOW-like
parameters with Patron's simulators. Each synthetic dataset comes in two forms. In the ``continuous`` form, the
observation lengths T are uniform over 20-40 weeks in continuous time, so almost no two rows are equal. In the
``weekly`` form, recency and T are rounded to whole weeks, as a weekly summary has them, so many rows are
identical.

Every tool fits in its own child process, so each has its own peak memory:

* Patron runs in this interpreter. The timed part is ``Model().fit(frame)`` on a pandas frame; it includes input
  validation and row compression. The peak memory of the fit is measured by tracemalloc (numpy allocations are
  traced), and the child's total peak RSS (VmHWM, which a fork does not inherit, unlike ru_maxrss) is shown as well.
* lifetimes runs from ``LIFETIMES_PYTHON`` (default: the venv ``benchmarks/anchors.sh`` builds; lifetimes 0.11.3
  needs numpy<2 and pandas<2). The timed part is ``BetaGeoFitter().fit(frequency, recency, T)`` (or
  ``ParetoNBDFitter``).
* pymc-marketing runs from ``PYMC_PYTHON`` (default: its venv from ``anchors.sh``). The timed part is
  ``BetaGeoModel(data).fit(method="map")`` (or ``ParetoNBDModel``).

An anchor that is not installed is skipped with a note. The log-likelihood each tool reaches is evaluated
with Patron's likelihood at that tool's parameters, so all of them are compared on the same function.
``--robustness N`` also fits N random synthetic datasets per model (random parameters, 5,000 customers) and
counts convergence failures.

The machine is shared with other jobs, so times carry noise. Ratios from the same run are more reliable than
absolute times.
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

from benchmarks.anchors import LIFETIMES_PYTHON, PYMC_PYTHON, shared_data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
TRUTH = {"bgnbd": (0.2426, 4.4136, 0.7930, 2.4261), "pareto_nbd": (0.5533, 10.5777, 0.6062, 11.6677)}

PATRON_CHILD = r"""
def _hwm():
    # VmHWM: peak RSS of this process image. ru_maxrss would include the parent's RSS inherited at fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
import json, sys, time, tracemalloc
import numpy as np, pandas as pd
from patron.models.clv import BetaGeoModel, ParetoNBDModel
d = np.load(sys.argv[2])
frame = pd.DataFrame({"frequency": d["x"], "recency": d["t_x"], "T": d["T"]})
cls = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel}[sys.argv[1]]
cls().fit(frame.head(200))  # warm imports and caches
tracemalloc.start()
t0, c0 = time.perf_counter(), time.process_time()
m = cls().fit(frame)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"time": dt, "cpu": cpu, "peak_mb": peak / 2**20, "rss_mb": _hwm(),
                  "params": list(map(float, m.params_)), "converged": bool(m.converged_), "rows": int(m.n_unique_rows_)}))
"""

LIFETIMES_CHILD = r"""
def _hwm():
    # VmHWM: peak RSS of this process image. ru_maxrss would include the parent's RSS inherited at fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
import json, sys, time
import numpy as np
from lifetimes import BetaGeoFitter, ParetoNBDFitter
d = np.load(sys.argv[2])
cls = {"bgnbd": BetaGeoFitter, "pareto_nbd": ParetoNBDFitter}[sys.argv[1]]
names = {"bgnbd": ["r", "alpha", "a", "b"], "pareto_nbd": ["r", "alpha", "s", "beta"]}[sys.argv[1]]
t0, c0 = time.perf_counter(), time.process_time()
f = cls().fit(d["x"], d["t_x"], d["T"])
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"time": dt, "cpu": cpu, "rss_mb": _hwm(),
                  "params": [float(f.params_[k]) for k in names]}))
"""

PYMC_CHILD = r"""
def _hwm():
    # VmHWM: peak RSS of this process image. ru_maxrss would include the parent's RSS inherited at fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
import json, sys, time
import numpy as np, pandas as pd
from pymc_marketing.clv import BetaGeoModel, ParetoNBDModel
d = np.load(sys.argv[2])
data = pd.DataFrame({"customer_id": np.arange(len(d["x"])), "frequency": d["x"], "recency": d["t_x"], "T": d["T"]})
cls = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel}[sys.argv[1]]
names = {"bgnbd": ["r", "alpha", "a", "b"], "pareto_nbd": ["r", "alpha", "s", "beta"]}[sys.argv[1]]
t0, c0 = time.perf_counter(), time.process_time()
m = cls(data=data)
try:
    m.fit(method="map")
except TypeError:
    m.fit(fit_method="map")
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
post = m.idata.posterior
print(json.dumps({"time": dt, "cpu": cpu, "rss_mb": _hwm(),
                  "params": [float(post[k].values.ravel()[0]) for k in names]}))
"""


def _dataset(name: str, model: str, n: int, weekly: bool) -> Path:
    """Cache an .npz of (x, t_x, T) for the dataset and return its path."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"clv_{name}_{model}_{n}_{'weekly' if weekly else 'cont'}.npz"
    if path.exists():
        return path
    if name == "cdnow":
        frame = pd.read_csv(shared_data() / "cdnow_customers_summary.csv.gz")
        x, t_x, T = (frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    else:
        from patron.models.clv.beta_geo import bgnbd_simulate
        from patron.models.clv.pareto_nbd import pnbd_simulate

        rng = np.random.default_rng(n)
        T = rng.uniform(20, 40, size=n)
        sim = bgnbd_simulate if model == "bgnbd" else pnbd_simulate
        x, t_x = sim(TRUTH[model], T, rng)
        if weekly:
            T, t_x = np.ceil(T), np.floor(t_x)
            t_x = np.where(x > 0, np.maximum(t_x, 1.0), 0.0)
    np.savez(path, x=x, t_x=t_x, T=T)
    return path


def _child(python: str, code: str, model: str, path: Path, timeout: float) -> dict | str:
    if python != sys.executable and not Path(python).exists():
        return f"not installed ({python})"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        out = subprocess.run(
            [python, "-c", code, model, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed: {tail[:160]}"
    return json.loads(lines[-1])


def _loglik(model: str, params: list[float], path: Path) -> float:
    from patron.models.clv.beta_geo import bgnbd_loglik
    from patron.models.clv.pareto_nbd import pnbd_loglik

    d = np.load(path)
    f = bgnbd_loglik if model == "bgnbd" else pnbd_loglik
    with np.errstate(all="ignore"):
        return float(np.sum(f(*params[:4], d["x"], d["t_x"], d["T"])))


def robustness(n_sets: int) -> None:
    """Fit ``n_sets`` random synthetic datasets per model; count convergence failures."""
    from patron.models.clv import BetaGeoModel, ParetoNBDModel
    from patron.models.clv.beta_geo import bgnbd_simulate
    from patron.models.clv.pareto_nbd import pnbd_simulate

    rng = np.random.default_rng(2024)
    for name, cls, sim in (
        ("bgnbd", BetaGeoModel, bgnbd_simulate),
        ("pareto_nbd", ParetoNBDModel, pnbd_simulate),
    ):
        failures = []
        for i in range(n_sets):
            truth = np.exp(rng.uniform(np.log([0.1, 1.0, 0.3, 0.5]), np.log([3.0, 50.0, 5.0, 20.0])))
            T = rng.uniform(5, 60, size=5000)
            x, t_x = sim(tuple(truth), T, rng)
            m = cls().fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
            if not m.converged_ or not np.isfinite(m.log_likelihood_):
                failures.append((i, np.round(truth, 3).tolist()))
        print(
            f"robustness {name}: {n_sets - len(failures)}/{n_sets} converged; failures: {failures or 'none'}"
        )


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks clv")
    ap.add_argument("--sizes", default="100000,1000000", help="synthetic customer counts")
    ap.add_argument("--models", default="bgnbd,pareto_nbd")
    ap.add_argument("--anchor-max", type=int, default=1_000_000, help="largest N the anchors are run on")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per anchor fit")
    ap.add_argument("--robustness", type=int, default=0, help="random synthetic datasets per model to fit")
    ap.add_argument("--no-weekly", action="store_true", help="skip the weekly-rounded variants")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    cases = [("cdnow", 2357, False)]
    for n in sizes:
        cases.append(("synthetic", n, False))
        if not args.no_weekly:
            cases.append(("synthetic", n, True))
    print("CLV fit benchmark (machine shared with other jobs: times are noisy; ratios are from the same run)")
    header = (
        f"{'model':<11}{'data':<22}{'rows':>9}  {'tool':<15}{'time s':>9}{'CPU s':>8}{'load':>6}{'peak MB':>9}"
        f"{'RSS MB':>9}{'LL':>16}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for model in args.models.split(","):
        for name, n, weekly in cases:
            path = _dataset(name, model, n, weekly)
            label = name if name == "cdnow" else f"{n:,} {'weekly' if weekly else 'continuous'}"
            ours = _child(sys.executable, PATRON_CHILD, model, path, args.timeout)
            load = os.getloadavg()[0]
            if isinstance(ours, str):
                print(f"{model:<11}{label:<22}{'':>9}  {'patron':<15}{ours}")
                continue
            ll = _loglik(model, ours["params"], path)
            conv = "" if ours["converged"] else "  (not converged)"
            print(
                f"{model:<11}{label:<22}{ours['rows']:>9,}  {'patron':<15}{ours['time']:>9.2f}{ours['cpu']:>8.2f}"
                f"{load:>6.1f}{ours['peak_mb']:>9.0f}"
                f"{ours['rss_mb']:>9.0f}{ll:>16.2f}{'1.0':>8}{conv}"
            )
            if n > args.anchor_max:
                print(f"{'':<42}  anchors skipped above --anchor-max {args.anchor_max:,}")
                continue
            for tool, python, code in (
                ("lifetimes", LIFETIMES_PYTHON, LIFETIMES_CHILD),
                ("pymc-marketing", PYMC_PYTHON, PYMC_CHILD),
            ):
                res = _child(python, code, model, path, args.timeout)
                if isinstance(res, str):
                    print(f"{'':<42}  {tool:<15}skipped: {res}")
                    continue
                their_ll = _loglik(model, res["params"], path)
                print(
                    f"{'':<42}  {tool:<15}{res['time']:>9.2f}{res['cpu']:>8.2f}{os.getloadavg()[0]:>6.1f}{'':>9}"
                    f"{res['rss_mb']:>9.0f}{their_ll:>16.2f}{res['time'] / ours['time']:>8.1f}"
                    f"   LL(patron) - LL({tool}) = {ll - their_ll:+.4f}"
                )
    if args.robustness:
        robustness(args.robustness)


if __name__ == "__main__":
    main(sys.argv[1:])
