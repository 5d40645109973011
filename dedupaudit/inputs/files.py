"""Find the files a user named and read each into a frame, keeping where every row came from.

Formats are told by extension: .csv, .tsv, .jsonl/.ndjson, .json (an array of objects, or one
object per line), .parquet; each may end in .gz or .zst. Values are read as text (IDs such as
`00123` must not become numbers); typing happens in `canonical`. A line that cannot be read
(a broken CSV line, invalid JSON) becomes a rejected row with its line number, never a silent drop.

`scan` lets DuckDB read canonical CSV/TSV, Parquet and JSON Lines (`jsonl_scan`) straight into the
audit's connection, no pandas in between; each such scan declines a file it cannot read exactly as the
Python readers below do, and the file is then read by them.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from dedupaudit.errors import UserError
from dedupaudit.inputs.textfile import Text
from dedupaudit.inputs.timestamps import TEXT
from dedupaudit.inputs.values import id_text

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".har": "json",
           ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class RawTable:
    """One input file as text columns, with each row's line (or record) number."""

    path: str
    frame: pd.DataFrame
    row: pd.Series
    broken: list[tuple] = field(default_factory=list)  # (line, reason) or (line, reason, where in the line) of unreadable lines
    numeric: dict[str, pd.Series] = field(default_factory=dict)  # ID column already written as text -> which were integer-valued floats


@dataclass
class ArrowTable:
    """Rows a Python reader built (HAR captures, flat pixel logs, request logs read in Python) as an Arrow
    table, so the engine registers them as they are: no pandas between the reader and DuckDB. `frame` and
    `row` are pandas views of the same rows for `inspect`, mappings' constants and tests."""

    path: str
    arrow: pa.Table  # the native readers' canonical columns and source_ref as pa.string(); `arrow_table` keeps typed columns
    rows: pa.Array  # int64: each row's line (or record) number
    broken: list[tuple] = field(default_factory=list)
    numeric: dict[str, pa.Array] = field(default_factory=dict)  # ID column -> which were integer-valued floats

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: pd.Series(self.arrow.column(name).to_pylist(), dtype="object")
                             for name in self.arrow.column_names})

    @cached_property
    def row(self) -> pd.Series:
        return pd.Series(self.rows.to_numpy(zero_copy_only=False), dtype="int64")


@dataclass
class Scan:
    """One input file as a relation on the audit's connection: its columns and DuckDB types, the SQL of
    each row's line (or record) number, and the lines no reader could use."""

    path: str
    relation: str
    columns: list[str]
    types: dict[str, str]
    broken: list[tuple] = field(default_factory=list)
    numeric: dict[str, str] = field(default_factory=dict)  # column -> column flagging integer-valued floats read as text
    cleanup: list = field(default_factory=list)
    row: str = "s.__row"
    text: Text | None = None  # the file's encoding and delimiter (None: Parquet)
    files: list[str] | None = None  # a scan of several files (a lake folder or glob on Spark): the relation's __file, __file_index
    broken_sql: str | None = None  # the engine's own unreadable lines: file, row, source_ref, reason, file_index

    def quoted(self, column: str) -> str:
        return "s." + _ident(column)

    def numeric_flag(self, column: str) -> str | None:
        return "s." + _ident(self.numeric[column]) if column in self.numeric else None

    def drop(self) -> None:
        for undo in reversed(self.cleanup):
            undo()
        self.cleanup = []


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan(connection, path: Path) -> Scan:
    """A canonical table file: CSV/TSV, Parquet and JSON Lines read by DuckDB itself (each declines what it
    cannot read exactly as the Python readers do), everything else by `read_table`."""
    fmt = file_format(path)
    compression = COMPRESSIONS.get(path.suffix.lower())
    try:
        if fmt in ("csv", "tsv"):
            found = _scan_csv(connection, path, delimiter_of(path, fmt), compression)
            if found is not None:
                return found
        elif fmt == "parquet" and compression is None:
            return _scan_parquet(connection, path)
        elif fmt in ("jsonl", "json"):
            from dedupaudit.inputs.jsonl_scan import scan_jsonl  # it builds on this module's helpers

            found = scan_jsonl(connection, path)
            if found is not None:
                return found
    except UserError:
        raise
    except duckdb.Error:
        pass  # the exact reader below reads it, or says what is wrong
    # DuckDB declined the CSV (a row spans lines, a line is broken): Arrow's fast path would decline it too.
    return scan_frame(connection, read_table(path, exact=fmt in ("csv", "tsv")))


