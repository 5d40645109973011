"""Platform rule files: the shipped ones are complete; a malformed one stops the run naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from dedupaudit.errors import UserError
from dedupaudit.platforms.rules import FACT_KEYS, MODEL_KEYS, bundled_rules_dir, load_rules

REQUIRED_PURCHASE_NAMES = {
    "meta": {"Purchase"},
    "tiktok": {"Purchase", "CompletePayment", "PlaceAnOrder"},
    "snap": {"PURCHASE"},
    "google": {"purchase", "conversion"},
}


def test_shipped_rules_match_the_design_defaults():
    rules = load_rules()
    for platform, names in REQUIRED_PURCHASE_NAMES.items():
        rule = rules[platform]
        assert set(rule.events["purchase"]) == names
        assert rule.same_source_dedup is True
        assert rule.dedup_window_hours == (None if platform == "google" else 48)
        # every value that drives the audit says where it comes from, the optional model keys included
        assert set(FACT_KEYS) | {k for k in MODEL_KEYS if k in rule.data} <= set(rule.facts)


def test_every_assumption_is_visible():
    rules = load_rules()
    assert "same_source_dedup" in rules["meta"].assumptions  # Meta only documents browser/server matching
    for rule in rules.values():
        for key, fact in rule.facts.items():
            assert (fact["status"] == "documented") == (key not in rule.assumptions)


@pytest.fixture
def rules_copy(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder)
    return folder


def _edit(folder: Path, name: str, change):
    path = folder / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(windw_hours=3), r"meta.yaml: windw_hours: unknown key"),
    (lambda d: d.pop("dedup_window_hours"), r"meta.yaml: dedup_window_hours: required key is missing"),
    (lambda d: d.update(dedup_window_hours="48h"), r"meta.yaml: dedup_window_hours: '48h' is not a number \(valid: a number above 0, or null\)$"),
    (lambda d: d.update(names_case_sensitive="yes"), r"meta.yaml: names_case_sensitive: 'yes' is not true or false \(valid: true or false\)$"),
    (lambda d: d.update(server_time_unit="minutes"), r"meta.yaml: server_time_unit: \['minutes'\] is not a valid value \(valid: one of seconds, "),
    (lambda d: d["events"].pop("purchase"), r"meta.yaml: events: expected a mapping .* including 'purchase'"),
    (lambda d: d["events"].update(lead=["Purchase"]), r"meta.yaml: events\.\w+: 'Purchase' is already listed under"),
    (lambda d: d["facts"]["dedup_window_hours"].update(status="documented", source=None), r"facts.dedup_window_hours: a documented fact needs a source"),
    (lambda d: d["facts"]["same_source_dedup"].pop("note"), r"facts.same_source_dedup: an assumption needs a note"),
    (lambda d: d["dedup_id"].update(extra="x"), r"meta.yaml: dedup_id.extra: unknown key"),
    (lambda d: d.update(schema=2), r"meta.yaml: schema: unsupported version"),
    # the dedup model's optional parts and their evidence
    (lambda d: d["fallback"].update(keys=["cookie"]), r"meta.yaml: fallback.keys: expected a list of fbp, external_id, ttp, order_id"),
    (lambda d: d["fallback"].update(order="later"), r"meta.yaml: fallback.order: 'later' is not a valid value \(valid: one of browser_first, any\)$"),
    (lambda d: d["fallback"].update(window="48h"), r"meta.yaml: fallback.window: unknown key"),
    (lambda d: d["fallback"].update(event_types=["refund"]), r"meta.yaml: fallback.event_types: expected a list of event types"),
    (lambda d: d["facts"].pop("fallback"), r"meta.yaml: facts.fallback: required key is missing"),
    (lambda d: d["facts"].update({"fallback.cookie": {"status": "assumption", "note": "x"}}), r"facts.fallback.cookie: unknown key"),
    (lambda d: d["facts"]["same_source_dedup"].pop("reading"), r"facts.same_source_dedup.reading: required with an alternative reading"),
    (lambda d: d["facts"]["fallback"].update(alternative=None, reading="r", other_reading="o"),
     r"facts.fallback.alternative: a documented fact has no other reading"),
    (lambda d: d["facts"]["names_case_sensitive"].update(status="observed"), r"facts.names_case_sensitive: an observed fact needs a source"),
    (lambda d: d.update(dedup_scope={"column": "page_url", "label": "page"}), r"meta.yaml: dedup_scope.column: 'page_url' is not a valid value \(valid: one of conversion_action, action_source\)$"),
    (lambda d: d.update(offline_after_hours=-1), r"meta.yaml: offline_after_hours: -1 is out of range \(valid: a number above 0, or null\)$"),
    (lambda d: d.update(merged_names=["Purchase"]), r"meta.yaml: merged_names: expected a mapping"),
    (lambda d: d.update(server_time_unit=["seconds", "minutes"]), r"meta.yaml: server_time_unit: \['seconds', 'minutes'\] is not a valid value"),
])
def test_malformed_rule_file(rules_copy, change, message):
    _edit(rules_copy, "meta.yaml", change)
    with pytest.raises(UserError, match=message):
        load_rules(rules_copy)


def test_a_user_can_add_a_platform_by_dropping_a_file(rules_copy):
    data = yaml.safe_load((rules_copy / "meta.yaml").read_text())
    data.update(platform="bing", display_name="Microsoft Ads", aliases=[])  # a copy of meta.yaml must not claim its aliases
    (rules_copy / "bing.yaml").write_text(yaml.safe_dump(data))
    assert load_rules(rules_copy)["bing"].display_name == "Microsoft Ads"


def test_two_files_for_one_platform(rules_copy):
    shutil.copy(rules_copy / "meta.yaml", rules_copy / "meta-copy.yaml")
    with pytest.raises(UserError, match="platform 'meta' is already defined"):
        load_rules(rules_copy)


def test_not_yaml(rules_copy):
    (rules_copy / "meta.yaml").write_text("platform: [unclosed")
    with pytest.raises(UserError, match="meta.yaml: not a readable YAML file"):
        load_rules(rules_copy)


def test_each_unconfirmed_value_states_its_other_reading():
    """The readings the audit shows as a range (../shared/platforms.md, December 2026)."""
    rules = load_rules()
    readings = {(p, a.rule): a for p, r in rules.items() for a in r.alternatives}
    assert {("tiktok", "merged_names"), ("tiktok", "fallback"), ("snap", "fallback"), ("pinterest", "offline_after_hours"),
            ("meta", "names_case_sensitive"), ("meta", "same_source_dedup"), ("meta", "fallback.applies_to"),
            ("google", "dedup_scope.capi_default")} <= set(readings)
    tiktok = readings[("tiktok", "merged_names")].rules
    assert tiktok.merged_names == {"CompletePayment": "Purchase"} and rules["tiktok"].merged_names == {}
    assert readings[("snap", "fallback")].rules.fallback.keys == ("order_id",)
    assert readings[("snap", "fallback")].rules.fallback.window_hours == 720
    assert readings[("meta", "fallback.applies_to")].rules.fallback.applies_to == "all"
    assert readings[("google", "dedup_scope.capi_default")].rules.dedup_scope.capi_default == "tag"
    # same-source deduplication is documented for TikTok and Google only
    for platform, rule in rules.items():
        assert (rule.facts["same_source_dedup"]["status"] == "documented") == (platform in ("tiktok", "google")), platform
    # Meta's fallback is documented, Snap accepts both epoch units, Reddit and Google key per channel / action
    assert rules["meta"].facts["fallback"]["status"] == "documented" and rules["meta"].fallback.keys == ("fbp", "external_id")
    assert rules["snap"].server_time_units == ("seconds", "milliseconds")
    assert rules["google"].dedup_scope.column == "conversion_action" and rules["reddit"].dedup_scope.column == "action_source"
