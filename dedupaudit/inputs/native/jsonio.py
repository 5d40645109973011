"""Read JSON files the way logs are written: JSON Lines, a JSON array, or one JSON document
(a HAR capture, a single request body), optionally .gz/.zst compressed, keeping each record's line
or index so rejects and examples point back at the file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from dedupaudit.errors import UserError
from dedupaudit.inputs.files import COMPRESSIONS, loads, not_utf8  # loads: deep nesting is invalid JSON, not a crash
from dedupaudit.inputs.textfile import Text


@dataclass
class JsonRecords:
    layout: str  # "jsonl", "array" or "document"
    items: list[tuple[int, object]]  # (line for jsonl, index for array, 1 for a document), value
    broken: list[tuple[int, str]] = field(default_factory=list)
    partial: bool = False  # sniff_records: only the file's first bytes were read

    def where(self, pos: int) -> str:
        return {"jsonl": "line", "array": "record", "document": "record"}[self.layout] + f" {pos}"


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes, decompressed by extension (.gz, .zst), or its transcoded UTF-8 copy (inputs.textfile);
    at most `limit` bytes if given."""
    text = Text.of(path)
    source, compression = (text.copy, None) if text is not None and text.copy is not None else (path, COMPRESSIONS.get(path.suffix.lower()))
    try:
        with pa.input_stream(str(source), compression=compression) as stream:
            return stream.read(limit) if limit else stream.read()
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: cannot read the file ({str(exc).strip().splitlines()[0]})") from exc


def decode(path: Path, data: bytes, partial: bool = False) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 4:  # a multi-byte character cut at the sniffing limit
            return data[: exc.start].decode("utf-8-sig")
        raise UserError(not_utf8(path, exc)) from None


def load_records(path: Path, data: bytes | None = None) -> JsonRecords:
    """Every record of a JSON file. A broken JSON line is a reject; a broken document is an error."""
    content = decode(path, read_bytes(path) if data is None else data)
    stripped = content.lstrip()
    if not stripped:
        return JsonRecords("jsonl", [])
    lines = content.splitlines()
    first_line = next((n for n, line in enumerate(lines) if line.strip()), 0)
    if stripped[0] == "{" and _is_json(lines[first_line]):  # a whole object on the first line: JSON Lines
        items, broken = [], []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                items.append((number, loads(line)))
            except json.JSONDecodeError as exc:
                broken.append((number, f"invalid JSON ({exc.msg})"))
        return JsonRecords("jsonl", items, broken)
    try:
        document = loads(content)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from exc
    if isinstance(document, list):
        return JsonRecords("array", list(enumerate(document, start=1)))
    return JsonRecords("document", [(1, document)])


def sniff_records(path: Path, limit: int = 1 << 20, count: int = 50) -> JsonRecords | None:
    """The first records of a JSON file, cheaply: JSON Lines and large arrays are read from the first MB; a small
    array or a multi-line document is read whole. None when the file is not JSON at all."""
    head = decode(path, read_bytes(path, limit), partial=True)
    stripped = head.lstrip()
    if not stripped or stripped[0] not in "[{":
        return None
    lines = head.splitlines()
    first_line = next((n for n, line in enumerate(lines) if line.strip()), 0)
    if stripped[0] == "{" and _is_json(lines[first_line]):
        items = []
        for number, line in enumerate(lines[:-1] if len(head) >= limit else lines, start=1):
            if line.strip():
                try:
                    items.append((number, loads(line)))
                except json.JSONDecodeError:
                    continue
            if len(items) >= count:
                break
        return JsonRecords("jsonl", items, partial=len(head) >= limit)
    if stripped[0] == "[" and len(head) >= limit:  # a large JSON array: its first records, without the rest
        items = _array_head(stripped, count)
        if items:
            return JsonRecords("array", list(enumerate(items, start=1)), partial=True)
    try:
        records = load_records(path)
    except UserError:
        return None
    records.items = records.items[:count]
    return records


def _array_head(text: str, count: int) -> list | None:
    """The first `count` elements of a JSON array given by its first bytes (those cut off by the end are left out)."""
    decoder, items, i = json.JSONDecoder(), [], 1
    while len(items) < count:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            break
        try:
            value, i = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError):
            break
        items.append(value)
    return items or None


def _is_json(line: str) -> bool:
    try:
        loads(line)
        return True
    except json.JSONDecodeError:
        return False
