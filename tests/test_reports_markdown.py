"""The Markdown view: a summary table and the findings, safe to paste into a ticket or pull-request comment."""

from __future__ import annotations

import re

from dedupaudit.reports import RenderOptions
from dedupaudit.reports.markdown_report import prose, render, text
from tests.report_helpers import HOSTILE, finding, platform, small_result


def table_rows(markdown: str) -> list[list[str]]:
    """Split table lines into cells on unescaped pipes, as GitHub does."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append(cells)
    return rows


def test_summary_table_and_findings():
    md = render(small_result(), RenderOptions(title="Q4 audit", client="Northwind"))
    assert md.startswith("# Q4 audit\n")
    assert "Prepared for **Northwind**" in md
    rows = table_rows(md)
    assert rows[0][:7] == ["Platform", "Real orders", "Pixel events", "CAPI events", "Platform would count", "Inflation", "Extra conversions"]
    meta = next(r for r in rows if r[0] == "Meta")
    assert meta[1:7] == ["100", "95", "98", "130", "**1.30x**", "+30"]
    assert "**Fix first:** Meta, DA101 server-events-without-id (30 events)" in md  # a cause, not the inflation itself
    assert "#### ERROR DA101 server-events-without-id: 30 events" in md
    assert "**Fix:** On the server side, send `event_id`." in md
    assert "### Inputs" in md and "<details><summary>1 example row</summary>" in md


def test_every_table_row_has_as_many_cells_as_its_header_even_with_pipes_in_the_inputs():
    bad = finding(examples=[{"event_name": "Pur|chase", "event_id": "a`b|c", "order_id": HOSTILE, "note": "x\ny"}],
                  message="IDs such as 'a|b' and `x` arrive.", hint="Send `a|b` as one.")
    md = render(small_result(findings=[bad], platforms=[platform(display="Me|ta")]))
    tables, current = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    for table in tables:
        widths = {len(row) for row in table_rows("\n".join(table))}
        assert len(widths) == 1, table
    assert "Me\\|ta" in md and "Pur\\|chase" in md and "a\\`b\\|c" in md


def test_input_strings_cannot_become_html_code_or_links():
    assert text(HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert text("`rm -rf`") == "\\`rm -rf\\`"
    assert text("[click](http://x)") == "\\[click\\](http://x)"
    assert text("*bold* _it_") == "\\*bold\\* \\_it\\_"
    assert text("a\nb") == "a b"
    md = render(small_result(findings=[finding(examples=[{"order_id": HOSTILE}])]), RenderOptions(client=HOSTILE))
    assert "<script>" not in md


def test_the_diff_escapes_input_strings_as_the_audit_report_does():
    """One escaper for both Markdown views: `~` (strikethrough) and `<` were once escaped by only one of them."""
    from dedupaudit.reports import diff_report

    for hostile in (HOSTILE, "~~gone~~", "a|b", "# x", "<b>1</b> & `c`"):
        assert diff_report.md(hostile) == text(hostile)
    assert text("~~gone~~") == "\\~\\~gone\\~\\~"


def test_tool_prose_keeps_code_spans_but_escapes_markup_outside_them():
    assert prose("send `event_id`: pass {eventID: '<order id>'}") == "send `event_id`: pass {eventID: '&lt;order id&gt;'}"
    assert prose("compare `a|b`") == "compare `a\\|b`"
    assert prose("an odd ` backtick") == "an odd \\` backtick"


def test_no_findings_and_no_purchases():
    md = render(small_result(findings=[], platforms=[platform(event="add_to_cart", reported=5)]))
    assert "No purchase events in the inputs." in md
    assert "No findings: deduplication looks right on every platform." in md
    assert "Fix first" not in md


def test_extra_revenue_column_appears_when_the_model_carries_it():
    p = platform(average_order_value=52.5, currency="EUR", extra_revenue=1575.0,
                 average_order_value_by_currency={"EUR": 52.5}, extra_revenue_by_currency={"EUR": 1575.0})
    md = render(small_result(platforms=[p]))
    header, _, meta = table_rows(md)[:3]
    assert header[7:9] == ["Extra revenue", "Average order value"] and meta[7:9] == ["1,575 EUR", "52.50 EUR"]
    assert "Extra revenue" not in render(small_result())
