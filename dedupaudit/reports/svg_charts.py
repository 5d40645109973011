"""Inline SVG charts for the HTML report, drawn here so the page needs no script and loads nothing.

Each function takes plain numbers and display labels and returns one <svg> element that scales to its
container (viewBox + width 100%). Every label is escaped here, whatever its source.
"""

from __future__ import annotations

import math
from html import escape

INK, MUTED, GRID = "#0f172a", "#64748b", "#e2e8f0"
REAL, EXTRA, OK = "#475569", "#dc2626", "#0f766e"
COVERAGE = {"both": ("#0f766e", "#fff"), "pixel_only": ("#38bdf8", INK), "capi_only": ("#a78bfa", INK), "neither": ("#e2e8f0", INK)}
INSIDE, STRADDLE, OUTSIDE = "#0f766e", "#f59e0b", "#dc2626"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(label)}" font-family="inherit" font-size="12">'
            f'<title>{escape(label)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, s: str, size: int = 12, anchor: str = "start", fill: str = INK, weight: int = 400) -> str:
    bold = f' font-weight="{weight}"' if weight != 400 else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{bold}>{escape(s)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "", tip: str | None = None) -> str:
    shape = f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}"{extra}'
    return f"{shape}><title>{escape(tip)}</title></rect>" if tip else f"{shape}/>"


