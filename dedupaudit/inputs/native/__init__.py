"""Readers for the files people actually have: CAPI request logs, HAR captures, flat pixel logs and
shop order exports. Each turns one file into a `RawTable` whose columns carry canonical names, so
typing, rejects and the audit stay in `inputs.canonical`.

Only canonical columns are ever written: user data in the files (hashed emails, phones, IP
addresses, user agents, click IDs, emails in page URLs) is never copied. Every output row keeps
where it came from: `row` is the line (JSON Lines, CSV) or record index (JSON array, HAR entry),
and the extra column `source_ref` says where inside it ("line 12, data[3]").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dedupaudit.inputs.files import RawTable
from dedupaudit.inputs.values import id_text

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

    table: RawTable
    format: str  # the format name (see detect.FORMAT_NAMES)
    label: str  # what the file was recognised as, in words
    sources: dict[str, str] = field(default_factory=dict)  # canonical column -> where its values came from
    notes: list[str] = field(default_factory=list)  # counts and decisions worth telling the user
    text: object | None = None  # inputs.textfile.Text: the file's encoding and delimiter


class Rows:
    """Collects output rows column by column (fast to turn into a frame), with row numbers and rejects."""

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

    def table(self, path) -> RawTable:
        frame = pd.DataFrame({c: pd.Series(v, dtype="object") for c, v in self.values.items()})
        frame["source_ref"] = pd.Series(self.ref, dtype="object")
        numeric = {}
        for column in ID_COLUMNS:
            if column in frame:
                ids, numeric[column] = id_text(frame[column])
                frame[column] = ids.astype("object").where(ids.notna(), None)
        return RawTable(str(path), frame, pd.Series(self.row, dtype="int64"), sorted(self.broken), numeric)


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
