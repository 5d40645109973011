"""Turn raw files into the canonical event and order tables the audit runs on.

Every input row ends in exactly one place: the canonical table, or the rejects table with the
reason. Only the canonical columns are carried forward, so extra columns of an export (emails,
IPs, user agents) never reach the audit or its reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

import pandas as pd

from dedupaudit.errors import UserError
from dedupaudit.inputs.detect import ReadContext, read_input
from dedupaudit.inputs.files import RawTable
from dedupaudit.inputs.timestamps import TEXT, parse_timestamps
from dedupaudit.inputs.values import id_text, time_problems

EVENT_REQUIRED = ("platform", "event_name", "event_time")
EVENT_OPTIONAL = ("event_id", "received_time", "order_id", "value", "currency", "delivery", "delivery_message", "source_ref",
                  *("fbp", "external_id", "ttp", "action_source", "conversion_action"),
                  "unhashed_user_data")  # unhashed_user_data: which user fields a server event sent unhashed ("em,ph"), never the values
# Identifiers some platforms deduplicate on when an event has no ID (Meta fbp / external_id, TikTok _ttp).
# They are compared as sent and never shown: the audit keeps only a hash of each.
IDENTIFIER_COLUMNS = ("fbp", "external_id", "ttp")
DELIVERY_VALUES = ("test", "refused")  # events the platform never counts: test traffic, refused by the API
ORDER_REQUIRED = ("order_id", "created_at")
ORDER_OPTIONAL = ("value", "currency", "status", "source_ref")
REJECT_COLUMNS = ["file", "row", "source_ref", "reason", "value"]


@dataclass
class Loaded:
    """A canonical table, the rows that could not be used, and the files it came from."""

    frame: pd.DataFrame
    rejects: pd.DataFrame
    files: list[str] = field(default_factory=list)

    @property
    def normalised_order_ids(self) -> int:
        """Rows whose order ID is compared in another spelling ('#1001' or ' 1001 ' as '1001')."""
        ids = self.frame["order_id"]
        return int((ids.notna() & (ids != self.frame["order_key"])).sum())

    @property
    def numeric_ids(self) -> int:
        """Event and order IDs that were stored as numbers (1001.0) and are compared as 1001."""
        return int(self.frame["numeric_ids"].sum())

    @property
    def rows(self) -> int:
        return len(self.frame) + len(self.rejects)

    def per_file(self) -> list[dict]:
        """Per input file: rows read = used + rejected, with the count per reason."""
        used = self.frame["file"].value_counts()
        out = []
        for name in self.files:
            reasons = self.rejects.loc[self.rejects["file"] == name, "reason"].value_counts()
            rejected = int(reasons.sum())
            out.append({"file": name, "rows": int(used.get(name, 0)) + rejected, "used": int(used.get(name, 0)),
                        "rejected": rejected, "rejected_reasons": {str(k): int(v) for k, v in reasons.items()}})
        return out


def order_key(order_ids: pd.Series) -> pd.Series:
    """How shops and platforms write one order: '#1001', '1001' and ' 1001 ' are the same order."""
    key = order_ids.astype(TEXT).str.strip().str.replace(r"^#", "", regex=True).str.strip()
    return key.mask(key == "")


def load_events(paths: list[Path], source: str, zone: tzinfo, default_platform: str | None, known_platforms: set[str],
                context: ReadContext = ReadContext(), on_file=None) -> Loaded:
    """`on_file(path)` is called before each file is read (the CLI's progress display)."""
    frames, rejects = [], []
    for path in paths:
        if on_file:
            on_file(path)
        raw = read_input(path, source, context)
        frame, rejected = _events_from(raw, source, zone, default_platform)
        _check_platforms(frame, raw.path, known_platforms)
        frames.append(frame)
        rejects.append(rejected)
    return _combine(frames, rejects, paths, _empty_events(source))


def load_orders(paths: list[Path], zone: tzinfo, context: ReadContext = ReadContext(), on_file=None) -> Loaded:
    frames, rejects = [], []
    for path in paths:
        if on_file:
            on_file(path)
        raw = read_input(path, "orders", context)
        columns = _columns(raw, ORDER_REQUIRED, ORDER_OPTIONAL)
        created = parse_timestamps(columns["created_at"], zone)
        value, bad_value = _numbers(columns["value"])
        key = order_key(columns["order_id"])
        problems = [
            (key.isna(), "order_id is empty", columns["order_id"]),
            (created.utc.isna() & ~created.bad, "created_at is empty", columns["created_at"]),
            (created.bad, "created_at is not a timestamp", columns["created_at"]),
            *time_problems(created.utc, "created_at", columns["created_at"]),
            (bad_value, "value is not a number", columns["value"]),
        ]
        frame = pd.DataFrame({
            "file": raw.path,
            "row": raw.row.to_numpy(),
            "order_id": columns["order_id"],
            "order_key": key,
            "created_at": created.utc,
            "value": value,
            "currency": columns["currency"].str.strip().str.upper(),
            "status": columns["status"].str.strip().str.lower(),
            "source_ref": columns["source_ref"],
            "numeric_ids": columns["numeric_ids"],
        })
        kept, rejected = _split(frame, raw, problems)
        frames.append(kept)
        rejects.append(rejected)
    return _combine(frames, rejects, paths, _empty_orders())


def _events_from(raw: RawTable, source: str, zone: tzinfo, default_platform: str | None):
    required = tuple(c for c in EVENT_REQUIRED if not (c == "platform" and default_platform))
    optional = EVENT_OPTIONAL + (("platform",) if default_platform else ())
    columns = _columns(raw, required, optional)
    platform = columns["platform"].str.strip().str.lower()
    if default_platform:
        platform = platform.mask(platform.isna() | (platform == ""), default_platform.lower())
    name = columns["event_name"]
    event_id = columns["event_id"].mask(columns["event_id"].str.strip() == "")
    event_time = parse_timestamps(columns["event_time"], zone)
    received = parse_timestamps(columns["received_time"], zone)
    value, bad_value = _numbers(columns["value"])
    delivery = columns["delivery"].str.strip().str.lower()
    delivery = delivery.mask(delivery.isin(["", "ok", "sent"]))
    problems = [
        (platform.isna() | (platform == ""), "platform is empty", columns["platform"]),
        (name.isna() | (name.str.strip() == ""), "event_name is empty", name),
        (event_time.utc.isna() & ~event_time.bad, "event_time is empty", columns["event_time"]),
        (event_time.bad, "event_time is not a timestamp", columns["event_time"]),
        *time_problems(event_time.utc, "event_time", columns["event_time"]),
        (received.bad, "received_time is not a timestamp", columns["received_time"]),
        *time_problems(received.utc, "received_time", columns["received_time"]),
        (bad_value, "value is not a number", columns["value"]),
        (delivery.notna() & ~delivery.isin(list(DELIVERY_VALUES)), "delivery is not test, refused or empty", columns["delivery"]),
    ]
    frame = pd.DataFrame({
        "source": source,
        "file": raw.path,
        "row": raw.row.to_numpy(),
        "platform": platform,
        "event_name": name,
        "event_id": event_id,
        "event_time": event_time.utc,
        "event_time_unit": event_time.unit,
        "received_time": received.utc.fillna(event_time.utc),
        "order_id": columns["order_id"],
        "order_key": order_key(columns["order_id"]),
        "value": value,
        "currency": columns["currency"].str.strip().str.upper(),
        "delivery": delivery,
        "delivery_message": columns["delivery_message"],
        "source_ref": columns["source_ref"],  # where inside a native file the row came from ("line 12, data[3]")
        **{name: _blank_to_na(columns[name]) for name in IDENTIFIER_COLUMNS},
        "action_source": _blank_to_na(columns["action_source"]),  # the channel as sent (Meta, Snap, Reddit)
        "conversion_action": _blank_to_na(columns["conversion_action"]),  # Google: the action (tag AW-ID/label or upload)
        "numeric_ids": columns["numeric_ids"],
        "unhashed_user_data": columns["unhashed_user_data"],
    })
    return _split(frame, raw, problems)


def _blank_to_na(column: pd.Series) -> pd.Series:
    return column.mask(column.str.strip() == "")


def _columns(raw: RawTable, required: tuple, optional: tuple) -> dict[str, pd.Series]:
    """The canonical columns as text; header names match ignoring case and surrounding spaces."""
    by_name = {str(c).strip().lower(): c for c in raw.frame.columns}
    missing = [c for c in required if c not in by_name]
    if missing and (len(raw.frame) or raw.frame.columns.size):
        found = ", ".join(map(str, raw.frame.columns)) or "none"
        raise UserError(f"{raw.path}: missing required column {', '.join(missing)} (found: {found})")
    out = {"numeric_ids": pd.Series(0, index=raw.frame.index, dtype="int64")}
    for name in required + optional:
        if name in by_name and name in ("event_time", "received_time", "created_at"):
            out[name] = raw.frame[by_name[name]]
        elif name in by_name and name in ("event_id", "order_id"):
            out[name], was_number = id_text(raw.frame[by_name[name]])
            out["numeric_ids"] += was_number.astype("int64").to_numpy()
        elif name in by_name:
            out[name] = _text(raw.frame[by_name[name]])
        else:
            out[name] = pd.Series(pd.NA, index=raw.frame.index, dtype=TEXT)
    return out


def _text(column: pd.Series) -> pd.Series:
    if column.dtype == object:  # records from JSON: nested values are not IDs
        column = column.map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else str(v))
    return column.astype(TEXT)


