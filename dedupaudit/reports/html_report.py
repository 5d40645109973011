"""The HTML report: one self-contained page a consultant hands to a client, readable on screen and printed to PDF.

Order: executive summary (what each platform would count, what it costs, what to fix first), charts, the
baseline comparison, every finding with its meaning, why it matters for bidding, the fix and example rows, every
other figure of the result as tables, then the inputs behind it.
Inline CSS and SVG only; the Content-Security-Policy forbids every fetch and every script, and every string
that may come from the inputs goes through `esc`, so markup in an event name or order ID shows as text.
"""

from __future__ import annotations

import re
from html import escape
from importlib.resources import files
from itertools import groupby

from dedupaudit.reports import grids as G
from dedupaudit.reports import summary as S
from dedupaudit.reports import svg_charts
from dedupaudit.result import AuditResult, Finding, PlatformSummary, severity_rank

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STATUS = {"error": "Inflated", "warning": "Check", None: "OK"}
SEVERITY_WORDS = {"error": "Error", "warning": "Warning", "info": "Note"}


def render(result: AuditResult, options=None) -> str:
    title = (options and options.title) or "Deduplication audit"
    client = options and options.client
    ordered = [f for _, group in S.by_platform(result.findings) for f in group]
    anchors = {id(f): f"finding-{i + 1}" for i, f in enumerate(ordered)}
    css = files("dedupaudit.reports").joinpath("html_report.css").read_text(encoding="utf-8")
    page_title = f"{title} \u2014 {client}" if client else title
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(page_title)}</title>",
        f"<style>\n{css}</style>",
        '</head><body><main class="sheet">',
        _cover(result, title, client),
        _summary(result, anchors),
        _charts(result),
        _baseline(result),
        _findings(result, ordered, anchors),
        _figures(result),
        _about(result),
        "</main></body></html>",
        "",
    ])


