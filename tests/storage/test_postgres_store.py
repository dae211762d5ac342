"""PostgreSQL specifics: placeholder translation, migrations, types round-trip, search_path isolation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.storage import open_repository
from patron.storage.postgres_store import MIGRATIONS, translate_placeholders
from tests.storage.stores import postgres_schema


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("SELECT '?' AS q, ? AS p", "SELECT '?' AS q, %s AS p"),
        (
            "SELECT \"a?b\" FROM t WHERE x LIKE '50%' AND y = ?",
            "SELECT \"a?b\" FROM t WHERE x LIKE '50%%' AND y = %s",
        ),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , %s"),
        ("SELECT 5 % 3 -- what?\n, ?", "SELECT 5 %% 3 -- what?\n, %s"),
    ],
)
def test_translate_placeholders(sql: str, expected: str) -> None:
    assert translate_placeholders(sql) == expected


pytestmark_pg = pytest.mark.postgres


@pytestmark_pg
def test_migrations_apply_once_and_are_recorded() -> None:
    with postgres_schema() as url:
        with open_repository(url) as repo:
            assert repo.schema_version() == MIGRATIONS[-1][0]
            assert repo.has_table("runs") and repo.has_table("model_artifacts")
            assert repo.migrate() == []  # nothing pending the second time
        with open_repository(url) as repo:
            log = repo.query("SELECT version, description FROM schema_migrations ORDER BY version")
            assert log["version"].tolist() == [m[0] for m in MIGRATIONS]


@pytestmark_pg
def test_types_round_trip_and_sql_injection_is_only_a_value() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "'; DROP TABLE t; --"],
            "n": np.array([1, 2, 3], dtype="int64"),
            "x": [0.5, np.nan, 2.5],
            "flag": [True, False, True],
            "ts": pd.to_datetime(["2024-01-01 00:00", "2024-02-01 12:30", None]),
            "T": [1.0, 2.0, 3.0],
        }
    )
    with postgres_schema() as url, open_repository(url) as repo:
        repo.replace_tables({"t": frame})
        back = repo.read_table("t")
        assert back.columns.tolist() == frame.columns.tolist()
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)
        hit = repo.query("SELECT n FROM t WHERE customer_id = ?", ["'; DROP TABLE t; --"])
        assert hit["n"].tolist() == [3]
        assert repo.query("SELECT SUM(n) AS s, AVG(n) AS m FROM t").iloc[0].tolist() == [6.0, 2.0]
        assert repo.query("SELECT n FROM t WHERE customer_id = ANY(?) ORDER BY n", [["a", "b"]])[
            "n"
        ].tolist() == [1, 2]


@pytestmark_pg
def test_schemas_isolate_stores() -> None:
    with postgres_schema() as a_url, postgres_schema() as b_url:
        with open_repository(a_url) as a, open_repository(b_url) as b:
            a.replace_tables({"only_in_a": pd.DataFrame({"x": [1]})})
            assert a.has_table("only_in_a") and not b.has_table("only_in_a")


@pytestmark_pg
def test_bulk_copy_keeps_every_value_exactly() -> None:
    """The Arrow CSV COPY path: NULL vs empty text, quotes, commas, newlines, backslashes, non-ASCII, float
    round-trip to the last bit (and -0.0, inf), big integers, nanosecond timestamps (rounded to PostgreSQL's
    microseconds); and a frame the CSV path cannot write (bytes) still goes through the row path."""
    rng = np.random.default_rng(5)
    floats = np.concatenate(
        [rng.normal(size=997) * 10.0 ** rng.integers(-300, 300, 997), [-0.0, np.inf, -np.inf]]
    )
    text = ["", "a,b", 'say "hi"', "two\nlines", "back\\slash", "naïve €", "NULL", "\\N"] * 125
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(1000)],
            "text": [None if i % 97 == 0 else t for i, t in enumerate(text)],
            "x": floats,
            "n": np.arange(1000, dtype="int64") * (2**53 + 1),
            "flag": np.arange(1000) % 3 == 0,
            "ts": pd.Timestamp("2024-01-01 00:00:00.123456789") + pd.to_timedelta(np.arange(1000), unit="s"),
        }
    )
    frame.loc[frame.index % 50 == 0, "x"] = np.nan
    with postgres_schema() as url, open_repository(url) as repo:
        with repo.run("bulk") as run:
            run.write("bulk", frame)
        back = repo.query("SELECT * FROM bulk ORDER BY n").drop(columns="run_id")
        expected = frame.assign(ts=frame["ts"].dt.round("us"))
        pd.testing.assert_frame_equal(back, expected, check_dtype=False)
        assert np.array_equal(np.signbit(back["x"].fillna(1.0)), np.signbit(frame["x"].fillna(1.0)))
        assert back["text"].isna().sum() == frame["text"].isna().sum() and (back["text"] == "").sum() > 0
        repo.replace_tables({"blobs": pd.DataFrame({"k": [1, 2], "payload": [b"\x00\x01", b"\xff"]})})
        assert [bytes(v) for v in repo.read_table("blobs")["payload"]] == [b"\x00\x01", b"\xff"]
