"""Figures the human-readable views share, derived from the result once so every format tells the same story."""

from __future__ import annotations

import re
from datetime import datetime

from dateutil import tz

from dedupaudit.checks import ALL_CHECKS
from dedupaudit.checks.base import Check
from dedupaudit.result import AuditResult, Finding, PlatformSummary, finding_order, severity_rank

# Their count is the consequence (extra or missing conversions), not something to change: never "fix first".
OUTCOME_CHECKS = frozenset({"inflated-conversions", "under-reported-conversions"})

CHECKS_BY_CODE: dict[str, Check] = {c.code: c for c in ALL_CHECKS}


def purchases(result: AuditResult) -> list[PlatformSummary]:
    """The per-platform purchase rows: the ones measured against real orders."""
    return [p for p in result.platforms if p.event == "purchase"]


def platform_ids(result: AuditResult) -> list[str]:
    """Every platform in the result, in the result's order, once."""
    return list(dict.fromkeys(p.platform for p in result.platforms))


def display_names(result: AuditResult) -> dict[str, str]:
    return {p.platform: p.display_name for p in result.platforms}


def place(finding: Finding, names: dict[str, str]) -> str:
    """Where a finding applies, for titles: 'Meta', 'Meta add_to_cart', or 'inputs' for platform-less findings."""
    if not finding.platform:
        return "inputs"
    name = names.get(finding.platform, finding.platform)
    return name if finding.event in (None, "purchase") else f"{name} {finding.event}"


def counted(f: Finding) -> str:
    """'349 events', '1 id': a finding's count with its unit."""
    unit = f.unit[:-1] if f.count == 1 and f.unit.endswith("s") else f.unit
    return f"{f.count:,} {unit}"


def ordered(findings: list[Finding]) -> list[Finding]:
    """The result's one order (result.finding_order: most severe, then largest count), kept by every report."""
    return sorted(findings, key=finding_order)


def by_platform(findings: list[Finding]) -> list[tuple[str | None, list[Finding]]]:
    """Findings grouped by platform for reading, platforms in the order of their first finding, each group in the
    result's order: reading the groups top to bottom still meets the most severe, largest findings first."""
    groups: dict[str | None, list[Finding]] = {}
    for f in ordered(findings):
        groups.setdefault(f.platform, []).append(f)
    return list(groups.items())


def fix_first(result: AuditResult) -> Finding | None:
    """The most severe cause with the largest count; outcomes (inflation itself) only when nothing else was found."""
    causes = [f for f in result.findings if f.name not in OUTCOME_CHECKS] or result.findings
    return min(causes, key=lambda f: (severity_rank(f.severity), -f.count, f.code, f.platform or ""), default=None)


def failing(findings: list[Finding], fail_on: str) -> list[Finding]:
    """Findings at or above the fail level (error > warning > info); 'never' fails nothing."""
    if fail_on == "never":
        return []
    limit = severity_rank(fail_on)
    return [f for f in findings if severity_rank(f.severity) <= limit]


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    return {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}


def coverage_split(p: PlatformSummary) -> dict[str, float] | None:
    """Shares of real orders reported by both paths, the pixel only, the server only, or neither.

    both = pixel + capi - any (inclusion-exclusion over the order sets the coverage shares describe).
    """
    cov = p.coverage or {}
    pixel, capi, any_ = cov.get("pixel"), cov.get("capi"), cov.get("any")
    if pixel is None or capi is None or any_ is None:
        return None
    clamp = lambda x: min(1.0, max(0.0, round(x, 6)))  # noqa: E731 - rounding noise must not show as -0%
    return {"both": clamp(pixel + capi - any_), "pixel_only": clamp(any_ - capi),
            "capi_only": clamp(any_ - pixel), "neither": clamp(1 - any_)}


def average_order_value(p: PlatformSummary) -> str | None:
    """'45.08 EUR', or '45.08 EUR; 52.10 USD' with orders in two currencies (never one average over both)."""
    by = p.average_order_value_by_currency or {}
    if by:
        return "; ".join(money(v, c, 2) for c, v in by.items())
    return None if p.average_order_value is None else money(p.average_order_value, p.currency, 2)


def extra_revenue(p: PlatformSummary) -> str | None:
    """'125,183 EUR' or '1,200 EUR; 300 USD': what the engine priced this platform's extra conversions at, per currency."""
    by = p.extra_revenue_by_currency or {}
    if by:
        return "; ".join(money(v, c) for c, v in by.items())
    return None if p.extra_revenue is None else money(p.extra_revenue, p.currency)


def money(value: float, code: str | None, decimals: int = 0) -> str:
    shown = f"{value:,.{decimals}f}"
    return f"{shown} {code}" if code else shown


