"""The small CSV files a user types or exports beside the inputs (--spend, --exchange-rates, --platform-reported),
or the same tables as DataFrames from the Python API: every value as text, columns matched ignoring case and
spaces, each file error one line naming the option and the file."""

from __future__ import annotations

import pandas as pd

from dedupaudit.errors import UserError


def named(given, label: str):
    """(the name errors use, the source): a DataFrame is named by its argument; its rows count from line 2 as a CSV's."""
    return (label, given) if isinstance(given, pd.DataFrame) else (given, given)


def user_rows(path, option: str, required: tuple[str, ...], allowed: tuple[str, ...]):
    """(line number, value getter) per data row; columns matched ignoring case and spaces."""
    if isinstance(path, pd.DataFrame):
        raw, path = path.astype(object).where(path.notna(), "").astype(str), option.lstrip("-").replace("-", "_")
    else:
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except FileNotFoundError as exc:
            raise UserError(f"{option} {path}: no such file") from exc
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise UserError(f"{option} {path}: not a readable CSV file ({str(exc).splitlines()[0]})") from exc
    by_name = {str(c).strip().lower(): c for c in raw.columns}
    for needed in required:
        if needed not in by_name:
            raise UserError(f"{path}: missing required column {needed} (found: {', '.join(map(str, raw.columns)) or 'none'})")
    unknown = sorted(set(by_name) - set(allowed))
    if unknown:
        raise UserError(f"{path}: unknown column {unknown[0]} (valid: {', '.join(allowed)})")
    for line, record in enumerate(raw.to_dict("records"), start=2):
        yield line, lambda name, record=record: str(record.get(by_name.get(name), "") or "").strip()
