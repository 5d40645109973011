"""Find the files a user named and read each into a frame, keeping where every row came from.

Formats are told by extension: .csv, .tsv, .jsonl/.ndjson, .json (an array of objects, or one
object per line), .parquet; each may end in .gz or .zst. Values are read as text (IDs such as
`00123` must not become numbers); typing happens in `canonical`. A line that cannot be read
(a broken CSV line, invalid JSON) becomes a rejected row with its line number, never a silent drop.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from dedupaudit.errors import UserError

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


def expand_paths(args: list[str], option: str) -> list[Path]:
    """Files, folders (every supported file below) and globs, in a stable order, each once."""
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and file_format(p, strict=False))
            if not matches:
                raise UserError(f"{option} {arg}: the folder holds no .csv, .tsv, .jsonl, .json or .parquet file")
        elif glob.has_magic(arg):
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True) if Path(p).is_file())
            if not matches:
                raise UserError(f"{option} {arg}: no file matches this pattern")
        elif path.is_file():
            matches = [path]
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


def read_table(path: Path) -> RawTable:
    fmt = file_format(path)
    try:
        if fmt in ("csv", "tsv"):
            return _read_csv(path, "\t" if fmt == "tsv" else ",")
        if fmt == "parquet":
            return _read_parquet(path)
        return _read_json(path)
    except UserError:
        raise
    except (OSError, pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: cannot read the file ({_first_line(exc)})") from exc


def _open(path: Path) -> pa.NativeFile:
    compression = COMPRESSIONS.get(path.suffix.lower())
    return pa.input_stream(str(path), compression=compression)


def _read_csv(path: Path, delimiter: str) -> RawTable:
    with _open(path) as stream:
        header = next(csv.reader(io.TextIOWrapper(stream, encoding="utf-8-sig"), delimiter=delimiter), None)
    if not header:
        raise UserError(f"{path}: the file is empty (a header line is required)")
    if len(set(header)) != len(header):
        raise UserError(f"{path}: the header names a column twice")

    def read(threads: bool) -> tuple[pa.Table, list]:
        broken: list = []

        def keep_note(row):
            broken.append((row.number, f"line has {row.actual_columns} fields, the header has {row.expected_columns}"))
            return "skip"

        with _open(path) as stream:
            table = pa_csv.read_csv(
                stream,
                read_options=pa_csv.ReadOptions(use_threads=threads, column_names=header, skip_rows=1, encoding="utf8"),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=keep_note, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False),
            )
        return table, broken

    table, broken = read(threads=True)
    if broken:  # only the single-threaded reader knows line numbers; broken files are rare
        table, broken = read(threads=False)
    bad_lines = {line for line, _ in broken}
    lines = [n for n in range(2, table.num_rows + len(broken) + 2) if n not in bad_lines][: table.num_rows]
    return RawTable(str(path), _to_pandas(table), pd.Series(lines, dtype="int64"), broken)


def _read_parquet(path: Path) -> RawTable:
    with _open(path) as stream:
        table = pq.read_table(stream)
    return RawTable(str(path), _to_pandas(table), pd.Series(range(1, table.num_rows + 1), dtype="int64"))


def _read_json(path: Path) -> RawTable:
    with _open(path) as stream:
        data = stream.read()
    if data.lstrip()[:1] == b"[":
        try:
            records = json.loads(data)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from exc
        return _from_records(path, list(enumerate(records, start=1)), [])
    try:  # fast path: well-formed JSON Lines with consistent types
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
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            broken.append((number, f"invalid JSON ({exc.msg})"))
    return _from_records(path, records, broken)


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
