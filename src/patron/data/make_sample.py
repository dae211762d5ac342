"""Rebuild ``online_retail_sample.csv.gz`` from the full UCI Online Retail file (how the shipped sample was drawn).

    python -m patron.data.make_sample ../shared/data/online_retail.csv.gz src/patron/data/online_retail_sample.csv.gz

All lines of a seeded random 22 % of the customers, plus the lines of the same share of the invoices that have
no customer id, so every quirk of the full file (cancellations, returns, duplicates, non-product lines, zero
prices, missing customers) is in the sample in proportion. Lines are copied byte for byte in their original
order; the output is gzipped without a timestamp, so the same input gives the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import numpy as np

SEED = 352  # the UCI dataset number
SHARE = 0.22


def draw(lines: list[str], *, seed: int = SEED, share: float = SHARE) -> list[str]:
    """The header and the sampled lines of Online Retail's CSV text (one record per line)."""
    header, body = lines[0], lines[1:]
    fields = list(csv.reader(body))
    names = next(csv.reader([header]))
    invoice, customer = names.index("InvoiceNo"), names.index("CustomerID")
    rng = np.random.default_rng(seed)
    customers = sorted({f[customer] for f in fields if f[customer]})
    anonymous_invoices = sorted({f[invoice] for f in fields if not f[customer]})
    chosen_customers = set(rng.choice(customers, size=round(share * len(customers)), replace=False))
    chosen_invoices = set(
        rng.choice(anonymous_invoices, size=round(share * len(anonymous_invoices)), replace=False)
    )
    keep = [
        line
        for line, f in zip(body, fields, strict=True)
        if (f[customer] in chosen_customers) or (not f[customer] and f[invoice] in chosen_invoices)
    ]
    return [header, *keep]


def main(argv: list[str] | None = None) -> None:
    source, target = (argv or sys.argv[1:])[:2]
    with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    sample = draw(lines)
    with (
        open(target, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write("".join(sample).encode("utf-8"))
    print(f"{len(sample) - 1:,} lines -> {target} ({Path(target).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
