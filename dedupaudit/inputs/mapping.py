"""Column mappings: read any CSV/JSON/Parquet export into the canonical tables without a script.

A mapping is the `mapping:` section of the config file or a YAML file given with --mapping
(either the mapping itself or a document with a top-level `mapping:` key):

    mapping:
      columns:                      # canonical column -> the export's column, or a path into nested JSON
        event_id: eventId
        event_time: [properties.ts, ts]     # alternatives: the first non-empty one per row
      constants:
        platform: meta              # the same value on every row
      timestamp_format: "%d/%m/%Y %H:%M"    # strptime format, where auto-detection cannot decide
      timezone: Europe/Berlin       # zone of timestamps written without an offset
      files:                        # per-file overrides, by glob on the path or the file name
        "exports/tiktok_*.csv":
          constants: {platform: tiktok}
          format: pixel-log         # or force any input format for these files

A file matched by a `files:` pattern is read through its mapping (merged over the top level).
The top-level mapping alone applies to tables no other format recognises, and to canonical tables.
Canonical columns the mapping does not name are taken from same-named columns. Unknown keys are
an error that lists the valid ones.

`read_mapped` maps a table in pandas: `inspect` (which says where each column came from) and the files
`check` cannot map in SQL use it. `check` maps CSV/TSV and Parquet files in SQL over DuckDB's scan
(`inputs.mapsql`), calling `_times` and `localise` from here on distinct values only; the two paths
must give the same rows (tests/test_mapping_sql.py), so a change here is a change there.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import pandas as pd

from dedupaudit import yamlfile
from dedupaudit.errors import UserError
from dedupaudit.inputs.files import RawTable
from dedupaudit.inputs.native import EVENT_COLUMNS, ORDER_COLUMNS, Read
from dedupaudit.inputs.native.formats import FORMAT_NAMES
from dedupaudit.inputs.native.locale import localise
from dedupaudit.inputs.native.tables import coalesce, find_column
from dedupaudit.inputs.timestamps import parse_timestamps, resolve_timezone
from dedupaudit.options import Option, check_mapping, fail, shown, split_where

TARGETS = tuple(sorted(set(EVENT_COLUMNS) | set(ORDER_COLUMNS)))
TIME_TARGETS = ("event_time", "received_time", "created_at")


@dataclass(frozen=True)
class FileMapping:
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    format: str | None = None
    timestamp_format: str | None = None
    timezone: str | None = None
    where: str = "mapping"

    @property
    def empty(self) -> bool:
        return not (self.columns or self.constants or self.format or self.timestamp_format or self.timezone)

    def over(self, base: "FileMapping") -> "FileMapping":
        """This file's mapping on top of the top-level one (later wins, nothing mutated)."""
        return FileMapping(
            columns={**base.columns, **self.columns}, constants={**base.constants, **self.constants},
            format=self.format or base.format, timestamp_format=self.timestamp_format or base.timestamp_format,
            timezone=self.timezone or base.timezone, where=self.where)


@dataclass(frozen=True)
class Mapping:
    default: FileMapping
    files: tuple[tuple[str, FileMapping], ...] = ()

    def for_file(self, path) -> tuple[FileMapping | None, bool]:
        """The mapping for one file, and whether a `files:` pattern named it."""
        for pattern, mapping in self.files:
            if matches(pattern, path):
                return mapping.over(self.default), True
        return (None if self.default.empty else self.default), False


def matches(pattern: str, path) -> bool:
    posix = PurePath(path).as_posix()
    return fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(PurePath(path).name, pattern) \
        or PurePath(posix).match(pattern)


def _zone(value: str) -> str | None:
    try:
        resolve_timezone(value)
        return None
    except UserError:
        return f"unknown time zone {value!r}"


# The keys of a mapping (and of each `files:` entry but `files`), checked by the one Option type.
MAPPING_OPTIONS: dict[str, Option] = {
    "columns": Option(None, "mapping", "canonical column -> the export's column, a dotted JSON path, or a list of them",
                      valid="canonical column names as keys"),
    "constants": Option(None, "mapping", "canonical column -> the same value on every row", valid="canonical column names as keys"),
    "format": Option(None, "text", "read these files as this input format", choices=FORMAT_NAMES, nullable=True),
    "timestamp_format": Option(None, "text", "strptime format, where auto-detection cannot decide", nullable=True,
                               valid="a strptime format such as '%d/%m/%Y %H:%M'", test=lambda v: None if "%" in v else "has no % directive"),
    "timezone": Option(None, "text", "zone of timestamps written without an offset", nullable=True,
                       valid="an IANA time zone name such as Europe/Berlin", test=_zone),
    "files": Option(None, "mapping", "per-file overrides, by glob on the path or the file name",
                    valid="glob patterns, each with its own mapping"),
}


def _key(prefix: str, key) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def parse_mapping(data: dict, where: str) -> Mapping:
    """Validate a mapping (the config's `mapping:` section); `where` names it in errors, e.g. 'dedupaudit.yaml: mapping'."""
    if data is None:
        return Mapping(FileMapping(where=where))
    source, prefix = split_where(where)
    check_mapping(data, MAPPING_OPTIONS, source, prefix)
    default = _file_mapping({k: v for k, v in data.items() if k != "files"}, where)
    parsed = []
    for pattern, spec in (data.get("files") or {}).items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise fail(source, _key(prefix, "files"), f"{pattern!r} is not a file pattern", "glob patterns as text")
        inner = f"{where}.files['{pattern}']"
        check_mapping(spec, {k: o for k, o in MAPPING_OPTIONS.items() if k != "files"}, source, split_where(inner)[1])
        parsed.append((pattern, _file_mapping(spec, inner)))
    return Mapping(default, tuple(parsed))


