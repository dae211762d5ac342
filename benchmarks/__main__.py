"""Run the benchmarks: ``python -m benchmarks [NAME ...] [-- options]``.

Each ``benchmarks/bench_<name>.py`` defines ``main(argv: list[str]) -> None`` that measures Patron next to the
anchor libraries (lifetimes, pymc-marketing, ...) in the same run and prints the ratios. The anchors are installed
only for benchmarks (``pip install -e ".[bench]"``, or ``make bench``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> None:
    names, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    chosen = names or available()
    unknown = sorted(set(chosen) - set(available()))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; available: {available()}")
    for name in chosen:
        print(f"\n=== benchmark: {name} ===", flush=True)
        importlib.import_module(f"benchmarks.bench_{name}").main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
