"""--platform-reported: the platforms' own figures beside the simulation; `rules facts`: every rule value's evidence."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.test_cli import run

EXAMPLE = ["--pixel", EXAMPLES / "pixel_events.csv", "--capi", EXAMPLES / "capi_events.jsonl", "--orders", EXAMPLES / "orders.csv"]


def test_platform_reported_figures_gaps_and_findings(tmp_path):
    reported = tmp_path / "dashboard.csv"
    reported.write_text("platform,conversions,event,date\n"
                        "Meta,3100,,\n"        # a total for the period, platform in any case
                        "google,2900,purchase,\n"
                        "snap,353,purchase,2026-10-05\n"  # per day: equal to the simulation on that day
                        "snap,\"1,000\",purchase,2026-10-06\n"
                        "tiktok,3858,,\n")
    done = run("check", *EXAMPLE, "--platform-reported", reported, "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    by = {p["platform"]: p for p in data["platforms"] if p["event"] == "purchase"}
    assert (by["meta"]["platform_reported"], by["meta"]["model_gap"]) == (3100, round(3615 / 3100 - 1, 6))
    assert (by["tiktok"]["platform_reported"], by["tiktok"]["model_gap"]) == (3858, 0.0)
    assert by["snap"]["platform_reported"] == 1353
    snap_days = {d["date"]: d for d in data["daily"] if d["platform"] == "snap"}
    assert (snap_days["2026-10-05"]["platform_reported"], snap_days["2026-10-05"]["model_gap"]) == (353, 0.0)
    assert snap_days["2026-10-06"]["platform_reported"] == 1000
    assert snap_days["2026-10-07"]["platform_reported"] is None
    gaps = {f["platform"]: f for f in data["findings"] if f["code"] == "DA120"}
    assert set(gaps) == {"meta", "google", "snap"}  # TikTok agrees exactly
    assert gaps["meta"]["count"] == 515
    # Google's dashboard matches the other reading of its unconfirmed rule: the report says so
    assert "if the server events are a second data source of the tag's own conversion action" in gaps["google"]["message"]
    assert "2,899" in gaps["google"]["message"]


def test_platform_reported_tolerance_is_a_check_option(tmp_path):
    reported = tmp_path / "dashboard.csv"
    reported.write_text("platform,conversions\nmeta,3400\n")  # the simulation is 6.3% above
    config = tmp_path / "dedupaudit.yaml"
    config.write_text(f"platform_reported: {reported.name}\nchecks:\n  model-differs-from-platform: {{options: {{tolerance: 0.1}}}}\n")
    data = json.loads(run("check", *EXAMPLE, "--format", "json", "--config", config).stdout)
    assert not [f for f in data["findings"] if f["code"] == "DA120"]
    assert next(p for p in data["platforms"] if p["platform"] == "meta" and p["event"] == "purchase")["platform_reported"] == 3400


@pytest.mark.parametrize("content, message", [
    ("platform,conversions\nbing,10\n", "line 2: unknown platform 'bing'"),
    ("platform,conversions\nmeta,ten\n", "line 2: conversions 'ten' is not a whole number"),
    ("platform,conversions,date\nmeta,10,05/10/2026\n", "line 2: date '05/10/2026' is not YYYY-MM-DD"),
    ("platform,count\nmeta,10\n", "missing required column conversions"),
    ("platform,conversions,spend\nmeta,10,5\n", "unknown column spend"),
])
def test_bad_platform_reported_file_exits_2_naming_the_line(tmp_path, content, message):
    reported = tmp_path / "dashboard.csv"
    reported.write_text(content)
    done = run("check", *EXAMPLE, "--platform-reported", reported)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_rules_facts_lists_every_value_with_its_evidence():
    done = run("rules", "facts", "tiktok", "meta")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Google" not in out
    assert "merged_names: {}  [assumption]" in out
    assert "also counted if TikTok merges CompletePayment into Purchase (merged_names: {\"CompletePayment\": \"Purchase\"})" in out
    assert "fallback: {\"keys\": [\"fbp\", \"external_id\"]" in out and "[documented]" in out
    assert "source: https://developers.facebook.com/docs/marketing-api/conversions-api/deduplicate-pixel-and-server-events" in out
    bad = run("rules", "facts", "myspace")
    assert bad.returncode == 2 and "no rule file for platform 'myspace'" in bad.stderr