def esc(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def prose(value: str) -> str:
    """Tool text: escaped, with its `code` spans shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(value))


def _cover(result: AuditResult, title: str, client: str | None) -> str:
    period = S.period(result)
    sides = [f"{label} {result.inputs[side].rows:,} rows" for side, label in
             (("pixel", "pixel"), ("capi", "server (CAPI)"), ("orders", "orders")) if side in result.inputs]
    return (f'<header class="cover"><div class="eyebrow">Pixel and Conversions API deduplication audit</div>'
            f"<h1>{esc(title)}</h1>"
            + (f'<p class="client">Prepared for <strong>{esc(client)}</strong></p>' if client else "")
            + f'<p class="meta">Period {esc(period)} \u00b7 {esc(", ".join(sides))}</p></header>')


def _status(result: AuditResult, p: PlatformSummary) -> str | None:
    """The worst severity of the platform's inflation or under-count finding: the cards' colour."""
    levels = [f.severity for f in result.findings if f.platform == p.platform and f.name in S.OUTCOME_CHECKS]
    return min(levels, key=severity_rank) if levels else None


def _summary(result: AuditResult, anchors: dict) -> str:
    rows = S.purchases(result)
    out = ['<section id="summary"><h2>Executive summary</h2>', _verdict(result)]
    out.insert(1, _roas_section(result))  # ROAS leads the summary
    if rows:
        out.append('<div class="cards">' + "".join(_card(result, p) for p in rows) + "</div>")
        out.append(_summary_table(result, rows))
    first = S.fix_first(result)
    if first is not None:
        where = S.place(first, S.display_names(result))
        check = S.CHECKS_BY_CODE.get(first.code)
        headline = check.summary if check else first.name
        out.append(
            f'<aside class="fix-first {first.severity}"><div class="eyebrow">Fix this first</div>'
            f"<h3>{esc(where)}: {esc(headline)}</h3><p>{prose(first.message)}</p>"
            f'<p class="fix"><strong>Fix:</strong> {prose(first.hint)} '
            f'<a href="#{anchors[id(first)]}">{esc(first.code)} {esc(first.name)} below \u2192</a></p></aside>')
    return "\n".join(out) + "</section>"


def _verdict(result: AuditResult) -> str:
    """The headline: one sentence, then each over-counting platform, worst first (never a sum across platforms)."""
    verdict, lines = S.headline(result)
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f'<p class="lead">{esc(verdict)}</p>' + (f'<ul class="lead-list">{items}</ul>' if items else "")


def _roas_section(result: AuditResult) -> str:
    """'Meta reports ROAS 3.14, deduplicated 2.51 (EUR)' per platform and currency, then the figures (--spend)."""
    rows = G.roas_table(result)
    if not rows:
        return ""
    head = "".join(f'<th{" class=num" if i > 1 else ""}>{esc(h)}</th>' for i, h in enumerate(G.ROAS_HEAD))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i > 1 else ""}>{esc(c)}</td>' for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    notes = "".join(f"<li>{esc(n)}</li>" for n in G.roas_notes(result))
    return (f'<div id="roas"><p class="lead">{"<br>".join(esc(s) + "." for s in G.roas_sentences(result))}</p>'
            f'<table class="summary-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f'<p class="muted">{esc(G.ROAS_MEANING)}</p>' + (f'<ul class="small">{notes}</ul>' if notes else "") + "</div>")


def _card(result: AuditResult, p: PlatformSummary) -> str:
    status = _status(result, p)
    css = status if status in ("error", "warning") else "ok"
    label = STATUS.get(status, "Check")
    if p.inflation_ratio is not None and p.inflation_ratio < 1 and status:
        label = "Under-counted"
    big = S.ratio(p.inflation_ratio, "\u00d7")
    lines = [f'<div class="line">counts <b>{p.reported_conversions:,}</b> purchases for <b>{G.num(p.orders)}</b> real orders</div>']
    if S.inflation_range(p):
        lines.append(f'<div class="line">{esc(S.inflation_range(p))} depending on unconfirmed platform rules</div>')
    if p.platform_reported is not None:
        lines.append(f'<div class="line">dashboard shows <b>{esc(S.dashboard(p))}</b></div>')
    if p.extra_conversions and p.orders:
        share = p.extra_conversions / p.orders
        what = "that did not happen" if p.extra_conversions > 0 else "real sales it cannot see"
        lines.append(f'<div class="extra">{p.extra_conversions:+,} purchases {what} ({share:+.0%})</div>')
    revenue = S.extra_revenue(p)
    if revenue and p.extra_conversions:
        lines.append(f'<div class="extra">\u2248 {esc(revenue)} revenue '
                     f'{"credited in error" if p.extra_conversions > 0 else "it cannot see"}</div>')
    return (f'<div class="card {css}"><div class="card-head"><span class="platform">{esc(p.display_name)}</span>'
            f'<span class="pill {css}">{label}</span></div><div class="big">{big}</div>{"".join(lines)}</div>')


def _summary_table(result: AuditResult, rows: list[PlatformSummary]) -> str:
    grid = G.summary_grid(result).without("Pixel events", "CAPI events")  # on the cards and in the details below
    at = grid.headers.index("Inflation")
    status = [_status(result, p) for p in rows]
    out = [table(grid, "summary-table", lambda r, c: "bad" if c == at and status[r] == "error" else
                 "fine" if c == at and status[r] is None else "")]
    sentences = [s for s in map(S.unconfirmed_sentence, rows) if s]
    if sentences:
        out.append('<p class="muted">Range: where a platform rule is unconfirmed, the ratio under each reading:</p><ul>'
                   + "".join(f"<li>{esc(s)}</li>" for s in sentences) + "</ul>")
    return "".join(out)


def table(grid: G.Grid, css: str = "figures", cell_class=None, title: bool = True) -> str:
    """A grid as an HTML table (figures right-aligned), in a box that scrolls sideways on a narrow screen."""
    num = lambda i: "" if i in grid.text_columns else " class=num"  # noqa: E731
    head = "".join(f"<th{num(i)}>{esc(h)}</th>" for i, h in enumerate(grid.headers))
    body = "".join("<tr>" + "".join(
        f'<td class="{"" if i in grid.text_columns else "num"} {cell_class(r, i) if cell_class else ""}">{esc(c)}</td>'
        .replace(' class=" "', "") for i, c in enumerate(row)) + "</tr>" for r, row in enumerate(grid.rows))
    caption = f"<h3>{esc(grid.title)}</h3>" if title else ""
    return f'{caption}<div class="wide"><table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _charts(result: AuditResult) -> str:
    rows = [p for p in S.purchases(result) if p.orders is not None]
    names = S.display_names(result)
    out = ['<section id="charts" class="page-break"><h2>What the platforms see</h2>']
    if rows:
        out.append(_figure("Purchases counted against real orders",
                           "The grey bar is the shop's real orders; red is what a platform would count on top of them "
                           "because the pixel and the server event of the same purchase were not recognised as one.",
                           svg_charts.reported_vs_real([(p.display_name, p.orders, p.reported_conversions) for p in rows])))
    split = [(p.display_name, S.coverage_split(p)) for p in rows if S.coverage_split(p)]
    if split:
        out.append(_figure("Which path reports each order",
                           "Share of real orders with a purchase event from both the browser pixel and the server (CAPI), "
                           "from one of them only, or from neither. Only orders reported by both can be double counted; "
                           "orders seen by one path only show where that path is missing.",
                           svg_charts.coverage(split)))
    out.append(_daily(result, rows))
    out.append(_gaps(result, rows, names))
    return "\n".join(o for o in out if o) + "</section>"


def _figure(title: str, caption: str, body: str) -> str:
    return f"<figure><h3>{esc(title)}</h3><figcaption>{esc(caption)}</figcaption>{body}</figure>"


def _daily(result: AuditResult, rows: list[PlatformSummary]) -> str:
    series = {p: list(g) for p, g in groupby(sorted(result.daily, key=lambda d: (d["platform"], d["date"])), key=lambda d: d["platform"])}
    panels = [(p, series[p.platform]) for p in rows if series.get(p.platform)]
    if not panels:
        return ""
    top = max(max(d["reported_conversions"], d["orders"]) for _, days in panels for d in days)
    svgs = []
    for p, days in panels:
        extra = sum(d["reported_conversions"] - d["orders"] for d in days)
        worse = sum(1 for d in days if d["reported_conversions"] > d["orders"])
        note = (f"{extra:+,} over {len(days)} days; above orders on {worse} of them" if extra
                else f"matches orders over {len(days)} days")
        svgs.append(svg_charts.daily(p.display_name, note, [(d["date"], d["reported_conversions"], d["orders"]) for d in days],
                                     top, inflated=_status(result, p) is not None))
    return _figure("Day by day", "Purchases each platform would count per day (solid) against the real orders of that "
                   "day (dashed grey), on one scale. A steady gap points to a systematic ID or name problem; spikes to "
                   "batches, retries or test traffic.", _panels(svgs))


def _gaps(result: AuditResult, rows: list[PlatformSummary], names: dict) -> str:
    by_platform = {p: list(g) for p, g in groupby(sorted(result.pair_gaps, key=lambda g: g["platform"]), key=lambda g: g["platform"])}
    windows = {p.platform: p.window_hours for p in rows}
    svgs = []
    for platform, buckets in by_platform.items():
        window = windows.get(platform)
        lower, shaped = 0.0, []
        for b in buckets:
            shaped.append((_short(b["bucket"]), lower, b["upper_hours"], b["pairs"]))
            lower = b["upper_hours"] if b["upper_hours"] is not None else lower
        total = sum(b[3] for b in shaped)
        if window is None:
            note = f"{total:,} linked pairs; no time limit on deduplication"
        else:
            late = sum(b[3] for b in shaped if b[1] >= window)
            note = f"{late:,} of {total:,} linked pairs arrived after the {window:g} h window"
        svgs.append(svg_charts.gaps(names.get(platform, platform), note, shaped, window))
    if not svgs:
        return ""
    return _figure("Time between the pixel and the server event",
                   "For each order reported by both paths, how far apart the platform received the two events. "
                   "A platform deduplicates only within its window (dashed line): pairs to the right of it (red) are "
                   "counted twice even when their IDs match.", _panels(svgs))


def _short(bucket: str) -> str:
    """'under 1 minute' -> '<1 min', '24-48 hours' -> '24\u201348 h': labels that fit under a column."""
    for long, short in (("under ", "<"), ("over ", ">"), (" minutes", " min"), (" minute", " min"),
                        (" hours", " h"), (" hour", " h"), (" days", " d"), (" day", " d"), ("-", "\u2013")):
        bucket = bucket.replace(long, short)
    return bucket


def _panels(svgs: list[str]) -> str:
    return '<div class="panels">' + "".join(f'<div class="panel">{s}</div>' for s in svgs) + "</div>"


def _baseline(result: AuditResult) -> str:
    lines = G.baseline_lines(result)
    if not lines:
        return ""
    grid = G.baseline_grid(result)
    css = "bad" if result.baseline.get("regressed") else "fine"
    return (f'<section id="baseline"><h2>Since the baseline</h2><p class="lead {css}">{esc(lines[0])}</p>'
            + (table(grid) if grid and grid.rows else "")
            + ("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines[1:]) + "</ul>" if lines[1:] else "") + "</section>")


def _figures(result: AuditResult) -> str:
    grids = G.figure_grids(result)
    if not grids:
        return ""
    return ('<section id="figures" class="figures-section"><h2>Every figure</h2><p class="muted">The figures behind the '
            "charts and findings, as in the JSON result.</p>" + "".join(table(part) for g in grids for part in g.split(7))
            + "</section>")


def _findings(result: AuditResult, ordered: list[Finding], anchors: dict) -> str:
    counts = S.severity_counts(result.findings)
    out = ['<section id="findings" class="page-break"><h2>Findings</h2>']
    if not ordered:
        return out[0] + f"<p>{esc(G.no_findings(result))}</p></section>"
    out.append(f'<p>{counts["error"]} errors, {counts["warning"]} warnings and {counts["info"]} notes, grouped by platform, '
               "most severe first, then the largest count. Each says what is wrong, why it matters for the platform's bidding, and where to fix "
               "it; the example rows point to the events behind it (file and row).</p>")
    names = S.display_names(result)
    ratios = {p.platform: p.inflation_ratio for p in S.purchases(result)}
    zone = S.zone(result)
    for platform, group in groupby(ordered, key=lambda f: f.platform):
        heading = esc(names.get(platform, platform)) if platform else "Inputs"
        ratio = ratios.get(platform)
        extra = f' <span class="muted">counts {ratio:.2f}\u00d7 the real orders</span>' if ratio is not None else ""
        out.append(f'<div class="platform-group"><h3>{heading}{extra}</h3>')
        out += [_finding(f, names, anchors[id(f)], zone) for f in group]
        out.append("</div>")
    return "\n".join(out) + "</section>"


def _finding(f: Finding, names: dict, anchor: str, zone: str = "UTC") -> str:
    check = S.CHECKS_BY_CODE.get(f.code)
    where = names.get(f.platform, f.platform) if f.platform else "the inputs"
    event = f' <span class="muted">{esc(f.event)}</span>' if f.event and f.event != "purchase" else ""
    rows = []
    if check:
        rows += [("What it means", esc(check.summary)), ("Why it matters for bidding", esc(check.why)),
                 ("For example", esc(check.example))]
    rows.append((f"Fix on {esc(where)}", prose(f.hint)))
    dl = "".join(f'<dt>{t}</dt><dd{" class=fix" if t.startswith("Fix") else ""}>{d}</dd>' for t, d in rows)
    measured = f'<p class="measured">How it is measured: {prose(check.what)}</p>' if check else ""
    return (f'<article class="finding {esc(f.severity)}" id="{anchor}"><header>'
            f'<span class="pill {esc(f.severity)}">{SEVERITY_WORDS.get(f.severity, esc(f.severity))}</span>'
            f'<span class="code">{esc(f.code)}</span><h4>{esc(f.name)}{event}</h4>'
            f'<span class="count">{esc(S.counted(f))}</span></header>'
            f'<p class="message">{prose(f.message)}</p><dl>{dl}</dl>{_examples(f.examples, zone)}{measured}</article>')


def _examples(examples: list[dict], zone: str = "UTC") -> str:
    if not examples:
        return ""
    columns = list(dict.fromkeys(k for row in examples for k in row))
    head = "".join(f"<th>{esc(c).replace('_', '_<wbr>')}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c), zone) for c in columns) + "</tr>" for row in examples)
    return (f'<div class="examples-title">Example rows ({len(examples)})</div>'
            f'<div class="examples"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def _cell(value, zone: str = "UTC") -> str:
    """One example value; times in the report's zone ('2026-10-05 02:39:15 UTC'), so they wrap between date and time."""
    if value is None:
        return '<td class="none">\u2014</td>'
    shown = S.shown_value(value, zone)
    wrap = " " in shown or len(shown) > 18
    return f'<td class=wrap>{esc(shown).replace("/", "/<wbr>")}</td>' if wrap else f"<td>{esc(shown)}</td>"


def _about(result: AuditResult) -> str:
    out = ['<section id="about" class="about"><h2>About this audit</h2><h3>Inputs</h3>']
    out.append('<ul class="small">' + "".join(f"<li>{esc(line)}</li>" for line in S.accounting_lines(result)) + "</ul>")
    settings = result.settings or {}
    if settings:
        excluded = ", ".join(settings.get("excluded_statuses") or []) or "none"
        tolerance = settings.get("link_tolerance_minutes")
        out.append(f"<ul><li>Times without an offset read in, and times and days shown in, <strong>{esc(S.zone(result))}</strong>.</li>"
                   f"<li>Orders with these statuses are not real sales: {esc(excluded)}.</li>"
                   + (f"<li>Events without an order ID linked to orders by value and time within {tolerance:g} minutes.</li>"
                      if isinstance(tolerance, (int, float)) else "") + "</ul>")
    others = [p for p in result.platforms if p.event != "purchase"]
    if others:
        out.append("<h3>Other events the platforms would count</h3><ul>" + "".join(
            f"<li>{esc(p.display_name)} {esc(p.event)}: {p.reported_conversions:,} "
            f"({p.pixel_events:,} pixel, {p.capi_events:,} server events)</li>" for p in others) + "</ul>")
    assumed = {p.display_name: sorted(p.assumptions) for p in S.purchases(result) if p.assumptions}
    if assumed:
        out.append("<h3>Assumptions</h3><p>These figures rest on rule values that the platforms do not document "
                   "exactly; they are set in the platform rule files.</p><ul>" + "".join(
                       f"<li>{esc(n)}: {esc(', '.join(a))}</li>" for n, a in assumed.items()) + "</ul>")
    version = esc(result.tool.get("version", ""))
    out.append(f"<footer>Generated by dedupaudit {version}. Personal data such as emails, phone numbers and IP "
               "addresses is redacted before it reaches this report. <code>dedupaudit explain CODE</code> documents "
               "each check.</footer></section>")
    return "\n".join(out)
