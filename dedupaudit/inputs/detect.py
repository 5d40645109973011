"""Which reader turns a file into rows with canonical column names.

`read_input` recognises what a file is and hands it to the reader for that format; every reader
returns a RawTable whose columns carry canonical names, so parsing, rejects and the audit stay in
`inputs.canonical`. The order of decisions:

1. a `files:` pattern of the column mapping that names the file (its `format:`, else `mapped`);
2. the side's forced format (--capi-format / --pixel-format / --orders-format, `ReadContext.formats`);
3. detection from the content: a HAR document (log.entries), CAPI request bodies or log records that
   wrap them (the rule files' `native.server` shapes; a table with a request_body column is such a log),
   and for tables the header: Shopify's or
   WooCommerce's order export, the canonical columns, a flat pixel log (`native.log`), and last a
   table with some canonical columns (so the loader can name the one that is missing);
4. a top-level column mapping, for tables nothing above recognises (and for canonical tables).

A file that matches nothing is a UserError that says what was found and what was expected.
`dedupaudit formats` lists every format with its detection rule; `dedupaudit inspect` shows the
decision for a file.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from dedupaudit.errors import UserError
from dedupaudit.inputs.files import InMemory, RawTable, Scan, delimiter_of, file_format, read_table, scan, scan_frame, scan_memory
from dedupaudit.inputs.mapping import FileMapping, apply_extras, read_mapped
from dedupaudit.inputs.mapsql import scan_mapped
from dedupaudit.inputs.native import Read
from dedupaudit.inputs.native.capi_logs import (Ambiguous, NotABody, is_response_line, match_format, read_capi_log,
                                                server_formats, unwrap)
from dedupaudit.inputs.native.compile import scan_capi_log
from dedupaudit.inputs.native.formats import FORMAT_NAMES, GENERIC_FORMATS, SIDES
from dedupaudit.inputs.native.har import is_har, read_har
from dedupaudit.inputs.native.jsonio import JsonRecords, decode, load_records, read_bytes, sniff_records
from dedupaudit.inputs.native.paths import Malformed
from dedupaudit.inputs.native.pixel_logs import looks_like_pixel_log, read_pixel_log
from dedupaudit.inputs.native.shop_orders import is_shopify, is_woocommerce, read_shopify, read_woocommerce
from dedupaudit.inputs.textfile import opened
from dedupaudit.platforms.rules import PlatformRules, load_rules

__all__ = ["FORMAT_NAMES", "ReadContext", "read_input", "describe_input", "scan_input", "format_sides"]

OPTIONS = {"pixel": "--pixel-format", "capi": "--capi-format", "orders": "--orders-format"}
TABLE_BODY_COLUMNS = ("request_body", "RequestBody", "requestBody")  # a table whose rows are logged requests


@dataclass(frozen=True)
class ReadContext:
    """What readers may need besides the file: platform rules, a column mapping, forced formats, and the
    encoding and delimiter when the user gave them (else detected per file: inputs.textfile)."""

    rules: dict = field(default_factory=dict)
    mapping: object | None = None  # inputs.mapping.Mapping
    formats: dict[str, str] = field(default_factory=dict)  # side ("pixel", "capi", "orders") -> format name
    encoding: str | None = None  # checked by textfile.check_encoding
    delimiter: str | None = None  # checked by textfile.check_delimiter


def read_input(path: Path, side: str, context: ReadContext = ReadContext()) -> RawTable:
    """Read one file of the given side ("pixel", "capi" or "orders") into canonical column names."""
    return describe_input(path, side, context).table


def describe_input(path: Path, side: str | None, context: ReadContext = ReadContext()) -> Read:
    """Read one file and say how: the format, where each canonical column came from, what was counted.
    `side` None (for `dedupaudit inspect`) accepts any format."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="dedupaudit-") as folder, \
            opened(path, file_format(path, strict=False), context.encoding, context.delimiter, folder) as text:
        path, rules, fmt, records, file_mapping, named = _decide(path, side, context)
        read = _read(path, fmt, side, rules, file_mapping, records)
        read = apply_extras(read, file_mapping) if named and read.format != "mapped" else read
    read.text = text
    return read


