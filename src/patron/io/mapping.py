"""Which source column is which canonical column.

A :class:`ColumnMapping` names, for each canonical input column of :mod:`patron.io.schema`, the source column that
holds it. :func:`detect_mapping` recognises common layouts from their header names (UCI Online Retail, the
Complete Journey, CDNOW and the many ``order_id``/``customer_id``/``date`` exports) by comparing names with the
case, spaces, underscores and dashes taken out; a mapping given by the user wins over what is detected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace

from patron.errors import ConfigError, InputError

# Canonical input columns a source can provide (the rest of the schema is derived: source, source_row, ...).
MAPPABLE: tuple[str, ...] = (
    "customer_id",
    "timestamp",
    "amount",
    "quantity",
    "unit_price",
    "order_id",
    "product",
    "product_name",
    "category",
    "channel",
    "region",
    "email",
    "address",
)

# Header synonyms, compared after `_key` (lower case, no spaces/underscores/dashes/dots). First match wins, so
# the more specific names come first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid",
        "customer",
        "custid",
        "clientid",
        "client",
        "householdid",
        "household",
        "householdkey",
        "userid",
        "memberid",
        "accountid",
        "buyerid",
        "shopperid",
        "customerno",
        "customernumber",
    ),
    "timestamp": (
        "invoicedate",
        "transactiontimestamp",
        "timestamp",
        "datetime",
        "orderdate",
        "transactiondate",
        "purchasedate",
        "orderpurchasetimestamp",
        "saledate",
        "date",
        "time",
        "day",
    ),
    "amount": (
        "amount",
        "salesvalue",
        "dollarvalue",
        "revenue",
        "sales",
        "total",
        "totalprice",
        "totalamount",
        "linetotal",
        "value",
        "spend",
        "ordervalue",
        "payment",
        "paymentvalue",
    ),
    "quantity": ("quantity", "qty", "numberofcds", "units", "unitcount", "count", "items", "nitems"),
    "unit_price": ("unitprice", "price", "itemprice", "priceeach", "unitcost"),
    "order_id": (
        "invoiceno",
        "invoice",
        "invoiceid",
        "invoicenumber",
        "orderid",
        "order",
        "orderno",
        "ordernumber",
        "basketid",
        "basket",
        "transactionid",
        "receiptid",
        "receipt",
        "ticketid",
    ),
    "product": (
        "stockcode",
        "productid",
        "product",
        "sku",
        "itemid",
        "item",
        "articleid",
        "productcode",
        "itemcode",
    ),
    "product_name": (
        "description",
        "productname",
        "itemname",
        "productdescription",
        "itemdescription",
        "name",
    ),
    "category": ("category", "productcategory", "department", "categoryname", "productgroup"),
    "channel": ("channel", "storeid", "store", "saleschannel", "shop"),
    "region": ("country", "region", "state", "market", "countrycode"),
    "email": ("email", "emailaddress", "mail", "customeremail"),
    "address": ("address", "postaladdress", "streetaddress", "shippingaddress", "billingaddress"),
}

# Headerless layouts recognised by column count and a date column in YYYYMMDD (Hardie's CDNOW files have no
# header; lifetimes added one to the master file only).
HEADERLESS_LAYOUTS: dict[int, tuple[tuple[str, ...], int]] = {
    5: (("customer_id", "customer_index", "date", "number_of_cds", "dollar_value"), 2),
    4: (("customer_id", "date", "number_of_cds", "dollar_value"), 1),
}
_YYYYMMDD = re.compile(r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.#]+", "", str(name)).lower()


@dataclass(frozen=True)
class ColumnMapping:
    """Source column names for the canonical columns (None: the source has no such column).

    Either ``amount`` or both ``quantity`` and ``unit_price`` must be known; ``customer_id`` and ``timestamp``
    are required. ``timestamp_format`` is an optional ``strptime`` format (e.g. ``"%d/%m/%Y %H:%M"``) for
    timestamps that are not ISO 8601; without it a format is chosen from a short list by trying a sample.
    """

    customer_id: str | None = None
    timestamp: str | None = None
    amount: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    order_id: str | None = None
    product: str | None = None
    product_name: str | None = None
    category: str | None = None
    channel: str | None = None
    region: str | None = None
    email: str | None = None
    address: str | None = None
    timestamp_format: str | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> ColumnMapping:
        """Parse ``canonical=Source`` strings as given on the command line (``--map customer_id=Cust``)."""
        values: dict[str, str] = {}
        for pair in pairs:
            canonical, sep, source = pair.partition("=")
            if not sep or not canonical.strip() or not source.strip():
                raise ConfigError(f"--map expects canonical=source_column, got {pair!r}")
            values[canonical.strip()] = source.strip()
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: Mapping[str, str | None]) -> ColumnMapping:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown canonical column(s) in the mapping: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**dict(values))

    def as_dict(self) -> dict[str, str]:
        """Canonical -> source column, only the columns that are mapped (timestamp_format excluded)."""
        return {k: v for k, v in asdict(self).items() if v is not None and k in MAPPABLE}

    def merged_over(self, detected: ColumnMapping) -> ColumnMapping:
        """This mapping's explicit entries on top of ``detected``."""
        explicit = {k: v for k, v in asdict(self).items() if v is not None}
        return replace(detected, **explicit)


