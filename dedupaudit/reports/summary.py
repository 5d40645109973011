"""Figures the human-readable views share, derived from the result once so every format tells the same story."""

from __future__ import annotations

from dedupaudit.checks import ALL_CHECKS
from dedupaudit.checks.base import Check
from dedupaudit.result import AuditResult, Finding, PlatformSummary, severity_rank

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
    """Platform, then most severe first, then the largest count: the order a reader works through them."""
    return sorted(findings, key=lambda f: (f.platform or "", severity_rank(f.severity), -f.count, f.code, f.event or ""))


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


def average_order_value(p: PlatformSummary) -> float | None:
    """Read when the result model carries it (`platforms[].average_order_value`); orders' values are not in it yet."""
    return getattr(p, "average_order_value", None)


def currency(p: PlatformSummary) -> str | None:
    return getattr(p, "currency", None)


def extra_revenue(p: PlatformSummary) -> float | None:
    """Revenue the platform would credit to purchases that did not happen: extra conversions x average order value."""
    aov = average_order_value(p)
    if aov is None or p.extra_conversions is None:
        return None
    return p.extra_conversions * aov


def money(value: float, code: str | None, decimals: int = 0) -> str:
    shown = f"{value:,.{decimals}f}"
    return f"{shown} {code}" if code else shown


def ratio(value: float | None, times: str = "x") -> str:
    return "-" if value is None else f"{value:.2f}{times}"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def when(stamp: str | None) -> str:
    """An ISO-8601 UTC time from the result as people read it: 2026-10-05 00:18:47."""
    return "-" if not stamp else stamp.replace("T", " ").removesuffix("Z")


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


ROAS_HEAD = ("Platform", "Currency", "Spend", "Value the platform counts", "ROAS reported", "Value of real orders", "ROAS deduplicated")
ROAS_MEANING = ("ROAS reported: the value of the purchases the platform counts, divided by its spend. ROAS deduplicated: "
                "the value of the distinct real orders behind them, divided by the same spend. Currencies are never added together.")


def roas_table(result: AuditResult) -> list[tuple[str, ...]]:
    """One row per platform and currency with --spend figures (cells as shown, in ROAS_HEAD's order)."""
    rows = []
    for p in purchases(result):
        for code, e in (getattr(p, "roas", None) or {}).items():
            spend = "-" if e["spend"] is None else money(e["spend"], None, 2)
            rows.append((p.display_name, code, spend, money(e["conversion_value_reported"], None, 2), ratio(e["roas_reported"], ""),
                         money(e["conversion_value_deduplicated"], None, 2), ratio(e["roas_deduplicated"], "")))
    return rows


def roas_sentences(result: AuditResult) -> list[str]:
    """'Meta reports ROAS 3.14, deduplicated 2.51 (EUR)' per platform and currency; without spend, why there is none."""
    out = []
    for p in purchases(result):
        for code, e in (getattr(p, "roas", None) or {}).items():
            if e["roas_reported"] is not None:
                out.append(f"{p.display_name} reports ROAS {e['roas_reported']:.2f}, deduplicated {e['roas_deduplicated']:.2f} ({code})")
            else:
                why = "no spend" if e["spend"] is None else "a spend of 0"
                out.append(f"{p.display_name} has {why} in {code}, so no ROAS there "
                           f"({money(e['conversion_value_reported'], code, 2)} counted by the platform)")
    return out


def roas_notes(result: AuditResult) -> list[str]:
    """How the spend and values were taken: the days of dated spend that count, and the user's exchange rates used."""
    out = []
    for p in purchases(result):
        for code, e in (getattr(p, "roas", None) or {}).items():
            days = e.get("spend_period")
            if days:
                left = f"; {days['days_left_out']:,} day(s) of spend outside it left out" if days["days_left_out"] else ""
                out.append(f"{p.display_name} {code}: spend counted only for the days of the audit's period, "
                           f"{days['first_day']} to {days['last_day']}{left}")
            for r in e.get("exchange_rates") or []:
                out.append(f"{p.display_name}: conversion values in {r['from']} converted into {r['to']} at "
                           f"1 {r['from']} = {r['rate']:g} {r['to']} (your exchange rates)")
    return out
