"""Shared pieces of the report tests: the example shop's result, a small hand-made result, and golden files.

Golden files live in tests/golden/. Regenerate them after an intended change with
`UPDATE_GOLDEN=1 python -m pytest tests/test_reports_golden.py` and review the diff.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

from dedupaudit.result import AuditResult, Finding, InputSummary, PlatformSummary

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
ARTIFACTS = REPO / "tests" / "artifacts"
HOSTILE = "<script>alert(1)</script>"
ATTRIBUTE_BREAK = '"><img src=x onerror=alert(2)>'


@functools.lru_cache(maxsize=1)
def example_dict() -> dict:
    """The example shop audited through the CLI, as the JSON contract (run once per test session)."""
    canonical = "examples/canonical"
    proc = subprocess.run(
        [sys.executable, "-m", "dedupaudit", "check", "--pixel", f"{canonical}/pixel_events.csv",
         "--capi", f"{canonical}/capi_events.jsonl", "--orders", f"{canonical}/orders.csv", "--format", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def example_result() -> AuditResult:
    return result_from_dict(example_dict())


def result_from_dict(data: dict) -> AuditResult:
    return AuditResult.from_dict(data)


def platform(name="meta", display="Meta", orders=100, reported=130, event="purchase", **extra) -> PlatformSummary:
    purchase = event == "purchase"
    fields = dict(
        platform=name, display_name=display, event=event, orders=orders if purchase else None,
        pixel_events=95, capi_events=98, reported_conversions=reported,
        inflation_ratio=round(reported / orders, 6) if purchase and orders else None,
        extra_conversions=reported - orders if purchase and orders is not None else None,
        missing_event_id={"pixel": 0, "capi": 30}, mismatched_event_id=0, event_name_drift=0, outside_window=0,
        coverage={"pixel": 0.9, "capi": 0.95, "any": 1.0} if purchase else None,
        links={"order_id": 190, "event_id": 0, "value_time": 0, "unlinked": 0} if purchase else None,
        assumptions=["same_source_dedup"], window_hours=48,
    )
    fields.update(extra)
    return PlatformSummary(**fields)


def finding(code="DA101", name="server-events-without-id", severity="error", platform="meta", count=30, **extra) -> Finding:
    fields = dict(code=code, name=name, severity=severity, platform=platform, event="purchase", count=count, unit="events",
                  message=f"{count} purchase events from the server carry no event ID.",
                  hint="On the server side, send `event_id`.",
                  examples=[{"side": "capi", "event_name": "Purchase", "event_id": None, "order_id": "A-1",
                             "event_time": "2026-01-02T03:04:05Z", "file": "capi.jsonl", "row": 3}])
    fields.update(extra)
    return Finding(**fields)


def small_result(platforms=None, findings=None, **extra) -> AuditResult:
    """Two platforms, a few findings, two days and a gap histogram: enough to draw every part of every report."""
    platforms = platforms if platforms is not None else [
        platform(), platform("tiktok", "TikTok", reported=100), platform("meta", "Meta", event="add_to_cart", reported=40)]
    findings = findings if findings is not None else [
        finding(),
        finding("DA113", "inflated-conversions", count=30, unit="conversions", examples=[],
                message="Meta would report 130 purchases for 100 real orders.", hint="Start with the 30 events without an ID."),
        finding("DA106", "near-miss-event-ids", "warning", count=5, unit="orders"),
        finding("DA116", "purchases-without-real-order", "info", platform="tiktok", count=2),
        finding("DA100", "rejected-rows", "warning", platform=None, event=None, count=2, unit="rows", examples=[],
                message="2 rows of the pixel input could not be used.", hint="Write them out with --rejects FILE."),
    ]
    fields = dict(
        tool={"name": "dedupaudit", "version": "9.9.9"},
        inputs={"pixel": InputSummary(["pixel.csv"], 200, 2, {"event_time is not a timestamp": 2}),
                "capi": InputSummary(["capi.jsonl"], 200, 0), "orders": InputSummary(["orders.csv"], 100, 0)},
        period={"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T23:59:59Z"},
        platforms=platforms, findings=findings,
        daily=[{"platform": p, "date": d, "reported_conversions": r, "orders": 50}
               for p, rows in (("meta", (70, 60)), ("tiktok", (50, 50))) for d, r in zip(("2026-01-01", "2026-01-02"), rows)],
        pair_gaps=[{"platform": p, "bucket": b, "upper_hours": u, "pairs": n}
                   for p in ("meta", "tiktok") for b, u, n in (("under 1 minute", 1 / 60, 60), ("1-60 minutes", 1, 30),
                                                                 ("24-48 hours", 48, 3), ("2-7 days", 168, 2), ("over 7 days", None, 1))],
        settings={"timezone": "UTC", "excluded_statuses": ["test"], "link_tolerance_minutes": 15.0, "fail_on": "error"},
    )
    fields.update(extra)
    return AuditResult(**fields)


def mask(text: str, version: str) -> str:
    """Hide what changes without the audit changing: the tool version (no report writes the time of the run)."""
    return (text.replace(f'"version": "{version}"', '"version": "<version>"')
                .replace(f"dedupaudit {version}", "dedupaudit <version>"))


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 python -m pytest tests/test_reports_golden.py"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), f"golden/{name}", "rendered", n=2))
        raise AssertionError(f"{name} differs from its golden file (if intended: UPDATE_GOLDEN=1 python -m pytest "
                             f"tests/test_reports_golden.py, then review the diff):\n{diff[:6000]}")
