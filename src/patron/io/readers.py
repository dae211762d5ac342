"""Read transaction sources into an Arrow table with the source's own column names.

Every reader returns a :class:`RawTable`: the rows as they are in the source (CSV values as text, typed sources
with their types), plus a ``__line`` column holding where each row is in the source (the 1-based line number in
a text file with the header as line 1, the 1-based row number in a spreadsheet sheet, or the 1-based record
number in a Parquet file or database table), so validation errors can point at it.

Sources are described by :class:`Source`; :func:`as_source` turns what a user types into one:

* a path: ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``), ``.parquet``, ``.xlsx``;
* ``duckdb:PATH::TABLE`` (or ``PATH.duckdb::TABLE``): a table of a DuckDB file;
* ``postgresql://USER@HOST:PORT/DB::TABLE`` or ``...::SELECT ...``: a PostgreSQL table or query;
* a pandas DataFrame.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from patron.errors import InputError
from patron.io.mapping import headerless_names

LINE = "__line"
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".dat", ".psv"}
_NUMBERISH = re.compile(r"^[+-]?(\d+([.,]\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where transactions come from.

    kind:
        ``csv``, ``parquet``, ``excel``, ``duckdb``, ``postgres`` or ``frame``.
    location:
        A file path, a DuckDB file path or a PostgreSQL URL (empty for a frame).
    table, query:
        For ``duckdb``/``postgres``: the table to read, or a SELECT to run.
    encoding:
        Text encoding of a CSV file (DuckDB's names: ``utf-8``, ``latin-1``, ``utf-16``).
    name:
        How the source is named in errors, in the ``source`` column and in ``identity_links``.
    """

    kind: str
    location: str = ""
    table: str | None = None
    query: str | None = None
    encoding: str = "utf-8"
    name: str = ""
    frame: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            label = self.location or "frame"
            if self.kind == "postgres":
                label = re.sub(r"//[^@/]*@", "//", label)  # never echo a password
            if self.table or self.query:
                label += "::" + (self.table or "query")
            object.__setattr__(self, "name", label)


def as_source(obj: Any, *, encoding: str = "utf-8") -> Source:
    """Turn a path, a ``duckdb:``/``postgresql://`` spec, a DataFrame or a :class:`Source` into a Source."""
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, pd.DataFrame):
        return Source("frame", frame=obj, name="frame")
    text = str(obj)
    if text.startswith(("postgresql://", "postgres://")):
        url, sep, what = text.rpartition("::")
        if not sep or not what.strip():
            raise InputError(f"a PostgreSQL source needs '::TABLE' or '::SELECT ...' after the URL: {text!r}")
        return _db_source("postgres", url, what)
    if text.startswith("duckdb:") or ("::" in text and Path(text.partition("::")[0]).suffix == ".duckdb"):
        path, sep, what = text.removeprefix("duckdb:").partition("::")
        if not sep or not what.strip():
            raise InputError(f"a DuckDB source is written duckdb:PATH::TABLE, got {text!r}")
        return _db_source("duckdb", path, what)
    path = Path(text)
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else (suffixes[-1:] or [""])[0]
    if last in {".parquet", ".pq"}:
        kind = "parquet"
    elif last in {".xlsx", ".xlsm"}:
        kind = "excel"
    else:
        kind = "csv"  # .csv, .txt, .tsv, or anything else that is text
    return Source(kind, text, encoding=encoding)


def _db_source(kind: str, location: str, what: str) -> Source:
    what = what.strip()
    if re.match(r"(?is)^\s*(select|with)\s", what):
        return Source(kind, location, query=what)
    return Source(kind, location, table=what)


@dataclass
class RawTable:
    """Rows as read, with ``__line`` (where each row is in the source) as the first column."""

    source: Source
    table: pa.Table
    fingerprint: str

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def columns(self) -> list[str]:
        return [c for c in self.table.column_names if c != LINE]


