"""Reading, validating, cleaning and resolving transaction data (the first layer of Patron).

The pieces, in the order the ingest service runs them:

* :mod:`patron.io.readers`: CSV (also gzip and whitespace-separated), Parquet, Excel, DuckDB and PostgreSQL
  sources into one raw table with line numbers.
* :mod:`patron.io.mapping`: which source column is which canonical column (recognised from headers or given).
* :mod:`patron.io.validation`: cast to the canonical schema, with errors naming file, row, column and value.
* :mod:`patron.io.identity`: deterministic identity resolution and households.
* :mod:`patron.io.cleaning`: configurable rules with an account of every row and every unit of revenue.
"""

from patron.io.cleaning import CleaningResult, CleaningRules, clean
from patron.io.identity import normalize_address, normalize_email, resolve_identities
from patron.io.mapping import ColumnMapping, detect_mapping, resolve_mapping
from patron.io.readers import RawTable, Source, as_source, read_source
from patron.io.validation import to_canonical

__all__ = [
    "CleaningResult",
    "CleaningRules",
    "ColumnMapping",
    "RawTable",
    "Source",
    "as_source",
    "clean",
    "detect_mapping",
    "normalize_address",
    "normalize_email",
    "read_source",
    "resolve_identities",
    "resolve_mapping",
    "to_canonical",
]
