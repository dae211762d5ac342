"""The relate query: parse and validate the JSON, compile it to parameterised SQL statements.

A query::

    {"from": "order_lines",
     "where": {"timestamp": {"$gte": "2017-01-01"}},
     "relate": ["category", "age", {"field": "rfm.frequency", "bands": 4}],
     "target": {"$top": {"revenue": 0.2}},
     "select": ["$lift", "$p", "$support"], "having": {"q_value": {"$lt": 0.05}},
     "order_by": "-lift", "limit": 10, "min_support": 0.01, "max_order": 3}

compiles to one statement giving each selected customer's target flag and one statement per ``relate`` dimension
giving the (customer, value) pairs that make the incidence matrix. All statements use ``?`` placeholders and run
unchanged on DuckDB and PostgreSQL (standard SQL: CTEs, ``cume_dist()``, ``CAST(... AS VARCHAR)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from patron.errors import InputError
from patron.models.segmentation.relate import RESULT_COLUMNS
from patron.query.catalog import Catalog, Source
from patron.query.conditions import Scope, compile_condition
from patron.storage.base import quote_identifier

QUERY_KEYS: tuple[str, ...] = (
    "from",
    "where",
    "relate",
    "target",
    "select",
    "having",
    "order_by",
    "limit",
    "min_support",
    "max_order",
    "level",
    "alternative",
)
DEFAULTS: dict[str, Any] = {"min_support": 0.01, "max_order": 3, "level": 0.95, "alternative": "greater"}
CID = quote_identifier("customer_id")


@dataclass(frozen=True)
class Statement:
    """A SQL statement and its positional parameters."""

    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True)
class Dimension:
    """One antecedent dimension: a field of the rows (``level="rows"``) or of the customer (``"customers"``)."""

    field: str
    label: str
    level: str
    bands: int | None


@dataclass(frozen=True)
class RelateQuery:
    """A validated relate query with its compiled statements.

    ``target`` gives (customer_id, flag) ordered by customer_id; ``incidence`` gives (dim, row_idx, value) for all
    dimensions at once (``dim`` indexes ``dimensions``; ``row_idx`` is the customer's row in ``target``).
    """

    source: Source
    target: Statement
    incidence: Statement
    dimensions: tuple[Dimension, ...]
    select: tuple[str, ...]
    having: dict | None
    order_by: str
    descending: bool
    limit: int | None
    min_support: float
    max_order: int
    level: float
    alternative: str
    raw: dict


def rows_cte(
    catalog: Catalog, source: Source, where: object | None, metrics: Iterable[str] | None = None
) -> tuple[str, list[Any]]:
    """``WITH lines AS (...)``: the rows of ``source`` meeting ``where`` (customer attributes may be named), and
    for row sources ``metrics``: one row per customer with the per-customer aggregates named in ``metrics``
    (all when None; only those a query uses, because COUNT(DISTINCT ...) over a million rows is not free)."""
    scope = Scope(catalog, source, "rows")
    cond, params = ("TRUE", []) if where is None else compile_condition(where, scope, where='"where"')
    table = quote_identifier(source.table)
    sql = f"WITH lines AS (\n  SELECT r.* FROM {table} AS r\n  {scope.joins()}\n  WHERE {cond}\n)"
    if not source.per_customer:
        wanted = (
            source.metrics if metrics is None else {k: v for k, v in source.metrics.items() if k in metrics}
        )
        aggregates = "".join(f",\n    {expr} AS {quote_identifier(name)}" for name, expr in wanted.items())
        sql += (
            f",\nmetrics AS (\n  SELECT r.{CID} AS {CID}{aggregates}\n  FROM lines AS r GROUP BY r.{CID}\n)"
        )
    return sql, params


def customer_base(source: Source) -> str:
    """The FROM item with one row per selected customer (metrics ``m`` or the customer-level rows ``r``)."""
    return "lines AS r" if source.per_customer else "metrics AS m"


def compile_customer_flag(
    catalog: Catalog, source: Source, where: object | None, condition: object, *, name: str
) -> Statement:
    """Each selected customer with a 0/1 flag for a customer-level ``condition`` (``$top``/``$bottom`` allowed)."""
    scope = Scope(catalog, source, "customers")
    cond, cond_params = compile_condition(condition, scope, where=f'"{name}"', allow_bands=True)
    cte, params = rows_cte(catalog, source, where, scope.used_metrics)
    base = scope.base_alias
    sql = (
        f"{cte}\nSELECT {base}.{CID} AS {CID}, CASE WHEN {cond} THEN 1 ELSE 0 END AS flag\n"
        f"FROM {customer_base(source)}\n{scope.joins()}\nORDER BY 1"
    )
    return Statement(sql, (*params, *cond_params))


def _universe(source: Source) -> str:
    """``universe``: each selected customer's row number, in the order of the target statement (by id), so the
    incidence pairs come back as integer rows instead of ids to look up again in Python."""
    base = "lines" if source.per_customer else "metrics"
    return f"universe AS (SELECT {CID}, ROW_NUMBER() OVER (ORDER BY {CID}) - 1 AS row_idx FROM {base})"


def _dimension(catalog: Catalog, source: Source, spec: object, index: int) -> tuple[Dimension, str, set[str]]:
    """One ``relate`` entry: its Dimension, the SELECT of its (dim, row_idx, value) rows, the metrics it uses."""
    path = f'"relate"[{index}]'
    if isinstance(spec, str):
        ref, bands = spec, None
    elif isinstance(spec, dict):
        unknown = sorted(set(spec) - {"field", "bands"})
        if unknown or "field" not in spec:
            raise InputError(
                f'{path} must be a field name or {{"field": NAME, "bands": N}}, got keys {sorted(spec)}'
            )
        ref, bands = spec["field"], spec.get("bands")
        if bands is not None and (
            isinstance(bands, bool) or not isinstance(bands, int) or not 2 <= bands <= 20
        ):
            raise InputError(f"{path}.bands must be an integer from 2 to 20, got {bands!r}")
    else:
        raise InputError(f"{path} must be a field name or an object, got {spec!r}")
    if not isinstance(ref, str) or not ref:
        raise InputError(f"{path} must name a field, got {ref!r}")
    column = ref.removeprefix(f"{source.name}.")
    if not source.per_customer and column in source.fields:
        if bands is not None:
            raise InputError(
                f"{path}: bands are for customer-level fields (metrics, customers, rfm, btyd_summary, "
                f"customer_attributes); {ref!r} is a field of each row of {source.name!r}"
            )
        col = f"r.{quote_identifier(column)}"
        # ``index`` is our own integer (the position in "relate"), never user text.
        sql = (
            f"SELECT DISTINCT {index} AS dim, u.row_idx AS row_idx, CAST({col} AS VARCHAR) AS value\n"
            f"FROM lines AS r JOIN universe AS u ON u.{CID} = r.{CID}\nWHERE {col} IS NOT NULL"
        )
        return Dimension(ref, column, "rows", None), sql, set()
    scope = Scope(catalog, source, "customers")
    expr = scope.resolve(ref, path)
    base = scope.base_alias
    sql = (
        f"SELECT {index} AS dim, u.row_idx AS row_idx, CAST({expr} AS VARCHAR) AS value\n"
        f"FROM {customer_base(source)} JOIN universe AS u ON u.{CID} = {base}.{CID}\n"
        f"{scope.joins()}\nWHERE {expr} IS NOT NULL"
    )
    return Dimension(ref, ref.rpartition(".")[2], "customers", bands), sql, scope.used_metrics


def compile_incidence(
    catalog: Catalog, source: Source, where: object | None, specs: list
) -> tuple[tuple[Dimension, ...], Statement]:
    """All dimensions in one statement (one pass over the rows): (dim, row_idx, value), values as text."""
    parts = [_dimension(catalog, source, spec, i) for i, spec in enumerate(specs)]
    metrics = set().union(*(used for _, _, used in parts))
    cte, params = rows_cte(catalog, source, where, metrics)
    body = "\nUNION ALL\n".join(f"({sql})" for _, sql, _ in parts)
    return tuple(d for d, _, _ in parts), Statement(f"{cte},\n{_universe(source)}\n{body}", tuple(params))


def _result_field(name: object, where: str) -> str:
    field = name.removeprefix("$") if isinstance(name, str) else name
    if field not in RESULT_COLUMNS:
        raise InputError(
            f"unknown result field {name!r} in {where}; valid: {', '.join('$' + c for c in RESULT_COLUMNS)}"
        )
    return field


def parse_relate_query(query: object, catalog: Catalog) -> RelateQuery:
    """Validate a relate query (every unknown key, field or operator is named) and compile its statements."""
    if not isinstance(query, dict):
        raise InputError(f"a relate query must be a JSON object, got {type(query).__name__}")
    unknown = [k for k in query if k not in QUERY_KEYS]
    if unknown:
        raise InputError(f"unknown query key(s) {unknown}; valid keys: {', '.join(QUERY_KEYS)}")
    source = catalog.source(query.get("from", "order_lines"))
    where = query.get("where")

    relate = query.get("relate")
    if not isinstance(relate, list) or not relate:
        raise InputError('"relate" must be a non-empty list of dimensions, e.g. ["category", "age"]')
    target = query.get("target")
    dims_spec = []
    for entry in relate:  # {"target": ...} inside the list is accepted as well as a top-level "target"
        if isinstance(entry, dict) and set(entry) == {"target"}:
            if target is not None:
                raise InputError('the target is given twice (in "relate" and as "target")')
            target = entry["target"]
        else:
            dims_spec.append(entry)
    if target is None:
        raise InputError('a relate query needs a "target", e.g. {"$top": {"revenue": 0.2}}')
    if not dims_spec:
        raise InputError('"relate" names no dimension besides the target')

    dimensions, incidence = compile_incidence(catalog, source, where, dims_spec)
    target_stmt = compile_customer_flag(catalog, source, where, target, name="target")

    select = query.get("select", ["$" + c for c in RESULT_COLUMNS if c != "pattern"])
    if not isinstance(select, list) or not select:
        raise InputError('"select" must be a non-empty list such as ["$lift", "$p", "$support"]')
    fields = tuple(dict.fromkeys(["pattern", *(_result_field(s, '"select"') for s in select)]))

    order_by = query.get("order_by", "-lift")
    if not isinstance(order_by, str):
        raise InputError(f'"order_by" must be a result field such as "-lift", got {order_by!r}')
    descending = order_by.startswith("-")
    order_field = _result_field(order_by.lstrip("-"), '"order_by"')

    limit = query.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f'"limit" must be a positive integer, got {limit!r}')
    having = query.get("having")
    if having is not None and not isinstance(having, dict):
        raise InputError(f'"having" must be a condition object, got {having!r}')

    opts = {k: query.get(k, v) for k, v in DEFAULTS.items()}
    ms = opts["min_support"]
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
        raise InputError(f'"min_support" must be a share in (0, 1) or a count >= 1, got {ms!r}')
    if opts["max_order"] not in (1, 2, 3) or isinstance(opts["max_order"], bool):
        raise InputError(f'"max_order" must be 1, 2 or 3, got {opts["max_order"]!r}')
    lv = opts["level"]
    if isinstance(lv, bool) or not isinstance(lv, int | float) or not 0 < lv < 1:
        raise InputError(f'"level" must be in (0, 1), got {lv!r}')
    if opts["alternative"] not in ("greater", "less"):
        raise InputError(f'"alternative" must be "greater" or "less", got {opts["alternative"]!r}')

    return RelateQuery(
        source=source,
        target=target_stmt,
        incidence=incidence,
        dimensions=dimensions,
        select=fields,
        having=having,
        order_by=order_field,
        descending=descending,
        limit=limit,
        min_support=float(ms),
        max_order=int(opts["max_order"]),
        level=float(lv),
        alternative=opts["alternative"],
        raw=query,
    )
