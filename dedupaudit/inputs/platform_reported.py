"""The figures the platforms' own dashboards show (--platform-reported), to calibrate the simulation.

A small CSV the user types or exports: `platform`, `conversions`, optional `event` (an event type such
as purchase; default purchase) and `date` (YYYY-MM-DD, for per-day comparison). Every row must be
usable: a wrong row stops the run with its line named, since a silently skipped figure would make the
comparison meaningless.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dedupaudit.errors import UserError
from dedupaudit.inputs.user_csv import named, user_rows

COLUMNS = ("platform", "conversions", "event", "date")


def load_platform_reported(path: Path | pd.DataFrame, platforms: dict[str, str] | set[str]) -> pd.DataFrame:
    """(platform, event, date or None, conversions) per row. `platforms`: every name and alias -> the platform's id
    (rules.platform_names), or just the ids. `path` may also be a DataFrame of the same columns (the Python API),
    checked row by row in the same way."""
    names = platforms if isinstance(platforms, dict) else {p: p for p in platforms}
    path, source = named(path, "platform_reported")
    rows = []
    for line, get in user_rows(source, "--platform-reported", ("platform", "conversions"), COLUMNS):
        platform, event, date, conversions = get("platform").lower(), get("event").lower() or "purchase", get("date"), get("conversions")
        if platform not in names:
            raise UserError(f"{path} line {line}: unknown platform '{platform}' (rule files exist for: {', '.join(sorted(set(names.values())))})")
        platform = names[platform]
        if not re.fullmatch(r"\d+", conversions.replace(",", "")):
            raise UserError(f"{path} line {line}: conversions '{conversions}' is not a whole number")
        if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise UserError(f"{path} line {line}: date '{date}' is not YYYY-MM-DD")
        rows.append({"platform": platform, "event": event, "date": date or None, "conversions": int(conversions.replace(",", ""))})
    return pd.DataFrame(rows, columns=["platform", "event", "date", "conversions"])