def load_mapping_file(path) -> Mapping:
    path = Path(path)
    data = yamlfile.load(path, "--mapping")  # safe, no aliases, one-line errors
    if isinstance(data, dict) and set(data) == {"mapping"}:
        return parse_mapping(data["mapping"], f"{path}: mapping")
    return parse_mapping(data, str(path))


def read_mapped(path, raw: RawTable, mapping: FileMapping, side: str | None) -> Read:
    """The canonical columns of one table through a mapping (then same-named columns)."""
    frame = raw.frame
    targets = ORDER_COLUMNS if side == "orders" else EVENT_COLUMNS if side in ("pixel", "capi") else TARGETS
    out: dict[str, pd.Series] = {}
    sources: dict[str, str] = {}
    for target in targets:
        if target in mapping.constants:
            out[target] = pd.Series(mapping.constants[target], index=frame.index, dtype="object")
            sources[target] = f"constant '{mapping.constants[target]}' ({mapping.where}.constants)"
        elif target in mapping.columns:
            series, used = coalesce(frame, mapping.columns[target], raw=target in TIME_TARGETS)
            if series is None:
                found = ", ".join(map(str, frame.columns)) or "none"
                raise UserError(f"{path}: {mapping.where}.columns.{target}: no column or path "
                                f"{' or '.join(mapping.columns[target])} in this file (columns: {found})")
            out[target], sources[target] = series, " or ".join(used)
        elif find_column(frame, target) is not None:
            out[target], sources[target] = frame[find_column(frame, target)], f"{find_column(frame, target)} (same name)"
    for target in TIME_TARGETS:
        if target in out and (mapping.timestamp_format or mapping.timezone):
            out[target] = _times(out[target], mapping, path)
            sources[target] += " (" + ", ".join(filter(None, [mapping.timestamp_format and f"format {mapping.timestamp_format}",
                                                              mapping.timezone and f"zone {mapping.timezone}"])) + ")"
    notes: list[str] = []
    if side == "orders":  # an order export in the shop's locale: decimal commas, day-first dates (native.locale)
        localise(out, sources, notes, dates_too=not mapping.timestamp_format)
    result = pd.DataFrame(out, index=frame.index)
    result["source_ref"] = raw.row.map(lambda n: f"line {n}").to_numpy()
    return Read(RawTable(raw.path, result, raw.row, raw.broken), "mapped", f"table read through {mapping.where}", sources, notes)


def apply_extras(read: Read, mapping: FileMapping) -> Read:
    """A `files:` entry that forces a native format may still set constants and place naive timestamps."""
    frame = read.table.frame.copy()
    sources = dict(read.sources)
    for target, value in mapping.constants.items():
        frame[target] = value
        sources[target] = f"constant '{value}' ({mapping.where}.constants)"
    for target in TIME_TARGETS:
        if target in frame and (mapping.timestamp_format or mapping.timezone):
            frame[target] = _times(frame[target], mapping, read.table.path)
            sources[target] = sources.get(target, target) + f" (placed by {mapping.where})"
    table = RawTable(read.table.path, frame, read.table.row, read.table.broken, read.table.numeric)
    return Read(table, read.format, read.label, sources, read.notes)


def _file_mapping(data: dict, where: str) -> FileMapping:
    """One mapping's columns and constants (its other keys were checked by MAPPING_OPTIONS)."""
    source, prefix = split_where(where)
    columns = data.get("columns") or {}
    constants = data.get("constants") or {}
    for key, value in (("columns", columns), ("constants", constants)):
        for target in value:
            if target not in TARGETS:
                raise fail(source, _key(prefix, f"{key}.{target}"), "unknown canonical column", ", ".join(TARGETS))
    parsed_columns = {}
    for target, given in columns.items():
        sources = given if isinstance(given, list) else [given]
        if not sources or not all(isinstance(s, str) and s.strip() for s in sources):
            raise fail(source, _key(prefix, f"columns.{target}"), f"{shown(given)} is not a column name",
                       "a column name, a dotted JSON path, or a list of them")
        if target in constants:
            raise fail(source, prefix, f"{target} is both mapped to a column and given as a constant", "one of the two")
        parsed_columns[target] = tuple(sources)
    for target, value in constants.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            raise fail(source, _key(prefix, f"constants.{target}"), f"{shown(value)} is not a constant", "a text or number value")
    return FileMapping(parsed_columns, {k: str(v) for k, v in constants.items()}, data.get("format"),
                       data.get("timestamp_format"), data.get("timezone"), where)


def _times(values: pd.Series, mapping: FileMapping, path) -> pd.Series:
    """Timestamps as ISO text: parsed with the mapping's format, and naive ones placed in its zone."""
    text = values.astype("string").str.strip()
    out = values.astype("object").copy()
    if mapping.timestamp_format:
        aware = "%z" in mapping.timestamp_format or "%Z" in mapping.timestamp_format
        parsed = pd.to_datetime(text, format=mapping.timestamp_format, errors="coerce", utc=aware)
        good = parsed.notna()
        if aware:
            out[good] = parsed[good].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            out[good] = parsed[good].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
        text = pd.Series(out, index=values.index).astype("string")
        if aware:
            return out
    if mapping.timezone:
        numeric = text.str.fullmatch(r"-?\d+(?:\.\d+)?").fillna(False)
        candidates = text.notna() & ~numeric
        parsed = parse_timestamps(text[candidates], resolve_timezone(mapping.timezone))
        good = parsed.utc.notna()
        idx = parsed.utc[good].index
        out[idx] = parsed.utc[good].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return out
