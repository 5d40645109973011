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

_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"  # ASCII digits: other scripts' digits are not epochs
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
        number = pd.to_numeric(text[numeric], errors="coerce").astype("float64")
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
            utc[aware] = _microseconds(parsed.dt.tz_localize(None))
        if naive.any():
            parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
            if getattr(parsed.dt, "tz", None) is not None:  # pragma: no cover - defensive
                parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
            utc[naive] = _to_naive_utc(_microseconds(parsed), zone)
        unit[textual & utc.notna()] = "text"

    return ParsedTimes(utc, unit, present & utc.isna())


def _microseconds(stamps: pd.Series) -> pd.Series:
    """Nanosecond digits (.1234567) are cut to microseconds, the unit every table keeps."""
    return stamps.dt.floor("us").astype("datetime64[us]")


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


# ----------------------------------------------------------------------------- the same parsing in SQL
#
# The engine parses the forms that make up nearly every export itself (epoch numbers, ISO-8601 with
# or without an offset, typed timestamps); a value in any other form, or one SQL cannot read, is
# parsed by `parse_timestamps` above, once per distinct value, and joined back: Python stays the
# authority for the rare forms, and the bulk never leaves the engine. Naive times in a zone other
# than UTC are shifted by the zone's offset per distinct hour; the hours of a clock change are
# converted per value, in Python, with the rule of `_to_naive_utc`.

_SQL_NUMBER = r"-?\d+(\.\d+)?"
_SQL_CLOCK = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
# A date, or a date and a clock time with an optional offset (Z, +hh, +hhmm, +hh:mm, with an optional space before the sign).
# Years outside pandas' nanosecond range (1678-2261) go to Python, which decides how they are rejected.
_SQL_ISO = rf"\d{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]{_SQL_CLOCK}(Z| ?[+-](0\d|1[0-4])(:?[0-5]\d)?)?)?"
_NUMBER_TYPES = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
                  "USMALLINT", "UTINYINT")


def is_number_type(kind: str) -> bool:
    """A DuckDB column type that holds numbers (a float ID, an epoch, a value)."""
    return kind in _NUMBER_TYPES or kind.startswith("DECIMAL")


