"""Every timestamp form the exports use, parsed per value, with the unit it was written in."""

from __future__ import annotations

import pandas as pd
import pytest

from dedupaudit.errors import UserError
from dedupaudit.inputs.timestamps import parse_one, parse_timestamps, resolve_timezone

UTC = resolve_timezone("UTC")
BERLIN = resolve_timezone("Europe/Berlin")


@pytest.mark.parametrize("value, zone, expected, unit", [
    ("2026-03-01T10:15:00Z", UTC, "2026-03-01 10:15:00", "text"),
    ("2026-03-01T10:15:00+02:00", UTC, "2026-03-01 08:15:00", "text"),
    ("2026-03-01T10:15:00.250-05:00", UTC, "2026-03-01 15:15:00.250", "text"),
    ("2026-03-01 10:15:00 -0500", UTC, "2026-03-01 15:15:00", "text"),
    ("2026-03-01 10:15:00+05:30", UTC, "2026-03-01 04:45:00", "text"),
    ("2026-03-01 10:15:00", UTC, "2026-03-01 10:15:00", "text"),
    ("2026-03-01 10:15:00", BERLIN, "2026-03-01 09:15:00", "text"),
    ("2026-07-01T10:15:00", BERLIN, "2026-07-01 08:15:00", "text"),
    ("2026-03-01", UTC, "2026-03-01 00:00:00", "text"),
    ("1772360100", UTC, "2026-03-01 10:15:00", "seconds"),
    ("1772360100.5", UTC, "2026-03-01 10:15:00.500", "seconds"),
    ("1772360100000", UTC, "2026-03-01 10:15:00", "milliseconds"),
    (" 1772360100000 ", BERLIN, "2026-03-01 10:15:00", "milliseconds"),  # epochs ignore the zone
])
def test_forms(value, zone, expected, unit):
    parsed = parse_timestamps(pd.Series([value]), zone)
    assert parsed.utc.iloc[0] == pd.Timestamp(expected)
    assert parsed.unit.iloc[0] == unit
    assert not parsed.bad.iloc[0]


def test_numbers_from_json_or_parquet():
    parsed = parse_timestamps(pd.Series([1772360100, 1772360100000], dtype="int64"), UTC)
    assert parsed.utc.tolist() == [pd.Timestamp("2026-03-01 10:15:00")] * 2
    assert parsed.unit.tolist() == ["seconds", "milliseconds"]


def test_datetime_columns_from_parquet():
    naive = pd.Series(pd.to_datetime(["2026-03-01 10:15:00"]))
    assert parse_timestamps(naive, BERLIN).utc.iloc[0] == pd.Timestamp("2026-03-01 09:15:00")


@pytest.mark.parametrize("value", ["not-a-date", "2026-13-45T99:00:00Z", "1e99", "99999999999999999", "tomorrow 10:00"])
def test_bad_values_are_flagged_not_guessed(value):
    parsed = parse_timestamps(pd.Series([value]), UTC)
    assert parsed.bad.iloc[0] and pd.isna(parsed.utc.iloc[0])


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_is_missing_not_bad(value):
    parsed = parse_timestamps(pd.Series([value], dtype="object"), UTC)
    assert not parsed.bad.iloc[0] and pd.isna(parsed.utc.iloc[0])


def test_mixed_forms_in_one_column():
    parsed = parse_timestamps(pd.Series(["2026-03-01T10:15:00Z", "1772360100", "2026-03-01 11:15:00 +0100", "2026-03-01 10:15:00"]), UTC)
    assert parsed.utc.nunique() == 1


def test_unknown_zone_and_bad_option_are_user_errors():
    with pytest.raises(UserError, match="unknown time zone 'Mars/Olympus'"):
        resolve_timezone("Mars/Olympus")
    with pytest.raises(UserError, match="--since: cannot read 'last week'"):
        parse_one("last week", UTC, "--since")


# ------------------------------------------------------------------ the engine's SQL parsing equals parse_timestamps

EDGE_VALUES = [
    "2026-03-01T10:15:00Z", "2026-03-01T10:15:00+02:00", "2026-03-01T10:15:00.250-05:00", "2026-03-01 10:15:00 -0500",
    "2026-03-01 10:15:00+05:30", "2026-03-01 10:15:00", "2026-07-01T10:15:00", "2026-03-01", "2026-03-01T10:15",
    "2026-03-01T10:15Z", "2026-03-01T10:15:00+02", "2026-03-01T10:15:00+0200", "2026-03-01T10:15:00.1234567Z",
    "2026-03-01T10:15:00.123456Z", "2026-03-01 24:00:00", "2026-03-01T10:15:00+99:00", "2026-3-1", " 2026-03-01T10:15:00Z ",
    "\u00a02026-03-01T10:15:00Z", "2026-03-01T10:15:00 Z", "2026-03-01 10:15:00.512 UTC", "2026-03-01T10:15:00z",
    "1772360100", "1772360100.5", "1772360100000", " 1772360100000 ", "-5", "0", "1e3", "99999999999999999",
    "2026-02-30", "2026-02-30T10:00:00Z", "0001-01-01", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
    "2026-03-29 02:30:00", "2026-10-25 02:30:00", "2026-10-25 02:00:00", "2026-10-25 03:00:00", "2026-10-25 01:59:59.999999",
    "2026-03-29 01:59:59", "2026-03-29 03:00:00", "not-a-date", "tomorrow 10:00", "2026-13-45T99:00:00Z", "٢٠٢٦",
]


@pytest.mark.parametrize("zone_name", ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_engine_reads_every_value_as_parse_timestamps_does(tmp_path, zone_name):
    """The bulk of a file is parsed in SQL; Python parses the rest. Whatever path a value takes, the
    canonical time, its unit and the reject reason must be what `parse_timestamps` gives."""
    from dedupaudit.inputs.canonical import load_events
    from dedupaudit.inputs.values import time_problems

    zone = resolve_timezone(zone_name)
    path = tmp_path / "events.csv"
    pd.DataFrame({"platform": "meta", "event_name": "Purchase", "event_id": [f"e{i}" for i in range(len(EDGE_VALUES))],
                  "event_time": EDGE_VALUES}).to_csv(path, index=False)
    loaded = load_events([path], "pixel", zone, None, {"meta"})
    used = loaded.frame.set_index("event_id")
    rejected = dict(zip(loaded.rejects["row"], loaded.rejects["reason"]))

    expected = parse_timestamps(pd.Series(EDGE_VALUES), zone)
    problems = time_problems(expected.utc, "event_time", pd.Series(EDGE_VALUES))
    for i, value in enumerate(EDGE_VALUES):
        reason = ("event_time is empty" if pd.isna(expected.utc[i]) and not expected.bad[i]
                  else "event_time is not a timestamp" if expected.bad[i]
                  else next((why for mask, why, _ in problems if mask.fillna(False).iloc[i]), None))
        if reason is not None:
            assert rejected.get(i + 2) == reason, value
        else:
            row = used.loc[f"e{i}"]
            assert (row["event_time"], row["event_time_unit"]) == (expected.utc[i], expected.unit[i]), value