def _numbers(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = column.astype(TEXT).str.strip()
    present = text.notna() & (text != "")
    number = pd.to_numeric(text.where(present), errors="coerce").astype("float64")
    return number, present & number.isna()


def _split(frame: pd.DataFrame, raw: RawTable, problems: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep good rows; every other row (and every unreadable line) becomes a reject with its first problem."""
    index = frame.index
    reason = pd.Series(None, index=index, dtype="object")
    value = pd.Series(None, index=index, dtype="object")
    for mask, why, source in reversed(problems):  # reversed: the first listed problem wins
        mask = mask.fillna(False).to_numpy(dtype=bool)
        reason[mask] = why
        value[mask] = source[mask].astype(TEXT).to_numpy()
    bad = reason.notna().to_numpy()
    rejected = pd.DataFrame({"file": raw.path, "row": frame["row"].to_numpy()[bad], "source_ref": frame["source_ref"].to_numpy()[bad],
                             "reason": reason[bad].to_numpy(), "value": value[bad].to_numpy()})
    broken = pd.DataFrame([(raw.path, b[0], b[2] if len(b) > 2 else None, b[1], None) for b in raw.broken], columns=REJECT_COLUMNS)
    rejects = pd.concat([rejected, broken], ignore_index=True) if len(broken) else rejected
    return frame[~bad].reset_index(drop=True), rejects


def _check_platforms(frame: pd.DataFrame, path: str, known: set[str]) -> None:
    unknown = frame[~frame["platform"].isin(list(known))]
    if len(unknown):
        first = unknown.iloc[0]
        raise UserError(
            f"{path} row {first['row']}: unknown platform '{first['platform']}' "
            f"(rule files exist for: {', '.join(sorted(known))}; add one with --rules DIR)"
        )


def _combine(frames: list, rejects: list, paths: list[Path], empty: pd.DataFrame) -> Loaded:
    frame = pd.concat([empty, *frames], ignore_index=True) if frames else empty
    frame = frame.astype(empty.dtypes.to_dict())
    rejected = pd.concat([pd.DataFrame(columns=REJECT_COLUMNS), *rejects], ignore_index=True)
    return Loaded(frame, rejected, [str(p) for p in paths])


def _empty_events(source: str) -> pd.DataFrame:
    return pd.DataFrame({
        "source": pd.Series(dtype=TEXT), "file": pd.Series(dtype=TEXT), "row": pd.Series(dtype="int64"),
        "platform": pd.Series(dtype=TEXT), "event_name": pd.Series(dtype=TEXT), "event_id": pd.Series(dtype=TEXT),
        "event_time": pd.Series(dtype="datetime64[us]"), "event_time_unit": pd.Series(dtype=TEXT),
        "received_time": pd.Series(dtype="datetime64[us]"), "order_id": pd.Series(dtype=TEXT),
        "order_key": pd.Series(dtype=TEXT), "value": pd.Series(dtype="float64"), "currency": pd.Series(dtype=TEXT),
        "delivery": pd.Series(dtype=TEXT), "delivery_message": pd.Series(dtype=TEXT), "source_ref": pd.Series(dtype=TEXT),
        **{name: pd.Series(dtype=TEXT) for name in (*IDENTIFIER_COLUMNS, "action_source", "conversion_action")},
        "numeric_ids": pd.Series(dtype="int64"), "unhashed_user_data": pd.Series(dtype=TEXT),
    })


def _empty_orders() -> pd.DataFrame:
    return pd.DataFrame({
        "file": pd.Series(dtype=TEXT), "row": pd.Series(dtype="int64"), "order_id": pd.Series(dtype=TEXT),
        "order_key": pd.Series(dtype=TEXT), "created_at": pd.Series(dtype="datetime64[us]"),
        "value": pd.Series(dtype="float64"), "currency": pd.Series(dtype=TEXT), "status": pd.Series(dtype=TEXT),
        "source_ref": pd.Series(dtype=TEXT), "numeric_ids": pd.Series(dtype="int64"),
    })