def _describe(con, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _scan_parquet(connection, path: Path) -> Scan:
    con = connection.con
    view = connection.name("scan")
    source = f"read_parquet({_sql_string(str(path))}, file_row_number = true)"
    try:
        types = _describe(con, source)
    except duckdb.Error as exc:
        raise UserError(f"{path}: cannot read the file as Parquet ({_first_line(exc)})") from exc
    columns = [c for c in types if c != "file_row_number"]
    con.execute(f"CREATE VIEW {view} AS SELECT file_row_number + 1 AS __row, file_row_number AS __seq, * EXCLUDE (file_row_number) "
                f"FROM {source}")
    return Scan(str(path), view, columns, {c: types[c] for c in columns}, cleanup=[lambda: con.execute(f"DROP VIEW {view}")])


@dataclass(frozen=True)
class InMemory:
    """A table handed to the Python API (a pandas DataFrame or an Arrow table), in canonical columns: the
    engine reads it as it reads a Parquet file, typed columns and all. `name` stands for the file in reports."""

    name: str
    table: pa.Table

    def __str__(self) -> str:
        return self.name

    @classmethod
    def of(cls, data, name: str) -> "InMemory":
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            return cls(name, data)
        frame = data.rename(columns=str)
        try:
            return cls(name, pa.Table.from_pandas(frame, preserve_index=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            # A column of mixed Python values (numbers and text): each value as its text, as JSON records are read.
            mixed = {c: _as_text(frame[c]) for c in frame.columns if pd.api.types.is_object_dtype(frame[c])}
            return cls(name, pa.Table.from_pandas(frame.assign(**mixed), preserve_index=False))


def scan_memory(connection, item: InMemory) -> Scan:
    """An in-memory table on the connection, numbered from row 1 like a file's records."""
    con = connection.con
    table = item.table
    if len(set(table.column_names)) != len(table.column_names):
        raise UserError(f"{item.name}: two columns have the same name")
    numbers = pa.array(range(len(table)), type=pa.int64())
    name = connection.name("memory")
    con.register(name, table.append_column("__seq", numbers).append_column("__row", pa.compute.add(numbers, 1)))
    types = _describe(con, name)
    columns = list(table.column_names)
    return Scan(item.name, name, columns, {c: types[c] for c in columns}, cleanup=[lambda: con.unregister(name)])


def _scan_csv(connection, path: Path, delimiter: str, compression: str | None) -> Scan | None:
    """DuckDB's parallel reader, trusted only when every physical line became one row (as `_read_csv`'s
    fast path): no broken line, no quoted newline, no blank line, no CR-only line end. Else None."""
    source = path
    header, lines, plain = csv_shape(path, delimiter)
    if not plain:
        return None
    con = connection.con
    table = connection.name("scan")
    columns = "{" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in header) + "}"
    text = Text.of(path)
    if text is not None and text.copy is not None:  # transcoded: the UTF-8 copy is plain, uncompressed text
        path, compression = text.copy, None
    con.execute(f"""CREATE TABLE {table} AS SELECT * FROM read_csv({_sql_string(str(path))}, auto_detect = false, header = true,
        columns = {columns}, delim = {_sql_string(delimiter)}, quote = '"', escape = '"', strict_mode = true, store_rejects = true,
        rejects_table = '{table}_rejects', rejects_scan = '{table}_scans', nullstr = chr(1) || chr(2),
        compression = '{compression or "none"}')""")
    cleanup = [lambda: con.execute(f"DROP TABLE IF EXISTS {table}"),
               lambda: con.execute(f"DROP TABLE IF EXISTS {table}_rejects"), lambda: con.execute(f"DROP TABLE IF EXISTS {table}_scans")]
    rows, rejected = con.execute(f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM {table}_rejects)").fetchall()[0]
    if rejected or rows + 1 != lines:
        for undo in cleanup:
            undo()
        return None
    view = connection.name("scan")
    con.execute(f"CREATE VIEW {view} AS SELECT rowid + 2 AS __row, rowid AS __seq, * FROM {table}")
    cleanup.insert(0, lambda: con.execute(f"DROP VIEW {view}"))
    return Scan(str(source), view, header, {c: "VARCHAR" for c in header}, cleanup=cleanup)


def csv_shape(path: Path, delimiter: str) -> tuple[list[str], int, bool]:
    """A CSV/TSV file's header, its number of lines, and whether it is plain (`_lines`): what a fast reader's row
    count is checked against."""
    with _open(path) as stream:
        header = _header(path, stream.read(1 << 16), delimiter)
    with _open(path) as stream:  # compressed streams do not seek
        lines, plain = _lines(iter(lambda: stream.read(1 << 24), b""))
    return header, lines, plain


def _header(path: Path, data: bytes, delimiter: str) -> list[str]:
    """The header of a CSV/TSV from its first bytes (a UTF-8 BOM skipped): one or more distinct names."""
    text = io.TextIOWrapper(io.BytesIO(data.removeprefix(b"\xef\xbb\xbf")), encoding="utf-8", errors="replace", newline="")
    header = next(csv.reader(text, delimiter=delimiter), None)
    if not header:
        raise UserError(f"{path}: the file is empty (a header line is required)")
    if len(set(header)) != len(header):
        raise UserError(f"{path}: the header names a column twice")
    return header


def _lines(blocks) -> tuple[int, bool]:
    """(lines, plain) of a file given as consecutive byte blocks: how many lines it has, and whether it
    is free of CR-only line ends and blank lines, so that a reader's row count tells whether any row
    spans lines (the test both fast CSV paths use before trusting a reader)."""
    lines, plain, tail = 0, True, b""
    for block in blocks:
        lines += block.count(b"\n")
        if plain:
            window = tail + block
            body = window[:-1] if window.endswith(b"\r") else window  # a CR at the end may meet its LF next
            plain = b"\n\n" not in window and b"\n\r\n" not in window and body.count(b"\r") == body.count(b"\r\n")
        tail = (tail + block)[-2:]
    if tail.endswith(b"\r"):
        plain = False
    return lines + (1 if tail and not tail.endswith(b"\n") else 0), plain


def scan_frame(connection, raw: RawTable | ArrowTable) -> Scan:
    """Rows a Python reader produced, registered on the connection as Arrow (no copy of the data in DuckDB)."""
    raw = raw if isinstance(raw, ArrowTable) else arrow_table(raw)
    table, numeric = raw.arrow, {}
    for number, name in enumerate(raw.arrow.column_names):
        if name in raw.numeric:
            numeric[name] = f"__numeric_{number}"
            table = table.append_column(numeric[name], pa.array(raw.numeric[name], pa.bool_()))
    rows = pa.array(raw.rows, pa.int64())
    # JSON records that are all `{}` have rows but no column
    table = table.append_column("__row", rows) if table.num_columns else pa.table({"__row": rows})
    table = table.append_column("__seq", pa.array(np.arange(len(table), dtype="int64")))
    con = connection.con
    name = connection.name("frame")
    con.register(name, table)
    types = _describe(con, name)
    columns = raw.arrow.column_names
    return Scan(raw.path, name, columns, {c: types[c] for c in columns}, list(raw.broken), numeric,
                cleanup=[lambda: con.unregister(name)])


def arrow_table(raw: RawTable) -> ArrowTable:
    """A pandas reader's rows as Arrow: ID columns and mixed JSON values as text (IDs that were integer-valued
    floats flagged), typed columns (Parquet, Arrow JSON) kept as they are. Column by column, so no second
    copy of the whole frame is held."""
    names, arrays, numeric = [], [], {}
    for name, column in raw.frame.items():
        name = str(name)
        if name.strip().lower() in ("event_id", "order_id") and (pd.api.types.is_object_dtype(column) or name in raw.numeric):
            column, was_number = id_text(column)
            if name in raw.numeric:  # a native reader wrote 1001.0 as "1001" and said so
                was_number = was_number.to_numpy(dtype=bool) | np.asarray(raw.numeric[name], dtype=bool)
            numeric[name] = pa.array(np.asarray(was_number, dtype=bool))
        elif pd.api.types.is_object_dtype(column):
            column = _as_text(column)
        array = pa.array(column, from_pandas=True)
        names.append(name)
        arrays.append(array.cast(pa.string()) if pa.types.is_large_string(array.type) else array)
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    return ArrowTable(raw.path, table, pa.array(np.asarray(raw.row, dtype="int64")), list(raw.broken), numeric)


def _as_text(column: pd.Series) -> pd.Series:
    """Records from JSON: nested values are not IDs or names; every value as its text. A missing value
    (pandas' NA or NaT, e.g. a blank a mapping left empty) stays missing, never the text '<NA>' or 'NaT'."""
    column = column.map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else None if _missing(v) else str(v))
    return column.astype(TEXT)


def _missing(value) -> bool:
    return value is pd.NA or value is pd.NaT or (isinstance(value, np.datetime64) and np.isnat(value))


def expand_paths(args: list[str], option: str) -> list[Path]:
    """Files, folders (every supported file below) and globs, in a stable order, each once."""
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and file_format(p, strict=False))
            if not matches:
                raise UserError(f"{option} {arg}: the folder holds no .csv, .tsv, .jsonl, .json or .parquet file")
        elif path.is_file():  # before globbing: an export named orders[2026].csv is that file
            matches = [path]
        elif glob.has_magic(arg):
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True) if Path(p).is_file())
            if not matches:
                raise UserError(f"{option} {arg}: no file matches this pattern")
        else:
            raise UserError(f"{option} {arg}: no such file or folder")
        found.extend(m for m in matches if m not in found)
    return found