def headline(result: AuditResult) -> tuple[str, list[str]]:
    """The verdict in words, then one line per over-counting platform, worst first. Each platform's extra purchases
    are a separate claim on the same orders, so they are never added up across platforms (nor across currencies)."""
    measured = [p for p in purchases(result) if p.inflation_ratio is not None]
    if not measured:
        return "There are no real orders to compare the platforms' purchase counts with.", []
    flagged = {f.platform for f in result.findings if f.name == "inflated-conversions"}
    inflated = sorted((p for p in measured if (p.extra_conversions or 0) > 0 and p.platform in flagged),
                      key=lambda p: (-p.inflation_ratio, p.platform))
    orders = measured[0].orders
    if not inflated:
        return f"No platform counts more purchases than the audit's thresholds allow against the shop's {orders:,} real orders.", []
    lines = []
    for p in inflated:
        worth = extra_revenue(p)
        lines.append(f"{p.display_name} would count {p.reported_conversions:,} purchases for {orders:,} real orders "
                     f"({ratio(p.inflation_ratio)}): {p.extra_conversions:,} that did not happen"
                     + (f", worth about {worth}" if worth else "") + ".")
    return (f"{len(inflated)} of {len(measured)} platforms would count more purchases than the shop's {orders:,} real orders. "
            "Each platform's figure is a separate claim on the same orders, so they do not add up; bidding on each "
            "optimises towards its own phantom conversions, and its ROAS and CPA look better than they are."), lines


def ratio(value: float | None, times: str = "x") -> str:
    return "-" if value is None else f"{value:.2f}{times}"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def zone(result: AuditResult) -> str:
    """The report's time zone (--timezone): timestamps and days are shown in it."""
    return (result.settings or {}).get("timezone") or "UTC"


ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def when(stamp: str | None, zone_name: str = "UTC") -> str:
    """An ISO-8601 UTC time from the result in the report's zone, naming it: '2026-10-05 02:18:47 Europe/Berlin'.
    The one form of a time in every human-readable report."""
    if not stamp:
        return "-"
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if zone_name.upper() != "UTC":
        local = tz.gettz(zone_name)
        t = t.astimezone(local) if local is not None else t
        if local is None:
            zone_name = "UTC"
    return f"{t:%Y-%m-%d %H:%M:%S} {'UTC' if zone_name.upper() == 'UTC' else zone_name}"


def shown_value(value, zone_name: str = "UTC") -> str:
    """An example row's value as every report shows it: ISO times in the report's zone, the rest as given."""
    text = str(value)
    return when(text, zone_name) if ISO_UTC.fullmatch(text) else text


def period(result: AuditResult) -> str:
    """'2026-10-05 00:18:47 UTC to 2026-10-18 23:54:04 UTC'."""
    z = zone(result)
    return f"{when(result.period.get('start'), z)} to {when(result.period.get('end'), z)}"


def inflation_range(p: PlatformSummary) -> str | None:
    """'1.02-1.33x' where unconfirmed platform rules make the ratio a range; None where it is one value."""
    r = p.inflation_range
    if not r or r["low"] == r["high"]:
        return None
    return f"{r['low']:.2f}-{r['high']:.2f}x"


def unconfirmed_sentence(p: PlatformSummary) -> str | None:
    """'TikTok 1.33x (1.02x if TikTok merges CompletePayment into Purchase; unconfirmed)': each reading that changes the count."""
    if not p.unconfirmed_rules:
        return None
    figure = (lambda n: ratio(n / p.orders)) if p.orders else (lambda n: f"{n:,}")
    current = figure(p.reported_conversions)
    readings = "; ".join(f"{figure(u['reported_if_false'])} if {u['alternative']}" for u in p.unconfirmed_rules)
    return f"{p.display_name} {current} ({readings}; unconfirmed)"


def dashboard(p: PlatformSummary) -> str | None:
    """'3,100 (+17%)': what the platform's dashboard shows and how far the simulation is from it (--platform-reported)."""
    if p.platform_reported is None:
        return None
    gap = "" if p.model_gap is None else f" ({p.model_gap:+.0%})"
    return f"{p.platform_reported:,}{gap}"


SIDE_LABELS = (("pixel", "Browser pixel"), ("capi", "Server (CAPI)"), ("orders", "Orders"))


def file_accounting(result: AuditResult) -> list[tuple[str, str]]:
    """(side, line) per input file: every row read is used or rejected, with the count per reason."""
    out = []
    for side, label in SIDE_LABELS:
        s = result.inputs.get(side)
        for f in (getattr(s, "per_file", None) or []) if s else []:
            line = f"{label} {f['file']}: {f['rows']:,} rows read = {f['used']:,} used + {f['rejected']:,} rejected"
            if f["rejected_reasons"]:
                line += " (" + ", ".join(f"{k}: {v:,}" for k, v in f["rejected_reasons"].items()) + ")"
            out.append((side, line))
    return out


def input_notes(result: AuditResult) -> list[str]:
    """How input values were read that changes what is compared (numeric IDs), and files not in UTF-8
    or separated by semicolons (read with decimal commas), so a misread file can be spotted."""
    notes = []
    for side, label in SIDE_LABELS:
        s = result.inputs.get(side)
        n = getattr(s, "numeric_ids", 0) if s else 0
        if n:
            notes.append(f"{label}: {n:,} IDs were stored as numbers; compared as 1001 (not 1001.0)")
        for f in (getattr(s, "per_file", None) or []) if s else []:
            if f.get("encoding") not in (None, "utf-8", "utf-8-bom"):
                notes.append(f"{label} {f['file']}: read as {f['encoding']} (not UTF-8)")
            if f.get("delimiter") == "semicolon":
                notes.append(f"{label} {f['file']}: separated by semicolons; a value such as 12,50 read as 12.5")
    return notes


def accounting_lines(result: AuditResult) -> list[str]:
    """Every input line the text formats (Markdown, JUnit, GitHub) show: files, then notes."""
    return [line for _, line in file_accounting(result)] + input_notes(result)