def read_source(obj: Any, *, encoding: str = "utf-8") -> RawTable:
    """Read a source (anything :func:`as_source` takes) into a :class:`RawTable`."""
    source = as_source(obj, encoding=encoding)
    reader = {
        "csv": _read_csv,
        "parquet": _read_parquet,
        "excel": _read_excel,
        "duckdb": _read_duckdb,
        "postgres": _read_postgres,
        "frame": _read_frame,
    }[source.kind]
    if source.kind in {"csv", "parquet", "excel"} and not Path(source.location).is_file():
        raise InputError("no such file", file=source.location)
    return reader(source)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks (so a large file is never held in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """sha256 over pandas' per-row hashes of a frame (with its column names)."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def connect(path: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for reading, without DuckDB's own progress bar (the CLI draws one already)."""
    con = duckdb.connect(path, read_only=read_only)
    con.execute("SET enable_progress_bar = false")
    return con


def _with_lines(table: pa.Table, first_line: int) -> pa.Table:
    lines = pa.array(range(first_line, first_line + table.num_rows), type=pa.int64())
    return table.add_column(0, LINE, lines)


# --- text files ------------------------------------------------------------------------------------------------
def _head_text(source: Source, n_bytes: int = 65536) -> list[str]:
    """The first lines of a (possibly gzipped) text file, for sniffing."""
    opener = gzip.open if _is_gzip(source.location) else open
    with opener(source.location, "rb") as fh:
        head = fh.read(n_bytes)
    codec = "latin-1" if source.encoding.lower().replace("_", "-") in {"latin-1", "latin1"} else "utf-8"
    if source.encoding.lower().startswith("utf-16"):
        codec = "utf-16"
    text = head.decode(codec, errors="replace").lstrip("\ufeff")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[:-1] if len(head) == n_bytes and len(lines) > 1 else lines


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _looks_like_data(fields: list[str]) -> bool:
    """A first line with a number in it is data, not a header (headers are names)."""
    return any(_NUMBERISH.match(f.strip().strip('"')) for f in fields)


def _read_csv(source: Source) -> RawTable:
    lines = _head_text(source)
    if not lines:
        raise InputError("the file is empty", file=source.location)
    first = lines[0]
    if not any(d in first for d in ",;\t|") and len(first.split()) > 1:
        table, header = _read_whitespace(source, lines)
    else:
        table, header = _read_delimited(source, first)
    return RawTable(source, _with_lines(table, 2 if header else 1), file_sha256(source.location))


def _read_whitespace(source: Source, lines: list[str]) -> tuple[pa.Table, bool]:
    """Whitespace-separated text (CDNOW): DuckDB's CSV reader takes one-character delimiters only, so this goes
    through pandas' C parser, whose ``\\s+`` separator is special-cased and fast."""
    first = lines[0].split()
    header = not _looks_like_data(first)
    try:
        frame = pd.read_csv(
            source.location,
            sep=r"\s+",
            header=0 if header else None,
            dtype=str,
            encoding=source.encoding,
            compression="gzip" if _is_gzip(source.location) else None,
            keep_default_na=False,
            na_values=[""],
        )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the file is not valid {source.encoding} text ({exc.reason} at byte {exc.start})",
            file=source.location,
            expected=f"{source.encoding} text (pass encoding='latin-1' if it is Latin-1)",
        ) from None
    except pd.errors.ParserError as exc:
        row = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"cannot parse the file: {exc}", file=source.location, row=int(row.group(1)) if row else None
        ) from None
    if not header:
        names = headerless_names(first) or [f"column{i + 1}" for i in range(frame.shape[1])]
        frame.columns = names
    return pa.Table.from_pandas(frame, preserve_index=False), header


def _read_delimited(source: Source, first_line: str) -> tuple[pa.Table, bool]:
    con = connect()
    path = source.location
    try:
        rows = con.execute(
            "SELECT Delimiter, Quote FROM sniff_csv(?, sample_size = 20480)", [path]
        ).fetchall()
        sniffed = rows[0] if rows else None
    except duckdb.Error:
        sniffed = None
    delim = sniffed[0] if sniffed and sniffed[0] in {",", ";", "\t", "|"} else _count_delimiter(first_line)
    quote = sniffed[1] if sniffed and sniffed[1] in {'"', "'"} else '"'
    fields = next(iter(pd.read_csv(io.StringIO(first_line), sep=delim, header=None, dtype=str).values))
    fields = ["" if pd.isna(f) else str(f) for f in fields]
    header = not _looks_like_data(fields)
    names = fields if header else (headerless_names(fields) or [f"column{i + 1}" for i in range(len(fields))])
    # The dialect is pinned (no auto-detection at read time): every line must then have the header's number of
    # fields, and DuckDB reports the line that does not instead of guessing a different table shape.
    options = {
        "auto_detect": False,
        "delim": delim,
        "quote": quote,
        "escape": quote,
        "header": header,
        "skip": 0,
        "columns": {name: "VARCHAR" for name in _unique(names)},
        "encoding": source.encoding,
    }
    args = ", ".join(f"{k} = ${k}" for k in options)
    try:
        table = con.sql(
            f"SELECT * FROM read_csv($path, {args})", params={"path": path, **options}
        ).to_arrow_table()
    except duckdb.Error as exc:
        raise _csv_error(source, exc) from None
    finally:
        con.close()
    return table, header