def file_format(path: Path, strict: bool = True) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None and strict:
        raise UserError(f"{path}: unknown file type (expected .csv, .tsv, .jsonl, .json or .parquet, optionally .gz or .zst)")
    return fmt


def loads(text):
    """json.loads, with nesting too deep for Python's parser reported as invalid JSON rather than a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text if isinstance(text, str) else "", 0) from None


def read_table(path: Path, exact: bool = False) -> RawTable:
    """`exact`: read a CSV/TSV line by line at once (a faster reader has already declined it)."""
    fmt = file_format(path)
    try:
        if fmt in ("csv", "tsv"):
            return _read_csv(path, delimiter_of(path, fmt), exact)
        if fmt == "parquet":
            return _read_parquet(path)
        return _read_json(path)
    except UserError:
        raise
    except UnicodeDecodeError as exc:
        raise UserError(not_utf8(path, exc)) from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise UserError(f"{path}: cannot read the file ({_first_line(exc)})") from exc


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The error for a byte that is not UTF-8 past the part encoding detection looked at."""
    return (f"{path}: not valid UTF-8 text (byte {exc.start}; detection reads the first 64 KB); "
            "give the file's encoding with --encoding (e.g. cp1252)")


def delimiter_of(path: Path, fmt: str) -> str:
    """The delimiter decided for a CSV/TSV file being read (inputs.textfile), else the one its extension says."""
    text = Text.of(path)
    return text.delimiter if text is not None and text.delimiter else ("\t" if fmt == "tsv" else ",")


