"""The shared SQL plumbing: time units, literals and where the SQL runs."""

from __future__ import annotations

import duckdb
import pytest

from patron.errors import ConfigError
from patron.features._sql import MEAN_GREGORIAN_MONTH_DAYS, runner_for, time_unit, timestamp_literal


def test_time_unit_aliases() -> None:
    assert time_unit("week") is time_unit("W") is time_unit("w")
    assert time_unit("month").days == MEAN_GREGORIAN_MONTH_DAYS == 365.2425 / 12
    assert time_unit("days").sql_part == "day"


def test_timestamp_literal_is_parsed_not_pasted() -> None:
    assert timestamp_literal("1997-09-30") == "CAST('1997-09-30 00:00:00.000000' AS TIMESTAMP)"
    with pytest.raises(ConfigError, match="is not a date"):
        timestamp_literal("1997-09-30'; DROP TABLE transactions; --")


def test_runner_for_duckdb_and_unknown_objects() -> None:
    con = duckdb.connect(":memory:")
    run, dialect = runner_for(con)
    assert dialect == "duckdb" and run("SELECT 41 + 1 AS x").iloc[0, 0] == 42
    with pytest.raises(ConfigError, match="cannot run SQL on list"):
        runner_for([])
