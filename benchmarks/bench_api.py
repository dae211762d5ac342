"""API load and batch scoring: ``python -m benchmarks api [-- --rate 300 --duration 60 --customers 1000000]``.

1. **Load.** Fits BG/NBD + Gamma-Gamma on the CDNOW summary (Fader, Hardie & Lee 2005; 2,357 customers) as a
   ``clv_fit`` run in a temporary DuckDB store, creates a ``score`` key, starts ``patron serve`` (uvicorn, its own
   process) on loopback, and sends single-customer ``POST /score`` requests at fixed rates (``--rate 50,150,300``)
   from :mod:`benchmarks.loadgen` (open loop: request i is due at ``i / rate`` seconds whatever the answers do;
   latency from the *due* time, so no coordinated omission; its module docstring says why it is hand-written).
   Prints p50/p90/p99/max, errors, the CPU time of the server and of the generator, and the 1-minute load average.
   Then measures how long a revoked key keeps working against the live server (the key cache's stated bound: 2 s).
   Goal: p99 < 25 ms at 300 req/s with no errors.
2. **Batch.** Scores ``--customers`` (default 1,000,000) rows resampled from the CDNOW summary, with T and recency
   moved by up to a day so that no two customers are alike (no shortcut from repeated histories), through the
   service layer (:func:`patron.services.scoring.score_frame`, the code ``POST /score`` runs), then writes them as
   a ``clv_score`` run to the store (DuckDB, or PostgreSQL with ``--store postgres``: COPY). Goal: < 20 s.
3. **Anchor.** The same fitted parameters and customers scored by lifetimes 0.11.3 (``BetaGeoFitter`` expected
   purchases and P(alive), ``GammaGammaFitter`` expected spend and its CLV), in its own venv
   (``benchmarks/anchors.sh``), timed in the same run.

The machine is shared with other jobs: figures are indicative and vary from run to run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.anchors import LIFETIMES_PYTHON, available, shared_data

DATA = shared_data()
CDNOW = DATA / "cdnow_customers_summary_with_transactions.csv.gz"


def _summary() -> pd.DataFrame:
    raw = pd.read_csv(CDNOW)
    frame = pd.DataFrame(
        {
            "frequency": raw["x"].astype(float),
            "recency": raw["t_x"].astype(float),
            "T": raw["T"].astype(float),
            "monetary_value": raw["zbar"].astype(float),
        }
    )
    frame.index = pd.Index(raw["ID"].astype(str), name="customer_id")
    return frame


def _prepare(store: str) -> tuple[str, object]:
    """Fit and store the models as a clv_fit run; return a score key and the loaded ScoringModels."""
    from patron.models.clv import BetaGeoModel, GammaGammaModel
    from patron.services.keys import create_key
    from patron.services.scoring import load_models
    from patron.storage import open_repository

    summary = _summary()
    with open_repository(store) as repo:
        with repo.run("clv_fit", {"data": "cdnow", "time_unit": "W"}) as run:
            run.save_model("purchase", BetaGeoModel().fit(summary[["frequency", "recency", "T"]]))
            run.save_model("spend", GammaGammaModel().fit(summary))
        _, token = create_key(repo, ["score"], name="bench")
        models = load_models(repo)
    return token, models


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _payload(summary: pd.DataFrame, i: int) -> bytes:
    row = summary.iloc[i % len(summary)]
    customer = {"customer_id": f"L{i}", **{k: float(row[k]) for k in ("frequency", "recency", "T")}}
    if row["frequency"] > 0:
        customer["monetary_value"] = float(row["monetary_value"])
    return json.dumps({"customers": [customer], "horizon": 52}).encode()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is the parent pid, fields[11]/[12] utime/stime (stat(5), counted after the command name)
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _load(port: int, token: str, rate: float, duration: float, summary: pd.DataFrame, pid: int) -> dict:
    from benchmarks import loadgen

    headers = {"X-API-Key": token, "Content-Type": "application/json"}
    host = f"127.0.0.1:{port}"
    requests = [
        loadgen.request_bytes("POST", "/score", host, headers, _payload(summary, i)) for i in range(2000)
    ]
    # warm up: connections, the model and key caches, the first-request imports
    loadgen.run_sync("127.0.0.1", port, requests, rate=50, duration=1)
    load0 = os.getloadavg()[0]
    cpu0 = _cpu_seconds(pid)
    res = loadgen.run_sync("127.0.0.1", port, requests, rate=rate, duration=duration)
    return {
        "result": res,
        "server_cpu": _cpu_seconds(pid) - cpu0,
        "load": (load0, os.getloadavg()[0]),
    }


def _revocation_delay(port: int, store: str) -> float:
    """Seconds from revoking a key (in the store, as `patron keys revoke` does) until the server refuses it."""
    import httpx

    from patron.services.keys import create_key, revoke_key
    from patron.storage import open_repository

    if not store.startswith(("postgresql://", "postgres://")):
        return float("nan")  # the server holds the DuckDB file: another process cannot write the revocation
    with open_repository(store) as repo:
        key, token = create_key(repo, ["read"], name="revoke me")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": token}) as client:
        assert client.get("/runs").status_code == 200
        with open_repository(store) as repo:
            revoke_key(repo, key.key_id)
        t0 = time.perf_counter()
        while client.get("/runs").status_code == 200:
            if time.perf_counter() - t0 > 30:
                return float("inf")
            time.sleep(0.01)
        return time.perf_counter() - t0


ANCHOR = """
import json, sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
params = json.loads(sys.argv[2])
frame = pd.read_parquet(sys.argv[1])
t0 = time.perf_counter()
bgf = BetaGeoFitter()
bgf.params_ = pd.Series(params["purchase"])
bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # fit() sets this alias in lifetimes
ggf = GammaGammaFitter()
ggf.params_ = pd.Series(params["spend"])
f, r, T, m = frame["frequency"], frame["recency"], frame["T"], frame["monetary_value"]
purchases = bgf.conditional_expected_number_of_purchases_up_to_time(52, f, r, T)
alive = bgf.conditional_probability_alive(f, r, T)
spend = ggf.conditional_expected_average_profit(f, m)
t1 = time.perf_counter()
clv = ggf.customer_lifetime_value(bgf, f, r, T, m, time=12, discount_rate=0.0, freq="W")
t2 = time.perf_counter()
# Patron's CLV: 52 weekly periods. lifetimes' customer_lifetime_value steps in months (above: 12 steps of 4.345
# weeks, each evaluating the closed form twice); here its closed form once per week, the same 52 periods.
clv52, before = 0.0, 0.0
for week in range(1, 53):
    cum = bgf.conditional_expected_number_of_purchases_up_to_time(week, f, r, T)
    clv52 = clv52 + spend * (cum - before)
    before = cum
