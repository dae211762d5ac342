"""Data shipped with Patron: a sample of UCI Online Retail for the demo, the docs and quick experiments.

See ``README.md`` in this folder for the attribution (UCI dataset 352, CC BY 4.0) and how the sample was drawn.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

import pandas as pd

SAMPLE_NAME = "online_retail_sample.csv.gz"


def sample_path() -> Path:
    """Path of the shipped Online Retail sample (a gzipped CSV with the original columns).

    The package is installed as plain files (wheel or editable), so the resource has a real path.
    """
    resource = files(__name__) / SAMPLE_NAME
    with as_file(resource) as path:
        return Path(path)


def load_sample() -> pd.DataFrame:
    """The shipped sample as a DataFrame, read as the data's README recommends (ids as text, dates parsed)."""
    return pd.read_csv(
        sample_path(),
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
        parse_dates=["InvoiceDate"],
    )