def _open(path: Path) -> pa.NativeFile:
    """The file's bytes, decompressed; a transcoded file's UTF-8 copy instead (inputs.textfile)."""
    text = Text.of(path)
    if text is not None and text.copy is not None:
        return pa.input_stream(str(text.copy))
    compression = COMPRESSIONS.get(path.suffix.lower())
    return pa.input_stream(str(path), compression=compression)


def _read_csv(path: Path, delimiter: str, exact: bool = False) -> RawTable:
    """Arrow's fast reader when the file is plain; the exact line-by-line reader otherwise.

    The fast result is trusted only when every physical line became one row: no broken line, no
    quoted newline, no CR-only line ends, no blank line. Anything else (or an Arrow error such as a
    line longer than its block) is read again by `_read_csv_exact`, which knows every record's line.
    """
    with _open(path) as stream:
        data = stream.read()
    data = data.removeprefix(b"\xef\xbb\xbf")
    header = _header(path, data, delimiter)
    lines, plain = _lines([data])
    try:
        table, broken = (None, True) if exact or not plain else _read_csv_arrow(data, delimiter, header)
        if not broken and table.num_rows + 1 == lines:
            return RawTable(str(path), _to_pandas(table), pd.Series(range(2, table.num_rows + 2), dtype="int64"))
    except pa.ArrowInvalid:
        pass
    return _read_csv_exact(path, data.decode("utf-8"), delimiter, len(header))


