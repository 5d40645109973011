"""Timestamp parsing for every form the exports use, vectorised per column.

Forms: ISO-8601 with or without an offset (naive values are in the run's time zone, UTC unless
--timezone says otherwise), `YYYY-MM-DD HH:MM:SS ±hhmm`, BigQuery's `YYYY-MM-DD HH:MM:SS[.f] UTC`,
epoch seconds and epoch milliseconds.
Epochs are told apart by magnitude: 1e11 seconds is the year 5138, 1e11 milliseconds is 1973, so
anything at or above 1e11 is milliseconds. The unit each value was written in is kept, because
a server event in milliseconds where the platform wants seconds is itself a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import pandas as pd
from dateutil import tz as dateutil_tz

from dedupaudit.errors import UserError

TEXT = pd.StringDtype("pyarrow")  # Arrow-backed text: string operations run vectorised, not per row in Python
MS_THRESHOLD = 1e11  # epoch values at or above this are milliseconds
MAX_EPOCH_MS = 1e14  # beyond this (year 5138 in ms) the value is not a timestamp we understand

_NUMBER = r"-?\d+(?:\.\d+)?"
_HAS_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass
class ParsedTimes:
    utc: pd.Series  # datetime64[us], naive UTC; NaT where empty or bad
    unit: pd.Series  # "seconds", "milliseconds", "text" or None
    bad: pd.Series  # bool: a value was present but could not be parsed


def resolve_timezone(name: str | None) -> tzinfo:
    """The zone naive timestamps are in; an unknown name is a user error."""
    if not name or name.upper() == "UTC":
        return dateutil_tz.UTC
    zone = dateutil_tz.gettz(name)
    if zone is None:
        raise UserError(f"unknown time zone '{name}' (use an IANA name such as Europe/Berlin)")
    return zone


def parse_timestamps(values: pd.Series, zone: tzinfo) -> ParsedTimes:
    index = values.index
    utc = pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
    unit = pd.Series(None, index=index, dtype="object")

    if pd.api.types.is_datetime64_any_dtype(values):
        utc[:] = _to_naive_utc(values, zone)
        unit[values.notna()] = "text"
        return ParsedTimes(utc, unit, pd.Series(False, index=index))

    text = values.astype(TEXT).str.strip().str.replace(r"(?<=\d)\s+UTC$", "Z", regex=True)  # BigQuery: "... 22:13:21.512 UTC"
    present = text.notna() & (text != "")

    numeric = present & text.str.fullmatch(_NUMBER).fillna(False)
    if numeric.any():
        number = pd.to_numeric(text[numeric]).astype("float64")
        is_ms = number.abs() >= MS_THRESHOLD
        in_range = number.abs() < MAX_EPOCH_MS
        micros = np.where(is_ms, number * 1_000, number * 1_000_000).round()
        stamps = pd.to_datetime(pd.Series(micros, index=number.index).where(in_range), unit="us")
        utc[numeric] = stamps
        unit[numeric & in_range.reindex(index, fill_value=False)] = np.where(is_ms[in_range], "milliseconds", "seconds")

    textual = present & ~numeric
    if textual.any():
        aware = textual & text.str.contains(_HAS_OFFSET, regex=True).fillna(False)
        naive = textual & ~aware
        if aware.any():
            parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            utc[aware] = parsed.dt.tz_localize(None)
        if naive.any():
            parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
            if getattr(parsed.dt, "tz", None) is not None:  # pragma: no cover - defensive
                parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
            utc[naive] = _to_naive_utc(parsed, zone)
        unit[textual & utc.notna()] = "text"

    return ParsedTimes(utc, unit, present & utc.isna())


def _to_naive_utc(stamps: pd.Series, zone: tzinfo) -> pd.Series:
    """Localise naive stamps to `zone` (aware ones keep their offset) and express them in naive UTC.

    In the autumn hour that happens twice, the first (summer-time) reading is taken; a spring
    time that does not exist moves forward, as clocks do.
    """
    if stamps.dt.tz is None:
        if zone is dateutil_tz.UTC:
            return stamps.astype("datetime64[us]")
        stamps = stamps.dt.tz_localize(
            zone, ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="shift_forward"
        )
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def parse_one(value: str, zone: tzinfo, what: str) -> pd.Timestamp:
    """Parse a single timestamp given on the command line or in config."""
    parsed = parse_timestamps(pd.Series([value]), zone)
    if parsed.bad.iloc[0] or pd.isna(parsed.utc.iloc[0]):
        raise UserError(f"{what}: cannot read '{value}' as a timestamp (use e.g. 2026-10-05 or 2026-10-05T14:00:00+02:00)")
    return parsed.utc.iloc[0]
