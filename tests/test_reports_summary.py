"""The figures the human-readable reports share: coverage split, fix-first choice, fail level, SVG scales."""

from __future__ import annotations

import pytest

from dedupaudit.reports import RENDERERS, summary as S
from dedupaudit.reports.svg_charts import nice_ticks
from tests.report_helpers import finding, platform, small_result


def test_coverage_split_from_the_three_coverage_shares():
    split = S.coverage_split(platform(coverage={"pixel": 0.86, "capi": 0.97, "any": 0.99}))
    assert split == pytest.approx({"both": 0.84, "pixel_only": 0.02, "capi_only": 0.13, "neither": 0.01})
    assert sum(split.values()) == pytest.approx(1)
    assert S.coverage_split(platform(coverage=None)) is None
    assert S.coverage_split(platform(coverage={"pixel": None, "capi": None, "any": None})) is None


def test_fix_first_prefers_the_most_severe_cause_then_the_largest_count():
    findings = [finding("DA113", "inflated-conversions", count=900), finding("DA101", count=30),
                finding("DA105", "mismatched-event-ids", count=120), finding("DA106", "near-miss-event-ids", "warning", count=999)]
    assert S.fix_first(small_result(findings=findings)).code == "DA105"
    only_outcome = [finding("DA113", "inflated-conversions", count=900)]
    assert S.fix_first(small_result(findings=only_outcome)).code == "DA113"
    assert S.fix_first(small_result(findings=[])) is None


@pytest.mark.parametrize("fail_on, codes", [("error", {"DA101"}), ("warning", {"DA101", "DA106"}),
                                            ("info", {"DA101", "DA106", "DA116"}), ("never", set())])
def test_failing_is_at_or_above_the_level(fail_on, codes):
    findings = [finding(), finding("DA106", severity="warning"), finding("DA116", severity="info")]
    assert {f.code for f in S.failing(findings, fail_on)} == codes


def test_extra_revenue_is_read_from_the_model_per_currency():
    p = platform()
    assert S.extra_revenue(p) is None and S.average_order_value(p) is None
    p.extra_revenue, p.average_order_value = 600.0, 20.0  # one currency, not named
    assert S.extra_revenue(p) == "600" and S.average_order_value(p) == "20.00"
    p.extra_revenue_by_currency, p.average_order_value_by_currency = {"EUR": 400.0, "USD": 250.4}, {"EUR": 20.0, "USD": 25.0}
    assert S.extra_revenue(p) == "400 EUR; 250 USD" and S.average_order_value(p) == "20.00 EUR; 25.00 USD"


def test_nice_ticks():
    assert nice_ticks(4870) == [0, 2000, 4000, 6000]
    assert nice_ticks(1987 * 1.08, 5) == [0, 500, 1000, 1500, 2000, 2500]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3)[-1] >= 3


def test_every_format_is_registered():
    assert {"json", "rich", "markdown", "html", "junit", "github"} <= set(RENDERERS)
    result = small_result()
    for fmt in ("markdown", "html", "junit", "github"):
        assert RENDERERS[fmt](result, None).endswith("\n")  # options default like the existing views