def _read_csv_arrow(data: bytes, delimiter: str, header: list[str]) -> tuple[pa.Table, list]:
    broken: list = []

    def keep_note(row):
        broken.append(row.number)
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(use_threads=True, column_names=header, skip_rows=1, encoding="utf8"),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=keep_note, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False),
    )
    return table, broken


MAX_FIELD_BYTES = 64 * 1024 * 1024  # a longer line (or value) is a rejected line, not a crash; README "Inputs"
MAX_RECORD_LINES = 10_000  # a quoted value running over more lines is an unbalanced quote
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class _TooManyLines(Exception):
    pass


class _TooLong(Exception):
    pass


def _too_long(line: str) -> bool:
    return len(line) > MAX_FIELD_BYTES // 4 and len(line.encode("utf-8")) > MAX_FIELD_BYTES


def _read_csv_exact(path: Path, text: str, delimiter: str, width: int) -> RawTable:
    """Every record with the line it starts on; a broken record is a rejected line and reading goes on.

    A quoted value may run over several lines. A quote that is never closed properly (a csv error, or
    a value whose following lines would each be a complete row) is an unbalanced quote: that line is
    rejected and reading restarts on the next line, so the rows after it are neither lost nor merged.
    """
    csv.field_size_limit(MAX_FIELD_BYTES)
    lines = _LINE.findall(text)
    numbers, rows, broken = [], [], []
    for line, fields, problem in _records(lines, delimiter, width):
        if problem is None and len(fields) != width:
            problem = f"line has {len(fields)} fields, the header has {width}"
        if problem is None:
            numbers.append(line)
            rows.append(fields)
        elif line > 1:
            broken.append((line, problem))
    if numbers and numbers[0] == 1:  # the header record
        numbers, rows = numbers[1:], rows[1:]
    columns = list(zip(*rows)) if rows else [()] * width
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    table = pa.table({name: pa.array(list(col), pa.string()) for name, col in zip(header, columns)})
    return RawTable(str(path), _to_pandas(table), pd.Series(numbers, dtype="int64"), broken)


