"""API load and batch scoring: ``python -m benchmarks api [-- --rate 300 --duration 60 --customers 1000000]``.

1. **Load.** Fits BG/NBD + Gamma-Gamma on the CDNOW summary (Fader, Hardie & Lee 2005; 2,357 customers) as a
   ``clv_fit`` run in a temporary DuckDB store, creates a ``score`` key, starts ``patron serve`` (uvicorn, its own
   process) on loopback, and sends single-customer ``POST /score`` requests at a fixed rate (open loop: request i is
   due at ``i / rate`` seconds whatever the answers do) from an asyncio + httpx generator (``wrk`` is used instead when
   installed and ``--wrk`` is given). Latency is measured from the *due* time, so a server that falls behind shows it
   (no coordinated omission). Prints p50/p90/p99/max and errors. Goal: p99 < 25 ms at 300 req/s with no errors.
2. **Batch.** Scores ``--customers`` (default 1,000,000) rows resampled from the CDNOW summary through the service
   layer (:func:`patron.services.scoring.score_frame`, the code ``POST /score`` runs). Goal: < 20 s.
3. **Anchor.** The same fitted parameters and customers scored by lifetimes 0.11.3 (``BetaGeoFitter`` expected
   purchases and P(alive), ``GammaGammaFitter`` expected spend and its CLV), in its own venv
   (``benchmarks/anchors.sh``), timed in the same run.

The machine is shared with other jobs: figures are indicative and vary from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


def _start_server(store: str, port: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "patron.cli.main", "serve", "--port", str(port), "--store", store],
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


def _payload(summary: pd.DataFrame, i: int) -> bytes:
    row = summary.iloc[i % len(summary)]
    customer = {"customer_id": f"L{i}", **{k: float(row[k]) for k in ("frequency", "recency", "T")}}
    if row["frequency"] > 0:
        customer["monetary_value"] = float(row["monetary_value"])
    return json.dumps({"customers": [customer], "horizon": 52}).encode()


async def _load(url: str, token: str, rate: float, duration: float, summary: pd.DataFrame) -> dict:
    import httpx

    n = int(rate * duration)
    bodies = [_payload(summary, i) for i in range(min(n, 5000))]
    latencies = np.full(n, np.nan)
    errors: dict[str, int] = {}
    headers = {"X-API-Key": token, "content-type": "application/json"}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=10) as client:
        # warm up: connections, the model cache, the first-request imports
        for i in range(20):
            await client.post("/score", content=bodies[i % len(bodies)])
        start = time.perf_counter()

        async def one(i: int) -> None:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                r = await client.post("/score", content=bodies[i % len(bodies)])
                if r.status_code != 200:
                    errors[f"HTTP {r.status_code}"] = errors.get(f"HTTP {r.status_code}", 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            latencies[i] = time.perf_counter() - due

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        # A server that cannot keep up would make this wait for the whole backlog: stop at duration + 15 s and
        # count what is still pending as errors.
        _, pending = await asyncio.wait(tasks, timeout=duration + 15)
        for task in pending:
            task.cancel()
        if pending:
            errors["unfinished at duration + 15 s"] = len(pending)
        elapsed = time.perf_counter() - start
    ms = latencies * 1000
    if np.isnan(ms).all():
        ms = np.array([np.inf])
    return {
        "requests": n,
        "achieved_rate": n / elapsed,
        "p50": float(np.nanpercentile(ms, 50)),
        "p90": float(np.nanpercentile(ms, 90)),
        "p99": float(np.nanpercentile(ms, 99)),
        "max": float(np.nanmax(ms)),
        "errors": errors,
    }


def _wrk(url: str, token: str, rate: int, duration: int, body: bytes) -> str:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = ' + json.dumps(body.decode()) + "\n"
        f'wrk.headers["X-API-Key"] = "{token}"\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    cmd = [
        "wrk",
        "-t2",
        "-c32",
        f"-d{duration}s",
        f"-R{rate}",
        "--latency",
        "-s",
        str(script),
        f"{url}/score",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


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
print(json.dumps({"predictions": t1 - t0, "clv": t2 - t1, "mean_purchases": float(purchases.mean()),
                  "mean_alive": float(alive.mean())}))
"""


def _batch(models, summary: pd.DataFrame, n: int) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    from patron.services.scoring import score_frame

    rng = np.random.default_rng(7)
    frame = summary.iloc[rng.integers(0, len(summary), n)].copy()
    frame.index = pd.Index([f"B{i}" for i in range(n)], name="customer_id")
    frame.loc[frame["frequency"] == 0, "monetary_value"] = 0.0  # no repeat spend (the lifetimes convention)
    t0 = time.perf_counter()
    scored = score_frame(models, frame, horizon=52)
    return time.perf_counter() - t0, frame, scored


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


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks api")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second (default 300)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--customers", type=int, default=1_000_000, help="batch size (default 1,000,000)")
    parser.add_argument("--wrk", action="store_true", help="use wrk2 (wrk -R) if installed")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args(argv)
    try:
        import patron.services.clv  # noqa: F401
    except ImportError:
        print("the CLV scoring service (patron.services.clv) is not in this build: nothing to benchmark")
        return

    print("machine: shared with other jobs (5 helpers on 2 cores): figures are indicative", flush=True)
    summary = _summary()
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "bench.duckdb")
        token, models = _prepare(store)
        if not args.skip_load:
            port = _free_port()
            server = _start_server(store, port)
            url = f"http://127.0.0.1:{port}"
            try:
                if args.wrk and shutil.which("wrk"):
                    print(_wrk(url, token, int(args.rate), int(args.duration), _payload(summary, 0)))
                else:
                    res = asyncio.run(_load(url, token, args.rate, args.duration, summary))
                    print(
                        f"load: POST /score (1 customer) at {args.rate:g} req/s for {args.duration:g} s: "
                        f"{res['requests']:,} requests, achieved {res['achieved_rate']:.1f} req/s\n"
                        f"  latency from due time (ms): p50 {res['p50']:.2f}  p90 {res['p90']:.2f}  "
                        f"p99 {res['p99']:.2f}  max {res['max']:.2f}   errors: {res['errors'] or 0}\n"
                        f"  goal p99 < 25 ms with 0 errors: {'met' if res['p99'] < 25 and not res['errors'] else 'NOT met'}",
                        flush=True,
                    )
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
        if not args.skip_batch:
            seconds, frame, scored = _batch(models, summary, args.customers)
            print(
                f"batch: {args.customers:,} customers through patron.services.scoring.score_frame: {seconds:.2f} s "
                f"({args.customers / seconds:,.0f} customers/s; goal 1M in < 20 s: "
                f"{'met' if seconds * 1e6 / args.customers < 20 else 'NOT met'})",
                flush=True,
            )
            anchor = _anchor(models, frame)
            if anchor:
                total = anchor["predictions"] + anchor["clv"]
                print(
                    f"  lifetimes 0.11.3, same parameters and customers: predictions {anchor['predictions']:.2f} s "
                    f"+ CLV {anchor['clv']:.2f} s = {total:.2f} s; ratio lifetimes / patron = {total / seconds:.2f}x"
                )
                ours = scored.filter(like="expected_purchases").iloc[:, 0].mean()
                print(
                    f"  check: mean expected purchases patron {ours:.6f} vs lifetimes {anchor['mean_purchases']:.6f}"
                )
