"""A small synthetic store with canonical columns and a planted pattern (shared by the relate/segment tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patron.io.schema import CANONICAL_NAMES

CATEGORIES = [f"cat{i:02d}" for i in range(12)]


def synthetic_transactions(n_customers: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order lines and customer attributes. Customers who buy cat01 AND cat02 spend about 5x more per line."""
    rng = np.random.default_rng(seed)
    rows = []
    attrs = []
    start = pd.Timestamp("2024-01-01")
    for c in range(n_customers):
        cid = f"C{c:04d}"
        cats = [cat for cat in CATEGORIES if rng.random() < 0.3]
        planted = "cat01" in cats and "cat02" in cats
        n_orders = int(rng.integers(1, 6))
        for o in range(n_orders):
            ts = start + pd.Timedelta(days=int(rng.integers(0, 120)), hours=int(rng.integers(8, 20)))
            for cat in cats or [CATEGORIES[0]]:
                qty = float(rng.integers(1, 4))
                price = float(rng.gamma(2.0, 5.0 if planted else 1.0))
                rows.append((cid, f"{cid}-{o}", ts, qty, price, cat))
        attrs.append((cid, str(rng.choice(["18-34", "35-54", "55+"])), str(rng.choice(["A", "B"]))))
    lines = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "timestamp", "quantity", "unit_price", "category"]
    )
    lines["amount"] = lines["quantity"] * lines["unit_price"]
    lines["source_customer_id"] = lines["customer_id"]
    lines["product"] = lines["category"] + "-sku"
    lines["product_name"] = lines["product"]
    lines["channel"] = "web"
    lines["region"] = "UK"
    lines["email"] = None
    lines["address"] = None
    lines["source"] = "synthetic"
    lines["source_row"] = np.arange(2, len(lines) + 2)
    attributes = pd.DataFrame(attrs, columns=["customer_id", "age", "region_band"])
    return lines[list(CANONICAL_NAMES)], attributes


def fill_store(repo, n_customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """Write ``transactions`` and ``customer_attributes``; return the lines."""
    lines, attributes = synthetic_transactions(n_customers, seed)
    repo.replace_tables({"transactions": lines, "customer_attributes": attributes})
    return lines