def decide_format(path: Path, side: str | None, context: ReadContext = ReadContext()) -> str:
    """The format `scan_input` reads a file as (a mapping that names it, a forced format, else detection)."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="dedupaudit-") as folder, \
            opened(path, file_format(path, strict=False), context.encoding, context.delimiter, folder):
        return _decide(path, side, context)[2]


def scan_input(connection, path: Path, side: str, context: ReadContext = ReadContext()) -> Scan:
    """One file as a relation on the audit's connection, in canonical column names. A canonical table is
    scanned by the engine itself (files.scan), and so is a mapped CSV/Parquet file, the mapping applied in
    SQL (inputs.mapsql); every other format goes through its reader. A file not in
    UTF-8 is read from a UTF-8 copy in the connection's spill folder, removed once the rows are in."""
    if isinstance(path, InMemory):
        return scan_memory(connection, path)
    path = Path(path)
    with opened(path, file_format(path, strict=False), context.encoding, context.delimiter, connection.spill) as text:
        path, rules, fmt, records, file_mapping, named = _decide(path, side, context)
        if fmt == "canonical" and not named:
            found = scan(connection, path)
        elif fmt == "mapped" and file_mapping is not None and \
                (mapped := scan_mapped(connection, path, file_mapping, side)) is not None:
            found = mapped  # the mapping as SQL over DuckDB's scan of the file (inputs.mapsql)
        elif not named and (compiled := _compiled(connection, path, fmt, rules)) is not None:
            found = compiled
        else:
            read = _read(path, fmt, side, rules, file_mapping, records)
            read = apply_extras(read, file_mapping) if named and read.format != "mapped" else read
            found = scan_frame(connection, read.table)
    found.text = text
    return found


def _compiled(connection, path: Path, fmt: str, rules: dict[str, PlatformRules]) -> Scan | None:
    """A CAPI request log read by its compiled DuckDB query (inputs.native.compile), or None for the Python reader."""
    if fmt != "capi-log" and fmt not in {s.format for s in server_formats(rules)}:
        return None
    forced = next((s for s in server_formats(rules) if s.format == fmt), None)
    return scan_capi_log(connection, path, rules, forced)


def _decide(path: Path, side: str | None, context: ReadContext):
    """Which format a file is read as: a mapping that names it, a forced format, else detection."""
    path = Path(path)
    rules = context.rules or bundled_rules()
    file_mapping, named = context.mapping.for_file(path) if context.mapping is not None else (None, False)
    forced, option = None, None
    if named and file_mapping.format:
        forced, option = file_mapping.format, f"{file_mapping.where}.format"
    elif named:
        forced, option = "mapped", file_mapping.where
    elif side and context.formats.get(side) not in (None, "auto"):
        forced, option = context.formats[side], OPTIONS.get(side, "format")
    if forced:
        check_format(forced, side, rules, option)
        fmt, records = forced, None
    else:
        fmt, records = detect(path, side, rules, file_mapping)
    return path, rules, fmt, records, file_mapping, named


def format_sides(rules: dict[str, PlatformRules]) -> dict[str, tuple[str, ...]]:
    """Every format name these rules accept, with the sides it belongs to."""
    sides = {f.name: f.sides for f in GENERIC_FORMATS}
    sides["auto"] = SIDES
    for spec in server_formats(rules):
        sides[spec.format] = ("capi",)
    return sides


def check_format(name: str, side: str | None, rules: dict[str, PlatformRules], option: str | None = None) -> None:
    """A forced format must exist and belong to the side it is given for."""
    sides = format_sides(rules)
    where = option or "format"
    if name not in sides:
        raise UserError(f"{where}: '{name}' is not a known format (valid: {', '.join(sides)}; see `dedupaudit formats`)")
    if side and side not in sides[name]:
        raise UserError(f"{where}: '{name}' is a format of {' / '.join(sides[name])} files, not {side} files")


@lru_cache(maxsize=1)
def bundled_rules() -> dict[str, PlatformRules]:
    return load_rules()


# ----------------------------------------------------------------------------------- detection

