"""Numbers and dates as shops outside the US write them, decided per column from its values.

Numbers: a column is read with a decimal comma when some of its values can only mean that
(`57,10`, `1.234,56`) and none can only mean a decimal point (`57.10`, `1,234.56`); then `.`, spaces
and `'` are thousands separators. The reverse makes `,` the thousands separator. A column with both
reads each such value by its own form. Currency signs and
codes around the number are dropped. A value that is still not a number after this is left empty
(the order is kept, the count goes into a note), because value is optional for an order.

Dates: `dd/mm/yyyy` (also with `.` or `-`) is read day first when some value has a first part above
12 and none has a second part above 12; month first in the reverse case. A column where neither
happens (every part 12 or less) is not guessed: it is named in a note and its orders are rejected
by the loader with the value shown; a column with both is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dedupaudit.inputs.native.tables import blank_to_na

_JUNK = r"[^\d,.\-]"  # everything but digits, separators and the sign: currency signs and codes, spaces, '
_COMMA_DECIMAL = r"^-?(?:\d{1,3}(?:\.\d{3})+|\d+),\d{1,2}$"  # 57,10  1.234,56
_POINT_DECIMAL = r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{1,2}$"  # 57.10  1,234.56
_DATE = r"^\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\b(.*)$"


@dataclass
class Column:
    values: pd.Series  # text as the canonical loader reads it
    how: str | None = None  # what was detected, for `inspect`
    emptied: int = 0  # values that could not be read and were left empty


def numbers(series: pd.Series) -> Column:
    if pd.api.types.is_numeric_dtype(series):  # typed already (Parquet, a numeric CSV column)
        return Column(series)
    raw = blank_to_na(series.astype("string"))
    cleaned = raw.str.replace(_JUNK, "", regex=True)
    comma = cleaned.str.match(_COMMA_DECIMAL).fillna(False)
    point = cleaned.str.match(_POINT_DECIMAL).fillna(False)
    how = None
    if comma.any() and not point.any():
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        example = raw[comma].iloc[0]
        how = f"decimal comma, '.' or space as thousands separator (e.g. '{example}' read as {cleaned[comma].iloc[0]})"
    elif point.any() and not comma.any():
        thousands = cleaned.str.contains(",", regex=False).fillna(False)
        cleaned = cleaned.str.replace(",", "", regex=False)
        if thousands.any():
            how = f"decimal point, ',' as thousands separator (e.g. '{raw[thousands].iloc[0]}' read as {cleaned[thousands].iloc[0]})"
    elif comma.any() and point.any():
        how = "both decimal commas and decimal points in one column: each value read by its own form"
        as_comma = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        cleaned = as_comma.where(comma, cleaned.str.replace(",", "", regex=False).where(point, cleaned))
    number = pd.to_numeric(cleaned.where(cleaned != ""), errors="coerce")
    bad = raw.notna() & number.isna()
    values = cleaned.where(~bad)
    return Column(values.astype("object").where(values.notna(), None), how, int(bad.sum()))


def dates(series: pd.Series) -> Column:
    if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
        return Column(series)  # timestamps or epochs typed already
    raw = blank_to_na(series.astype("string"))
    parts = raw.str.extract(_DATE)
    matched = parts[0].notna()
    if not matched.any():
        return Column(series)
    first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first == month_first:
        how = (f"dates like '{raw[matched].iloc[0]}' with day and month both 12 or less in every row: whether the "
               "day or the month comes first cannot be told, so they are not read; give the order with a mapping "
               "(files: ... timestamp_format: '%d/%m/%Y %H:%M')") if not day_first else \
              "dates with the day first in some rows and the month first in others: read as written"
        return Column(series, how)
    day, month = (parts[0], parts[1]) if day_first else (parts[1], parts[0])
    year = parts[2].where(parts[2].str.len() == 4, "20" + parts[2])
    iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + parts[3].fillna("")
    values = iso.where(matched, raw)
    example = raw[matched].iloc[0]
    how = f"{'day' if day_first else 'month'} first (e.g. '{example}' read as {values[matched].iloc[0].strip()})"
    return Column(values.astype("object").where(values.notna(), None), how)


def localise(out: dict, sources: dict, notes: list, dates_too: bool = True) -> None:
    """An order table's value and created_at columns (a frame or a dict of series), read as detected per column."""
    found = {"value": numbers(out["value"]) if out.get("value") is not None else None,
             "created_at": dates(out["created_at"]) if dates_too and out.get("created_at") is not None else None}
    for column, column_found in found.items():
        if column_found is None:
            continue
        out[column] = pd.Series(column_found.values.to_numpy(), index=out[column].index, dtype="object")
        if column_found.how:
            sources[column] = f"{sources.get(column, column)} ({column_found.how})"
    emptied = found["value"].emptied if found["value"] is not None else 0
    if emptied:
        notes.append(f"{emptied:,} order{'s' if emptied != 1 else ''} with a total that is not a number: "
                     "kept, with the value left empty")
