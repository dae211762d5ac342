"""The whitelist of sources and fields a JSON query may name.

A query never puts a user's string into SQL as an identifier unless it is found here first; values always travel
as ``?`` parameters. The static catalog is the cross-area contract (``io/schema.py`` and the store tables in the
brief); :meth:`Catalog.from_repo` adds the columns a store actually has (for example household attributes in
``customers`` or in ``customer_attributes``), which is how "joined customer attributes where present" works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from patron.errors import InputError
from patron.io.schema import BEHAVIOUR, BTYD_SUMMARY, CUSTOMERS, RFM, TRANSACTION_COLUMNS, TRANSACTIONS

CUSTOMER_ATTRIBUTES = "customer_attributes"
"""Optional dataset table: ``customer_id`` plus any descriptive columns (age band, income, region, ...)."""

METRICS = "metrics"
"""The per-customer aggregates of the selected rows, computed by the query itself."""


@dataclass(frozen=True)
class Source:
    """A named source of a query: the store table behind it and the columns it may expose."""

    name: str
    table: str
    fields: tuple[str, ...]
    per_customer: bool
    # Per-customer aggregates of the selected rows (name -> SQL over the rows alias ``r``); row sources only.
    metrics: dict[str, str] = field(default_factory=dict)


_LINE_METRICS = {
    "revenue": 'SUM(r."amount")',
    "orders": 'COUNT(DISTINCT r."order_id")',
    "lines": "COUNT(*)",
    "quantity": 'SUM(r."quantity")',
    "first_purchase": 'MIN(r."timestamp")',
    "last_purchase": 'MAX(r."timestamp")',
}
_BEHAVIOUR_METRICS = {
    "revenue": 'SUM(r."amount")',
    "orders": 'SUM(r."orders")',
    "lines": "COUNT(*)",
    "quantity": 'SUM(r."quantity")',
}

STATIC_SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("order_lines", TRANSACTIONS, tuple(TRANSACTION_COLUMNS), False, _LINE_METRICS),
        Source(
            "behaviour",
            BEHAVIOUR,
            ("customer_id", "category", "orders", "quantity", "amount"),
            False,
            _BEHAVIOUR_METRICS,
        ),
        Source(
            "customers",
            CUSTOMERS,
            (
                "customer_id",
                "first_purchase",
                "last_purchase",
                "orders",
                "revenue",
                "email",
                "household_id",
                "n_source_ids",
            ),
            True,
        ),
        Source(
            "rfm",
            RFM,
            ("customer_id", "recency_days", "frequency", "monetary", "first_purchase", "last_purchase"),
            True,
        ),
        Source(
            "btyd_summary", BTYD_SUMMARY, ("customer_id", "frequency", "recency", "T", "monetary_value"), True
        ),
        Source(CUSTOMER_ATTRIBUTES, CUSTOMER_ATTRIBUTES, ("customer_id",), True),
    )
}

# Order in which an unqualified customer-level field name is looked up (after the query's own source).
CUSTOMER_LOOKUP_ORDER: tuple[str, ...] = ("customers", "rfm", "btyd_summary", CUSTOMER_ATTRIBUTES)


@dataclass(frozen=True)
class Catalog:
    """Sources by query name; build with :meth:`static` or :meth:`from_repo`."""

    sources: dict[str, Source]
    present: frozenset[str] = frozenset()  # sources whose table exists in the store

    @classmethod
    def static(cls) -> Catalog:
        """The contract's sources and columns, without looking at a store (all assumed present)."""
        return cls(dict(STATIC_SOURCES), frozenset(STATIC_SOURCES))

    @classmethod
    def from_repo(cls, repo) -> Catalog:
        """The contract's sources plus every column the store's tables really have."""
        sources: dict[str, Source] = {}
        present = set()
        for name, src in STATIC_SOURCES.items():
            if repo.has_table(src.table):
                present.add(name)
                extra = [c for c in repo.table_columns(src.table) if c not in src.fields]
                src = Source(src.name, src.table, (*src.fields, *extra), src.per_customer, src.metrics)
            sources[name] = src
        return cls(sources, frozenset(present))

    def source(self, name: object) -> Source:
        """The source called ``name``, or an error listing the valid ones."""
        if not isinstance(name, str) or name not in self.sources:
            raise InputError(f'unknown source {name!r} in "from"; valid sources: {", ".join(self.sources)}')
        return self.sources[name]
