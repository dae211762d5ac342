"""The JSON query language: conditions and relate queries compiled to parameterised SQL (see docs/relate.md)."""

from __future__ import annotations

from patron.query.catalog import Catalog, Source
from patron.query.conditions import Scope, compile_condition, evaluate_condition
from patron.query.relate_query import RelateQuery, Statement, parse_relate_query

__all__ = [
    "Catalog",
    "RelateQuery",
    "Scope",
    "Source",
    "Statement",
    "compile_condition",
    "evaluate_condition",
    "parse_relate_query",
]
