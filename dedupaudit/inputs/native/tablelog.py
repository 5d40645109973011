"""Request logs that are tables (CSV/TSV/Parquet: BigQuery's request_body export) or one JSON document, as a
table of (pos, j) for the compiled query (compile.py): j the record the Python reader would build, as JSON text.

The Python reader (detect._log_records) makes each table row a record {column: value} numbered by the line the
row starts on: CSV cells as text (an empty one kept), Parquet values typed, nulls left out, timestamps as
isoformat() text. DuckDB builds the same record here. What it would not build the same is declined (False), so
the Python reader reads the file: a CSV DuckDB rejects or that the Python reader reads line by line differently
(a blank line, a CR-only line end, an inner line of a quoted value that looks like a whole row), Parquet columns of
other types (nested, dates, non-finite floats, nanoseconds, zones other than UTC), a document that Python does not
parse to the same value, or that holds a key twice (Python keeps the last, JSON paths the first).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dedupaudit.inputs.files import COMPRESSIONS, MAX_RECORD_LINES, _to_pandas, csv_shape, delimiter_of
from dedupaudit.inputs.native.jsonsql import lit
from dedupaudit.inputs.textfile import Text

PLAIN = ("VARCHAR", "BOOLEAN", "DOUBLE", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT")
UTC = ("UTC", "+00:00", "Etc/UTC")


def _source(path: Path) -> tuple[Path, str]:
    """The file DuckDB reads (a transcoded file's UTF-8 copy) and its compression."""
    text = Text.of(path)
    if text is not None and text.copy is not None:
        return text.copy, "none"
    return path, COMPRESSIONS.get(path.suffix.lower(), "none")


def _record(columns: dict[str, str]) -> str:
    """A row as a JSON object of its non-null values (SQL expressions by column name), in column order."""
    entries = ", ".join(f"{{'k': {lit(name)}, 'v': to_json({value})}}" for name, value in columns.items())
    return f"to_json(map_from_entries(list_filter([{entries}], lambda e: e.v IS NOT NULL)))::VARCHAR"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_csv(con, table: str, path: Path, kind: str) -> bool:
    """A CSV/TSV request log as (pos, j), numbered as files._read_csv numbers it: the header is line 1 and a row
    starts on the line after the previous row's last."""
    delimiter = delimiter_of(path, kind)
    header, lines, plain = csv_shape(path, delimiter)
    if not plain:
        return False
    source, compression = _source(path)
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in header) + "}"
    raw = f"{table}_csv"
    try:
        con.execute(f"""CREATE TABLE {raw} AS SELECT * FROM read_csv({lit(str(source))}, auto_detect = false, header = true,
            columns = {columns}, delim = {lit(delimiter)}, quote = '"', escape = '"', strict_mode = true, store_rejects = true,
            rejects_table = '{raw}_rejects', rejects_scan = '{raw}_scans', nullstr = chr(1) || chr(2),
            max_line_size = 67108864, compression = '{compression}')""")
        breaks = " + ".join(f"(length({_quoted(c)}) - length(replace({_quoted(c)}, chr(10), '')))" for c in header)
        # files._records: an inner line of a quoted value without quotes and with a whole row's delimiters is an
        # unbalanced quote to the Python reader (the first and last line of a row are never inner)
        inner = " OR ".join(f"len(list_filter(list_slice(string_split({_quoted(c)}, chr(10)), 2, -2), lambda l: "
                            f"NOT contains(l, '\"') AND length(l) - length(replace(l, {lit(delimiter)}, '')) = {len(header) - 1})) > 0"
                            for c in header) if len(header) > 1 else "false"
        con.execute(f"""CREATE TABLE {table} AS SELECT 2 + coalesce(sum(1 + breaks) OVER (ORDER BY rowid ROWS BETWEEN
            UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS pos, j, breaks, swallowed FROM (
            SELECT rowid, {breaks} AS breaks, {inner} AS swallowed, {_record({c: _quoted(c) for c in header})} AS j FROM {raw})""")
        rejected, rows, spanned, longest, swallowed = con.execute(
            f"SELECT (SELECT count(*) FROM {raw}_rejects), count(*), coalesce(sum(breaks), 0), coalesce(max(breaks), 0), "
            f"coalesce(bool_or(swallowed), false) FROM {table}").fetchall()[0]
    finally:
        for name in (raw, f"{raw}_rejects", f"{raw}_scans"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    # every line is the header's or a row's: no header spanning lines, nothing DuckDB skipped or read otherwise
    if rejected or swallowed or longest >= MAX_RECORD_LINES - 1 or 1 + rows + spanned != lines:
        return False
    con.execute(f"ALTER TABLE {table} DROP COLUMN breaks")
    con.execute(f"ALTER TABLE {table} DROP COLUMN swallowed")
    return True


def read_parquet(con, table: str, path: Path) -> bool:
    """A Parquet request log as (pos, j), rows numbered from 1, when every column is of a type whose values
    the Python reader's record holds as DuckDB writes them."""
    if path.suffix.lower() in COMPRESSIONS:
        return False
    schema = pq.read_schema(str(path))
    frame = _to_pandas(schema.empty_table())  # the columns and types the Python reader's frame has (pandas metadata applied)
    if list(frame.columns) != schema.names or len(set(schema.names)) != len(schema.names):
        return False
    values = {}
    for f in schema:
        name = _quoted(f.name)
        if pa.types.is_timestamp(f.type):
            zone = getattr(frame[f.name].dtype, "tz", None)
            if f.type.unit == "ns" or (zone is not None and str(zone) not in UTC):
                return False
            # pandas' Timestamp.isoformat(): microseconds only when there are some, the offset only with a zone
            t = f"make_timestamp(epoch_us({name}))"
            values[f.name] = (f"strftime({t}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN epoch_us({name}) % 1000000 <> 0 "
                              f"THEN strftime({t}, '.%f') ELSE '' END{' || ' + lit('+00:00') if zone is not None else ''}")
        elif pa.types.is_floating(f.type) and not pa.types.is_float64(f.type):
            return False  # a float32's Python repr is not its shortest text
        else:
            values[f.name] = name
    source = f"read_parquet({lit(str(path))}, file_row_number = true)"
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {source})").fetchall())
    stamps = [c for c in values if pa.types.is_timestamp(schema.field(c).type)]
    if any(types[c] not in PLAIN for c in values if c not in stamps):
        return False
    # NaN and infinities (no JSON text), years isoformat() and strftime() write differently: the Python reader
    checks = [f"isfinite({_quoted(c)})" for c in values if types[c] == "DOUBLE"]
    checks += [f"year({_quoted(c)}) BETWEEN 1000 AND 9999" for c in stamps]
    if checks and not con.execute(f"SELECT coalesce(bool_and({' AND '.join(f'coalesce({c}, true)' for c in checks)}), true) "
                                  f"FROM {source}").fetchall()[0][0]:
        return False
    con.execute(f"CREATE TABLE {table} AS SELECT file_row_number + 1 AS pos, {_record(values)} AS j FROM {source} ORDER BY file_row_number")
    return True


def read_document(con, table: str, path: Path, document) -> bool:
    """A log that is one JSON document (record 1), read by DuckDB and checked against Python's own reading of it."""
    source, compression = _source(path)
    con.execute(f"CREATE TABLE {table} AS SELECT 1::BIGINT AS pos, json::VARCHAR AS j FROM read_json_objects({lit(str(source))}, "
                f"format = 'unstructured', maximum_object_size = 67108864, compression = '{compression}')")
    rows = con.execute(f"SELECT j FROM {table} LIMIT 2").fetchall()
    if len(rows) != 1 or not isinstance(document, dict):
        return False

    def unique(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("a key twice")
        return dict(pairs)

    try:
        return json.loads(rows[0][0], object_pairs_hook=unique) == document
    except ValueError:
        return False
