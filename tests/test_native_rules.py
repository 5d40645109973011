"""The rule files' `native:` section: the bundled files are valid and complete, and mistakes name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dedupaudit.errors import UserError
from dedupaudit.inputs.detect import FORMAT_NAMES, format_sides
from dedupaudit.platforms.rules import NATIVE_FIELDS, load_rules, parse_rule_file

REPO = Path(__file__).resolve().parents[1]


def test_every_bundled_platform_has_native_formats():
    rules = load_rules()
    assert {"meta", "tiktok", "snap", "google", "pinterest", "reddit", "linkedin", "x", "microsoft"} <= set(rules)
    for platform, rule in rules.items():
        assert rule.native and rule.native.server and rule.native.browser and rule.native.log, platform
        for spec in (*rule.native.server, *rule.native.browser):
            assert set(spec.fields) <= set(spec.facts), spec.format  # every path says where it comes from
    servers = {s.format for r in rules.values() for s in r.native.server}
    assert servers <= set(FORMAT_NAMES) and set(format_sides(rules)) == set(FORMAT_NAMES)


def test_new_rule_files_have_the_full_schema():
    for name in ("pinterest", "reddit", "linkedin"):
        rule = parse_rule_file(REPO / "rules" / f"{name}.yaml")
        assert rule.events["purchase"] and rule.facts.keys() >= {"dedup_window_hours", "server_time_unit"}
    assert load_rules()["reddit"].server_time_unit == "milliseconds"
    assert load_rules()["linkedin"].dedup_window_hours is None


def test_unconfirmed_parameters_are_listed():
    unconfirmed = {(fmt, key) for r in load_rules().values() for fmt, key, _ in r.native.unconfirmed()}
    assert ("google-ads-tag", "event_id") in unconfirmed  # oid: seen in captures, not in Google's docs
    assert ("linkedin-pixel", "event_id") in unconfirmed
    assert ("meta-pixel", "event_id") not in unconfirmed  # eid: Meta's dedup page shows it


def _with_native(tmp_path, native) -> Path:
    data = yaml.safe_load((REPO / "rules" / "meta.yaml").read_text())
    data["native"] = native
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


SERVER = {"format": "x-capi", "label": "X", "require": ["data"], "events": "data",
          "fields": {"event_name": "name", "event_time": "time"},
          "facts": {"events": {"status": "documented", "source": "u"}, "event_name": {"status": "documented", "source": "u"},
                    "event_time": {"status": "assumption", "note": "n"}}}


@pytest.mark.parametrize("change, message", [
    ({"server": [dict(SERVER, fields={"event_name": "n", "event_time": "t", "order": "o"})]},
     "native.server[0].fields.order: unknown key (valid: " + ", ".join(NATIVE_FIELDS) + ")"),
    ({"server": [dict(SERVER, extra=1)]}, "native.server[0].extra: unknown key"),
    ({"server": [{k: v for k, v in SERVER.items() if k != "require"}]}, "native.server[0].require: required key is missing"),
    ({"server": [dict(SERVER, fields={"event_name": "n"})]}, "native.server[0].fields: event_name and event_time are required"),
    ({"server": [dict(SERVER, facts={"events": {"status": "documented", "source": "u"}})]},
     "native.server[0].facts.event_name: required key is missing"),
    ({"server": [dict(SERVER, facts=dict(SERVER["facts"], event_time={"status": "observed"}))]},
     "native.server[0].facts.event_time: an observed fact needs a source"),
    ({"server": [dict(SERVER, facts=dict(SERVER["facts"], event_time={"status": "maybe", "note": "n"}))]},
     "native.server[0].facts.event_time.status: expected one of documented, observed, assumption"),
    ({"server": [dict(SERVER, format="X CAPI")]}, "native.server[0].format: expected a format name"),
    ({"server": [SERVER, SERVER]}, "native: format 'x-capi' is defined twice"),
    ({"server": [dict(SERVER, response={"recieved": "n"})]}, "native.server[0].response.recieved: unknown key"),
    ({"browser": [{"format": "x-pixel", "label": "X", "endpoints": "x.com/p", "body": "xml", "fields": {"event_name": "e"},
                   "facts": {}}]}, "native.browser[0].body: expected 'params'"),
    ({"log": {"signature": ["a"], "fields": {"event_id": {"valeu": "x"}}}}, "native.log.fields.event_id.valeu: unknown key"),
    ({"servers": []}, "native.servers: unknown key (valid: browser, log, server)"),
    ({"server": [dict(SERVER, signature=["user_data.fbp"])]}, "native.server[0].facts.signature: required key is missing"),
    ({"server": [dict(SERVER, event_test=["test_event_code"])]}, "native.server[0].facts.test: required key is missing"),
    ({"server": [dict(SERVER, names=["Purchase"])]}, "native.server[0].names: expected a mapping of the event name sent"),
    ({"server": [dict(SERVER, fields={"event_name": {"paths": ["n"]}, "event_time": "t"})]},
     "native.server[0].fields.event_name.value: expected text (the value when no path is present) or a template"),
    ({"server": [dict(SERVER, fields={"event_name": {"template": 3}, "event_time": "t"})]},
     "native.server[0].fields.event_name.template: expected text"),
])
def test_native_mistakes_name_the_file_and_the_key(tmp_path, change, message):
    path = _with_native(tmp_path, change)
    with pytest.raises(UserError) as error:
        parse_rule_file(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_a_user_rule_file_can_add_a_native_format(tmp_path):
    path = _with_native(tmp_path, {"server": [SERVER]})
    rule = parse_rule_file(path)
    assert rule.native.server[0].format == "x-capi" and rule.native.unconfirmed() == [("x-capi", "event_time", "assumption: n")]


def test_every_platform_format_names_where_its_shape_comes_from():
    from dedupaudit.cli.formats import describe_formats

    listing = describe_formats(load_rules())
    assert all(f["source"] for f in listing["platform"] if f["kind"] != "flat pixel log columns (pixel-log)")
    formats = {f["format"] for f in listing["platform"]}
    assert {"meta-capi", "tiktok-pixel-batch", "reddit-capi-v2", "google-data-manager", "x-capi", "x-pixel",
            "microsoft-uet-capi", "microsoft-uet"} <= formats
