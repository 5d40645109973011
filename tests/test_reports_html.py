"""The HTML view: structure, escaping and self-containment, then the real page in headless Chromium.

The browser tests skip where Chromium is absent (Debian's `chromium` package; .ci/run installs it). They save
tests/artifacts/report.png (full page) and report.pdf (printed) for review.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pytest

from dedupaudit.checks import get_check
from dedupaudit.reports import RenderOptions
from dedupaudit.reports.html_report import render
from tests.headless_chromium import Page, find_chromium
from tests.report_helpers import ARTIFACTS, ATTRIBUTE_BREAK, HOSTILE, example_result, finding, platform, small_result

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not found: install Debian's chromium package (apt-get install -y chromium) "
                             "or set CHROMIUM=/path/to/chromium; .ci/run installs it")


def hostile_result():
    """Markup in every place an input string can reach the page."""
    p = platform(display=HOSTILE)
    other = platform(event=HOSTILE, reported=3)
    bad = finding(message=f"IDs such as '{HOSTILE}' arrive.", hint=f"Send `{HOSTILE}` {ATTRIBUTE_BREAK}",
                  examples=[{"event_name": HOSTILE, "order_id": ATTRIBUTE_BREAK, "event_id": HOSTILE,
                             HOSTILE: "column", "file": f"/data/{HOSTILE}.csv"}])
    result = small_result(platforms=[p, other], findings=[bad])
    result.inputs["pixel"].files = [HOSTILE]
    result.inputs["pixel"].rejected_reasons = {HOSTILE: 2}
    result.settings["excluded_statuses"] = [HOSTILE]
    return result


def test_sections_in_reading_order_with_title_and_client():
    page = render(small_result(), RenderOptions(title="Q4 audit", client="Northwind"))
    assert "<title>Q4 audit \u2014 Northwind</title>" in page and "<h1>Q4 audit</h1>" in page
    assert "Prepared for <strong>Northwind</strong>" in page
    order = [page.index(f'id="{s}"') for s in ("summary", "charts", "findings", "about")]
    assert order == sorted(order)
    assert page.count('<div class="card ') == 2  # one per platform's purchases
    assert page.count("<svg ") == 2 + 2 + 2  # reported vs real, coverage; daily x2; gaps x2


def test_self_contained_no_script_no_remote_anything():
    page = render(example_result(), RenderOptions())
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page.lower()
    assert not re.findall(r"""(?:src|href)\s*=\s*(?!["']?(?:#|data:))""", page)
    assert "url(" not in page and "@import" not in page
    assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", page)  # only the SVG namespace name


def test_every_finding_explains_itself_from_the_check_docs():
    result = small_result()
    page = render(result, RenderOptions())
    for f in result.findings:
        check = get_check(f.code)
        for text in (check.summary, check.why):
            assert escape(text) in page, (f.code, text)
    assert "Fix on Meta</dt><dd class=fix>On the server side, send <code>event_id</code>.</dd>" in page
    assert page.count('class="finding ') == len(result.findings)
    assert "<td>A-1</td>" in page and '<td class="none">\u2014</td>' in page  # example rows; a null shown as a dash


def test_fix_first_is_the_most_severe_cause_with_the_largest_count_and_links_to_it():
    page = render(small_result(), RenderOptions())
    box = page[page.index('<aside class="fix-first'):page.index("</aside>")]
    assert "Meta: Server (CAPI) events that carry no event ID." in box
    anchor = re.search(r'href="#(finding-\d+)"', box).group(1)
    assert f'id="{anchor}"' in page and 'DA101' in page[page.index(f'id="{anchor}"'):][:300]


def test_extra_revenue_only_when_the_result_carries_it():
    assert "revenue credited" not in render(small_result(), RenderOptions())
    p = platform(average_order_value=40.0, currency="EUR", extra_revenue=1200.0,
                 average_order_value_by_currency={"EUR": 40.0}, extra_revenue_by_currency={"EUR": 1200.0})
    page = render(small_result(platforms=[p]), RenderOptions())
    assert "\u2248 1,200 EUR revenue credited in error" in page
    assert "130 purchases for 100 real orders (1.30x): 30 that did not happen, worth about 1,200 EUR." in page
    assert "<th class=num>Extra revenue</th>" in page


def test_every_input_string_is_escaped():
    page = render(hostile_result(), RenderOptions(title=HOSTILE, client=ATTRIBUTE_BREAK))
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_degenerate_results_still_render():
    empty = small_result(platforms=[], findings=[], daily=[], pair_gaps=[])
    page = render(empty, RenderOptions())
    assert "No findings" in page and "no real orders to compare" in page
    one_day = small_result(daily=[{"platform": "meta", "date": "2026-01-01", "reported_conversions": 0, "orders": 0}],
                           platforms=[platform(window_hours=None, coverage=None)])
    assert "no time limit" in render(one_day, RenderOptions())


# ------------------------------------------------------------------ in a real browser

def _open(tmp_path: Path, html: str, name: str = "report.html") -> tuple[Page, str]:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    page = Page(CHROMIUM)
    return page, page.open(path)


@needs_chromium
def test_example_report_in_chromium_loads_nothing_and_logs_no_errors(tmp_path):
    html = render(example_result(), RenderOptions(title="Tracking audit, October", client="Northwind Outfitters"))
    page, url = _open(tmp_path, html)
    with page:
        assert page.console_errors == []
        assert [u for u in page.requests if u != url] == []
        assert page.evaluate("document.title") == "Tracking audit, October \u2014 Northwind Outfitters"
        assert page.evaluate("document.querySelectorAll('.card').length") == 4
        assert page.evaluate("document.querySelectorAll('svg').length") >= 10
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
        height = page.screenshot(ARTIFACTS / "report.png")
        assert height > 2000 and (ARTIFACTS / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pdf = page.pdf(ARTIFACTS / "report.pdf")
        assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 3
        assert page.console_errors == []


@needs_chromium
def test_markup_in_the_inputs_shows_as_text_in_chromium(tmp_path):
    page, url = _open(tmp_path, render(hostile_result(), RenderOptions(title=HOSTILE, client=ATTRIBUTE_BREAK)))
    with page:
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.images.length") == 0
        text = page.evaluate("document.body.innerText")
        assert HOSTILE in text and ATTRIBUTE_BREAK in text
        assert page.evaluate("document.title") == f"{HOSTILE} \u2014 {ATTRIBUTE_BREAK}"
        assert page.console_errors == [] and [u for u in page.requests if u != url] == []
