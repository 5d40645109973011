"""The terminal report: the headline, a summary table per platform, the findings (most severe first, with fixes),
then every other figure of the result. It uses the terminal's width: a table too wide for it is split into
several, each repeating the first column, so no figure is ever cut."""

from __future__ import annotations

import io
import shutil
import textwrap

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dedupaudit.reports import grids as G
from dedupaudit.reports import summary as S
from dedupaudit.wording import plural
from dedupaudit.result import AuditResult, severity_rank

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan", None: "green"}
FALLBACK_WIDTH = 100  # when the output is not a terminal and COLUMNS is not set
MIN_WIDTH = 40
TEXT_COLUMN = (16, 12)  # a column of words wraps down to this (first column, others) when the table would not fit


def terminal_width() -> int:
    """COLUMNS, else the terminal's width, else FALLBACK_WIDTH (output piped to a file)."""
    return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns


def render(result: AuditResult, options=None) -> str:
    colour = bool(options and options.colour)
    width = max(MIN_WIDTH, (options and getattr(options, "width", None)) or terminal_width())
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=colour, no_color=not colour, width=width, highlight=False, soft_wrap=False)
    _header(console, result)
    _summary(console, result)
    _baseline(console, result)
    _roas(console, result)
    _findings(console, result)
    for grid in G.figure_grids(result):
        draw(console, grid)
    return buffer.getvalue()


def _header(console: Console, result: AuditResult) -> None:
    console.print(Text("dedupaudit: what each ad platform would count, against your real orders", style="bold"))
    console.print(Text(f"Period {S.period(result)}"))
    for side, label in S.SIDE_LABELS:
        s = result.inputs[side]
        line = f"  {label}: {plural(s.rows, 'row')} from {plural(len(s.files), 'file')}"
        if s.rejected:
            line += f", {s.rejected:,} rejected ({', '.join(f'{k}: {v}' for k, v in s.rejected_reasons.items())})"
        if s.outside_period:
            line += f", {s.outside_period:,} outside the period"
        if s.normalised_order_ids:
            line += f", {s.normalised_order_ids:,} order IDs compared without '#' or spaces"
        console.print(Text(line))
        for _, detail in (d for d in S.file_accounting(result) if d[0] == side):
            console.print(Text("    " + detail, style="dim"))
    for note in S.input_notes(result):
        console.print(Text("  Note: " + note))
    console.print()


def _inflation_severity(result: AuditResult, platform: str) -> str | None:
    levels = [f.severity for f in result.findings if f.platform == platform and f.name in S.OUTCOME_CHECKS]
    return min(levels, key=severity_rank) if levels else None


def _summary(console: Console, result: AuditResult) -> None:
    if not S.purchases(result):
        console.print("No purchase events in the inputs.\n")
        return
    verdict, lines = S.headline(result)
    console.print(Text(verdict, style="bold"))
    for line in lines:
        console.print(Text("  " + line))
    console.print()
    # The findings follow right below, grouped by platform: their count per platform is left out of the table here.
    grid = G.summary_grid(result).without("Findings")
    at = grid.headers.index("Inflation")
    styles = {i: STYLES[_inflation_severity(result, p.platform)] for i, p in enumerate(S.purchases(result))}
    draw(console, grid, lambda row, column: styles[row] if column == at else None)
    sentences = [s for s in map(S.unconfirmed_sentence, S.purchases(result)) if s]
    if sentences:
        console.print("Range: where a platform rule is unconfirmed, the ratio under each reading:")
        for sentence in sentences:
            console.print(Text("  " + sentence))
    others = [p for p in result.platforms if p.event != "purchase"]
    if others:
        console.print(Text("Other events the platforms would count: " + "; ".join(
            f"{p.display_name} {p.event} {p.reported_conversions:,}" for p in others)))
    assumed = [p for p in S.purchases(result) if p.assumptions]
    if assumed:
        console.print(Text("Rule values the platforms do not document: " + ", ".join(
            f"{p.display_name} {len(p.assumptions)}" for p in assumed) + " (`dedupaudit rules facts` lists them; only the "
            "readings above change a count).", style="dim"))
    console.print()


def _baseline(console: Console, result: AuditResult) -> None:
    lines = G.baseline_lines(result)
    if not lines:
        return
    console.print(Text(lines[0], style="bold red" if result.baseline.get("regressed") else "green"))
    grid = G.baseline_grid(result)
    if grid and grid.rows:
        draw(console, grid)
    for line in lines[1:]:
        console.print(Text("  " + line))
    console.print()
def _roas(console: Console, result: AuditResult) -> None:
    """Spend and ROAS per platform and currency (--spend): as the platform reports it and against the real orders."""
    rows = G.roas_table(result)
    if not rows:
        return
    draw(console, G.Grid("Spend and ROAS: reported vs deduplicated", list(G.ROAS_HEAD), [list(r) for r in rows], frozenset({0, 1})))
    for line in [*G.roas_sentences(result), G.ROAS_MEANING, *G.roas_notes(result)]:
        console.print(Text(line))
    console.print()


def _findings(console: Console, result: AuditResult) -> None:
    if not result.findings:
        console.print(Text(G.no_findings(result), style="green"))
        console.print()
        return
    names = S.display_names(result)
    for platform, group in S.by_platform(result.findings):
        console.print(Text(names.get(platform, platform) if platform else "Inputs", style="bold underline"))
        for f in group:
            event = f" {f.event}" if f.event and f.event != "purchase" else ""
            console.print(Text.assemble((f"{f.severity.upper():8}", STYLES[f.severity]), (f" {f.code} {f.name}{event}", "bold"),
                                        f"  ({S.counted(f)})"))
            console.print(Text("  " + f.message))
            console.print(Text("  Fix: " + f.hint, style="dim"))
        console.print()
    counts = S.severity_counts(result.findings)
    console.print(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes. "
                  "Example rows for each finding are in --format json; `dedupaudit explain CODE` explains a check.")
    console.print()


def draw(console: Console, grid: G.Grid, style=None) -> None:
    """Print a grid as one table, or as several that each fit the console (first column repeated); a figure is never
    wrapped or cut, a column of words wraps."""
    widths = [_width(grid, i) for i in range(len(grid.headers))]
    chunks, current = [], [0]
    for i in range(1, len(grid.headers)):
        if _table_width([widths[c] for c in current + [i]]) > console.width and len(current) > 1:
            chunks.append(current)
            current = [0]
        current.append(i)
    chunks.append(current)
    for n, columns in enumerate(chunks):
        title = grid.title + (f" ({n + 1} of {len(chunks)})" if len(chunks) > 1 else "")
        table = Table(title=title, title_justify="left")
        for c in columns:
            words = c in grid.text_columns
            header = "\n".join(textwrap.wrap(grid.headers[c], max(widths[c], 1), break_long_words=False)) or " "
            table.add_column(header, justify="left" if words else "right", no_wrap=not words,
                             min_width=None if words else widths[c], overflow="fold")
        for r, row in enumerate(grid.rows):
            table.add_row(*(Text(row[c], style=(style(r, c) if style else None) or "") for c in columns))
        console.print(table)


def _width(grid: G.Grid, column: int) -> int:
    """Room a column needs: its widest figure (never cut), or for words up to TEXT_COLUMN; headers fold to it."""
    cells = [len(row[column]) for row in grid.rows] or [0]
    words = max((len(w) for w in grid.headers[column].split()), default=1)
    if column in grid.text_columns:
        return max(words, min(max(cells), TEXT_COLUMN[column > 0]))
    return max(words, max(cells))


def _table_width(widths: list[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1  # a space either side of each cell and the borders
