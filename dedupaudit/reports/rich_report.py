"""The terminal report: a summary table per platform, then the findings, most severe first, with fixes."""

from __future__ import annotations

import io
from itertools import groupby

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dedupaudit.reports import summary as S
from dedupaudit.result import AuditResult, severity_rank

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan", None: "green"}


def render(result: AuditResult, options=None, width: int = 110) -> str:
    colour = bool(options and options.colour)
    if any(p.platform_reported is not None for p in result.platforms):
        width += 14  # the Dashboard column
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=colour, no_color=not colour, width=width, highlight=False)
    _header(console, result)
    _summary(console, result)
    _roas(console, result)
    _findings(console, result)
    return buffer.getvalue()


def _header(console: Console, result: AuditResult) -> None:
    period = result.period
    console.print(Text("dedupaudit: what each ad platform would count, against your real orders", style="bold"))
    console.print(f"Period {period['start'] or '-'} to {period['end'] or '-'} (UTC)")
    for side, label in (("pixel", "Browser pixel"), ("capi", "Server (CAPI)"), ("orders", "Orders")):
        s = result.inputs[side]
        line = f"  {label}: {s.rows:,} rows from {len(s.files)} file(s)"
        if s.rejected:
            line += f", [yellow]{s.rejected:,} rejected[/yellow] ({escape(', '.join(f'{k}: {v}' for k, v in s.rejected_reasons.items()))})"
        if s.outside_period:
            line += f", {s.outside_period:,} outside the period"
        if s.normalised_order_ids:
            line += f", {s.normalised_order_ids:,} order IDs compared without '#' or spaces"
        console.print(line)
        for _, detail in (d for d in S.file_accounting(result) if d[0] == side):
            console.print(Text("    " + detail, style="dim"))
    for note in S.input_notes(result):
        console.print(Text("  Note: " + note))
    console.print()


def _inflation_severity(result: AuditResult, platform: str) -> str | None:
    levels = [f.severity for f in result.findings if f.platform == platform and f.name == "inflated-conversions"]
    return min(levels, key=severity_rank) if levels else None


def _summary(console: Console, result: AuditResult) -> None:
    purchases = [p for p in result.platforms if p.event == "purchase"]
    if not purchases:
        console.print("No purchase events in the inputs.\n")
        return
    table = Table(title="Purchases: real orders vs what each platform would count", title_justify="left")
    ranged = any(S.inflation_range(p) for p in purchases)
    dashboards = any(p.platform_reported is not None for p in purchases)
    # Headers broken by hand and cells never wrapped: at 110 columns every figure stays whole.
    for name, justify in (("Platform", "left"), ("Real\norders", "right"), ("Pixel\nevents", "right"), ("CAPI\nevents", "right"),
                          ("Platform\ncounts", "right"), ("Inflation", "right"), *((("Range", "right"),) if ranged else ()),
                          ("Extra", "right"), ("Pixel\ncoverage", "right"), ("CAPI\ncoverage", "right"),
                          *((("Dashboard", "right"),) if dashboards else ())):
        table.add_column(name, justify=justify, no_wrap=True)
    for p in purchases:
        severity = _inflation_severity(result, p.platform)
        ratio = "-" if p.inflation_ratio is None else f"{p.inflation_ratio:.2f}x"
        cov = p.coverage or {}
        table.add_row(
            p.display_name, "-" if p.orders is None else f"{p.orders:,}", f"{p.pixel_events:,}", f"{p.capi_events:,}", f"{p.reported_conversions:,}",
            Text(ratio, style=STYLES[severity]), *((S.inflation_range(p) or "-",) if ranged else ()),
            "-" if p.extra_conversions is None else f"{p.extra_conversions:+,}",
            _share(cov.get("pixel")), _share(cov.get("capi")), *((S.dashboard(p) or "-",) if dashboards else ()),
        )
    console.print(table)
    sentences = [s for s in map(S.unconfirmed_sentence, purchases) if s]
    if sentences:
        console.print("Range: where a platform rule is unconfirmed, the ratio under each reading:")
        for sentence in sentences:
            console.print(Text("  " + sentence))
    others = [p for p in result.platforms if p.event != "purchase"]
    if others:
        console.print("Other events the platforms would count: " + "; ".join(
            f"{p.display_name} {p.event} {p.reported_conversions:,}" for p in others))
    assumed = [p for p in purchases if p.assumptions]
    if assumed:
        console.print(Text("Rule values the platforms do not document: " + ", ".join(
            f"{p.display_name} {len(p.assumptions)}" for p in assumed) + " (`dedupaudit rules facts` lists them; only the "
            "readings above change a count).", style="dim"))
    console.print()


def _roas(console: Console, result: AuditResult) -> None:
    """Spend and ROAS per platform and currency (--spend): as the platform reports it and against the real orders."""
    rows = S.roas_table(result)
    if not rows:
        return
    table = Table(title="Spend and ROAS: reported vs deduplicated", title_justify="left")
    for i, name in enumerate(S.ROAS_HEAD):
        table.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*map(escape, row))
    console.print(table)
    for line in [*S.roas_sentences(result), S.ROAS_MEANING, *S.roas_notes(result)]:
        console.print(Text(line))
    console.print()


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _findings(console: Console, result: AuditResult) -> None:
    if not result.findings:
        console.print(Text("No findings: deduplication looks right on every platform.", style="green"))
        return
    names = {p.platform: p.display_name for p in result.platforms}
    ordered = sorted(result.findings, key=lambda f: (f.platform or "", severity_rank(f.severity), f.code))
    for platform, group in groupby(ordered, key=lambda f: f.platform):
        console.print(Text(names.get(platform, platform) if platform else "Inputs", style="bold underline"))
        for f in group:
            console.print(Text.assemble((f"{f.severity.upper():8}", STYLES[f.severity]), (f" {f.code} {f.name}", "bold"),
                                        f"  ({f.count:,} {f.unit})"))
            console.print(Text("  " + f.message))
            console.print(Text("  Fix: " + f.hint, style="dim"))
        console.print()
    counts = {s: sum(1 for f in result.findings if f.severity == s) for s in ("error", "warning", "info")}
    console.print(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes. "
                  "Example rows for each finding are in --format json; `dedupaudit explain CODE` explains a check.")
