"""The demo sample shipped in the package: present, small, and exactly what make_sample draws."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from patron.data import load_sample, sample_path
from patron.data.make_sample import draw


def test_sample_is_shipped_and_small() -> None:
    path = sample_path()
    assert path.is_file() and path.stat().st_size < 2 * 2**20
    frame = load_sample()
    assert len(frame) == 118_364
    assert frame["CustomerID"].nunique() == 962
    assert frame["InvoiceNo"].str.startswith("C").sum() == 1_998
    assert frame["CustomerID"].isna().sum() == 29_081


@pytest.mark.slow
def test_sample_is_reproducible_from_the_full_file(shared_data: Path) -> None:
    with gzip.open(shared_data / "online_retail.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        lines = fh.read().splitlines(keepends=True)
    with gzip.open(sample_path(), "rt", encoding="utf-8", newline="") as fh:
        shipped = fh.read()
    assert "".join(draw(lines)) == shipped