def detect(path: Path, side: str | None, rules: dict[str, PlatformRules],
           file_mapping: FileMapping | None) -> tuple[str, JsonRecords | None]:
    """The format of a file from its content (and the records already parsed, when that was needed)."""
    kind = file_format(path, strict=False)
    records = None
    if kind in ("csv", "tsv"):
        columns = csv_header(path, delimiter_of(path, kind))
    elif kind == "parquet":
        try:
            columns = pq.read_schema(str(path)).names
        except Exception as exc:  # pyarrow raises several types for a broken footer
            raise UserError(f"{path}: cannot read the file as Parquet ({str(exc).splitlines()[0]})") from exc
    else:
        sniffed = sniff_records(path)
        if sniffed is None:
            if kind is None:
                raise UserError(f"{path}: unknown file type: not CSV/TSV/Parquet by its name and not JSON by its content")
            raise UserError(f"{path}: the file is not JSON (expected JSON Lines, a JSON array or a JSON document)")
        objects = [obj for _, obj in sniffed.items if isinstance(obj, dict)]
        if any(is_har(obj) for obj in objects):
            return _fit("har", side, path), (sniffed if sniffed.layout == "document" else None)
        if objects and any(_is_request_log(obj, rules) for obj in objects[:20]):
            return _fit("capi-log", side, path), None
        columns = list(dict.fromkeys(k for obj in objects for k in obj))
        if kind is None and not columns:
            raise UserError(f"{path}: unknown file type: JSON without objects")
    if kind in ("csv", "tsv", "parquet") and any(str(c) in TABLE_BODY_COLUMNS for c in columns):
        return _fit("capi-log", side, path), None  # a request log exported as a table (Stape's BigQuery export as CSV)
    fmt = classify_columns(columns, side, path, rules)
    if fmt is None or (fmt == "canonical" and file_mapping is not None):
        if file_mapping is not None:
            return "mapped", records
        raise UserError(_unknown(path, columns, side))
    return _fit(fmt, side, path), records


def classify_columns(columns, side: str | None, path: Path, rules: dict[str, PlatformRules]) -> str | None:
    """The table format a header belongs to, or None."""
    lowered = {str(c).strip().lower() for c in columns}
    if is_shopify(columns):
        return "shopify-orders"
    if {"order_id", "created_at"} <= lowered and (side == "orders" or "event_name" not in lowered):
        return "canonical"
    if is_woocommerce(columns):
        return "woocommerce-orders"
    if {"event_name", "event_time"} <= lowered:
        return "canonical"
    if side in (None, "pixel") and looks_like_pixel_log(columns, path, rules):
        return "pixel-log"
    if lowered & {"event_name", "event_time", "created_at"} or (side == "orders" and "order_id" in lowered):
        return "canonical"  # a canonical table missing a column: the loader names the missing one
    return None


def csv_header(path: Path, delimiter: str) -> list[str]:
    head = decode(path, read_bytes(path, 1 << 16), partial=True)
    try:  # newline="": CR-only line ends are line ends too
        header = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), None)
    except csv.Error as exc:
        raise UserError(f"{path}: the header line cannot be read ({exc})") from None
    if not header:
        raise UserError(f"{path}: the file is empty (a header line is required)")
    return header


def _is_request_log(obj: dict, rules: dict[str, PlatformRules]) -> bool:
    try:
        rec = unwrap(obj)
    except NotABody:
        return False
    if rec.wrapped or is_response_line(obj):
        return True
    try:
        match_format(rec, server_formats(rules), {})
        return True
    except Ambiguous:
        return True
    except NotABody:
        return False
    except Malformed:  # a body whose events are cut-off JSON text: the reader rejects it with the reason
        return any(isinstance(v, str) and v.lstrip()[:1] in ("{", "[") for v in rec.body.values())


def _fit(fmt: str, side: str | None, path: Path) -> str:
    sides = next((f.sides for f in GENERIC_FORMATS if f.name == fmt), ("capi",))
    if side and side not in sides:
        label = next(f.label for f in GENERIC_FORMATS if f.name == fmt)
        label = label if label[:2].isupper() else label[0].lower() + label[1:]  # "HAR capture" keeps its capitals
        raise UserError(f"{path}: this is a {label}: give it with --{sides[0]}, not --{side}")
    return fmt


