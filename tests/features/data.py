"""Small loaders the feature tests share (no dependency on the io branch: CDNOW is parsed here directly)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from patron.io.schema import TRANSACTION_COLUMNS

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def cdnow_raw(shared: Path) -> pd.DataFrame:
    """``cdnow_sample.txt.gz`` as lifetimes users read it: customer_id, customer_index, date, cds, dollars."""
    frame = pd.read_csv(
        shared / "cdnow_sample.txt.gz",
        sep=r"\s+",
        header=None,
        names=["customer_id", "customer_index", "date", "cds", "dollars"],
        dtype={"customer_id": str, "date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def cdnow_canonical(shared: Path) -> pd.DataFrame:
    """CDNOW in Patron's canonical transaction schema (all columns of ``io/schema.py``, unused ones empty)."""
    raw = cdnow_raw(shared)
    frame = pd.DataFrame(index=raw.index)
    for name in TRANSACTION_COLUMNS:
        frame[name] = None
    frame["customer_id"] = raw["customer_id"]
    frame["source_customer_id"] = raw["customer_id"]
    frame["timestamp"] = raw["date"]
    frame["quantity"] = raw["cds"].astype(float)
    frame["amount"] = raw["dollars"].astype(float)
    frame["unit_price"] = (raw["dollars"] / raw["cds"].where(raw["cds"] > 0)).astype(float)
    frame["source"] = "cdnow_sample.txt.gz"
    frame["source_row"] = raw.index + 1  # headerless file: line n is row n
    return frame


def golden_manifest() -> list[dict]:
    return json.loads((GOLDEN / "manifest.json").read_text())


def golden_input(name: str, shared: Path) -> pd.DataFrame:
    if name == "cdnow":
        return cdnow_raw(shared)
    if name == "retail_slice":
        return pd.read_csv(
            GOLDEN / "input_retail_slice.csv.gz", dtype={"customer_id": str}, parse_dates=["timestamp"]
        )
    if name == "synthetic":
        return pd.read_csv(GOLDEN / "input_synthetic.csv.gz", dtype={"customer": str}, parse_dates=["ts"])
    raise KeyError(name)


def golden_output(case: dict) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / case["output"], dtype={"customer_id": str}, index_col="customer_id")
