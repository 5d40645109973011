"""Canonical JSON Lines scanned by DuckDB itself, into the audit's connection: no pandas, no Python per row.

`files._read_json` reads a well-formed JSON Lines file with Arrow's JSON reader: typed columns (int64,
double, bool, string, null; timestamps kept as their text), in the order keys first appear, rows numbered
by record (blank lines skipped). This module gives exactly that Scan from DuckDB's `read_ndjson_objects`
and `json_transform`, and declines (None: `files.scan` falls back to the Python reader for the whole file)
every file on which Arrow's reader would not succeed or DuckDB could answer differently:

- a JSON array (`[...]`), an empty file, a file that cannot be opened or decompressed, a vertical tab or
  form feed (DuckDB trims them around an object, Arrow rejects them), a line DuckDB cannot parse (invalid
  JSON or UTF-8, another control byte, two objects on one line, CR-only line ends, a BOM past the start);
- a line that is not an object, `NaN`/`Infinity`, a trailing comma (DuckDB's parser allows both), an
  object of 1 MB or more (longer than Arrow's block, which its reader refuses), brackets inside strings
  that could take `files._nesting` past its limit;
- duplicate keys in an object, keys differing only by case, keys that are empty, hold a quote or a
  backslash, or are named like the scan's own columns;
- a column of mixed JSON types other than integers with floats, nested objects or arrays, an integer
  beyond int64, a number beyond double.

Each check is one SQL aggregate over the file's objects, plus the byte scan `_scan_csv` makes too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

import pyarrow as pa

from dedupaudit.inputs.files import COMPRESSIONS, MAX_ARROW_JSON_DEPTH, Scan, _describe, _ident, _open, _sql_string
from dedupaudit.inputs.textfile import Text

MAX_KEY_SETS = 1000  # distinct key lists fetched to order the columns; more: the Python reader
ARROW_BLOCK = 1 << 20  # Arrow's JSON reader fails on an object longer than its block (then Python reads it line by line)
_BLANK = b" \t\r\n\x0b\x0c"
_OWN = re.compile(r"__(row|seq|numeric_\d+)\Z")
# JSON that DuckDB's parser accepts and Arrow's does not: NaN, Infinity (also inside strings: declined), a trailing comma
_NONSTANDARD = r"contains({j}, 'NaN') OR contains({j}, 'Infinity') OR regexp_matches({j}, ',[ \t\r\n]*[\]}]')"
_TYPES = {frozenset(): '"NULL"', frozenset({"BOOLEAN"}): "BOOLEAN", frozenset({"VARCHAR"}): "VARCHAR",
          frozenset({"BIGINT"}): "BIGINT", frozenset({"UBIGINT"}): "BIGINT", frozenset({"BIGINT", "UBIGINT"}): "BIGINT"}


def _type(kinds: set) -> str | None:
    """The column type Arrow's reader infers from the JSON types of a column's values, or None (declined)."""
    kinds = {k for k in kinds if k not in (None, "NULL")}
    if "DOUBLE" in kinds and kinds <= {"BIGINT", "UBIGINT", "DOUBLE"}:
        return "DOUBLE"  # integers and floats in one column: double, as Arrow promotes them
    return _TYPES.get(frozenset(kinds))


def _plain_lines(path: Path) -> bool:
    """One pass over the (decompressed) bytes: the file starts with an object, and holds no vertical tab or
    form feed (DuckDB trims them around a line's object, Arrow rejects them; other control bytes DuckDB rejects)."""
    first = None
    with _open(path) as stream:
        for block in iter(lambda: stream.read(1 << 24), b""):
            if first is None:
                rest = block.removeprefix(b"\xef\xbb\xbf").lstrip(_BLANK)
                first = rest[:1] or None
                if first is not None and first != b"{":
                    return False
            if b"\x0b" in block or b"\x0c" in block:
                return False
    return first == b"{"


def scan_jsonl(connection, path: Path) -> Scan | None:
    """The file as the Scan `scan_frame(connection, read_table(path))` gives, or None when it must be read in Python."""
    try:
        if not _plain_lines(path):
            return None
    except (OSError, pa.ArrowException, ValueError):
        return None  # a damaged file: the Python reader says what is wrong
    source, compression = path, COMPRESSIONS.get(path.suffix.lower())
    text = Text.of(path)
    if text is not None and text.copy is not None:  # transcoded: the UTF-8 copy is plain, uncompressed text
        source, compression = text.copy, None
    con = connection.con
    raw, table = connection.name("jsonl_raw"), connection.name("scan")
    try:
        found = _build(con, source, compression, raw, table)
    except duckdb.Error:
        found = None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {raw}")
    if found is None:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        return None
    columns, types = found
    return Scan(str(path), table, columns, types, cleanup=[lambda: con.execute(f"DROP TABLE IF EXISTS {table}")])


def _build(con, source: Path, compression: str | None, raw: str, table: str):
    con.execute(f"CREATE TABLE {raw} AS SELECT json FROM read_ndjson_objects({_sql_string(str(source))}, "
                f"compression = '{compression or 'none'}')")
    odd = f"json_type(json) <> 'OBJECT' OR strlen(json::VARCHAR) >= {ARROW_BLOCK} OR {_NONSTANDARD.replace('{j}', 'json::VARCHAR')}"
    key_sets = con.execute(f"""SELECT keys, min(rowid) AS first, bool_or(odd) FROM (
        SELECT rowid, json_keys(json) AS keys, {odd} AS odd FROM {raw}) GROUP BY keys ORDER BY first LIMIT {MAX_KEY_SETS + 1}""").fetchall()
    if not key_sets or len(key_sets) > MAX_KEY_SETS or any(odd for _, _, odd in key_sets):
        return None
    columns: list[str] = []
    for keys, _, _ in key_sets:
        if len(set(keys)) != len(keys):
            return None  # a key twice in one object: Arrow's reader refuses it, Python keeps the last
        columns += [k for k in keys if k not in columns]
    if (not columns or len({c.lower() for c in columns}) != len(columns)
            or any(c == "" or '"' in c or "\\" in c or _OWN.match(c) for c in columns)):
        return None
    paths = "[" + ", ".join(_sql_string(f'$."{c}"') for c in columns) + "]"
    per_column = ", ".join(f"list(DISTINCT t[{i}]), count(*) FILTER (t[{i}] <> 'NULL')" for i in range(1, len(columns) + 1))
    # `files._nesting` counts brackets inside strings too, over the whole file: a bound of its depth (openers of
    # earlier lines left open, plus one line's openers) above MAX_ARROW_JSON_DEPTH sends the file to Python
    brackets = lambda pair: f"strlen(j) - strlen(replace(replace(j, '{pair[0]}', ''), '{pair[1]}', ''))"  # noqa: E731
    *kinds, depth = con.execute(f"SELECT {per_column}, sum(greatest(o - c, 0)) + max(o) FROM (SELECT json_type(json, {paths}) AS t, "
                                f"{brackets('[{')} AS o, {brackets(']}')} AS c FROM (SELECT json, json::VARCHAR AS j FROM {raw}))").fetchall()[0]
    if depth > MAX_ARROW_JSON_DEPTH:
        return None
    types = {c: _type(set(kinds[2 * i])) for i, c in enumerate(columns)}
    if None in types.values():
        return None
    structure = json.dumps({c: types[c].strip('"') for c in columns}, ensure_ascii=False)
    con.execute(f"CREATE TABLE {table} AS SELECT unnest(json_transform(json, {_sql_string(structure)})), "
                f"rowid + 1 AS __row, rowid AS __seq FROM {raw}")
    # every present value converted (an integer beyond int64 would be NULL), every double finite (1e400 is not)
    checks = [f"count({_ident(c)}) = {kinds[2 * i + 1]}" for i, c in enumerate(columns) if types[c] != '"NULL"']
    checks += [f"coalesce(bool_and(isfinite({_ident(c)})), true)" for c in columns if types[c] == "DOUBLE"]
    if checks and not all(con.execute(f"SELECT {', '.join(checks)} FROM {table}").fetchall()[0]):
        return None
    described = _describe(con, table)
    return columns, {c: described[c] for c in columns}
