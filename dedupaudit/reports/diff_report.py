"""Views of a BaselineDiff (what changed since a previous audit): terminal text, JSON and Markdown.

Each renderer is `render_<format>(diff, ...) -> str`; `RENDERERS` maps format names to them with the audit's
render signature, `(diff, RenderOptions)`.
The JSON view is `BaselineDiff.to_dict()`. These are views of a diff, not of an AuditResult, so they
are not in the `dedupaudit.reports.RENDERERS` registry.
"""

from __future__ import annotations

import io
import json
from typing import Callable

from rich.console import Console
from rich.text import Text

from dedupaudit.baseline import BaselineDiff, FindingChange, MetricChange
from dedupaudit.reports.markdown_text import text as md  # one escaper for every Markdown view

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


# ================================================================ wording shared by the views

def _digits(old, new) -> int:
    """Decimals that tell two ratios apart: 2, or more when two decimals print them the same."""
    for digits in range(2, 7):
        if old is None or new is None or f"{old:.{digits}f}" != f"{new:.{digits}f}":
            return digits
    return 6


def _format(kind: str, value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if kind == "share":
        return f"{value * 100:.{max(digits - 2, 1)}f}%"
    if kind == "count":
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _format_delta(kind: str, delta, digits: int) -> str:
    if kind == "share":
        return f"{delta * 100:+.{max(digits - 2, 1)}f} points"
    if kind == "count":
        return f"{delta:+,}"
    return f"{delta:+.{digits}f}"


def _format_tolerance(kind: str, tolerance) -> str:
    if kind == "share":
        return f"{tolerance * 100:g} points"
    return f"{tolerance:g}"


def metric_values(m: MetricChange) -> tuple[str, str, str, str]:
    """(old, new, change, tolerance) as text, at a precision that shows the change."""
    digits = _digits(m.old, m.new) if m.kind != "count" else 0
    old, new = _format(m.kind, m.old, digits), _format(m.kind, m.new, digits)
    delta = "-" if m.delta is None else _format_delta(m.kind, m.delta, digits)
    tolerance = "-" if m.tolerance is None else _format_tolerance(m.kind, m.tolerance)
    return old, new, delta, tolerance


def metric_sentence(m: MetricChange) -> str:
    """'inflation up from 1.02 to 1.31 (+0.29, tolerance 0.02)', without the subject."""
    old, new, delta, tolerance = metric_values(m)
    if m.old is None:
        return f"{m.label} now {new} (not measurable before)"
    if m.new is None:
        return f"{m.label} no longer measurable (was {old})"
    direction = "up" if m.delta > 0 else "down"
    detail = delta + (f", tolerance {tolerance}" if m.worse and m.tolerance is not None else "")
    return f"{m.label} {direction} from {old} to {new} ({detail})"


def subject(display_name: str | None, event: str | None) -> str:
    """'TikTok purchase', 'TikTok' (finding over all events) or 'Inputs' (input-level finding)."""
    if display_name is None:
        return "Inputs"
    return f"{display_name} {event}" if event else display_name


def finding_detail(f: FindingChange) -> str:
    unit = f" {f.unit}" if f.unit else ""
    if f.old_severity is None:
        return f"{f.new_count:,}{unit}" if f.new_count is not None else ""
    if f.new_severity is None:
        text = f"was {f.old_count:,}{unit}" if f.old_count is not None else ""
        return text + ("; the platform is not in the new result" if f.platform_absent else "")
    parts = []
    if f.old_count != f.new_count and f.old_count is not None and f.new_count is not None:
        parts.append(f"{f.old_count:,} to {f.new_count:,}{unit}, {f.new_count - f.old_count:+,}")
    if f.old_severity != f.new_severity:
        parts.append(f"severity {f.old_severity} to {f.new_severity}")
    return ", ".join(parts)


def verdict(diff: BaselineDiff) -> str:
    if diff.regressed:
        parts = []
        if diff.regressions:
            n = len(diff.regressions)
            parts.append(f"{n} metric{'s' if n != 1 else ''} beyond tolerance")
        if diff.new_errors:
            n = len(diff.new_errors)
            parts.append(f"{n} new error finding{'s' if n != 1 else ''}")
        return "REGRESSION: " + ", ".join(parts)
    if not diff.changed:
        return "No changes."
    return "No regression."


# ================================================================ terminal

def render_rich(diff: BaselineDiff, colour: bool = False, width: int = 110) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=colour, no_color=not colour, width=width, highlight=False)
    console.print(Text(f"dedupaudit diff: {diff.old_name} -> {diff.new_name}", style="bold"))
    console.print(Text(f"Periods {_period(diff.old_period)} and {_period(diff.new_period)} (UTC)", style="dim"))
    console.print()

    if diff.metrics:
        console.print(Text("Metric changes", style="bold underline"))
        for m in diff.metrics:
            style = "bold red" if m.regressed else ("yellow" if m.worse else ("green" if m.delta is not None else ""))
            line = Text.assemble("  ", f"{subject(m.display_name, m.event)}: ", (metric_sentence(m), style))
            if m.regressed:
                line.append(" REGRESSION", style="bold red")
            console.print(line)
        console.print()
    for title, findings in (("New findings", diff.new_findings), ("Resolved findings", diff.resolved_findings),
                            ("Findings that changed", diff.changed_findings)):
        if not findings:
            continue
        console.print(Text(title, style="bold underline"))
        for f in findings:
            severity = f.new_severity or f.old_severity
            line = Text.assemble("  ", (f"{severity.upper():8}", STYLES[severity] if f.new_severity else "dim"),
                                 (f" {f.code} {f.name}", "bold"), f"  {subject(f.display_name, f.event)}")
            detail = finding_detail(f)
            if detail:
                line.append(f" ({detail})")
            if f.regressed:
                line.append(" REGRESSION", style="bold red")
            console.print(line)
            if f.old_severity is None and f.message:
                console.print(Text("    " + f.message, style="dim"))
        console.print()
    for title, entries in (("Now in the result", diff.platforms_added), ("No longer in the result", diff.platforms_removed)):
        if entries:
            console.print(Text(f"{title}: " + "; ".join(subject(p.display_name, p.event) for p in entries)))
    if diff.platforms_added or diff.platforms_removed:
        console.print()
    if diff.waived:
        console.print(Text("Waived (accepted, not regressions)", style="bold underline"))
        for line in waived_lines(diff):
            console.print(Text("  " + line, style="dim"))
        console.print()
    console.print(Text(verdict(diff), style="bold red" if diff.regressed else "green"))
    return buffer.getvalue()