def sql_text(column: str, kind: str) -> str:
    """A column as text, the way the canonical table stores it."""
    return column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class TimeColumn:
    """One timestamp column of a scan in SQL: `utc` (naive UTC), `unit` and `bad` are column names of the
    canonical SELECT once `columns()` are in it; `prepare` builds the Python lookups it joins."""

    def __init__(self, scan, column: str | None, name: str, zone: tzinfo):
        self.scan, self.column, self.name, self.zone = scan, column, name, zone
        self.kind = scan.types[column] if column is not None else None
        p = f"__{name}"
        self.t, self.form, self.how, self.fast = f"{p}_t", f"{p}_form", f"{p}_how", f"{p}_fast"
        self.utc, self.unit, self.bad, self.raw = f"{p}_utc", f"{p}_unit", f"{p}_bad", f"{p}_raw"
        self.lookup, self.hours, self.local, self.wait = f"{p}_lookup", f"{p}_hours", f"{p}_local", f"{p}_wait"
        self.joins: list[str] = []
        self.tables: list[str] = []

    @property
    def helpers(self) -> list[str]:
        """The columns the canonical SELECT carries to the end and drops."""
        return [self.how, self.utc, self.unit, self.bad, self.raw, self.wait]

    def first(self) -> dict[str, str]:
        """Level 1, over the scan: the value as cleaned text (NULL for typed columns)."""
        if self.column is None or self._typed:
            return {self.t: "NULL::VARCHAR"}
        text = sql_text(self.scan.quoted(self.column), self.kind)
        stripped = f"strip({text})"
        return {self.t: rf"CASE WHEN ends_with({stripped}, 'UTC') THEN regexp_replace({stripped}, '(\d)\s+UTC$', '\1Z') ELSE {stripped} END"}  # BigQuery

    def second(self) -> dict[str, str]:
        """Level 2: how the value is read (empty, epoch, aware, naive, lookup) and its SQL reading."""
        c = self.scan.quoted(self.column) if self.column is not None else None
        if c is None:
            return {self.how: "'empty'", self.fast: "NULL::TIMESTAMP"}
        if self.kind.startswith("TIMESTAMP WITH TIME ZONE"):
            return {self.how: f"CASE WHEN {c} IS NULL THEN 'empty' ELSE 'aware' END", self.fast: _utc_wall(c)}
        if self.kind.startswith("TIMESTAMP") or self.kind == "DATE":
            return {self.how: f"CASE WHEN {c} IS NULL THEN 'empty' ELSE 'naive' END", self.fast: f"CAST({c} AS TIMESTAMP)"}
        if is_number_type(self.kind):
            number = f"CAST({c} AS DOUBLE)"
            return {self.how: f"CASE WHEN {c} IS NULL OR isnan({number}) THEN 'empty' ELSE 'epoch' END",
                    self.fast: _epoch(number)}
        t, form = self.t, self.form
        offset = f"CASE WHEN contains({t}, ' +') OR contains({t}, ' -') THEN regexp_replace({t}, ' ([+-][0-9:]+)$', '\\1') ELSE {t} END"
        return {
            self.fast: f"""CASE {form} WHEN 'epoch' THEN {_epoch(f'try_cast({t} AS DOUBLE)')}
                                WHEN 'aware' THEN {_utc_wall(f'try_cast({offset} AS TIMESTAMPTZ)')}
                                WHEN 'naive' THEN try_cast({t} AS TIMESTAMP) END""",
            self.how: f"""CASE WHEN {t} IS NULL OR {t} = '' THEN 'empty' WHEN {self.fast} IS NOT NULL THEN {form} ELSE 'lookup' END""",
        }

    def forms(self) -> dict[str, str]:
        """Level 1b: which SQL form a text value has (each pattern tested once). The number's pattern guards its
        cast: a try_cast that fails builds an error message first, and an AND evaluates both sides of every row
        (2M ISO times: 0.05 s against 0.15 s)."""
        if self.column is None or self._typed:
            return {self.form: "NULL::VARCHAR"}
        t = self.t
        return {self.form: f"""CASE WHEN CASE WHEN regexp_full_match({t}, '{_SQL_NUMBER}') THEN try_cast({t} AS DOUBLE) IS NOT NULL ELSE false END THEN 'epoch'
                                    WHEN substr({t}, 1, 4) BETWEEN '1678' AND '2261' AND regexp_full_match({t}, '{_SQL_ISO}')
                                    THEN CASE WHEN ends_with({t}, 'Z') OR contains(substr({t}, 11), '+') OR contains(substr({t}, 11), '-')
                                              THEN 'aware' ELSE 'naive' END
                               END"""}

    def third(self) -> dict[str, str]:
        """Level 3, after the lookups are joined: UTC time, unit, whether a present value was unreadable, the raw text."""
        how, fast = self.how, self.fast
        local = fast if self._utc_zone else f"coalesce({fast} - {self.hours}.shift, {self.local}.utc)"
        epoch_unit = (f"CASE WHEN abs({self._number}) >= {MS_THRESHOLD:.0f} THEN 'milliseconds' ELSE 'seconds' END"
                      if self.column is not None else "NULL")
        return {
            self.how: how,
            self.utc: f"""CASE {how} WHEN 'epoch' THEN {fast} WHEN 'aware' THEN {fast} WHEN 'naive' THEN {local}
                                     WHEN 'lookup' THEN {self.lookup}.utc END""",
            self.unit: f"""CASE WHEN {how} = 'epoch' AND {fast} IS NOT NULL THEN {epoch_unit}
                                WHEN {how} IN ('aware', 'naive') THEN 'text' WHEN {how} = 'lookup' THEN {self.lookup}.unit END""",
            self.raw: "NULL" if self.column is None else self.scan.quoted(self.column),  # cast to text only for rejects
            self.wait: self.pending,
        }

    def fourth(self) -> dict[str, str]:
        return {self.bad: f"({self.how} <> 'empty' AND {self.utc} IS NULL)"}

    @property
    def _typed(self) -> bool:
        return self.kind != "VARCHAR"

    @property
    def _utc_zone(self) -> bool:
        return self.zone is dateutil_tz.UTC

    @property
    def _number(self) -> str:
        return f"try_cast({self.t} AS DOUBLE)" if not self._typed else f"CAST({self.scan.quoted(self.column)} AS DOUBLE)"

    def prepare(self, connection, second_level: str) -> list[str]:
        """Create the lookups this column joins and return the joins: the values no SQL form reads (empty
        until `fill`), and for naive times in another zone each hour's offset (one pass over the column)."""
        empty = pd.DataFrame({"t": pd.Series([], dtype="object"), "utc": pd.Series([], dtype="datetime64[us]"),
                              "unit": pd.Series([], dtype="object")})
        joins = [self._table(connection, "lookup", empty, f"{self.lookup}.t = s.{self.t}")]
        if not self._utc_zone:
            hours = [h for (h,) in connection.con.execute(f"SELECT DISTINCT date_trunc('hour', {self.fast}) FROM ({second_level}) "
                                                          f"WHERE {self.how} = 'naive' AND {self.fast} IS NOT NULL").fetchall()]
            joins.append(self._table(connection, "hours", self._shifts(hours), f"{self.hours}.hour = date_trunc('hour', s.{self.fast})"))
            local = pd.DataFrame({"local": pd.Series([], dtype="datetime64[us]"), "utc": pd.Series([], dtype="datetime64[us]")})
            joins.append(self._table(connection, "local", local, f"{self.local}.local = s.{self.fast}"))
        return joins

    def fill(self, connection, second_level: str) -> None:
        """Parse in Python the values of `second_level` (the rows left pending) that SQL does not read."""
        con = connection.con
        values = [v for (v,) in con.execute(f"SELECT DISTINCT {self.t} FROM ({second_level}) WHERE {self.how} = 'lookup'").fetchall()]
        if values:
            parsed = parse_timestamps(pd.Series(values, dtype="object"), self.zone)
            self._append(connection, self.lookup, pd.DataFrame({"t": pd.Series(values, dtype="object"), "utc": parsed.utc,
                                                                "unit": parsed.unit.astype("object")}))
        if not self._utc_zone:
            stamps = [v for (v,) in con.execute(
                f"SELECT DISTINCT {self.fast} FROM ({second_level}) s LEFT JOIN {self.hours} ON {self.hours}.hour = date_trunc('hour', s.{self.fast}) "
                f"WHERE {self.how} = 'naive' AND {self.fast} IS NOT NULL AND {self.hours}.shift IS NULL").fetchall()]
            if stamps:
                local = pd.Series(pd.to_datetime(pd.Series(stamps, dtype="object")), dtype="datetime64[us]")
                self._append(connection, self.local, pd.DataFrame({"local": local, "utc": _to_naive_utc(local, self.zone)}))

    @property
    def pending(self) -> str:
        """A row still needs Python: a value no SQL form reads, or a naive time in an hour the clocks change."""
        waiting = f"({self.how} = 'lookup' AND {self.lookup}.t IS NULL)"
        if not self._utc_zone:
            waiting += f" OR ({self.how} = 'naive' AND {self.fast} IS NOT NULL AND {self.hours}.shift IS NULL AND {self.local}.local IS NULL)"
        return f"({waiting})"

    @staticmethod
    def _append(connection, table: str, frame: pd.DataFrame) -> None:
        connection.con.register(f"{table}_add", frame)
        connection.con.execute(f"INSERT INTO {table} SELECT * FROM {table}_add")
        connection.con.unregister(f"{table}_add")

    def _shifts(self, hours: list) -> pd.DataFrame:
        """Per local hour its offset from UTC when one offset holds for the whole hour, else NULL (a clock change)."""
        start = pd.Series(pd.to_datetime(pd.Series(hours, dtype="object")), dtype="datetime64[us]")
        last = start + pd.Timedelta(hours=1) - pd.Timedelta(microseconds=1)
        utc_start, utc_last = _to_naive_utc(start, self.zone), _to_naive_utc(last, self.zone)
        steady = (utc_last - utc_start) == (last - start)
        return pd.DataFrame({"hour": start, "shift": (start - utc_start).where(steady)})

    _SCHEMAS = {"lookup": "t VARCHAR, utc TIMESTAMP, unit VARCHAR", "hours": "hour TIMESTAMP, shift INTERVAL",
                "local": "local TIMESTAMP, utc TIMESTAMP"}

    def _table(self, connection, what: str, frame: pd.DataFrame, on: str) -> str:
        name = {"lookup": self.lookup, "hours": self.hours, "local": self.local}[what]
        connection.con.execute(f"CREATE OR REPLACE TABLE {name} ({self._SCHEMAS[what]})")
        self.tables.append(name)
        if len(frame):
            self._append(connection, name, frame)
        return f"LEFT JOIN {name} ON {on}"

    def release(self, connection) -> None:
        for name in self.tables:
            connection.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.tables = []


def _utc_wall(aware: str) -> str:
    """A TIMESTAMPTZ as UTC wall time. Through epoch microseconds: the cast to TIMESTAMP goes through ICU's calendar
    (0.27 s against 0.01 s for 10M values); the cast stays only for what has no epoch (infinity)."""
    return f"coalesce(make_timestamp(epoch_us({aware})), CAST({aware} AS TIMESTAMP))"


def _epoch(number: str) -> str:
    """Epoch seconds or milliseconds (told apart by magnitude, as in parse_timestamps) as a TIMESTAMP."""
    return (f"CASE WHEN abs({number}) < {MAX_EPOCH_MS:.0f} THEN make_timestamp(CAST(round({number} * "
            f"CASE WHEN abs({number}) >= {MS_THRESHOLD:.0f} THEN 1000 ELSE 1000000 END) AS BIGINT)) END")
