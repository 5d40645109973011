"""The HTML report printed to PDF by headless Chromium: no chart or card cut across pages, each platform's findings
start a page, table headers repeat, external links are spelled out.

How a split is seen: before printing, every unit that must stay whole (a chart panel, a figure without panels, a
card) gets two invisible links, one pinned to its top and one to its bottom (absolutely positioned, so the layout
does not move). Chromium writes each printed link as a link annotation on the page it lands on, so the PDF itself
says on which page each unit starts and ends: a unit is cut when the two differ. The PDF is read with the standard
library only (its object dictionaries are plain text; the page tree gives the page order).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dedupaudit.checks import ALL_CHECKS
from dedupaudit.reports import RenderOptions
from dedupaudit.reports.html_report import render
from tests.headless_chromium import Page, find_chromium
from tests.report_helpers import ARTIFACTS, example_result, finding, platform, small_result

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not found: install Debian's chromium package (apt-get install -y chromium) "
                             "or set CHROMIUM=/path/to/chromium; .ci/run installs it")

PROBE = "https://probe.invalid/"
# Pins a link to the top and the bottom of every unit that must print whole, and to each platform's findings.
PIN = """(() => {
  const pin = (el, kind, i) => {
    if (getComputedStyle(el).position === 'static') el.style.position = 'relative';
    for (const edge of ['top', 'bottom']) {
      const a = document.createElement('a');
      a.href = '%(probe)s' + kind + '/' + i + '/' + edge;
      a.className = 'probe';
      a.style.cssText = 'position:absolute;left:0;' + edge + ':0;width:3px;height:1px;display:block';
      el.appendChild(a);
    }
  };
  const units = [...document.querySelectorAll('.panel, .card, figure')].filter(el => !el.querySelector('.panels'));
  units.forEach((el, i) => pin(el, 'unit', i));
  const groups = [...document.querySelectorAll('.platform-group')];
  groups.forEach((el, i) => pin(el, 'group', i));
  const style = document.createElement('style');
  style.textContent = 'a.probe::after { content: none !important; }';
  document.head.appendChild(style);
  return [units.length, groups.length, units.filter(el => el.querySelector('svg')).length];
})()""" % {"probe": PROBE}


def pdf_pages(pdf: bytes) -> list[list[str]]:
    """The link URIs on each page of a PDF, pages in order (walks the page tree from the catalog)."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", pdf, re.S)}
    ref = lambda text, key: int(re.search(rb"/" + key + rb"\s+(\d+) 0 R", text).group(1))  # noqa: E731
    catalog = next(body for body in objects.values() if re.search(rb"/Type\s*/Catalog", body))

    def walk(number: int) -> list[int]:
        body = objects[number]
        if re.search(rb"/Type\s*/Pages", body):
            kids = re.search(rb"/Kids\s*\[([^\]]*)\]", body).group(1)
            return [page for kid in re.findall(rb"(\d+) 0 R", kids) for page in walk(int(kid))]
        return [number]

    pages = []
    for number in walk(ref(catalog, b"Pages")):
        found = re.search(rb"/Annots\s*\[([^\]]*)\]", objects[number])
        annots = [objects[int(a)] for a in re.findall(rb"(\d+) 0 R", found.group(1))] if found else []
        pages.append([m.decode() for a in annots for m in re.findall(rb"/URI\s*\(([^)]*)\)", a)])
    assert len(pages) == len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))  # every page object is in the tree
    return pages


def printed(result, tmp_path: Path, name: str, extra_html: str = "", shift: int = 0) -> tuple[list[list[str]], tuple, Page]:
    """Render, pin, print: (links per page, (units, platform groups, charts), the page still open).

    `shift` pushes the charts down by that many pixels, so page ends fall elsewhere across them."""
    text = render(result, RenderOptions(title="Print test")).replace("</main>", extra_html + "</main>")
    text = text.replace("<h2>What the platforms see</h2>", f'<h2>What the platforms see</h2><div style="height:{shift}px"></div>')
    html = tmp_path / f"{name}.html"
    html.write_text(text, encoding="utf-8")
    page = Page(CHROMIUM)
    page.open(html)
    counts = tuple(page.evaluate(PIN))
    pages = pdf_pages(page.pdf(ARTIFACTS / f"{name}.pdf"))
    return pages, counts, page


def where(pages: list[list[str]]) -> dict[str, int]:
    """Probe path ('unit/3/top') -> the page (0-based) it printed on; each probe prints exactly once."""
    seen = [(uri.removeprefix(PROBE), n) for n, links in enumerate(pages) for uri in links
            if uri.startswith((PROBE + "unit/", PROBE + "group/"))]
    assert len(seen) == len(dict(seen)), "a probe printed twice"
    return dict(seen)


def assert_whole_and_platforms_on_their_own_pages(pages, counts) -> None:
    units, groups, charts = counts
    at = where(pages)
    assert len(at) == 2 * (units + groups), "every probe prints once"
    cut = [i for i in range(units) if at[f"unit/{i}/top"] != at[f"unit/{i}/bottom"]]
    assert cut == [], f"{len(cut)} of {units} charts/cards are cut across pages"
    starts = [at[f"group/{i}/top"] for i in range(groups)]
    ends = [at[f"group/{i}/bottom"] for i in range(groups)]
    assert all(start > end for start, end in zip(starts[1:], ends)), (starts, ends)  # a new page per platform


