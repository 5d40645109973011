"""The tables every human-readable report shows (summary, details, daily series, gaps, inputs, baseline, ROAS, waived),
built once as text grids from the result; Rich, Markdown and HTML each draw them in their own way."""

from __future__ import annotations

from dataclasses import dataclass

from dedupaudit.baseline import FindingChange, MetricChange
from dedupaudit.reports.diff_report import finding_detail, metric_values, subject
from dedupaudit.reports.summary import (SIDE_LABELS, average_order_value, counted, display_names, extra_revenue, inflation_range, money, place, purchases, ratio, severity_counts, share, when, zone)
from dedupaudit.result import AuditResult, PlatformSummary


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
