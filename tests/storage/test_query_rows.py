"""``query_rows`` (the hot-path lookup) agrees with ``query`` on both backends, placeholders included."""

from __future__ import annotations

import pandas as pd


def test_query_rows_matches_query(repo) -> None:
    repo.replace_tables({"t": pd.DataFrame({"k": ["a", "b", "?"], "v": [1, 2, 3]})})
    sql = "SELECT k, v FROM t WHERE k <> ? AND v >= ? ORDER BY v"
    assert repo.query_rows(sql, ["a", 2]) == list(
        repo.query(sql, ["a", 2]).itertuples(index=False, name=None)
    )
    assert repo.query_rows("SELECT v FROM t WHERE k = '?'") == [(3,)]
    assert repo.query_rows("SELECT v FROM t WHERE k = ?", ["zzz"]) == []