def big_result():
    """Nine platforms, 45 findings with example rows, 60 days and a gap histogram per platform."""
    ids = ["meta", "tiktok", "snap", "google", "pinterest", "reddit", "linkedin", "x", "microsoft"]
    platforms = [platform(p, p.title(), orders=1000, reported=1000 + 90 * i) for i, p in enumerate(ids)]
    checks = [c for c in ALL_CHECKS if c.code not in ("DA100", "DA131")][:5]
    examples = [{"side": "capi", "event_name": "Purchase", "event_id": f"ID-{n}", "order_id": f"A-{n}",
                 "event_time": "2026-01-02T03:04:05Z", "file": "capi.jsonl", "row": n} for n in range(5)]
    findings = [finding(c.code, c.name, c.severity, platform=p, count=10 + i, unit=c.unit, examples=examples)
                for p in ids for i, c in enumerate(checks)]
    days = [f"2026-01-{d:02d}" for d in range(1, 32)] + [f"2026-02-{d:02d}" for d in range(1, 30)]
    daily = [{"platform": p, "date": d, "reported_conversions": 20 + (i + n) % 7, "orders": 17} for i, p in enumerate(ids)
             for n, d in enumerate(days)]
    gaps = [{"platform": p, "bucket": b, "upper_hours": u, "pairs": n} for p in ids
            for b, u, n in (("under 1 minute", 1 / 60, 60), ("1-60 minutes", 1, 30), ("24-48 hours", 48, 3), ("over 7 days", None, 1))]
    return small_result(platforms=platforms, findings=findings, daily=daily, pair_gaps=gaps)


LONG_TABLE = ('<table id="long"><thead><tr><th><a href="https://probe.invalid/thead">Order</a></th><th>Value</th></tr></thead>'
              "<tbody>" + "".join(f"<tr><td>A-{n}</td><td>{n}</td></tr>" for n in range(150)) + "</tbody></table>"
              '<p><a id="external" href="https://www.facebook.com/business/help/">Meta help</a></p>')


def test_example_report_prints_without_cutting_a_chart(tmp_path):
    pages, counts, page = printed(example_result(), tmp_path, "report-print")
    page.close()
    units, groups, charts = counts
    assert charts >= 9 and groups == 5  # inputs + Google, Meta, Snap, TikTok
    assert_whole_and_platforms_on_their_own_pages(pages, counts)
    # cover and summary, charts, one page or more per findings group, the figure tables, about: measured 31 pages
    # on Chromium 156 (20 before the daily, gap and per-file tables joined the report)
    assert groups + 3 <= len(pages) <= 36, len(pages)


def test_large_report_prints_without_cutting_a_chart_and_repeats_table_headers(tmp_path):
    pages, counts, page = printed(big_result(), tmp_path, "report-print-large", LONG_TABLE)
    try:
        page.call("Emulation.setEmulatedMedia", {"media": "print"})
        printed_link = page.evaluate("getComputedStyle(document.getElementById('external'), '::after').content")
        page.call("Emulation.setEmulatedMedia", {"media": "screen"})
        screen_link = page.evaluate("getComputedStyle(document.getElementById('external'), '::after').content")
    finally:
        page.close()
    units, groups, charts = counts
    assert groups == 9 and charts >= 9 * 2 + 2  # a day-by-day and a gap chart per platform, plus the two overviews
    assert_whole_and_platforms_on_their_own_pages(pages, counts)
    assert 9 + 3 <= len(pages) <= 80, len(pages)
    header_pages = [n for n, links in enumerate(pages) if PROBE + "thead" in links]  # the 150-row table spans pages
    assert len(header_pages) >= 3 and header_pages == list(range(header_pages[0], len(pages)))
    assert printed_link == '" (https://www.facebook.com/business/help/)"'  # the address printed after the link text
    assert screen_link in ("none", "normal")  # on paper only


@pytest.mark.parametrize("shift", [200, 600])
def test_charts_stay_whole_wherever_the_page_ends(tmp_path, shift):
    """Without `break-inside: avoid` a chart or figure is cut at both of these shifts (seen on Chromium 156)."""
    pages, counts, page = printed(big_result(), tmp_path, f"shifted-{shift}", shift=shift)
    page.close()
    assert_whole_and_platforms_on_their_own_pages(pages, counts)


def test_the_probe_sees_a_cut(tmp_path):
    """The oracle for the tests above: a card taller than the room left on a page is reported as cut."""
    html = tmp_path / "probe-check.html"
    html.write_text('<html><body><div style="height:900px"></div><div class="card" style="height:600px">tall</div></body></html>')
    with Page(CHROMIUM) as page:
        page.open(html)
        counts = tuple(page.evaluate(PIN))
        pages = pdf_pages(page.pdf(tmp_path / "probe-check.pdf"))
    assert counts == (1, 0, 0) and len(pages) == 2
    assert where(pages) == {"unit/0/top": 0, "unit/0/bottom": 1}
