"""A column mapping applied in SQL, over DuckDB's own scan of a CSV/TSV (also .gz/.zst) or Parquet file.

`mapping.read_mapped` reads the whole file into pandas, renames and converts it there, and hands the
frame to the engine: every cell of every column passes through Python objects. Here the file is scanned
by the engine (`files._scan_csv` / `files._scan_parquet`, as for canonical tables) and the mapping
becomes the column expressions of a view over that scan: renames and same-named columns, the first
non-blank of several alternatives, constants, `line N` as source_ref. The conversions whose exact
result is pandas' (a `timestamp_format`, a `timezone`, an order export's decimal commas and day-first
dates: `mapping._times`, `native.locale.localise`) run in that same pandas code on the column's
DISTINCT values only, and are joined back as a small lookup table; each of them decides per value,
or per column from whether ANY value has some form, so the distinct values give what all rows give.
Times are nearly all distinct, so a `timezone` is applied in SQL to naive times in the common form
(per local hour its offset, as `timestamps.TimeColumn` does for the run's zone); the rest go to `_times`.

The result must be exactly what the pandas path gives (rows, row numbers, rejects, numeric-ID flags,
errors; tests/test_mapping_sql.py holds the two equal). A file this module cannot map exactly is
declined (None) and read by `read_mapped`: JSON, a compressed Parquet file, a dotted path into nested
JSON, a typed Parquet column the mapping turns into text (pandas' text of 1001.0 or of a Timestamp is
not DuckDB's; typed columns passed on as they are stay typed on both paths), a pandas index stored in
the file, header names DuckDB would not keep apart (case-only twins, `__row`), and a CSV DuckDB's
reader does not trust (a broken line, a quoted newline, blank lines: `files._scan_csv`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dedupaudit.connection import WHITESPACE
from dedupaudit.errors import UserError
from dedupaudit.inputs.files import COMPRESSIONS, Scan, _describe, _ident, _scan_csv, _scan_parquet, _sql_string, delimiter_of, file_format
from dedupaudit.inputs.mapping import TIME_TARGETS, TARGETS, FileMapping, _times
from dedupaudit.inputs.native import EVENT_COLUMNS, ID_COLUMNS, ORDER_COLUMNS
from dedupaudit.inputs.native.locale import localise
from dedupaudit.inputs.timestamps import _to_naive_utc, is_number_type, resolve_timezone

# What pandas' str.strip() removes (Python's str.isspace): a value made only of these is blank (tables.blank_to_na).
_BLANK = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]*"


def scan_mapped(connection, path: Path, mapping: FileMapping, side: str | None) -> Scan | None:
    """One mapped file as a relation in canonical columns, or None when only the pandas path reads it exactly."""
    fmt = file_format(path, strict=False)
    compression = COMPRESSIONS.get(path.suffix.lower())
    text = None
    if fmt == "parquet":
        text = None if compression is not None else _parquet_text(path)
        if text is None:
            return None
    elif fmt not in ("csv", "tsv"):
        return None
    try:
        base = _scan_csv(connection, path, delimiter_of(path, fmt), compression) if fmt != "parquet" else _scan_parquet(connection, path)
    except duckdb.Error:
        return None  # the pandas path reads it, or says what is wrong
    except UserError:
        if fmt == "parquet":
            return None  # read_table words its own error for a broken Parquet file
        raise  # the same header errors read_table raises (files._header)
    if base is None:
        return None
    try:
        found = _map(connection, base, path, mapping, side, text)
    except BaseException:
        base.drop()
        raise
    if found is None:
        base.drop()
    return found


def _parquet_text(path: Path) -> set[str] | None:
    """The names of a Parquet file's text columns (only those are mapped in SQL), or None when the file stays
    with pandas: a broken footer (read_table words the error), or a pandas index stored as a column (pandas
    would restore it as the frame's index, so its columns differ from the file's)."""
    try:
        schema = pq.read_schema(str(path))
    except Exception:  # pyarrow raises several types for a broken footer
        return None
    meta = schema.pandas_metadata or {}
    if any(isinstance(c, str) for c in meta.get("index_columns", [])):
        return None
    return {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}


def _find(columns: list[str], name: str) -> str | None:
    """native.tables.find_column over a header: the exact name, else the same name ignoring case and spaces."""
    if name in columns:
        return name
    folded = name.strip().lower()
    return next((c for c in columns if str(c).strip().lower() == folded), None)


def _nested(columns: list[str], path: str) -> bool:
    """A dotted path that only a column holding JSON objects could resolve (tables.column_at)."""
    parts = path.split(".")
    return any(_find(columns, ".".join(parts[:cut])) is not None for cut in range(len(parts) - 1, 0, -1))


_FIRST = ", ".join(str(ord(c)) for c in WHITESPACE)


def _blank_to_null(expr: str) -> str:
    """NULL for a blank value; the pattern is tried only on values that start with whitespace (few)."""
    return (f"CASE WHEN {expr} = '' THEN NULL WHEN unicode({expr}) NOT IN ({_FIRST}) THEN {expr} "
            f"WHEN regexp_full_match({expr}, '{_BLANK}') THEN NULL ELSE {expr} END")


def _map(connection, base: Scan, path: Path, mapping: FileMapping, side: str | None, text: set[str] | None) -> Scan | None:
    """The view of the mapped columns over `base`; None when a column it needs is not text (`text`: Parquet's
    text columns; every CSV column is text), as pandas' text of a typed value is not DuckDB's."""
    con = connection.con
    columns = list(base.columns)
    if any(str(c).startswith("__") for c in columns) or len({str(c).lower() for c in columns}) != len(columns):
        return None  # DuckDB folds case and the scan adds __row/__seq: such headers stay with pandas
    if [c for c in _describe(con, base.relation) if c not in ("__row", "__seq")] != columns:
        return None
    targets = ORDER_COLUMNS if side == "orders" else EVENT_COLUMNS if side in ("pixel", "capi") else TARGETS
    exprs: dict[str, str] = {}
    constant: set[str] = set()
    raw: dict[str, str] = {}  # target -> the file's column it takes as it is
    sources: set[str] = set()  # the file's columns the view reads
    for target in targets:
        if target in mapping.constants:
            exprs[target] = f"{_sql_string(mapping.constants[target])}::VARCHAR"
            constant.add(target)
        elif target in mapping.columns:
            paths = mapping.columns[target]
            used = [_find(columns, p) for p in paths]
            if any(u is None and _nested(columns, p) for u, p in zip(used, paths)):
                return None  # a path into nested JSON: tables.column_at
            used = [u for u in used if u is not None]
            sources.update(used)
            if not used:
                found = ", ".join(map(str, columns)) or "none"
                raise UserError(f"{path}: {mapping.where}.columns.{target}: no column or path "
                                f"{' or '.join(paths)} in this file (columns: {found})")
            if target in TIME_TARGETS and len(used) == 1:
                exprs[target] = f"s.{_ident(used[0])}"  # a single time column is taken as it is (tables.coalesce raw)
                raw[target] = used[0]
            else:
                blanks = [_blank_to_null(f"s.{_ident(u)}") for u in used]
                exprs[target] = blanks[0] if len(blanks) == 1 else f"coalesce({', '.join(blanks)})"
        elif (same := _find(columns, target)) is not None:
            exprs[target] = f"s.{_ident(same)}"
            sources.add(same)
            raw[target] = same
    types = {t: "VARCHAR" for t in exprs}
    for column in sources:
        if base.types[column] == "VARCHAR" and (text is None or column in text):
            continue
        # A typed Parquet column (numbers, times) stays typed in pandas only where it is passed on as it is:
        # elsewhere pandas writes its text (1001.0, a Timestamp's str), which is not DuckDB's.
        passed = [t for t, c in raw.items() if c == column and not _converted(t, mapping, side)]
        if not _passes(base.types[column]) or any(c == column and t not in passed for t, c in _uses(exprs, raw, mapping, columns)):
            return None
        types.update({t: base.types[column] for t in passed})
    joins, lookups = [], []
    tables: list[str] = []
    try:
        for number, target in enumerate(list(exprs)):
            if not _converted(target, mapping, side):
                continue
            expr, fast, fast_value, hours = exprs[target], None, None, []
            if target in TIME_TARGETS and mapping.timezone and not mapping.timestamp_format:
                fast, fast_value, hours = _naive_in_zone(connection, base, expr, number, mapping.timezone, tables)
            where = f"{expr} IS NOT NULL" + (f" AND NOT {fast}" if fast else "")
            values = [v for (v,) in con.execute(f"SELECT DISTINCT {expr} FROM {base.relation} s {' '.join(hours)} "
                                                f"WHERE {where}").fetchall()]
            converted = _convert(target, values, mapping, path, side)
            joins += hours
            if converted == values and fast is None:
                continue  # nothing changed (ISO times, plain totals): no join
            name = connection.name("maplookup")
            con.register(name, pa.table({"k": pa.array(values, pa.string()), "v": pa.array(converted, pa.string())}))
            lookups.append(name)
            joins.append(f"LEFT JOIN {name} AS l{number} ON l{number}.k = {expr}")
            exprs[target] = f"CASE WHEN {fast} THEN {fast_value} ELSE l{number}.v END" if fast else f"l{number}.v"
        select = [f"{e} AS {_ident(t)}" for t, e in exprs.items()]
        select.append("'line ' || CAST(s.__row AS VARCHAR) AS source_ref")
        names = [*exprs, "source_ref"]
        numeric = {}
        for number, target in enumerate(names):
            if target in ID_COLUMNS and target in constant:  # a constant ID is a pandas object column: files.arrow_table flags it
                numeric[target] = f"__numeric_{number}"
                select.append(f"false AS {numeric[target]}")
        view = connection.name("mapped")
        con.execute(f"CREATE VIEW {view} AS SELECT {', '.join(select)}, s.__row AS __row, s.__seq AS __seq "
                    f"FROM {base.relation} s {' '.join(joins)}")
    except BaseException:
        for name in lookups:
            con.unregister(name)
        for name in tables:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        raise
    cleanup = [lambda: con.execute(f"DROP VIEW {view}"), *[lambda n=n: con.unregister(n) for n in lookups],
               *[lambda n=n: con.execute(f"DROP TABLE IF EXISTS {n}") for n in tables], *base.cleanup]
    return Scan(str(path), view, names, {**types, "source_ref": "VARCHAR"}, [], numeric, cleanup=cleanup)


# A naive time in the commonest form (the SQL forms of timestamps.TimeColumn, without an offset; ASCII digits,
# nothing around it), in the years pandas reads: _times gives parse_timestamps' reading in the zone, as ISO text.
_NAIVE = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_UTC_TEXT = "%Y-%m-%dT%H:%M:%S.%fZ"  # mapping._times' strftime format for a time placed in the zone


def _naive_in_zone(connection, base: Scan, expr: str, number: int, zone_name: str, tables: list[str]):
    """A mapping `timezone` in SQL for naive times in the commonest form: per distinct local hour its offset
    (as TimeColumn does for the run's zone); hours of a clock change, and every other form, go to _times.
    Returns (the condition a row is converted in SQL, its text, the join of the hours)."""
    con = connection.con
    local = f"try_cast({expr} AS TIMESTAMP)"
    form = f"(regexp_full_match({expr}, '{_NAIVE}') AND substr({expr}, 1, 4) BETWEEN '1678' AND '2261' AND {local} IS NOT NULL)"
    found = [h for (h,) in con.execute(f"SELECT DISTINCT date_trunc('hour', {local}) FROM {base.relation} s WHERE {form}").fetchall()]
    name = connection.name("maphours")
    con.execute(f"CREATE TABLE {name} (hour TIMESTAMP, shift INTERVAL)")
    tables.append(name)
    if found:
        start = pd.Series(pd.to_datetime(pd.Series(found, dtype="object")), dtype="datetime64[us]")
        last = start + pd.Timedelta(hours=1) - pd.Timedelta(microseconds=1)
        zone = resolve_timezone(zone_name)
        utc_start, utc_last = _to_naive_utc(start, zone), _to_naive_utc(last, zone)
        steady = (utc_last - utc_start) == (last - start)  # one offset for the whole hour (no clock change in it)
        con.register(f"{name}_add", pd.DataFrame({"hour": start, "shift": (start - utc_start).where(steady)}))
        con.execute(f"INSERT INTO {name} SELECT * FROM {name}_add")
        con.unregister(f"{name}_add")
    h = f"h{number}"
    join = f"LEFT JOIN {name} AS {h} ON {form} AND {h}.hour = date_trunc('hour', {local})"
    return f"({form} AND {h}.shift IS NOT NULL)", f"strftime({local} - {h}.shift, '{_UTC_TEXT}')", [join]


def _passes(kind: str) -> bool:
    """Types pandas hands back to Arrow as they came (numbers through ArrowDtype, times through numpy)."""
    return is_number_type(kind) or kind.startswith("TIMESTAMP") or kind == "DATE"


def _uses(exprs: dict[str, str], raw: dict[str, str], mapping: FileMapping, columns: list[str]):
    """(target, file column) for every column each target's expression reads."""
    for target in exprs:
        if target in raw:
            yield target, raw[target]
        elif target in mapping.columns:
            for p in mapping.columns[target]:
                if (found := _find(columns, p)) is not None:
                    yield target, found


def _converted(target: str, mapping: FileMapping, side: str | None) -> bool:
    """Whether read_mapped converts this column after taking it (mapping._times, locale.localise)."""
    if target in TIME_TARGETS and (mapping.timestamp_format or mapping.timezone):
        return True
    return side == "orders" and (target == "value" or (target == "created_at" and not mapping.timestamp_format))


def _convert(target: str, values: list[str], mapping: FileMapping, path: Path, side: str | None) -> list[str | None]:
    """read_mapped's conversions of one column, on its distinct values: the same code, in the same order."""
    series = pd.Series(values, dtype="object")
    if target in TIME_TARGETS and (mapping.timestamp_format or mapping.timezone):
        series = _times(series, mapping, path)
    if side == "orders" and target in ("value", "created_at"):
        out = {target: series}
        localise(out, {}, [], dates_too=not mapping.timestamp_format)
        series = out[target]
    return [None if v is None or v is pd.NA or v is pd.NaT else str(v) for v in series.astype("object").tolist()]
