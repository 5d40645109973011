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