def _records(lines: list[str], delimiter: str, width: int):
    """(first line number, fields, None) per record, or (line number, None, reason) for a broken one."""
    i, n = 0, len(lines)
    while i < n:
        state = {"start": i}

        def feed(begin: int):
            for k in range(begin, n):
                if k - state["start"] >= MAX_RECORD_LINES:
                    raise _TooManyLines
                if _too_long(lines[k]):
                    raise _TooLong
                yield lines[k]

        reader = csv.reader(feed(i), delimiter=delimiter, strict=True)
        try:
            for fields in reader:
                first, state["start"] = state["start"], i + reader.line_num
                if not fields:
                    continue  # a blank line is not a row
                inner = lines[first + 1: state["start"]]
                if inner and width > 1 and any(_complete_row(l, delimiter, width) for l in inner):
                    yield first + 1, None, "unbalanced quote: the quoted value swallows the next lines"
                    i = first + 1
                    break
                yield first + 1, fields, None
            else:
                return
        except (csv.Error, _TooManyLines, _TooLong) as exc:
            first = state["start"]
            message = str(exc)
            reason = (f"line longer than {MAX_FIELD_BYTES // 2**20} MB" if isinstance(exc, _TooLong)
                      else f"value longer than {MAX_FIELD_BYTES // 2**20} MB" if "field limit" in message
                      else "unbalanced quote: the quoted value never ends" if not message or "end of data" in message
                      else f"broken quoting ({message})")
            yield first + 1, None, reason
            i = first + 1


def _complete_row(line: str, delimiter: str, width: int) -> bool:
    """A line without quotes that holds exactly one row's fields: swallowed by a quote, not part of a value."""
    return '"' not in line and line.count(delimiter) == width - 1


def _read_parquet(path: Path) -> RawTable:
    with _open(path) as stream:
        table = pq.read_table(stream)
    return RawTable(str(path), _to_pandas(table), pd.Series(range(1, table.num_rows + 1), dtype="int64"))


def _read_json(path: Path) -> RawTable:
    with _open(path) as stream:
        data = stream.read().removeprefix(b"\xef\xbb\xbf")
    if data.lstrip()[:1] == b"[":
        try:
            records = loads(data)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from exc
        return _from_records(path, list(enumerate(records, start=1)), [])
    try:  # fast path: well-formed JSON Lines with consistent types, nested shallowly enough for Arrow's parser
        if _nesting(data) > MAX_ARROW_JSON_DEPTH:
            raise pa.ArrowInvalid("nested too deeply for the fast reader")
        table = pa_json.read_json(pa.BufferReader(data))
        stamped = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
        if stamped:  # Arrow turns "...Z" into a zone-less timestamp; keep the text so its offset is honoured
            schema = pa.schema([pa.field(f.name, pa.string()) if f.name in stamped else f for f in table.schema])
            options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
            table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
        return RawTable(str(path), _to_pandas(table), pd.Series(range(1, table.num_rows + 1), dtype="int64"))
    except pa.ArrowInvalid:
        pass
    records, broken = [], []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, loads(line)))
        except json.JSONDecodeError as exc:
            broken.append((number, f"invalid JSON ({exc.msg})"))
    return _from_records(path, records, broken)


MAX_ARROW_JSON_DEPTH = 100  # Arrow's JSON reader crashes the process (stack overflow) on deep nesting


def _nesting(data: bytes, chunk: int = 1 << 24) -> int:
    """An upper bound of the bracket nesting depth (brackets inside strings count too), in bounded memory."""
    deepest, level = 0, 0
    for start in range(0, len(data), chunk):
        raw = np.frombuffer(data, dtype=np.uint8, count=min(chunk, len(data) - start), offset=start)
        step = ((raw == 91) | (raw == 123)).astype(np.int32) - ((raw == 93) | (raw == 125)).astype(np.int32)
        depth = np.cumsum(step, dtype=np.int64) + level
        if len(depth):
            deepest, level = max(deepest, int(depth.max())), int(depth[-1])
    return deepest


def _from_records(path: Path, records: list[tuple[int, object]], broken: list) -> RawTable:
    rows = [(n, r) for n, r in records if isinstance(r, dict)]
    broken = broken + [(n, "not a JSON object") for n, r in records if not isinstance(r, dict)]
    frame = pd.DataFrame.from_records([r for _, r in rows]) if rows else pd.DataFrame()
    return RawTable(str(path), frame, pd.Series([n for n, _ in rows], dtype="int64"), sorted(broken))


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow-backed columns, except timestamps, which become numpy datetimes the parser understands."""
    return table.to_pandas(types_mapper=lambda t: None if pa.types.is_timestamp(t) else pd.ArrowDtype(t))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