t3 = time.perf_counter()
print(json.dumps({"predictions": t1 - t0, "clv": t2 - t1, "clv52": t3 - t2,
                  "mean_purchases": float(purchases.mean()), "mean_alive": float(alive.mean()),
                  "mean_clv52": float(clv52.mean())}))
"""


def _batch(models, summary: pd.DataFrame, n: int) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    from patron.services.scoring import score_frame

    rng = np.random.default_rng(7)
    frame = summary.iloc[rng.integers(0, len(summary), n)].copy()
    frame.index = pd.Index([f"B{i}" for i in range(n)], name="customer_id")
    # Up to a day (1/7 week) later observation end and last purchase: every row distinct, recency <= T kept.
    shift = rng.uniform(0, 1 / 7, n)
    frame["T"] += shift
    repeat = frame["frequency"] > 0
    frame.loc[repeat, "recency"] += shift[repeat.to_numpy()] * rng.uniform(0, 1, int(repeat.sum()))
    frame.loc[~repeat, "monetary_value"] = 0.0  # no repeat spend (the lifetimes convention)
    t0 = time.perf_counter()
    scored = score_frame(models, frame, horizon=52)
    return time.perf_counter() - t0, frame, scored


def _write(store: str, scored: pd.DataFrame) -> tuple[float, float]:
    """Wall and CPU seconds to store the scores as one clv_score run (committed atomically)."""
    from patron.storage import open_repository

    with open_repository(store) as repo:
        t0, c0 = time.perf_counter(), time.process_time()
        with repo.run("clv_score", {"benchmark": True}) as run:
            run.write("clv_scores", scored)
        return time.perf_counter() - t0, time.process_time() - c0


def _anchor(models, frame: pd.DataFrame) -> dict | None:
    if not available(LIFETIMES_PYTHON):
        print("  lifetimes anchor: not installed (run benchmarks/anchors.sh)")
        return None
    params = {
        "purchase": {k: float(models.purchase.params_[k]) for k in ("r", "alpha", "a", "b")},
        "spend": {
            "p": float(models.spend.params_["p"]),
            "q": float(models.spend.params_["q"]),
            "v": float(models.spend.params_["gamma"]),
        },
    }
    path = Path(tempfile.mkdtemp()) / "batch.parquet"
    frame.fillna({"monetary_value": 0.0}).reset_index(drop=True).to_parquet(path)
    out = subprocess.run(
        [LIFETIMES_PYTHON, "-c", ANCHOR, str(path), json.dumps(params)],
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(path.parent, ignore_errors=True)
    if out.returncode != 0:
        print("  lifetimes anchor failed:", out.stderr.strip().splitlines()[-1:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _store(kind: str, tmp: str):
    """A fresh DuckDB file, or a fresh schema on the local PostgreSQL (dropped afterwards)."""
    if kind == "duckdb":
        yield str(Path(tmp) / "bench.duckdb")
        return
    import uuid

    import psycopg

    base = os.environ.get("PATRON_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"patron_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _start_server(store: str, port: int, workers: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patron.cli.main",
            "serve",
            "--port",
            str(port),
            "--store",
            store,
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("patron serve did not start")


def _print_load(rate: float, duration: float, out: dict) -> None:
    res = out["result"]
    errors = dict(res.errors) | {f"HTTP {k}": v for k, v in res.statuses.items() if k != 200}
    ok = res.percentile(99) < 25 and res.n_errors == 0
    print(
        f"load: POST /score (1 customer) at {rate:g} req/s for {duration:g} s: {res.requests:,} requests "
        f"in {res.elapsed:.1f} s on {res.connections} connections\n"
        f"  latency from due time (ms): p50 {res.percentile(50):.2f}  p90 {res.percentile(90):.2f}  "
        f"p99 {res.percentile(99):.2f}  max {res.percentile(100):.2f}   errors: {errors or 0}\n"
        f"  CPU: server {out['server_cpu']:.1f} s ({out['server_cpu'] / res.requests * 1000:.2f} ms/request), "
        f"generator {res.generator_cpu:.1f} s ({res.generator_cpu / res.requests * 1e6:.0f} us/request, "
        f"{res.generator_system / max(res.generator_cpu, 1e-9):.0%} of it in the kernel); "
        f"1-min load average {out['load'][0]:.2f} -> {out['load'][1]:.2f}\n"
        f"  p99 < 25 ms with 0 errors: {'yes' if ok else 'no'}",
        flush=True,
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks api")
    parser.add_argument(
        "--rate", default="300", help="requests per second, or a list: 50,150,300 (default 300)"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per rate (default 60)")
    parser.add_argument("--customers", type=int, default=1_000_000, help="batch size (default 1,000,000)")
    parser.add_argument("--store", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (DuckDB: read-only)")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args(argv)
    try:
        import patron.services.clv  # noqa: F401
    except ImportError:
        print("the CLV scoring service (patron.services.clv) is not in this build: nothing to benchmark")
        return

    print(
        f"machine: {os.cpu_count()} cores shared with other jobs; 1-min load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    summary = _summary()
    with tempfile.TemporaryDirectory() as tmp, _store(args.store, tmp) as store:
        token, models = _prepare(store)
        if not args.skip_load:
            port = _free_port()
            server = _start_server(store, port, args.workers)
            print(f"server: patron serve --workers {args.workers} on a {args.store} store", flush=True)
            try:
                for rate in [float(r) for r in str(args.rate).split(",")]:
                    _print_load(
                        rate, args.duration, _load(port, token, rate, args.duration, summary, server.pid)
                    )
                delay = _revocation_delay(port, store)
                if delay == delay:
                    print(
                        f"revocation: a revoked key was refused {delay:.2f} s after the revoke (bound: 2 s)"
                    )
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
        if not args.skip_batch:
            _run_batch(models, summary, args.customers, store)


def _run_batch(models, summary: pd.DataFrame, n: int, store: str) -> None:
    cpu0 = time.process_time()
    seconds, frame, scored = _batch(models, summary, n)
    cpu = time.process_time() - cpu0
    write, write_cpu = _write(store, scored)
    total = seconds + write
    print(
        f"batch: {n:,} distinct customers through patron.services.scoring.score_frame: {seconds:.2f} s wall, "
        f"{cpu:.2f} s CPU; stored as a run: {write:.2f} s wall, {write_cpu:.2f} s CPU; total {total:.2f} s "
        f"({n / total:,.0f} customers/s; goal 1M in < 20 s: {'met' if total * 1e6 / n < 20 else 'NOT met'}); "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    anchor = _anchor(models, frame)
    if anchor:
        total = anchor["predictions"] + anchor["clv"]
        print(
            f"  lifetimes 0.11.3, same parameters and customers: predictions {anchor['predictions']:.2f} s "
            f"+ CLV {anchor['clv']:.2f} s = {total:.2f} s; ratio lifetimes / patron = {total / seconds:.2f}x"
        )
        ours = scored["expected_purchases"].mean()
        weekly = anchor["predictions"] + anchor["clv52"]
        print(
            f"  lifetimes, CLV over Patron's 52 weekly periods (its closed form once per week): predictions "
            f"{anchor['predictions']:.2f} s + CLV {anchor['clv52']:.2f} s = {weekly:.2f} s; "
            f"ratio lifetimes / patron = {weekly / seconds:.2f}x"
        )
        print(
            f"  check: mean expected purchases patron {ours:.6f} vs lifetimes {anchor['mean_purchases']:.6f}; "
            f"mean 52-week CLV patron {scored['clv'].mean():.6f} vs lifetimes {anchor['mean_clv52']:.6f}"
        )