def _unknown(path: Path, columns, side: str | None) -> str:
    shown = ", ".join(map(str, list(columns)[:12])) + (", ..." if len(columns) > 12 else "") if columns else "none"
    expected = {
        "orders": "order_id and created_at (canonical), Shopify's Name/Created at/Financial Status, "
                  "or WooCommerce's Order Number/Order Date/Order Status",
        "pixel": "event_name and event_time (canonical), a HAR capture, or a pixel log with a platform's "
                 "browser field names (eventID, client_dedup_id, transaction_id, conversionId, ...)",
        "capi": "event_name and event_time (canonical), or request bodies of a platform's Conversions API",
    }.get(side or "", "a canonical table, a HAR capture, a CAPI request log, a pixel log or a shop's order export")
    option = f" or {OPTIONS[side]}" if side in OPTIONS else ""
    return (f"{path}: cannot tell what this file is (columns: {shown}); expected {expected}. "
            f"Describe its columns with a mapping (--mapping FILE){option}; `dedupaudit formats` lists what is read")


# ----------------------------------------------------------------------------------- reading

def _read(path: Path, fmt: str, side: str | None, rules: dict[str, PlatformRules],
          file_mapping: FileMapping | None, records: JsonRecords | None) -> Read:
    if fmt == "canonical":
        table = read_table(path)
        return Read(table, "canonical", "canonical table", {c: f"{c} (same name)" for c in map(str, table.frame.columns)}, [])
    if fmt == "mapped":
        if file_mapping is None:
            raise UserError(f"{path}: format 'mapped' needs a column mapping (--mapping FILE or the config's mapping:)")
        return read_mapped(path, _table(path), file_mapping, side)
    if fmt == "har":
        records = records or load_records(path)
        documents = [obj for _, obj in records.items if is_har(obj)]
        if len(documents) != 1:
            raise UserError(f"{path}: not a HAR capture (expected one JSON document with log.entries)")
        return read_har(path, documents[0], rules)
    if fmt == "pixel-log":
        return read_pixel_log(path, _table(path), rules)
    if fmt in ("shopify-orders", "woocommerce-orders"):
        raw = _table(path)
        recognised = is_shopify(raw.frame.columns) if fmt == "shopify-orders" else is_woocommerce(raw.frame.columns)
        if not recognised:
            raise UserError(f"{path}: not a {'Shopify' if fmt == 'shopify-orders' else 'WooCommerce'} orders export "
                            f"(columns: {', '.join(map(str, raw.frame.columns)) or 'none'})")
        return read_shopify(raw) if fmt == "shopify-orders" else read_woocommerce(raw)
    if fmt == "capi-log":
        return read_capi_log(path, _log_records(path), rules)
    spec = next((s for s in server_formats(rules) if s.format == fmt), None)
    if spec is None:
        raise UserError(f"{path}: format '{fmt}' is not defined by the rule files in use")
    return read_capi_log(path, _log_records(path), rules, forced=spec)


def _log_records(path: Path) -> JsonRecords:
    """The records of a request log: JSON as it is, or the rows of a table (CSV, TSV, Parquet) whose body
    column holds the request as JSON text; each row keeps its line number."""
    if file_format(path, strict=False) not in ("csv", "tsv", "parquet"):
        return load_records(path)
    raw = read_table(path)
    frame = raw.frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):  # typed send times (Parquet): ISO text, offset kept
            frame[column] = frame[column].map(lambda t: t.isoformat() if pd.notna(t) else None)
    frame = frame.astype("object").where(frame.notna(), None)
    rows = [{k: v for k, v in record.items() if v is not None} for record in frame.to_dict("records")]
    return JsonRecords("jsonl", list(zip(raw.row.tolist(), rows)), list(raw.broken))


def _table(path: Path) -> RawTable:
    """A table-shaped file: by extension through files.read_table, else JSON records by content."""
    if file_format(path, strict=False):
        return read_table(path)
    records = load_records(path)
    rows = [(pos, obj) for pos, obj in records.items if isinstance(obj, dict)]
    broken = records.broken + [(pos, "not a JSON object") for pos, obj in records.items if not isinstance(obj, dict)]
    frame = pd.DataFrame.from_records([obj for _, obj in rows]) if rows else pd.DataFrame()
    return RawTable(str(path), frame, pd.Series([pos for pos, _ in rows], dtype="int64"), sorted(broken))
