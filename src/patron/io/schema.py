"""The canonical transaction schema every layer after ``io`` relies on.

The cleaned ``transactions`` table in the store has exactly these columns (extra source columns are dropped after
mapping; the mapping says which source column became which canonical one).
"""

from __future__ import annotations

# name -> (DuckDB type, required?, meaning)
TRANSACTION_COLUMNS: dict[str, tuple[str, bool, str]] = {
    "customer_id": ("VARCHAR", True, "resolved customer id (after identity resolution)"),
    "source_customer_id": ("VARCHAR", True, "customer id as it was in the source"),
    "order_id": ("VARCHAR", False, "order / invoice / basket id; one order = one purchase occasion"),
    "timestamp": ("TIMESTAMP", True, "when the line was bought (naive local time)"),
    "quantity": ("DOUBLE", False, "units on the line"),
    "unit_price": ("DOUBLE", False, "price per unit"),
    "amount": (
        "DOUBLE",
        True,
        "line value = quantity x unit_price, or the given amount, net of matched returns",
    ),
    "product": ("VARCHAR", False, "product / SKU / stock code"),
    "product_name": ("VARCHAR", False, "product description"),
    "category": ("VARCHAR", False, "product category"),
    "channel": ("VARCHAR", False, "sales channel or store"),
    "region": ("VARCHAR", False, "country / region"),
    "email": ("VARCHAR", False, "email as given"),
    "address": ("VARCHAR", False, "postal address as given"),
    "source": ("VARCHAR", True, "file or table the row came from"),
    "source_row": ("BIGINT", True, "1-based line number in the source (header = line 1)"),
}

CANONICAL_NAMES: tuple[str, ...] = tuple(TRANSACTION_COLUMNS)

# Store table names shared across layers (one place, so a rename is one edit).
TRANSACTIONS = "transactions"
CUSTOMERS = "customers"
IDENTITY_LINKS = "identity_links"
CLEANING_REPORT = "cleaning_report"
BTYD_SUMMARY = "btyd_summary"
BTYD_CALIBRATION = "btyd_calibration"
RFM = "rfm"
BEHAVIOUR = "behaviour"

# Columns of the other tables an ingest writes (name -> meaning), for readers of the store.
CUSTOMER_COLUMNS: dict[str, str] = {
    "customer_id": "resolved customer id",
    "first_purchase": "timestamp of the first kept transaction",
    "last_purchase": "timestamp of the last kept transaction",
    "orders": "distinct orders (order ids, or purchase instants where the source has none)",
    "revenue": "sum of the kept amounts (net of matched returns)",
    "email": "most frequent normalised email, if any",
    "household_id": "smallest customer id at the same normalised address, if any",
    "n_source_ids": "how many (source, source customer id) pairs were resolved into this customer",
}
IDENTITY_LINK_COLUMNS: dict[str, str] = {
    "source": "file or table the id came from",
    "source_customer_id": "customer id as it was in the source",
    "customer_id": "the customer it was resolved to",
    "rule": "identity | source_id | email | source_id+email: why it was merged",
}
CLEANING_REPORT_COLUMNS: dict[str, str] = {
    "rule": "cleaning rule (or 'kept')",
    "rows": "rows the rule removed, netted or (action 'flag') matched and kept",
    "revenue": "sum of those rows' line values as read",
    "action": "drop | net | flag | keep",
}