def _legend(x: float, y: float, items: list[tuple[str, str]], dashed: set[str] = frozenset()) -> list[str]:
    out = []
    for label, colour in items:
        style = f' stroke="{REAL}" stroke-dasharray="3 2"' if label in dashed else ""
        out += [_rect(x, y - 10, 12, 12, colour, style), _text(x + 18, y, label, 12, fill=MUTED)]
        x += 30 + 6.6 * len(label)
    return out


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top` (1, 2, 2.5 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def reported_vs_real(rows: list[tuple[str, int, int]], width: int = 880) -> str:
    """Per platform, (label, real orders, reported): a bar to the real orders, the excess in red, a shortfall dashed."""
    left, right, top, row_h = 130, 170, 34, 44
    ticks = nice_ticks(max([max(o, r) for _, o, r in rows] + [1]))
    plot = width - left - right
    x = lambda v: left + v / ticks[-1] * plot  # noqa: E731
    height = top + row_h * len(rows) + 26
    body = _legend(left, 14, [("Real orders", REAL), ("Counted above real orders", EXTRA), ("Real orders not counted", "#fff")],
                   dashed={"Real orders not counted"})
    for t in ticks:
        body.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 6}" y2="{height - 22}" stroke="{GRID}"/>')
        body.append(_text(x(t), height - 6, _fmt(t), 11, "middle", MUTED))
    for i, (label, orders, reported) in enumerate(rows):
        y = top + i * row_h
        body.append(_text(left - 12, y + 21, label, 14, "end", weight=600))
        body.append(_rect(x(0), y + 6, x(min(orders, reported)) - x(0), 22, REAL))
        if reported > orders:
            body.append(_rect(x(orders), y + 6, x(reported) - x(orders), 22, EXTRA))
            if x(reported) - x(orders) > 64:
                body.append(_text(x(orders) + 6, y + 21, f"+{reported - orders:,}", 12, fill="#fff", weight=600))
        elif reported < orders:
            body.append(_rect(x(reported), y + 6.5, x(orders) - x(reported), 21, "#fff", f' stroke="{REAL}" stroke-dasharray="3 2"'))
        ratio = reported / orders if orders else None
        colour = EXTRA if ratio and abs(ratio - 1) > 0.02 else OK
        end = x(max(orders, reported)) + 8
        body.append(f'<text x="{end:.1f}" y="{y + 21:.1f}" font-size="13" fill="{INK}"><tspan font-weight="700">{reported:,}</tspan>'
                    + (f'<tspan fill="{colour}" font-weight="600"> \u00b7 {ratio:.2f}\u00d7</tspan>' if ratio else "") + "</text>")
    return _svg(width, height, "Purchases each platform would count against real orders", body)


def coverage(rows: list[tuple[str, dict[str, float]]], width: int = 880) -> str:
    """Per platform, the shares of real orders reported by both paths, the pixel only, the server only, neither."""
    left, right, top, row_h = 130, 190, 34, 40
    names = {"both": "Pixel and CAPI", "pixel_only": "Pixel only", "capi_only": "CAPI only", "neither": "Neither"}
    plot = width - left - right
    height = top + row_h * len(rows) + 4
    body = _legend(left, 14, [(names[k], c[0]) for k, c in COVERAGE.items()])
    for i, (label, split) in enumerate(rows):
        y, at = top + i * row_h, float(left)
        body.append(_text(left - 12, y + 19, label, 14, "end", weight=600))
        for key, (fill, ink) in COVERAGE.items():
            w = split.get(key, 0) * plot
            if w <= 0:
                continue
            body.append(_rect(at, y + 4, w, 22, fill, tip=f"{names[key]}: {split[key]:.1%}"))
            if w > 40:
                body.append(_text(at + w / 2, y + 19.5, f"{split[key]:.0%}", 12, "middle", ink, 600))
            at += w
        single = [f"{names[k]} {split[k]:.0%}" for k in ("pixel_only", "capi_only", "neither") if split.get(k)]
        body.append(_text(width - right + 12, y + 19.5, " \u00b7 ".join(single) or "all by both", 11, fill=MUTED))
    return _svg(width, height, "Real orders reported by the pixel, the server (CAPI), both or neither", body)


def daily(label: str, note: str, points: list[tuple[str, int, int]], top_value: float, inflated: bool,
          width: int = 430, height: int = 210) -> str:
    """One platform's days, (date, reported, orders): orders in grey, reported in colour, the gap between shaded."""
    left, right, top, bottom = 46, 14, 44, 26
    ticks = nice_ticks(top_value)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)
    x = lambda i: left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))  # noqa: E731
    y = lambda v: top + plot_h - v / ticks[-1] * plot_h  # noqa: E731
    colour = EXTRA if inflated else OK
    body = [_text(0, 16, label, 14, weight=700), _text(0, 33, note, 12, fill=MUTED)]
    for t in ticks:
        body += [f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{GRID}"/>',
                 _text(left - 6, y(t) + 4, _fmt(t), 10, "end", MUTED)]
    reported = [(x(i), y(r)) for i, (_, r, _) in enumerate(points)]
    orders = [(x(i), y(o)) for i, (_, _, o) in enumerate(points)]
    line = lambda pts: " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)  # noqa: E731
    if n > 1:
        body.append(f'<polygon points="{line(reported + orders[::-1])}" fill="{colour}" fill-opacity="0.14"/>')
        body.append(f'<polyline points="{line(orders)}" fill="none" stroke="{REAL}" stroke-width="2" stroke-dasharray="5 3"/>')
        body.append(f'<polyline points="{line(reported)}" fill="none" stroke="{colour}" stroke-width="2.2"/>')
    for (xr, yr), (xo, yo) in zip(reported, orders):
        if n <= 31:
            body.append(f'<circle cx="{xo:.1f}" cy="{yo:.1f}" r="2" fill="{REAL}"/><circle cx="{xr:.1f}" cy="{yr:.1f}" r="2.4" fill="{colour}"/>')
    for i in sorted({0, n // 2, n - 1}) if n else []:
        body.append(_text(x(i), height - 8, points[i][0][5:], 10, "middle" if 0 < i < n - 1 or n == 1 else ("start" if i == 0 else "end"), MUTED))
    return _svg(width, height, f"{label}: purchases counted per day against real orders", body)


def gaps(label: str, note: str, buckets: list[tuple[str, float, float | None, int]], window: float | None,
         width: int = 430, height: int = 210) -> str:
    """Linked pixel/CAPI pairs per time-apart bucket, (label, lower h, upper h, pairs), against the dedup window."""
    left, right, top, bottom = 46, 14, 50, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max([b[3] for b in buckets] + [1]) * 1.08, 5)  # headroom for the value labels
    col = plot_w / max(len(buckets), 1)
    y = lambda v: top + plot_h - v / ticks[-1] * plot_h  # noqa: E731
    body = [_text(0, 16, label, 14, weight=700), _text(0, 33, note, 12, fill=MUTED)]
    for t in ticks:
        body += [f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{GRID}"/>',
                 _text(left - 6, y(t) + 4, _fmt(t), 10, "end", MUTED)]
    for i, (name, lower, upper, pairs) in enumerate(buckets):
        fill = (INSIDE if window is None or (upper is not None and upper <= window)
                else OUTSIDE if lower >= window else STRADDLE)
        h = max(plot_h - (y(pairs) - top), 2 if pairs else 0)
        cx = left + col * (i + 0.5)
        body.append(_rect(cx - col * 0.34, top + plot_h - h, col * 0.68, h, fill))
        if pairs:
            body.append(_text(cx, top + plot_h - h - 4, f"{pairs:,}", 10, "middle", INK, 600))
        body.append(_text(cx, height - 8, name, 10, "middle", MUTED))
        if window is not None and lower < window and (upper is None or window <= upper):
            edge = 1.0 if upper is None or window == upper else (window - lower) / (upper - lower)
            wx = left + col * (i + (0.5 if upper is None else edge))
            body += [f'<line x1="{wx:.1f}" x2="{wx:.1f}" y1="{top - 4}" y2="{top + plot_h}" stroke="{INK}" stroke-width="1.5" stroke-dasharray="4 3"/>',
                     _text(wx - 4, top + 8, f"{window:g} h window", 11, "end", INK, 600)]
    return _svg(width, height, f"{label}: time between the pixel and the server event of each linked pair", body)
