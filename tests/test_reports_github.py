"""The github view: workflow-command annotations, one per finding, escaped as the Actions toolkit does."""

from __future__ import annotations

from dedupaudit.reports import RenderOptions
from dedupaudit.reports.github_report import escape_data, escape_property, render
from tests.report_helpers import finding, small_result


def test_one_annotation_per_finding_most_severe_first_then_a_summary():
    lines = render(small_result(), RenderOptions()).splitlines()
    assert len(lines) == 6
    assert lines[0] == ("::error title=DA101 server-events-without-id (Meta)::30 purchase events from the server carry "
                        "no event ID. Fix: On the server side, send `event_id`.")
    assert lines[1].startswith("::error title=DA113 inflated-conversions (Meta)::")
    assert [line.split(" ", 1)[0] for line in lines] == ["::error", "::error", "::warning", "::warning", "::notice", "::notice"]
    assert lines[4].startswith("::notice title=DA116 purchases-without-real-order (TikTok)::")
    assert "title=DA100 rejected-rows (inputs)" in lines[3]
    assert lines[-1] == ("::notice title=dedupaudit summary::Platform counts vs real orders: Meta 1.30x (+30 conversions); "
                         "TikTok 1.00x. 2 errors, 2 warnings, 1 note (2 at or above error).")


def test_escaping_follows_the_toolkit():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"
    bad = finding(message="line one\nline two: 100%", hint="a, b", platform="meta", event="add_to_cart")
    line = render(small_result(findings=[bad]), RenderOptions()).splitlines()[0]
    assert line == ("::error title=DA101 server-events-without-id (Meta add_to_cart)::line one%0Aline two: 100%25. Fix: a, b")


def test_fail_level_shows_in_the_summary():
    assert render(small_result(), RenderOptions(fail_on="never")).splitlines()[-1].endswith("(fail level never).")
    assert render(small_result(findings=[]), RenderOptions()).splitlines() == [
        "::notice title=dedupaudit summary::Platform counts vs real orders: Meta 1.30x (+30 conversions); TikTok 1.00x. "
        "0 errors, 0 warnings, 0 notes (none at or above error)."]