def detect_mapping(columns: Sequence[str]) -> ColumnMapping:
    """Recognise canonical columns among ``columns`` by header name.

    Each source column is used at most once; canonical columns are filled in the order of :data:`MAPPABLE`
    and, for each, the first synonym present wins.
    """
    by_key: dict[str, str] = {}
    for col in columns:
        by_key.setdefault(_key(col), col)
    used: set[str] = set()
    found: dict[str, str] = {}
    for canonical in MAPPABLE:
        for synonym in SYNONYMS[canonical]:
            col = by_key.get(synonym)
            if col is not None and col not in used:
                found[canonical] = col
                used.add(col)
                break
    # A line with both an amount and quantity x price: keep the amount only when there is no unit price, so
    # the line value is computed one way (quantity x unit price, the more granular).
    if "unit_price" in found and "quantity" in found and "amount" in found:
        del found["amount"]
    return ColumnMapping(**found)


def headerless_names(first_row: Sequence[str]) -> list[str] | None:
    """Column names for a recognised headerless layout (CDNOW), or None."""
    layout = HEADERLESS_LAYOUTS.get(len(first_row))
    if layout is None:
        return None
    names, date_pos = layout
    return list(names) if _YYYYMMDD.match(str(first_row[date_pos]).strip()) else None


def resolve_mapping(
    columns: Sequence[str], mapping: ColumnMapping | Mapping[str, str] | None, *, source: str
) -> ColumnMapping:
    """Detected mapping with the user's entries on top, checked against the source's columns.

    Raises
    ------
    InputError
        naming the canonical columns that are missing and the columns the source has.
    """
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        mapping = ColumnMapping.from_dict(mapping)
    detected = detect_mapping(columns)
    result = mapping.merged_over(detected) if mapping is not None else detected
    present = list(columns)
    lookup = {c.lower(): c for c in present}
    fixed: dict[str, str] = {}
    for canonical, col in result.as_dict().items():
        if col in present:
            continue
        if col.lower() in lookup:  # forgive the case of a name given by hand
            fixed[canonical] = lookup[col.lower()]
            continue
        raise InputError(
            f"the mapping names column {col!r} for {canonical}, but the source has no such column; "
            f"columns present: {', '.join(map(str, present))}",
            file=source,
        )
    result = replace(result, **fixed)
    missing = [c for c in ("customer_id", "timestamp") if getattr(result, c) is None]
    if result.amount is None and (result.quantity is None or result.unit_price is None):
        missing.append("amount (or quantity and unit_price)")
    if missing:
        hints = "; ".join(
            f"{m.split()[0]}: one of {', '.join(SYNONYMS[m.split()[0]][:5])}..."
            for m in missing
            if m.split()[0] in SYNONYMS
        )
        raise InputError(
            f"missing required column(s): {', '.join(missing)}; columns present: "
            f"{', '.join(map(str, present))}. Name them with a mapping (--map customer_id=YourColumn) "
            f"or use a recognised header ({hints})",
            file=source,
        )
    return result
