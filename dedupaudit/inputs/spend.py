"""Ad spend per platform (--spend) and the user's exchange rates (--exchange-rates), for ROAS.

Spend: a CSV with `platform`, `spend`, `currency` and optional `date` (YYYY-MM-DD, a day in --timezone).
Rates: a CSV with `from`, `to`, `rate` (1 `from` = `rate` `to`). Every row must be usable, and a platform's
spend in a currency is given once per day or once in total: a skipped or doubled figure would make every
ROAS wrong, so a wrong row stops the run with its line named.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd

from dedupaudit.errors import UserError
from dedupaudit.inputs.user_csv import named, user_rows

SPEND_COLUMNS = ("platform", "spend", "currency", "date")
RATE_COLUMNS = ("from", "to", "rate")


def load_spend_inputs(spend: Path | None, rates: Path | None, platforms: set[str]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Both files as the audit takes them; rates without spend have nothing to convert, so they are refused."""
    if rates is not None and spend is None:
        raise UserError(f"--exchange-rates {rates}: only applies with --spend FILE (or spend: in dedupaudit.yaml)")
    return (load_spend(spend, platforms) if spend is not None else None,
            load_exchange_rates(rates) if rates is not None else None)


def load_spend(path: Path | pd.DataFrame, platforms: dict[str, str] | set[str]) -> pd.DataFrame:
    """(platform, currency, date or None, spend, line) per row. A DataFrame (the Python API) is checked the same way."""
    path, source = named(path, "spend")
    rows, seen, dated = [], {}, {}
    for line, get in user_rows(source, "--spend", ("platform", "spend", "currency"), SPEND_COLUMNS):
        platform, date = get("platform").lower(), get("date")
        if platform not in platforms:
            known = sorted(set(platforms.values()) if isinstance(platforms, dict) else platforms)
            raise UserError(f"{path} line {line}: unknown platform '{platform}' (rule files exist for: {', '.join(known)})")
        platform = platforms[platform] if isinstance(platforms, dict) else platform  # an alias (fb) as its platform (meta)
        spend = _amount(path, line, "spend", get("spend"))
        currency = _currency(path, line, "currency", get("currency"))
        if date and not _is_day(date):
            raise UserError(f"{path} line {line}: date '{date}' is not a day (YYYY-MM-DD)")
        key = (platform, currency, date or None)
        if key in seen:
            raise UserError(f"{path} line {line}: repeats line {seen[key]} ({platform}, {currency}{', ' + date if date else ''}); "
                            "give each platform, currency and day once")
        seen[key] = line
        first = dated.setdefault((platform, currency), (bool(date), line))
        if first[0] != bool(date):
            raise UserError(f"{path} line {line}: {platform} {currency} has both a total without a date and per-day rows "
                            f"(line {first[1]}); give one or the other")
        rows.append({"platform": platform, "currency": currency, "date": date or None, "spend": spend, "line": line})
    if not rows:
        raise UserError(f"{path}: no spend rows")
    return pd.DataFrame(rows, columns=["platform", "currency", "date", "spend", "line"])


def load_exchange_rates(path: Path | pd.DataFrame) -> pd.DataFrame:
    """(from, to, rate) per row: 1 `from` is worth `rate` `to`."""
    path, source = named(path, "exchange_rates")
    rows, seen = [], {}
    for line, get in user_rows(source, "--exchange-rates", RATE_COLUMNS, RATE_COLUMNS):
        source, target = _currency(path, line, "from", get("from")), _currency(path, line, "to", get("to"))
        rate = _amount(path, line, "rate", get("rate"))
        if rate == 0:
            raise UserError(f"{path} line {line}: rate is 0")
        if source == target:
            raise UserError(f"{path} line {line}: converts {source} into itself")
        if (source, target) in seen:
            raise UserError(f"{path} line {line}: repeats the rate {source} to {target} of line {seen[(source, target)]}")
        seen[(source, target)] = line
        rows.append({"from": source, "to": target, "rate": rate})
    return pd.DataFrame(rows, columns=["from", "to", "rate"])


def _amount(path: Path, line: int, column: str, text: str) -> float:
    """A plain decimal number, at least 0: '12,50' or '1,234.50' is refused rather than guessed."""
    if not text:
        raise UserError(f"{path} line {line}: {column} is empty")
    try:
        number = float(text)
    except ValueError:
        raise UserError(f"{path} line {line}: {column} '{text}' is not a number (write 1234.50: a dot for decimals, "
                        "no thousands separator)") from None
    if not math.isfinite(number):
        raise UserError(f"{path} line {line}: {column} '{text}' is not a finite number")
    if number < 0:
        raise UserError(f"{path} line {line}: {column} '{text}' is negative")
    return number


def _is_day(text: str) -> bool:
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and dt.date.fromisoformat(text) is not None
    except ValueError:  # 2026-02-30
        return False


def _currency(path: Path, line: int, column: str, text: str) -> str:
    """An ISO 4217 code such as EUR (any case); a symbol or a name is refused."""
    if not re.fullmatch(r"[A-Za-z]{3}", text):
        raise UserError(f"{path} line {line}: {column} '{text}' is not a three-letter currency code such as EUR or USD")
    return text.upper()
