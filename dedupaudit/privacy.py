"""Keep personal data and terminal control codes out of every output.

Canonical tables never carry user identifiers, but an ID column can still hold an email, a phone
number or an IP address when an export was mapped wrongly, and anyone who can fire a pixel event
controls its name and ID. Every string that leaves the tool passes through `clean` (reports via
`clean_tree` on the result, rejects via `clean_table`, streamed exports via `clean_batch`, error lines, `inspect`):
personal data becomes a short stable hash and control characters become visible escapes, so an
event name can neither leak an address nor clear an analyst's screen. Nothing here looks at
pandas dtype names: a value is cleaned when it is a `str`, whatever column holds it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pandas as pd
import pyarrow as pa

_EMAIL = re.compile(r"[\w.+%'-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.ASCII)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)")
_H = "[0-9a-fA-F]{1,4}"
# Full form, or a '::' abbreviation. Not inside a word or a longer run of colons, so '::error' in a CI
# log, a clock time such as 09:14:03 and a bare '::' are not addresses.
_IPV6 = re.compile(rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:(?:{_H}:){{0,5}}{_H}|(?:{_H}:){{1,7}}:|::(?:{_H}:){{0,6}}{_H})(?![\w:])")
# International (+49 171 1234567), bracketed area code ((555) 123-4567) or national with separators
# (555-123-4567, 0171 1234567). A bare run of digits is not treated as a phone: order IDs look the same.
_PHONE = re.compile(r"(?<![\w.:/#+-])(?:\+\s?\d[\d\s().-]{5,}\d|\(\d{1,5}\)\s?\d[\d\s.-]{4,}\d|\d{2,5}(?:[\s.-]\d{2,8}){1,5})(?![\w:/@]|[.-]\d)")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}\b|\d{1,2}[-./]\d{1,2}[-./]\d{4}\b")
# C0 and C1 controls (ESC starts ANSI and OSC sequences), DEL, and the Unicode bidi overrides that
# reorder what a reader sees. Newlines and tabs are escaped too: an input value is one line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _mask(text: str) -> str:
    return f"<redacted:{hashlib.sha256(text.encode()).hexdigest()[:8]}>"


def _ipv4(m: re.Match) -> str:
    return _mask(m.group(0)) if all(int(part) <= 255 for part in m.group(0).split(".")) else m.group(0)


def _ipv6(m: re.Match) -> str:
    text = m.group(0)
    short = text.startswith("::") and text.count(":") == 2 and not any(c.isdigit() for c in text)  # '::add' is a word
    return text if short else _mask(text)


def _phone(m: re.Match) -> str:
    text = m.group(0)
    digits = sum(c.isdigit() for c in text)
    if text.startswith("+"):
        return _mask(text) if 8 <= digits <= 15 else text
    if not 9 <= digits <= 15 or _DATE_LIKE.match(text):
        return text
    groups = re.split(r"[\s.()-]+", text.strip("("))
    return _mask(text) if text.startswith("(") or len(groups) >= 3 or groups[0].startswith("0") else text


def redact(value):
    """Replace emails, phone numbers and IP addresses in a string with a short stable hash; other values pass."""
    if not isinstance(value, str):
        return value
    value = _EMAIL.sub(lambda m: _mask(m.group(0)), value)
    value = _IPV6.sub(_ipv6, value)
    value = _IPV4.sub(_ipv4, value)
    return _PHONE.sub(_phone, value)


def escape_controls(value):
    """Show control characters as escapes (ESC as \\x1b), so no input string can drive a terminal."""
    if not isinstance(value, str):
        return value
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}", value)


def clean(value):
    """The one path for any string on its way out: personal data masked, control characters escaped."""
    return escape_controls(redact(value)) if isinstance(value, str) else value


def one_line(message: str, limit: int = 300) -> str:
    """An error message as one short clean line: a hostile file cannot echo megabytes or fake lines."""
    text = clean(str(message).strip().splitlines()[0] if str(message).strip() else "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clean_tree(obj):
    """Clean every string (keys too) in a result: dataclasses in place, dicts and lists rebuilt."""
    if isinstance(obj, str):
        return clean(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            setattr(obj, f.name, clean_tree(getattr(obj, f.name)))
        return obj
    if isinstance(obj, dict):
        return {clean_tree(k): clean_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(clean_tree(v) for v in obj)
    return obj


def clean_table(frame: pd.DataFrame, cell=clean) -> pd.DataFrame:
    """A copy with `cell` applied to every string value, whatever dtype its column has.

    Numeric, boolean and datetime columns cannot hold text and are left as they are; every other
    column is mapped value by value, so a string dtype named differently by the next pandas release
    is still cleaned.
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        out[column] = series.astype(object).map(cell)
    out.columns = [cell(str(c)) for c in out.columns]
    return out


_KEPT_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean, pa.types.is_temporal, pa.types.is_null)


def clean_batch(batch: pa.RecordBatch, cell=clean) -> pa.RecordBatch:
    """`clean_table` for one Arrow batch of a streamed export: `cell` on every text value and column name.

    Numbers, booleans and times cannot hold text and pass; every other column is written as cleaned
    text, whatever its Arrow type. Each distinct value is cleaned once (a file name repeats on every row).
    """
    columns = []
    for column in batch.columns:
        if any(kept(column.type) for kept in _KEPT_TYPES):
            columns.append(column)
            continue
        try:
            text = column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # lists, structs, binary that is not UTF-8
            text = pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
        encoded = text.dictionary_encode()
        columns.append(pa.array([cell(v) for v in encoded.dictionary.to_pylist()], pa.string()).take(encoded.indices))
    return pa.RecordBatch.from_arrays(columns, names=[cell(str(name)) for name in batch.schema.names])
