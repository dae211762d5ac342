"""Benchmark: the BTYD summary with Patron (DuckDB SQL over Parquet) vs lifetimes and pymc-marketing.

Run: ``python -m benchmarks summary [-- --rows 10000000 --anchor-rows 1000000,2000000 --freq D]``.

Every tool runs in its own child process, so that each has its own peak memory (``ru_maxrss`` of the child):

* Patron: ``patron.features.btyd_summary`` on an in-memory DuckDB reading the Parquet file. The timed part
  includes scanning the Parquet file and returning a pandas frame.
* lifetimes ``summary_data_from_transaction_data``, from ``LIFETIMES_PYTHON`` (default: the venv
  ``benchmarks/anchors.sh`` builds; lifetimes 0.11.3 needs pandas < 2).
* pymc-marketing ``clv.utils.rfm_summary``, from ``PYMC_PYTHON`` (default: its venv from ``anchors.sh``).

The anchors' venvs cannot read Parquet (no working pyarrow there), so they get the same rows as an uncompressed
``.npz`` file. Loading it and building their DataFrame are *not* timed; only the summary call is. Their peak RSS
includes that frame and their imports, because a real user pays for those too.

By default the anchors are measured at 1M rows and at the full 10M (about 1 and 2.5 minutes under load, up to
~2 GB each). With ``--anchor-rows 1000000,2000000`` they skip 10M, and their 10M time is then **extrapolated
linearly** from the largest measured size; the output says so. Linear extrapolation flatters them: pandas'
group-bys grow faster than linearly (pymc-marketing took 9.5 s at 2M and 73 s at 10M in one run). Patron is
measured at every size, so each ratio compares measured numbers on identical data.

Synthetic data: ``rows`` transactions of ``rows // 10`` customers, with timestamps uniform over 3 years (to the
second) and gamma-distributed amounts, sorted by time. The files are cached under ``benchmarks/.cache``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.anchors import LIFETIMES_PYTHON, PYMC_PYTHON, shared_data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"


SHARED = shared_data()

# The child's own peak RSS (VmHWM): ru_maxrss would carry the parent's peak over fork and exec on Linux.
_RSS = "rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024.0\n"

PATRON_CHILD = (
    """
import json, sys, time
import duckdb
from patron.features import btyd_summary
a = json.loads(sys.argv[1])
con = duckdb.connect(":memory:")
con.execute("SET enable_progress_bar = false")
con.execute("CREATE VIEW tx AS SELECT * FROM read_parquet('" + a["path"].replace("'", "''") + "')")
t0 = time.perf_counter()
out = btyd_summary(con, "tx", freq=a["freq"])
seconds = time.perf_counter() - t0
"""
    + _RSS
    + """
print(json.dumps({"seconds": seconds, "rss_mb": rss, "customers": len(out),
                  "frequency_sum": int(out["frequency"].sum()), "T_sum": float(out["T"].sum())}))
"""
)

_ANCHOR_LOAD = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
a = json.loads(sys.argv[1])
d = np.load(a["path"])
df = pd.DataFrame({"customer_id": d["customer_id"], "timestamp": pd.to_datetime(d["timestamp"], unit="s"),
                   "amount": d["amount"]})
del d
"""

LIFETIMES_CHILD = (
    "from lifetimes.utils import summary_data_from_transaction_data as summarise\n"
    + _ANCHOR_LOAD
    + """
t0 = time.perf_counter()
out = summarise(df, "customer_id", "timestamp", monetary_value_col="amount", freq=a["freq"])
seconds = time.perf_counter() - t0
"""
    + _RSS
    + """
print(json.dumps({"seconds": seconds, "rss_mb": rss, "customers": len(out),
                  "frequency_sum": int(out["frequency"].sum()), "T_sum": float(out["T"].sum())}))
"""
)

PYMC_CHILD = (
    "from pymc_marketing.clv.utils import rfm_summary as summarise\n"
    + _ANCHOR_LOAD
    + """
t0 = time.perf_counter()
out = summarise(df, "customer_id", "timestamp", monetary_value_col="amount", time_unit=a["freq"])
seconds = time.perf_counter() - t0
"""
    + _RSS
    + """
print(json.dumps({"seconds": seconds, "rss_mb": rss, "customers": len(out),
                  "frequency_sum": int(out["frequency"].sum()), "T_sum": float(out["T"].sum())}))
"""
)

