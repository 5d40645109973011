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

The result must be exactly what the pandas path gives (rows, row numbers, rejects, numeric-ID flags,
errors; tests/test_mapping_sql.py holds the two equal). A file this module cannot map exactly is
declined (None) and read by `read_mapped`: JSON, a compressed Parquet file, a dotted path into nested
JSON, Parquet columns that are not text (their pandas text would differ) or a pandas index stored in
the file, header names DuckDB would not keep apart (case-only twins, `__row`), and a CSV DuckDB's
reader does not trust (a broken line, a quoted newline, blank lines: `files._scan_csv`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dedupaudit.errors import UserError
from dedupaudit.inputs.files import COMPRESSIONS, Scan, _describe, _ident, _scan_csv, _scan_parquet, _sql_string, delimiter_of, file_format
from dedupaudit.inputs.mapping import TIME_TARGETS, TARGETS, FileMapping, _times
from dedupaudit.inputs.native import EVENT_COLUMNS, ID_COLUMNS, ORDER_COLUMNS
from dedupaudit.inputs.native.locale import localise
from dedupaudit.inputs.timestamps import is_number_type

# What pandas' str.strip() removes (Python's str.isspace): a value made only of these is blank (tables.blank_to_na).
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200b))) + "\u2028\u2029\u202f\u205f\u3000"
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


def _blank_to_null(expr: str) -> str:
    return f"CASE WHEN regexp_full_match({expr}, '{_BLANK}') THEN NULL ELSE {expr} END"


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
    try:
        for number, target in enumerate(list(exprs)):
            if not _converted(target, mapping, side):
                continue
            values = [v for (v,) in con.execute(f"SELECT DISTINCT {exprs[target]} FROM {base.relation} s "
                                                f"WHERE {exprs[target]} IS NOT NULL").fetchall()]
            converted = _convert(target, values, mapping, path, side)
            if converted == values:
                continue  # nothing changed (ISO times, plain totals): no join
            name = connection.name("maplookup")
            con.register(name, pa.table({"k": pa.array(values, pa.string()), "v": pa.array(converted, pa.string())}))
            lookups.append(name)
            joins.append(f"LEFT JOIN {name} AS l{number} ON l{number}.k = {exprs[target]}")
            exprs[target] = f"l{number}.v"
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
        raise
    cleanup = [lambda: con.execute(f"DROP VIEW {view}"), *[lambda n=n: con.unregister(n) for n in lookups], *base.cleanup]
    return Scan(str(path), view, names, {**types, "source_ref": "VARCHAR"}, [], numeric, cleanup=cleanup)


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
