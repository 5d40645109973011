"""Run every case in tests/cases/*.yaml through the loaders and the engine and compare the figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import platform_entry

CASES = [case for path in sorted((Path(__file__).parent / "cases").glob("*.yaml")) for case in yaml.safe_load(path.read_text())]


def assert_subset(expected, actual, where: str):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: no key {key}"
            assert_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, float):
        assert actual is not None and abs(actual - expected) <= 1e-6, f"{where}: expected {expected}, got {actual}"
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def findings_for(result, key: str):
    code, _, platform = key.partition("/")
    return [f for f in result.findings if f.code == code and (not platform or f.platform == platform)]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case, audit):
    settings = dict(case.get("settings", {}))
    result = audit(case.get("pixel") or (), case.get("capi") or (), case.get("orders") or (), **settings)
    expect = case["expect"]
    data = result.to_dict()

    if "platform_count" in expect:
        assert len(result.platforms) == expect["platform_count"]
    for key, figures in expect.get("platforms", {}).items():
        platform, event = key.split("/")
        entry = platform_entry(result, platform, event)
        assert entry is not None, f"no platforms entry for {key}"
        figures = dict(figures)
        got = next(p for p in data["platforms"] if p["platform"] == platform and p["event"] == event)
        if "unconfirmed" in figures:  # {rule: [count if the rule file is right, count under the other reading]}
            assert {u["rule"]: [u["reported_if_true"], u["reported_if_false"]] for u in got["unconfirmed_rules"]} == \
                figures.pop("unconfirmed"), key
        assert_subset(figures, got, key)
    assert_subset(expect.get("inputs", {}), data["inputs"], "inputs")

    expected_findings = expect.get("findings")
    if expected_findings == {}:
        assert result.findings == [], [f"{f.code}/{f.platform}: {f.message}" for f in result.findings]
    for key, count in (expected_findings or {}).items():
        found = findings_for(result, key)
        if count == "none":
            assert not found, f"{key}: unexpected finding {found[0].message}"
        else:
            assert found, f"{key}: no finding; got {[f'{f.code}/{f.platform}' for f in result.findings]}"
            assert sum(f.count for f in found) == count, f"{key}: count {sum(f.count for f in found)} != {count}"
    for key, severity in expect.get("severity", {}).items():
        assert {f.severity for f in findings_for(result, key)} == {severity}, key


def test_without_same_source_dedup_the_kth_browser_event_pairs_with_the_kth_server_event(audit, tmp_path):
    """A rule file may say two browser events with one key are not merged; each then pairs with one server event."""
    import shutil

    from dedupaudit.platforms.rules import bundled_rules_dir

    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    path = rules / "tiktok.yaml"
    path.write_text(path.read_text().replace("same_source_dedup: true", "same_source_dedup: false", 1))
    event = {"platform": "tiktok", "event_name": "Purchase", "event_id": "K", "order_id": "1"}
    pixel = [dict(event, event_time="2026-01-05T10:00:00Z"), dict(event, event_time="2026-01-05T10:05:00Z")]
    capi = [dict(event, event_time="2026-01-05T10:00:30Z")]
    merged = platform_entry(audit(pixel, capi), "tiktok")
    separate = platform_entry(audit(pixel, capi, rules_dir=rules), "tiktok")
    assert merged.reported_conversions == 1  # the shipped rule: same-source duplicates merge too
    assert separate.reported_conversions == 2  # 1st pixel + 1st server pair up; the 2nd pixel event counts alone


def test_a_reading_without_the_fallback_counts_what_the_rule_files_fallback_merged(audit, tmp_path):
    """The other reading of a fallback the rule file applies: the events it merged count again (the reading's
    count is the audit's plus what changed, engine/readings.py, so the events the first run merged must be among them)."""
    import shutil

    from dedupaudit.platforms.rules import bundled_rules_dir

    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    path = rules / "tiktok.yaml"
    ttp = "{keys: [ttp], order: any, window_hours: 48, same_source: false, applies_to: without_event_id}"
    text = path.read_text().replace("fallback: null", f"fallback: {ttp}", 1)
    path.write_text(text.replace(f"alternative: {ttp}", "alternative: null", 1))
    pixel = [{"platform": "tiktok", "event_name": "Purchase", "event_time": "2026-01-05T10:00:00Z", "order_id": "1", "ttp": "t-1"},
             {"platform": "tiktok", "event_name": "Purchase", "event_time": "2026-01-06T10:00:00Z", "order_id": "2", "ttp": "t-2"}]
    capi = [dict(p, event_time=p["event_time"].replace(":00Z", ":05Z")) for p in pixel]
    entry = platform_entry(audit(pixel, capi, rules_dir=rules), "tiktok")
    assert entry.reported_conversions == 2  # each server event merged into its browser event by ttp
    assert entry.reported_range == {"low": 2, "high": 4}
    assert {u["rule"]: [u["reported_if_true"], u["reported_if_false"]] for u in entry.unconfirmed_rules} == {"fallback": [2, 4]}
