"""A labelled customer table (one row per customer: profile, services, a label) -> features and a 0/1 target.

The generic supervised case, e.g. IBM's Telco customer churn table. Rules, applied column by column:

* the id column becomes the index (it must be unique) and is not a feature;
* a text column whose non-blank values all parse as numbers is numeric, blanks becoming missing (Telco's
  ``TotalCharges`` holds " " for the 11 customers with ``tenure == 0``; they are kept, with a missing value that
  LightGBM routes and the logistic baseline imputes);
* other text columns become pandas categoricals (LightGBM splits on them natively);
* the target is mapped to 1 for the ``positive`` value (default: the first of Yes/True/1/churn/churned present,
  case-insensitive) and 0 for every other non-missing value; a missing target is an error naming the row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError

POSITIVE_VALUES = ("yes", "true", "1", "churn", "churned", "y", "t")


def labelled_table(
    frame: pd.DataFrame,
    target: str,
    *,
    id_column: str | None = None,
    positive: Any = None,
    drop: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, pd.Series]:
    """Split a labelled table into ``(X, y)``; see the module docstring for the rules."""
    if target not in frame.columns:
        raise InputError(
            f"no target column {target!r} (columns: {list(frame.columns)})",
            column=target,
            expected="the label",
        )
    data = frame.copy()
    if id_column is not None:
        if id_column not in data.columns:
            raise InputError(f"no id column {id_column!r}", column=id_column, expected="a customer id column")
        dup = data[id_column].duplicated()
        if dup.any():
            raise InputError(
                f"id {data.loc[dup, id_column].iloc[0]!r} appears more than once (row {int(np.argmax(dup)) + 2})",
                column=id_column,
                expected="one row per customer",
            )
        data = data.set_index(id_column)
        data.index = data.index.astype(str)
        data.index.name = "customer_id"
    y = encode_target(data.pop(target), positive=positive)
    missing = [c for c in drop if c not in data.columns]
    if missing:
        raise InputError(f"cannot drop column(s) {missing}: not in the table", column=missing[0])
    X = data.drop(columns=list(drop))
    for col in X.columns:
        X[col] = _feature(X[col])
    return X, y


def encode_target(values: pd.Series, *, positive: Any = None) -> pd.Series:
    """Map a label column to 0/1 (see the module docstring)."""
    if values.isna().any():
        first = values.index[values.isna().to_numpy()][0]
        raise InputError(
            f"{int(values.isna().sum())} row(s) have no label (first: {first!r})",
            column=str(values.name),
            expected="a label on every row",
        )
    text = values.astype(str).str.strip()
    distinct = text.unique()
    if positive is None:
        lowered = {v.lower(): v for v in distinct}
        hit = next((lowered[p] for p in POSITIVE_VALUES if p in lowered), None)
        if hit is None:
            raise InputError(
                f"cannot tell which label value is the positive class among {sorted(distinct)[:10]}",
                column=str(values.name),
                expected="pass positive=... (e.g. positive='Yes')",
            )
        positive = hit
    positive = str(positive).strip()
    if positive not in set(distinct):
        raise InputError(
            f"the positive value {positive!r} never occurs",
            column=str(values.name),
            expected=f"one of {sorted(distinct)[:10]}",
        )
    if len(distinct) != 2:
        raise InputError(
            f"the label has {len(distinct)} distinct values {sorted(distinct)[:10]}",
            column=str(values.name),
            expected="exactly two",
        )
    return (text == positive).astype("int64").rename("label")


def _feature(col: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("int64")
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    text = col.astype("string").str.strip()
    blank = text.isna() | (text == "")
    parsed = pd.to_numeric(text.where(~blank), errors="coerce")
    if (parsed.notna() | blank).all() and (~blank).any():
        return parsed.astype("float64")
    return text.where(~blank).astype("category")
