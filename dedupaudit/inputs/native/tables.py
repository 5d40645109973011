"""Column lookups on the frames of table-shaped inputs (CSV, JSON records, Parquet): exact names,
then the same name ignoring case and surrounding spaces, then a dotted path into nested JSON."""

from __future__ import annotations

import pandas as pd

from dedupaudit.inputs.native.paths import get
from dedupaudit.inputs.values import id_text


def find_column(frame: pd.DataFrame, name: str) -> str | None:
    if name in frame.columns:
        return name
    folded = name.strip().lower()
    return next((c for c in frame.columns if str(c).strip().lower() == folded), None)


def column_at(frame: pd.DataFrame, path: str) -> pd.Series | None:
    """A column by name, or `a.b.c` into a column `a` (or `a.b`) holding objects."""
    column = find_column(frame, path)
    if column is not None:
        return frame[column]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        column = find_column(frame, ".".join(parts[:cut]))
        if column is not None:
            rest = ".".join(parts[cut:])
            values = [get(v, rest) if isinstance(v, dict) else None for v in frame[column]]
            return pd.Series(values, index=frame.index, dtype="object")
    return None


def blank_to_na(series: pd.Series) -> pd.Series:
    """Text with empty and whitespace-only values as missing."""
    text = series.astype("string")
    return text.mask(text.str.strip() == "")


def coalesce(frame: pd.DataFrame, paths, raw: bool = False) -> tuple[pd.Series | None, list[str]]:
    """Row by row, the first non-empty value among the columns at `paths`, and the columns used.
    With `raw` and a single matching column, the column is returned as it is (timestamps keep their type)."""
    found = [(p, column_at(frame, p)) for p in paths]
    found = [(p, s) for p, s in found if s is not None]
    if not found:
        return None, []
    if raw and len(found) == 1:
        return found[0][1], [found[0][0]]
    out = None
    for _, series in found:
        series = blank_to_na(series)
        out = series if out is None else out.fillna(series)
    return out, [p for p, _ in found]


def coalesce_ids(frame: pd.DataFrame, paths) -> tuple[pd.Series | None, pd.Series | None, list[str]]:
    """`coalesce` for an ID: an integer-valued float (1001.0 in JSON Lines or Parquet) is the ID '1001',
    and the second series says which rows' IDs were such numbers (the loader counts them)."""
    found = [(p, column_at(frame, p)) for p in paths]
    found = [(p, s) for p, s in found if s is not None]
    if not found:
        return None, None, []
    out, numeric = None, None
    for _, series in found:
        ids, whole = id_text(series)
        ids = blank_to_na(ids)
        if out is None:
            out, numeric = ids, whole.astype(bool)
        else:
            taken = out.isna() & ids.notna()
            out, numeric = out.fillna(ids), numeric.where(~taken, whole.astype(bool))
    return out, numeric, [p for p, _ in found]
