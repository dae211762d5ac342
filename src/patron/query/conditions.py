"""JSON conditions (``where``, ``target``, ``having``) -> parameterised SQL or a pandas mask.

Grammar (MongoDB-like; the full description is in docs/relate.md)::

    condition := { key: ..., key: ... }                 several keys are AND-ed
    key       := FIELD : SCALAR                         FIELD = SCALAR   (null -> IS NULL)
               | FIELD : { OP : VALUE, ... }            several operators are AND-ed
               | "$and" : [condition, ...]  |  "$or" : [condition, ...]  |  "$not" : condition
               | "$top" : { FIELD : SHARE }  |  "$bottom" : { FIELD : SHARE }   (customer-level only)
    OP        := $eq $ne $gt $gte $lt $lte (SCALAR)  |  $in $nin ([SCALAR, ...], non-empty)
    FIELD     := column | source.column                 only names in the catalog; always quoted

Values are never pasted into SQL: each becomes a ``?`` parameter, so ``"'; DROP TABLE transactions; --"`` is only
a string to compare with. Comparisons follow SQL: a NULL never matches ``$eq``/``$ne``/``$gt``..., also under
``$not``; ask for missing values with ``{"field": null}`` or ``{"$eq": null}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError, NotFoundError
from patron.query.catalog import CUSTOMER_LOOKUP_ORDER, METRICS, Catalog, Source
from patron.storage.base import quote_identifier

COMPARISONS: dict[str, str] = {"$eq": "=", "$ne": "<>", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
LIST_OPERATORS: tuple[str, ...] = ("$in", "$nin")
LOGICAL: tuple[str, ...] = ("$and", "$or", "$not")
BANDS: tuple[str, ...] = ("$top", "$bottom")
FIELD_OPERATORS: tuple[str, ...] = (*COMPARISONS, *LIST_OPERATORS)

Scalar = str | int | float | bool | None


@dataclass
class Scope:
    """Which sources a condition may name, in lookup order, and which of them it used (to join them).

    ``context="rows"``: the rows of the query's source (alias ``r``) plus customer-level sources joined on
    ``customer_id``. ``context="customers"``: one row per customer: the per-customer metrics of the selected rows
    (alias ``m``) when the source has rows, else the source itself (alias ``r``), plus the customer-level sources.
    """

    catalog: Catalog
    source: Source
    context: str
    used: set[str] = field(default_factory=set)
    used_metrics: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.order: list[tuple[str, str, tuple[str, ...]]] = []
        if self.context == "customers" and not self.source.per_customer:
            self.order.append((METRICS, "m", ("customer_id", *self.source.metrics)))
        else:
            self.order.append((self.source.name, "r", self.source.fields))
        for name in CUSTOMER_LOOKUP_ORDER:
            if name != self.source.name:
                self.order.append((name, quote_identifier(name), self.catalog.sources[name].fields))

    @property
    def base_alias(self) -> str:
        return self.order[0][1]

    def _visible(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The sources a user can name here: the query's own, and the others the store has."""
        return [o for i, o in enumerate(self.order) if i == 0 or o[0] in self.catalog.present]

    def valid_fields(self) -> list[str]:
        seen: list[str] = []
        for _name, _, fields in self._visible():
            seen.extend(f for f in fields if f not in seen)
        return seen

    def _valid_text(self) -> str:
        sources = ", ".join(name for name, _, _ in self._visible())
        return f"{', '.join(self.valid_fields())} (qualify a field as source.field; sources here: {sources})"

    def resolve(self, ref: object, where: str) -> str:
        """The quoted SQL expression of a field reference, or an error naming it and the valid fields."""
        if not isinstance(ref, str) or not ref:
            raise InputError(f"field names must be non-empty strings, got {ref!r} in {where}")
        prefix, _, rest = ref.partition(".")
        candidates = self.order
        column = ref
        if rest and any(prefix == name for name, _, _ in self.order):
            candidates = [o for o in self.order if o[0] == prefix]
            column = rest
        for name, alias, fields in candidates:
            if column in fields:
                self._use(name)
                if name == METRICS and column != "customer_id":
                    self.used_metrics.add(column)
                return f"{alias}.{quote_identifier(column)}"
        raise InputError(f"unknown field {ref!r} in {where}; valid fields: {', '.join(self.valid_fields())}")

    def _use(self, name: str) -> None:
        if name == self.order[0][0]:
            return
        if name not in self.catalog.present:
            raise NotFoundError(
                f"the query names a field of {name!r}, but the store has no table "
                f"{self.catalog.sources[name].table!r} (run the step that makes it)"
            )
        self.used.add(name)

    def joins(self) -> str:
        """LEFT JOINs of the customer-level sources the conditions used (one row per customer each)."""
        parts = []
        base = self.base_alias
        for name, alias, _ in self.order[1:]:
            if name in self.used:
                table = quote_identifier(self.catalog.sources[name].table)
                # CAST: a store may hold ids as integers in one table and text in another.
                parts.append(
                    f"LEFT JOIN {table} AS {alias} ON CAST({alias}.{quote_identifier('customer_id')} AS VARCHAR)"
                    f" = CAST({base}.{quote_identifier('customer_id')} AS VARCHAR)"
                )
        return "\n".join(parts)


