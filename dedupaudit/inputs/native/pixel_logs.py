"""Browser side: a flat pixel log (CSV, JSON Lines, JSON array or Parquet) written with the
platform's own browser field names, e.g. a tag manager's or a consent tool's event log:

    timestamp,event,eventID,value,currency,order_id          (Meta: fbq's eventID)
    timestamp,event,client_dedup_id,transaction_id,price     (Snap: snaptr's data keys)

Which names mean what is in the rule files (`native.log`). The platform comes from a `platform`
column; else from the columns only one platform's logs have (`signature`: eventID, client_dedup_id,
conversionId, ...), the event names (which platform's taxonomy they belong to), or the platform's
name in the file name. Where none of these decides, the rows get no platform and `--platform`
(or a mapping constant) must give it.

The column mapping runs in pandas on the table `files.read_table` read; the result is handed on
as an Arrow table (`files.arrow_table`), as the HAR reader's is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dedupaudit.inputs.files import RawTable, arrow_table
from dedupaudit.inputs.native import EVENT_COLUMNS, ID_COLUMNS, Read
from dedupaudit.inputs.native.tables import blank_to_na, coalesce, coalesce_ids, find_column
from dedupaudit.platforms.rules import FieldSpec, LogFormat, PlatformRules, platform_names

TIME_COLUMNS = ("event_time", "timestamp", "time", "ts", "datetime", "date")
GENERIC = {
    "event_name": FieldSpec(("event_name",)),
    "event_id": FieldSpec(("event_id",)),
    "event_time": FieldSpec(TIME_COLUMNS),
    "received_time": FieldSpec(("received_time", "received_at")),
    "order_id": FieldSpec(("order_id",)),
    "value": FieldSpec(("value",)),
    "currency": FieldSpec(("currency",)),
    "delivery": FieldSpec(("delivery",)),
    "delivery_message": FieldSpec(("delivery_message",)),
    **{c: FieldSpec((c,)) for c in ("fbp", "external_id", "ttp", "action_source", "conversion_action")},
}


def log_formats(rules: dict[str, PlatformRules]) -> dict[str, LogFormat]:
    return {p: r.native.log for p, r in rules.items() if r.native and r.native.log}


def name_hint(path: Path, rules: dict[str, PlatformRules]) -> str | None:
    """The one platform named in the file name (tiktok_pixel.jsonl -> tiktok), if exactly one is."""
    tokens = set(re.split(r"[^a-z0-9]+", Path(path).name.lower()))
    found = {p for p, r in rules.items() if p in tokens or r.display_name.lower() in tokens}
    return found.pop() if len(found) == 1 else None


def looks_like_pixel_log(columns, path: Path, rules: dict[str, PlatformRules]) -> bool:
    columns = [str(c) for c in columns]
    if any(col in columns for log in log_formats(rules).values() for col in log.signature):
        return True
    lowered = {c.strip().lower() for c in columns}
    name_columns = {"event", "ev", "event_type"} | {p.lower() for log in log_formats(rules).values()
                                                    for p in log.fields.get("event_name", FieldSpec()).paths}
    has_name = bool(lowered & name_columns)
    has_time = bool(lowered & set(TIME_COLUMNS))
    return has_name and has_time and ("platform" in lowered or name_hint(path, rules) is not None)


def file_platform(frame: pd.DataFrame, path: Path, rules: dict[str, PlatformRules]) -> tuple[str | None, str]:
    """The platform of a log without a platform column, and how it was decided."""
    logs = log_formats(rules)
    scores = {p: sum(col in frame.columns for col in log.signature) for p, log in logs.items()}
    best = max(scores.values(), default=0)
    candidates = [p for p, s in scores.items() if s == best and s > 0]
    if len(candidates) == 1:
        return candidates[0], f"its columns ({', '.join(c for c in logs[candidates[0]].signature if c in frame.columns)})"
    names = _name_votes(frame, candidates or list(logs), logs, rules)
    if names:
        return names, "its event names"
    hinted = name_hint(path, rules)
    if hinted and (not candidates or hinted in candidates):
        return hinted, "the file name"
    return None, "undecided"


def read_pixel_log(path: Path, raw: RawTable, rules: dict[str, PlatformRules]) -> Read:
    frame = raw.frame
    logs = log_formats(rules)
    platform_column = find_column(frame, "platform")
    out = {c: pd.Series(None, index=frame.index, dtype="object") for c in EVENT_COLUMNS}
    numeric = {c: pd.Series(False, index=frame.index) for c in ID_COLUMNS}  # IDs that were integer-valued floats
    sources: dict[str, set] = {}
    notes = []
    if platform_column is not None:
        names = platform_names(rules)  # 'facebook' -> meta: the rule files' aliases
        platforms = blank_to_na(frame[platform_column]).str.strip().str.lower().map(lambda p: names.get(p, p), na_action="ignore")
        groups = [(p, platforms == p) for p in platforms.dropna().unique()]
        out["platform"] = frame[platform_column].astype("object")
        sources["platform"] = {f"column {platform_column}"}
        missing = platforms.isna()
        if missing.any():
            groups.append((None, missing))
    else:
        platform, why = file_platform(frame, path, rules)
        groups = [(platform, pd.Series(True, index=frame.index))]
        if platform:
            out["platform"] = pd.Series(platform, index=frame.index, dtype="object")
            sources["platform"] = {f"'{platform}', from {why}"}
        else:
            del out["platform"]
            notes.append("the platform could not be told from the columns, the event names or the file name: "
                         "give --platform, a platform column, or a mapping constant")
    for platform, mask in groups:
        mask = mask.fillna(False).to_numpy(dtype=bool)
        log = logs.get(platform)
        names = _names(rules.get(platform))
        part = frame.loc[mask]
        for column, generic in GENERIC.items():
            spec = log.fields.get(column) if log else None
            paths = tuple(dict.fromkeys((spec.paths if spec else ()) + generic.paths))
            if column in ID_COLUMNS:
                series, whole, used = coalesce_ids(part, paths)
                if whole is not None:
                    numeric[column].loc[mask] = whole.to_numpy(dtype=bool)
            else:
                series, used = coalesce(part, paths, raw=column in ("event_time", "received_time"))
            if series is None and spec is not None and spec.value is not None:
                series, used = pd.Series(spec.value, index=part.index, dtype="object"), [f"'{spec.value}'"]
            elif series is not None and spec is not None and spec.value is not None and column != "event_time":
                series = series.astype("object").where(series.notna(), spec.value)
            if series is None:
                continue
            if column == "event_name" and names:
                series = series.astype("object").map(lambda v: names.get(v, v) if isinstance(v, str) else v)
            out[column].loc[mask] = series.astype("object").where(series.notna(), None).to_numpy()
            where = " or ".join(used) + (" (names translated to the server API's)" if column == "event_name" and names else "")
            sources.setdefault(column, set()).add(f"{platform}: {where}" if platform else where)
    result = pd.DataFrame(out)
    result["source_ref"] = raw.row.map(lambda n: f"line {n}").to_numpy()
    table = arrow_table(RawTable(raw.path, result, raw.row, raw.broken, {c: numeric[c] for c in ID_COLUMNS if c in result}))
    label = "flat pixel log with the platforms' browser field names"
    return Read(table, "pixel-log", label, {c: "; ".join(sorted(v)) for c, v in sources.items()}, notes)


def _names(rule: PlatformRules | None) -> dict[str, str]:
    if rule is None or rule.native is None:
        return {}
    out: dict[str, str] = {}
    for spec in rule.native.browser:
        out.update(spec.names)
    return out


def _name_votes(frame: pd.DataFrame, candidates, logs: dict[str, LogFormat], rules) -> str | None:
    """The single candidate whose taxonomy holds the most of the file's event names."""
    columns = {c for p in candidates for c in (logs[p].fields.get("event_name", FieldSpec()).paths + ("event_name",))}
    values: set = set()
    for column in columns:
        found = find_column(frame, column)
        if found is not None:
            values |= set(blank_to_na(frame[found]).dropna().unique()[:200])
    if not values:
        return None
    votes = {}
    for p in candidates:
        known = {n for names in rules[p].events.values() for n in names} | set(_names(rules[p]))
        votes[p] = len(values & known)
    best = max(votes.values(), default=0)
    winners = [p for p, v in votes.items() if v == best and v > 0]
    return winners[0] if len(winners) == 1 else None