TOOLS = {
    "patron": (sys.executable, PATRON_CHILD, "parquet"),
    "lifetimes": (LIFETIMES_PYTHON, LIFETIMES_CHILD, "npz"),
    "pymc-marketing": (PYMC_PYTHON, PYMC_CHILD, "npz"),
}


# --- data ---------------------------------------------------------------------------------------------------------
def synthetic(rows: int, seed: int = 7) -> tuple[Path, Path]:
    """Parquet (for Patron) and npz (for the anchors) of ``rows`` synthetic transactions, cached."""
    CACHE.mkdir(exist_ok=True)
    parquet, npz = CACHE / f"synthetic_{rows}_{seed}.parquet", CACHE / f"synthetic_{rows}_{seed}.npz"
    if parquet.exists() and npz.exists():
        return parquet, npz
    rng = np.random.default_rng(seed)
    customers = max(rows // 10, 1)
    customer_id = rng.integers(0, customers, size=rows, dtype=np.int64)
    seconds = rng.integers(0, 3 * 365 * 86400, size=rows, dtype=np.int64) + int(
        pd.Timestamp("2021-01-01").timestamp()
    )
    amount = np.round(rng.gamma(2.0, 20.0, size=rows), 2)
    order = np.argsort(seconds, kind="stable")
    customer_id, seconds, amount = customer_id[order], seconds[order], amount[order]
    _write(parquet, npz, customer_id, seconds, amount)
    return parquet, npz


def online_retail() -> tuple[Path, Path, int]:
    """The usual clean subset of UCI Online Retail (397,884 lines), as Parquet and npz."""
    CACHE.mkdir(exist_ok=True)
    parquet, npz = CACHE / "online_retail_clean.parquet", CACHE / "online_retail_clean.npz"
    if not (parquet.exists() and npz.exists()):
        raw = pd.read_csv(
            SHARED / "online_retail.csv.gz",
            dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
            parse_dates=["InvoiceDate"],
        )
        keep = (
            raw["CustomerID"].notna()
            & ~raw["InvoiceNo"].str.startswith("C")
            & (raw["Quantity"] > 0)
            & (raw["UnitPrice"] > 0)
        )
        clean = raw.loc[keep]
        _write(
            parquet,
            npz,
            clean["CustomerID"].to_numpy(dtype=np.int64),
            (clean["InvoiceDate"].astype("datetime64[s]").astype(np.int64)).to_numpy(),
            (clean["Quantity"] * clean["UnitPrice"]).to_numpy(dtype=np.float64),
        )
    return parquet, npz, int(pq.read_metadata(parquet).num_rows)


def _write(
    parquet: Path, npz: Path, customer_id: np.ndarray, seconds: np.ndarray, amount: np.ndarray
) -> None:
    table = pa.table(
        {
            "customer_id": customer_id,
            "timestamp": pa.array(seconds.astype("datetime64[s]"), type=pa.timestamp("s")),
            "amount": amount,
        }
    )
    pq.write_table(table, parquet)
    with open(npz, "wb") as fh:
        np.savez(fh, customer_id=customer_id, timestamp=seconds, amount=amount)


# --- running ------------------------------------------------------------------------------------------------------
def run_tool(tool: str, path: Path, freq: str, timeout: float) -> dict:
    python, code, _ = TOOLS[tool]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, "-c", code, json.dumps({"path": str(path), "freq": freq})],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    except FileNotFoundError:
        return {"error": f"{python} not found"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t0
    return result


def _fmt(r: dict | None) -> str:
    if r is None:
        return "-"
    if "error" in r:
        return r["error"]
    return f"{r['seconds']:9.2f} s {r['rss_mb']:8.0f} MB"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks summary", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="synthetic rows for Patron")
    parser.add_argument(
        "--anchor-rows",
        default="1000000,10000000",
        help="comma-separated sizes at which the anchors are measured (the largest is extrapolated to --rows)",
    )
    parser.add_argument("--freq", default="D", choices=["D", "W", "M"])
    parser.add_argument("--timeout", type=float, default=1800.0, help="per child process, seconds")
    parser.add_argument("--skip-retail", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the Online Retail comparison")
    args = parser.parse_args(argv)
    anchor_sizes = sorted({int(s) for s in args.anchor_rows.split(",") if s} | set())
    anchor_sizes = [n for n in anchor_sizes if n <= args.rows] or [args.rows]
    print(
        f"BTYD summary (freq={args.freq}), {os.cpu_count()} CPUs; machine shared with other jobs, "
        "so timings are under load. Each tool runs in its own process; memory is that process's peak RSS."
    )

    rows_report: list[tuple[str, dict[str, dict | None]]] = []
    sizes = [] if args.skip_synthetic else sorted(set(anchor_sizes) | {args.rows})
    for n in sizes:
        parquet, npz = synthetic(n)
        results: dict[str, dict | None] = {"patron": run_tool("patron", parquet, args.freq, args.timeout)}
        for tool in ("lifetimes", "pymc-marketing"):
            results[tool] = run_tool(tool, npz, args.freq, args.timeout) if n in anchor_sizes else None
        rows_report.append((f"synthetic {n:,} rows", results))
        _print_row(rows_report[-1])
    if not args.skip_retail and not (SHARED / "online_retail.csv.gz").exists():
        print(
            f"  Online Retail skipped: {SHARED / 'online_retail.csv.gz'} not found (set PATRON_SHARED_DATA)"
        )
    elif not args.skip_retail:
        parquet, npz, n = online_retail()
        results = {
            tool: run_tool(tool, parquet if tool == "patron" else npz, args.freq, args.timeout)
            for tool in TOOLS
        }
        rows_report.append((f"Online Retail clean, {n:,} rows", results))
        _print_row(rows_report[-1])

    print()
    _print_table(rows_report)
    _print_ratios(rows_report, args.rows, anchor_sizes)


def _print_row(entry: tuple[str, dict[str, dict | None]]) -> None:
    label, results = entry
    print(f"  {label}: " + "; ".join(f"{t} {_fmt(r).strip()}" for t, r in results.items()), flush=True)


def _print_table(report: list[tuple[str, dict[str, dict | None]]]) -> None:
    print(f"{'data':<36} {'Patron (DuckDB SQL)':>24} {'lifetimes':>24} {'pymc-marketing':>24}  same result")
    for label, results in report:
        ok = _agree(results)
        print(
            f"{label:<36} {_fmt(results['patron']):>24} {_fmt(results['lifetimes']):>24} "
            f"{_fmt(results['pymc-marketing']):>24}  {ok}"
        )


def _agree(results: dict[str, dict | None]) -> str:
    """Customers, sum of frequency and sum of T must be equal across tools (T to 1e-6 relative)."""
    done = {t: r for t, r in results.items() if r and "error" not in r}
    if len(done) < 2:
        return "-"
    base = done["patron"] if "patron" in done else next(iter(done.values()))
    same = all(
        r["customers"] == base["customers"]
        and r["frequency_sum"] == base["frequency_sum"]
        and abs(r["T_sum"] - base["T_sum"]) <= 1e-6 * max(1.0, abs(base["T_sum"]))
        for r in done.values()
    )
    return "yes (" + ", ".join(done) + ")" if same else "NO: " + json.dumps(done)


def _print_ratios(
    report: list[tuple[str, dict[str, dict | None]]], rows: int, anchor_sizes: list[int]
) -> None:
    print()
    for label, results in report:
        p = results["patron"]
        anchors = {t: r for t, r in results.items() if t != "patron" and r and "error" not in r}
        if not p or "error" in p or not anchors:
            continue
        fastest = min(anchors, key=lambda t: anchors[t]["seconds"])
        print(
            f"{label}: Patron is {anchors[fastest]['seconds'] / p['seconds']:.1f}x faster than the faster anchor "
            f"({fastest}, measured), peak memory {p['rss_mb']:.0f} MB vs {anchors[fastest]['rss_mb']:.0f} MB"
        )
    full = next((r for label, r in report if label == f"synthetic {rows:,} rows"), None)
    if full is None or not full["patron"] or "error" in full["patron"]:
        return
    if rows in anchor_sizes:
        return  # measured at full size above
    biggest = max(anchor_sizes)
    at = next(r for label, r in report if label == f"synthetic {biggest:,} rows")
    estimates = {
        t: r["seconds"] * rows / biggest for t, r in at.items() if t != "patron" and r and "error" not in r
    }
    if not estimates:
        return
    fastest = min(estimates, key=estimates.__getitem__)
    patron = full["patron"]
    print(
        f"synthetic {rows:,} rows: anchors NOT run at this size; their times are EXTRAPOLATED linearly from "
        f"{biggest:,} rows: "
        + ", ".join(f"{t} ~{s:.0f} s" for t, s in estimates.items())
        + f". Patron measured {patron['seconds']:.2f} s, peak {patron['rss_mb']:.0f} MB: "
        f"~{estimates[fastest] / patron['seconds']:.0f}x faster than the faster anchor ({fastest}, extrapolated). "
        f"Goal: >= 20x and < 2048 MB."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