def _period(period: dict) -> str:
    return f"{period.get('start') or '-'} to {period.get('end') or '-'}"


# ================================================================ JSON

def render_json(diff: BaselineDiff, colour: bool = False) -> str:
    return json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n"


# ================================================================ Markdown

def render_markdown(diff: BaselineDiff, colour: bool = False) -> str:
    out = [f"## dedupaudit diff: {'regression' if diff.regressed else 'no regression'}", ""]
    out.append(f"{md(diff.old_name)} ({md(_period(diff.old_period))}) → {md(diff.new_name)} ({md(_period(diff.new_period))})")
    out += ["", f"**{md(verdict(diff))}**", ""]
    if diff.metrics:
        out += ["### Metric changes", "", "| Platform | Metric | Old | New | Change | Tolerance | |",
                "|---|---|--:|--:|--:|--:|---|"]
        for m in diff.metrics:
            old, new, delta, tolerance = metric_values(m)
            status = "**regression**" if m.regressed else ("worse" if m.worse else ("better" if m.delta is not None else ""))
            out.append(f"| {md(subject(m.display_name, m.event))} | {md(m.label)} | {old} | {new} | {delta} | {tolerance} | {status} |")
        out.append("")
    for title, findings in (("New findings", diff.new_findings), ("Resolved findings", diff.resolved_findings),
                            ("Findings that changed", diff.changed_findings)):
        if not findings:
            continue
        out += [f"### {title}", ""]
        for f in findings:
            severity = (f.new_severity or f.old_severity).upper()
            line = f"- **{severity}** {md(f.code)} {md(f.name)}: {md(subject(f.display_name, f.event))}"
            detail = finding_detail(f)
            if detail:
                line += f" ({md(detail)})"
            if f.regressed:
                line += " **regression**"
            out.append(line)
        out.append("")
    for title, entries in (("Now in the result", diff.platforms_added), ("No longer in the result", diff.platforms_removed)):
        if entries:
            out += [f"{title}: " + "; ".join(md(subject(p.display_name, p.event)) for p in entries), ""]
    if diff.waived:
        out += ["### Waived (accepted, not regressions)", ""] + [f"- {md(line)}" for line in waived_lines(diff)] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def waived_lines(diff: BaselineDiff) -> list[str]:
    return [f"{w.code} {w.name} {subject(w.display_name, w.event)}: {w.old_count:,} waived before, {w.new_count:,} now"
            for w in diff.waived]


def _options_width(options) -> int:
    from dedupaudit.reports.rich_report import terminal_width
    return (options and getattr(options, "width", None)) or terminal_width()


# format name -> render(diff, options) -> text: the signature of the audit's formats (reports.FORMATS), whose
# names and extensions the diff shares; it has no HTML, JUnit, GitHub or SARIF view.
RENDERERS: dict[str, Callable[..., str]] = {
    "rich": lambda diff, options=None: render_rich(diff, bool(options and options.colour), _options_width(options)),
    "json": lambda diff, options=None: render_json(diff),
    "markdown": lambda diff, options=None: render_markdown(diff),
}