def _scalar(value: object, where: str) -> Scalar:
    if value is None or isinstance(value, str | bool | int):
        return value  # type: ignore[return-value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where}: numbers must be finite, got {value!r}")
        return value
    raise InputError(
        f"{where}: expected a string, number, boolean or null, got {type(value).__name__} {value!r}"
    )


def _unknown_operator(op: str, where: str, *, allow_bands: bool) -> InputError:
    valid = [*LOGICAL, *FIELD_OPERATORS, *(BANDS if allow_bands else ())]
    hint = (
        ""
        if allow_bands or op not in BANDS
        else " ($top/$bottom are allowed in target and segment conditions)"
    )
    return InputError(f"unknown operator {op!r} in {where}; valid operators: {', '.join(valid)}{hint}")


def compile_condition(
    cond: object, scope: Scope, *, where: str = "where", allow_bands: bool = False
) -> tuple[str, list[Any]]:
    """Compile a JSON condition to a SQL boolean expression with ``?`` placeholders and its parameters."""
    if not isinstance(cond, dict) or not cond:
        raise InputError(f"{where} must be a non-empty JSON object, got {cond!r}")
    parts: list[str] = []
    params: list[Any] = []
    for key, value in cond.items():
        path = f"{where}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise InputError(f"{path} must be a non-empty list of conditions, got {value!r}")
            subs = [
                compile_condition(v, scope, where=f"{path}[{i}]", allow_bands=allow_bands)
                for i, v in enumerate(value)
            ]
            joiner = " AND " if key == "$and" else " OR "
            parts.append("(" + joiner.join(s for s, _ in subs) + ")")
            for _, p in subs:
                params.extend(p)
        elif key == "$not":
            sql, p = compile_condition(value, scope, where=path, allow_bands=allow_bands)
            parts.append(f"(NOT {sql})")
            params.extend(p)
        elif key in BANDS and allow_bands:
            sql, p = _band(key, value, scope, path)
            parts.append(sql)
            params.extend(p)
        elif key.startswith("$"):
            raise _unknown_operator(key, where, allow_bands=allow_bands)
        else:
            expr = scope.resolve(key, where)
            sql, p = _field_condition(expr, value, path, allow_bands=allow_bands)
            parts.append(sql)
            params.extend(p)
    return (parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"), params


def _band(key: str, value: object, scope: Scope, path: str) -> tuple[str, list[Any]]:
    if not isinstance(value, dict) or len(value) != 1:
        raise InputError(
            f'{path} must be one {{"field": share}} pair, e.g. {{"revenue": 0.2}}, got {value!r}'
        )
    ((ref, share),) = value.items()
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InputError(f"{path}.{ref} must be a share in (0, 1], got {share!r}")
    expr = scope.resolve(ref, path)
    direction = "DESC" if key == "$top" else "ASC"
    # cume_dist is standard SQL (DuckDB and PostgreSQL): customers tied at the boundary are all left out, so the
    # band holds at most the asked share. NULLs are ordered last and never in a band.
    sql = f"({expr} IS NOT NULL AND cume_dist() OVER (ORDER BY {expr} {direction} NULLS LAST) <= ?)"
    return sql, [float(share)]


def _field_condition(expr: str, value: object, path: str, *, allow_bands: bool) -> tuple[str, list[Any]]:
    if not isinstance(value, dict):
        value = {"$eq": value}
    if not value:
        raise InputError(f"{path} has no operator; use one of {', '.join(FIELD_OPERATORS)}")
    parts: list[str] = []
    params: list[Any] = []
    for op, operand in value.items():
        where = f"{path}.{op}"
        if op in COMPARISONS:
            scalar = _scalar(operand, where)
            if scalar is None:
                if op not in ("$eq", "$ne"):
                    raise InputError(f"{where}: null can only be compared with $eq or $ne")
                parts.append(f"{expr} IS {'NOT ' if op == '$ne' else ''}NULL")
            else:
                parts.append(f"{expr} {COMPARISONS[op]} ?")
                params.append(scalar)
        elif op in LIST_OPERATORS:
            if not isinstance(operand, list) or not operand:
                raise InputError(f"{where} needs a non-empty list of values, got {operand!r}")
            values = [_scalar(v, f"{where}[{i}]") for i, v in enumerate(operand)]
            if any(v is None for v in values):
                raise InputError(f"{where}: null cannot be in a list; use {{'$eq': null}}")
            marks = ", ".join("?" for _ in values)
            parts.append(f"{expr} {'NOT ' if op == '$nin' else ''}IN ({marks})")
            params.extend(values)
        else:
            raise InputError(
                f"unknown operator {op!r} in {path}; valid operators on a field: {', '.join(FIELD_OPERATORS)}"
                + ("" if op not in (*LOGICAL, *BANDS) else f" ({op} goes outside the field, not inside it)")
            )
    return (parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"), params


# --- the same grammar over a pandas frame (used for ``having`` on scan results) ---------------------------------
def evaluate_condition(cond: object, frame: pd.DataFrame, fields: Sequence[str], *, where: str) -> np.ndarray:
    """Boolean mask of ``frame`` rows meeting ``cond`` (no ``$top``/``$bottom``); fields must be in ``fields``.

    SQL's three-valued logic is kept (pandas' nullable booleans follow Kleene logic, as SQL does): a comparison
    with a missing value is unknown, ``$not`` of unknown is unknown, and only rows that are true are kept, so a
    ``having`` over a frame selects what the same ``where`` selects in the store.
    """
    return _evaluate(cond, frame, fields, where).fillna(False).to_numpy(dtype=bool)


def _evaluate(cond: object, frame: pd.DataFrame, fields: Sequence[str], where: str) -> pd.arrays.BooleanArray:
    if not isinstance(cond, dict) or not cond:
        raise InputError(f"{where} must be a non-empty JSON object, got {cond!r}")
    mask = pd.array(np.ones(len(frame), dtype=bool), dtype="boolean")
    for key, value in cond.items():
        path = f"{where}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise InputError(f"{path} must be a non-empty list of conditions, got {value!r}")
            subs = [_evaluate(v, frame, fields, f"{path}[{i}]") for i, v in enumerate(value)]
            combined = subs[0]
            for sub in subs[1:]:
                combined = (combined & sub) if key == "$and" else (combined | sub)
            mask = mask & combined
        elif key == "$not":
            mask = mask & ~_evaluate(value, frame, fields, path)
        elif key.startswith("$"):
            raise InputError(
                f"unknown operator {key!r} in {where}; valid operators: {', '.join((*LOGICAL, *FIELD_OPERATORS))}"
            )
        else:
            name = key.removeprefix("$")
            if name not in fields:
                raise InputError(f"unknown field {key!r} in {where}; valid fields: {', '.join(fields)}")
            mask = mask & _field_mask(frame[name], value, path)
    return mask


def _unknown_where_missing(values: np.ndarray, present: np.ndarray) -> pd.arrays.BooleanArray:
    out = pd.array(values.astype(bool), dtype="boolean")
    out[~present] = pd.NA
    return out


def _field_mask(column: pd.Series, value: object, path: str) -> pd.arrays.BooleanArray:
    if not isinstance(value, dict):
        value = {"$eq": value}
    if not value:
        raise InputError(f"{path} has no operator; use one of {', '.join(FIELD_OPERATORS)}")
    mask = pd.array(np.ones(len(column), dtype=bool), dtype="boolean")
    present = column.notna().to_numpy()
    for op, operand in value.items():
        where = f"{path}.{op}"
        if op in COMPARISONS:
            scalar = _scalar(operand, where)
            if scalar is None:
                if op not in ("$eq", "$ne"):
                    raise InputError(f"{where}: null can only be compared with $eq or $ne")
                mask = mask & pd.array(present if op == "$ne" else ~present, dtype="boolean")
                continue
            compare = {
                "$eq": column.eq,
                "$ne": column.ne,
                "$gt": column.gt,
                "$gte": column.ge,
                "$lt": column.lt,
                "$lte": column.le,
            }[op]
            mask = mask & _unknown_where_missing(compare(scalar).to_numpy(dtype=bool), present)
        elif op in LIST_OPERATORS:
            if not isinstance(operand, list) or not operand:
                raise InputError(f"{where} needs a non-empty list of values, got {operand!r}")
            values = [_scalar(v, f"{where}[{i}]") for i, v in enumerate(operand)]
            if any(v is None for v in values):
                raise InputError(f"{where}: null cannot be in a list; use {{'$eq': null}}")
            inside = column.isin(values).to_numpy(dtype=bool)
            mask = mask & _unknown_where_missing(inside if op == "$in" else ~inside, present)
        else:
            raise InputError(
                f"unknown operator {op!r} in {path}; valid operators on a field: {', '.join(FIELD_OPERATORS)}"
            )
    return mask
