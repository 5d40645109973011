"""Figures the human-readable views share, derived from the result once so every format tells the same story."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from dateutil import tz

from dedupaudit.baseline import FindingChange, MetricChange
from dedupaudit.checks import ALL_CHECKS
from dedupaudit.checks.base import Check
from dedupaudit.reports.diff_report import finding_detail, metric_values, subject
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


# ---------------------------------------------------------------- the tables every human-readable report shows

@dataclass
class Grid:
    """A table of figures as text, drawn by each format in its own way (Rich folds it to the terminal's width)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    text_columns: frozenset[int] = frozenset({0})  # columns of words, which may wrap; the others are figures, never cut

    def without(self, *names: str) -> Grid:
        """The same table without some columns (a view that shows them elsewhere)."""
        keep = [i for i, h in enumerate(self.headers) if h not in names]
        return Grid(self.title, [self.headers[i] for i in keep], [[row[i] for i in keep] for row in self.rows],
                    frozenset(n for n, i in enumerate(keep) if i in self.text_columns))

    def split(self, columns: int) -> list[Grid]:
        """The table as several of at most `columns` columns, each repeating the first (a page has no side scroll)."""
        rest = self.headers[1:]
        if len(rest) < columns:
            return [self]
        step = columns - 1
        parts = [rest[i:i + step] for i in range(0, len(rest), step)]
        return [self.without(*(h for h in rest if h not in part)) for part in parts]


def num(value) -> str:
    """A count as every report shows it: '2,777', '-' when unknown."""
    return "-" if value is None else f"{value:,}"


def signed(value) -> str:
    return "-" if value is None else f"{value:+,}" if value else "0"


def gap(value: float | None) -> str:
    """A relative difference such as model_gap: '+17.2%'."""
    return "-" if value is None else f"{value:+.1%}"


def hours(value: float | None) -> str:
    return "no limit" if value is None else f"{value:g} h"


def entry_label(p: PlatformSummary) -> str:
    """'Meta' for purchases, 'Meta add_to_cart' for another event type."""
    return p.display_name if p.event == "purchase" else f"{p.display_name} {p.event}"


def findings_count(result: AuditResult, platform: str) -> str:
    words = {"error": "error", "warning": "warning", "info": "note"}
    found = severity_counts([f for f in result.findings if f.platform == platform])
    return ", ".join(f"{n} {words[s]}{'s' if n != 1 else ''}" for s, n in found.items() if n) or "none"


def summary_grid(result: AuditResult) -> Grid:
    """Per platform's purchases: real orders, what it would count, how far off, what that is worth, coverage."""
    rows = purchases(result)
    ranged = any(inflation_range(p) for p in rows)
    priced = any(extra_revenue(p) for p in rows)
    dashboards = any(p.platform_reported is not None for p in rows)
    headers = ["Platform", "Real orders", "Pixel events", "CAPI events", "Platform would count", "Inflation",
               *(["Range"] if ranged else []), "Extra conversions", *(["Extra revenue", "Average order value"] if priced else []),
               *(["Dashboard", "Model vs dashboard"] if dashboards else []), "Pixel coverage", "CAPI coverage", "Findings"]
    out = []
    for p in rows:
        cov = p.coverage or {}
        out.append([p.display_name, num(p.orders), num(p.pixel_events), num(p.capi_events), num(p.reported_conversions),
                    ratio(p.inflation_ratio), *([inflation_range(p) or "-"] if ranged else []), signed(p.extra_conversions),
                    *([extra_revenue(p) or "-", average_order_value(p) or "-"] if priced else []),
                    *([num(p.platform_reported), gap(p.model_gap)] if dashboards else []),
                    share(cov.get("pixel")), share(cov.get("capi")), findings_count(result, p.platform)])
    return Grid("Purchases: real orders vs what each platform would count", headers, out, frozenset({0, len(headers) - 1}))


DETAIL_ROWS: tuple[tuple[str, object], ...] = (
    ("Count range (unconfirmed rules)", lambda p: "-" if not p.reported_range else
     num(p.reported_range["low"]) if p.reported_range["low"] == p.reported_range["high"] else
     f"{num(p.reported_range['low'])} to {num(p.reported_range['high'])}"),
    ("Pixel events without an ID", lambda p: num(p.missing_event_id["pixel"])),
    ("Server events without an ID", lambda p: num(p.missing_event_id["capi"])),
    ("Orders whose IDs never match", lambda p: num(p.mismatched_event_id)),
    ("Orders with different names", lambda p: num(p.event_name_drift)),
    ("Orders outside the window", lambda p: num(p.outside_window)),
    ("Orders in several actions", lambda p: num(p.orders_in_several_scopes)),
    ("Dropped as same event ID", lambda p: num((p.deduplicated or {}).get("event_id"))),
    ("Dropped by fallback key", lambda p: num((p.deduplicated or {}).get("fallback"))),
    ("Orders seen by either path", lambda p: share((p.coverage or {}).get("any"))),
    ("Events linked by order ID", lambda p: num((p.links or {}).get("order_id"))),
    ("Linked by event ID", lambda p: num((p.links or {}).get("event_id"))),
    ("Linked by value and time", lambda p: num((p.links or {}).get("value_time"))),
    ("Not linked to an order", lambda p: num((p.links or {}).get("unlinked"))),
    ("Dedup window", lambda p: hours(p.window_hours)),
)


def details_grid(result: AuditResult) -> Grid:
    """Every other per-platform figure, one column per platform and event type (other types: events only)."""
    entries = result.platforms
    headers = ["Figure", *(entry_label(p) for p in entries)]
    rows = [["Pixel events", *(num(p.pixel_events) for p in entries)], ["CAPI events", *(num(p.capi_events) for p in entries)],
            ["Platform would count", *(num(p.reported_conversions) for p in entries)]]
    rows += [[label, *(cell(p) for p in entries)] for label, cell in DETAIL_ROWS]
    if any(p.platform_reported is not None for p in entries):
        rows += [["Dashboard", *(num(p.platform_reported) for p in entries)], ["Model vs dashboard", *(gap(p.model_gap) for p in entries)]]
    return Grid("Details per platform", headers, rows)


def unconfirmed_grid(result: AuditResult) -> Grid:
    """Each unconfirmed platform rule that changes a count, with the count under both readings."""
    rows = [[entry_label(p), u["statement"], num(u["reported_if_true"]), u["alternative"], num(u["reported_if_false"]), u["evidence"]]
            for p in result.platforms for u in p.unconfirmed_rules]
    return Grid("Unconfirmed platform rules that change these figures",
                ["Platform", "The rule file assumes", "Count", "Other reading", "Count if so", "Evidence"], rows, frozenset({0, 1, 3, 5}))


def daily_grid(result: AuditResult) -> Grid:
    """Per day (in the report's zone): real orders, then what each platform would count (and its dashboard)."""
    names = display_names(result)
    platforms = list(dict.fromkeys(d["platform"] for d in result.daily))
    dashboards = [p for p in platforms if any(d.get("platform_reported") is not None for d in result.daily if d["platform"] == p)]
    cells = {(d["platform"], d["date"]): d for d in result.daily}
    headers = ["Date", "Real orders", *(names.get(p, p) for p in platforms),
               *(h for p in dashboards for h in (f"{names.get(p, p)} dashboard", f"{names.get(p, p)} vs dashboard"))]
    rows = []
    for date in sorted({d["date"] for d in result.daily}):
        day = [cells.get((p, date)) for p in platforms]
        orders = next((d["orders"] for d in day if d), None)
        rows.append([date, num(orders), *(num(d["reported_conversions"]) if d else "-" for d in day),
                     *(v for p in dashboards for v in _dashboard_day(cells.get((p, date))))])
    return Grid(f"Day by day ({zone(result)} days): purchases each platform would count", headers, rows)


def _dashboard_day(d: dict | None) -> tuple[str, str]:
    return ("-", "-") if d is None else (num(d.get("platform_reported")), gap(d.get("model_gap")))


def gaps_grid(result: AuditResult) -> Grid:
    """Orders reported by both paths, by the time between their browser and server event, per platform."""
    names = display_names(result)
    platforms = list(dict.fromkeys(g["platform"] for g in result.pair_gaps))
    cells = {(g["platform"], g["bucket"]): g["pairs"] for g in result.pair_gaps}
    buckets = list(dict.fromkeys(g["bucket"] for g in result.pair_gaps))
    return Grid("Time between the pixel and the server event (orders reported by both)",
                ["Time apart", *(names.get(p, p) for p in platforms)],
                [[b, *(num(cells.get((p, b))) for p in platforms)] for b in buckets])


def inputs_grid(result: AuditResult) -> Grid:
    rows = []
    for side, label in SIDE_LABELS:
        s = result.inputs.get(side)
        if s is not None:
            reasons = "; ".join(f"{k}: {v:,}" for k, v in s.rejected_reasons.items()) or "-"
            rows.append([label, num(len(s.files)), num(s.rows), num(s.rejected), reasons, num(s.outside_period),
                         num(s.normalised_order_ids), num(s.numeric_ids)])
    return Grid("Rows read per input", ["Input", "Files", "Rows read", "Rejected", "Why rejected", "Outside the period",
                           "Order IDs trimmed or without '#'", "IDs stored as numbers"], rows, frozenset({0, 4}))


def baseline_grid(result: AuditResult) -> Grid | None:
    """With --baseline: each metric that changed since that result (old, new, change, tolerance, regressed)."""
    b = result.baseline
    if not b:
        return None
    rows = []
    for m in b.get("metrics", []):
        old, new, delta, tolerance = metric_values(MetricChange(**m))
        status = "REGRESSION" if m["regressed"] else "worse" if m["worse"] else "better" if m["delta"] is not None else ""
        rows.append([subject(m["display_name"], m["event"]), m["label"], old, new, delta, tolerance, status])
    return Grid(f"Since the baseline {b['old']['name']}", ["Platform", "Metric", "Old", "New", "Change", "Tolerance", ""],
                rows, frozenset({0, 1, 6}))


def baseline_lines(result: AuditResult) -> list[str]:
    """The baseline verdict, then each new, resolved or changed finding, as `dedupaudit diff` words them."""
    b = result.baseline
    if not b:
        return []
    summary = b.get("summary", {})
    if b.get("regressed"):
        verdict = (f"REGRESSION since {b['old']['name']}: {summary.get('metric_regressions', 0)} metrics beyond tolerance, "
                   f"{summary.get('new_error_findings', 0)} new error findings.")
    else:
        verdict = f"No regression since {b['old']['name']} ({when(b['old']['period'].get('start'), zone(result))} to " \
                  f"{when(b['old']['period'].get('end'), zone(result))})."
    lines = [verdict]
    for title, key in (("New finding", "new"), ("Resolved", "resolved"), ("Changed", "changed")):
        for f in b.get("findings", {}).get(key, []):
            change = FindingChange(**f)
            detail = finding_detail(change)
            severity = (change.new_severity or change.old_severity or "").upper()
            lines.append(f"{title}: {severity} {change.code} {change.name}, {subject(change.display_name, change.event)}"
                         + (f" ({detail})" if detail else "") + (" REGRESSION" if change.regressed else ""))
    for title, key in (("Now in the result", "added"), ("No longer in the result", "removed")):
        entries = b.get("platforms", {}).get(key, [])
        if entries:
            lines.append(f"{title}: " + "; ".join(subject(p["display_name"], p["event"]) for p in entries))
    return lines


def no_findings(result: AuditResult) -> str:
    """What a report says with no open finding: with waivers, that the rest was accepted, not that all is well."""
    if result.waived:
        return (f"No open findings; {len(result.waived):,} accepted by a waiver (see 'Waived findings'), "
                "so they do not fail the run.")
    return "No findings: deduplication looks right on every platform."


def waived_grid(result: AuditResult) -> Grid:
    """Findings (or parts of them) a waiver accepted: out of the findings and the exit code, shown with the reason."""
    names = display_names(result)
    rows = [[f"{w.code} {w.name}", place(w, names), counted(w), w.reason, w.expires or "-", w.waiver] for w in result.waived]
    return Grid("Waived findings (accepted, not counted)", ["Check", "Where", "Waived", "Reason", "Until", "Waiver"], rows,
                frozenset({0, 1, 3, 5}))


def figure_grids(result: AuditResult) -> list[Grid]:
    """The tables after the summary, in the order every format shows them; empty ones left out."""
    grids = [waived_grid(result), details_grid(result), unconfirmed_grid(result), daily_grid(result), gaps_grid(result),
             inputs_grid(result)]
    return [g for g in grids if g.rows]


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
