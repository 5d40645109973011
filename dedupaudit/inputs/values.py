"""Values as the platforms see them: numeric IDs written out as text, timestamps in a believable range.

A spreadsheet, a JSON export or a Parquet float64 column (one NaN or one `1001.0` record is enough)
stores the order 1001 as the float 1001.0; its text would be "1001.0", which matches nothing, so
every such order would look unreported and every pair mismatched. An integer-valued float is the
ID it stands for (`1001`); other floats keep their text. Timestamps before 2000 or more than a day
after the run are typing errors or unit mix-ups, not events: they are rejected with that reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dedupaudit.inputs.timestamps import TEXT

EARLIEST = pd.Timestamp("2000-01-01")
FUTURE_SLACK = pd.Timedelta(days=1)


def _whole_float(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**53


def id_text(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(IDs as text, which values were integer-valued floats). Nested JSON values become their JSON text.

    Vectorised for float columns (Parquet, Arrow JSON) and text columns (CSV); only mixed-type
    columns of JSON records are looked at value by value.
    """
    if pd.api.types.is_float_dtype(column):
        number = column.astype("float64")
        whole = (np.isfinite(number) & (number % 1 == 0) & (number.abs() < 2**53)).to_numpy()
        text = column.astype(TEXT)
        text[whole] = number[whole].astype("int64").astype(str).to_numpy()
        return text, pd.Series(whole, index=column.index)
    if not pd.api.types.is_object_dtype(column):
        return column.astype(TEXT), pd.Series(False, index=column.index)
    values = column.astype(object)
    numeric = values.map(_whole_float).astype(bool)
    if numeric.any():
        values = values.where(~numeric, values[numeric].map(lambda v: str(int(v))))
    missing = values.map(lambda v: v is pd.NA or v is pd.NaT)
    if missing.any():  # pandas' NaT would otherwise become the text 'NaT'
        values = values.where(~missing, None)
    nested = values.map(lambda v: not (v is None or isinstance(v, (str, int, float, bool))))
    if nested.any():
        values = values.where(~nested, values[nested].map(str))
    return values.astype(TEXT), numeric


def time_problems(utc: pd.Series, name: str, source: pd.Series, now: pd.Timestamp | None = None) -> list:
    """Reject problems (mask, reason, value) for times outside [2000-01-01, the run + one day]."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    return [(utc < EARLIEST, f"{name} is before 2000", source),
            (utc > now + FUTURE_SLACK, f"{name} is more than a day after this run", source)]
