"""Readers for the files people actually have: CAPI request logs, HAR captures, flat pixel logs and
shop order exports. Each turns one file into a table whose columns carry canonical names, so
typing, rejects and the audit stay in `inputs.canonical`. The readers that walk JSON in Python (HAR
captures, request logs read without the compiled query) and the flat pixel log reader produce an Arrow
table (`files.ArrowTable`: text columns, row numbers int64), registered on the audit's connection as it is;
the shop order exports are still pandas frames (`files.RawTable`).

Only canonical columns are ever written: user data in the files (hashed emails, phones, IP
addresses, user agents, click IDs, emails in page URLs) is never copied. Every output row keeps
where it came from: `row` is the line (JSON Lines, CSV) or record index (JSON array, HAR entry),
and the extra column `source_ref` says where inside it ("line 12, data[3]").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from dedupaudit.inputs.files import ArrowTable, RawTable
from dedupaudit.inputs.values import _whole_float

EVENT_COLUMNS = ("platform", "event_name", "event_id", "event_time", "received_time", "order_id", "value",
                 "currency", "delivery", "delivery_message",
                 # optional, filled where the body has them (Meta's and TikTok's fallback keys, the channel,
                 # Google's conversion action: the upload's resource name or the tag's AW-<id>/<label>)
                 "fbp", "external_id", "ttp", "action_source", "conversion_action")
ORDER_COLUMNS = ("order_id", "created_at", "value", "currency", "status")
ID_COLUMNS = ("event_id", "order_id")
MAX_MESSAGE = 300  # platform error texts are cut to this length


@dataclass
class Read:
    """One file read by a native reader: the table, and what `dedupaudit inspect` says about it."""

    table: RawTable | ArrowTable
    format: str  # the format name (see detect.FORMAT_NAMES)
    label: str  # what the file was recognised as, in words
    sources: dict[str, str] = field(default_factory=dict)  # canonical column -> where its values came from
    notes: list[str] = field(default_factory=list)  # counts and decisions worth telling the user
    text: object | None = None  # inputs.textfile.Text: the file's encoding and delimiter


class Rows:
    """Collects output rows column by column as Python lists, with row numbers and rejects; `table` turns
    them into Arrow columns directly (no pandas: these readers build one row at a time anyway)."""

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns
        self.values: dict[str, list] = {c: [] for c in columns}
        self.row: list[int] = []
        self.ref: list[str] = []
        self.broken: list[tuple] = []  # (row, reason) or (row, reason, where inside the row)

    def add(self, row: int, values: dict, ref: str) -> None:
        for column in self.columns:
            self.values[column].append(values.get(column))
        self.row.append(row)
        self.ref.append(ref)

    def reject(self, row: int, reason: str, ref: str | None = None) -> None:
        """A row that gives no event. The reason is the same text for the same problem (so rejects group by
        reason); where it happened ("line 3, data[1]") goes to `ref`, shown in --rejects."""
        self.broken.append((row, reason) if ref is None else (row, reason, ref))

    def __len__(self) -> int:
        return len(self.row)

    def table(self, path) -> ArrowTable:
        columns, numeric = {}, {}
        for column, values in self.values.items():
            if column in ID_COLUMNS:
                values, numeric[column] = _ids(values)
            columns[column] = pa.array([_text_cell(v) for v in values], pa.string())
        columns["source_ref"] = pa.array(self.ref, pa.string())
        return ArrowTable(str(path), pa.table(columns), pa.array(self.row, pa.int64()), sorted(self.broken), numeric)


def _ids(values: list) -> tuple[list, pa.Array]:
    """IDs as `values.id_text` writes them: an integer-valued float (1001.0 in a JSON body) is the ID '1001',
    flagged so the loader counts it; other values are text."""
    whole = [_whole_float(v) for v in values]
    return [str(int(v)) if w else v for v, w in zip(values, whole)], pa.array(whole, pa.bool_())


def _text_cell(value) -> str | None:
    """A value as the engine's text column holds it (pandas' string conversion: str(), NaN missing)."""
    if value is None or isinstance(value, str):
        return value
    return None if isinstance(value, float) and value != value else str(value)


def cell(column: str, value) -> str | float | None:
    """`text(value)`, except that an ID keeps a float as it is: `Rows.table` writes an integer-valued
    one (1001.0 in a JSON body) as the ID '1001' and counts it, as the canonical loader does."""
    if column in ID_COLUMNS and isinstance(value, float):
        return value
    return text(value)


def text(value) -> str | None:
    """A JSON or parameter value as the canonical text column wants it (numbers written out, nested values as JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value else None
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def short(message) -> str | None:
    if message is None:
        return None
    message = " ".join(str(message).split())
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