def _unique(names: list[str]) -> list[str]:
    """Header names made unique (a repeated name gets a suffix) so every column can be addressed."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip() or "column"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _count_delimiter(line: str) -> str:
    return max(",;\t|", key=line.count)


def _csv_error(source: Source, exc: duckdb.Error) -> InputError:
    """DuckDB's CSV errors, turned into one line naming the file and row."""
    text = str(exc)
    line = re.search(r"Line: (\d+)", text)
    row = int(line.group(1)) if line else None
    if "Invalid unicode" in text or "not utf-8" in text or "encoding" in text.lower():
        return InputError(
            f"the file is not valid {source.encoding} text",
            file=source.location,
            row=row,
            expected=f"{source.encoding} text (pass encoding='latin-1' if it is Latin-1)",
        )
    if "Expected Number of Columns" in text or "columns" in text.lower():
        found = re.search(r"Found: (\d+)", text)
        expected = re.search(r"Expected Number of Columns: (\d+)", text)
        return InputError(
            "the row has the wrong number of fields",
            file=source.location,
            row=row,
            expected=f"{expected.group(1)} fields" if expected else "as many fields as the header",
            found=f"{found.group(1)} fields" if found else None,
        )
    return InputError(f"cannot parse the file: {text.splitlines()[0]}", file=source.location, row=row)


# --- other formats -----------------------------------------------------------------------------------------------
def _read_parquet(source: Source) -> RawTable:
    con = connect()
    try:
        table = con.sql("SELECT * FROM read_parquet($p)", params={"p": source.location}).to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read the Parquet file: {str(exc).splitlines()[0]}", file=source.location
        ) from None
    finally:
        con.close()
    return RawTable(source, _with_lines(table, 1), file_sha256(source.location))


def _read_excel(source: Source) -> RawTable:
    try:
        frame = pd.read_excel(source.location, dtype=str, engine="openpyxl")
    except Exception as exc:  # openpyxl raises a zoo of types for a broken workbook
        raise InputError(f"cannot read the Excel file: {exc}", file=source.location) from None
    frame.columns = [str(c) for c in frame.columns]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return RawTable(source, _with_lines(table, 2), file_sha256(source.location))


def _read_duckdb(source: Source) -> RawTable:
    if not Path(source.location).is_file():
        raise InputError("no such DuckDB file", file=source.location)
    con = connect(source.location, read_only=True)
    try:
        sql = source.query or f"SELECT * FROM {_qualified(source.table or '')}"
        table = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read {source.table or 'the query'}: {str(exc).splitlines()[0]}", file=source.name
        ) from None
    finally:
        con.close()
    return RawTable(source, _with_lines(table, 1), frame_sha256(table.to_pandas()))


def _read_postgres(source: Source) -> RawTable:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(source.location, connect_timeout=10) as conn, conn.cursor() as cur:
            if source.query:
                cur.execute(source.query)
            else:
                parts = (source.table or "").split(".")
                cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(*parts)))
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise InputError(
            f"cannot read from PostgreSQL: {str(exc).strip().splitlines()[0]}", file=source.name
        ) from None
    frame = pd.DataFrame.from_records(rows, columns=names)
    table = _frame_to_arrow(frame)
    return RawTable(source, _with_lines(table, 1), frame_sha256(frame.astype(str)))


def _read_frame(source: Source) -> RawTable:
    frame = source.frame if source.frame is not None else pd.DataFrame()
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return RawTable(source, _with_lines(_frame_to_arrow(frame), 1), frame_sha256(frame))


def _frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed Python objects in a column (Decimal next to str ...): text is what validation parses anyway.
        fixed = frame.copy()
        for col in fixed.columns:
            if fixed[col].dtype == object:
                fixed[col] = fixed[col].map(lambda v: None if v is None or v is pd.NA else str(v))
        return pa.Table.from_pandas(fixed, preserve_index=False)


def _qualified(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))
