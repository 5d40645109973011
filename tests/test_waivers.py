"""Waivers: accepted findings leave the count and the exit code, are reported with their reason, and stale ones are findings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dedupaudit
from dedupaudit import InputError
from dedupaudit.baseline import compare

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "canonical"
SHOP = dict(pixel=EXAMPLES / "pixel_events.csv", capi=EXAMPLES / "capi_events.jsonl", orders=EXAMPLES / "orders.csv")

# Three Meta purchases sent by both paths without an event ID: DA101 and DA102 (3 events each), DA113.
EVENTS = pd.DataFrame({"platform": ["meta"] * 3, "event_name": ["Purchase"] * 3, "event_id": [None] * 3,
                       "event_time": ["2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z", "2026-11-01T12:00:00Z"],
                       "order_id": ["A1", "A2", "#A3"], "value": [10.0, 20, 30]})
ORDERS = pd.DataFrame({"order_id": ["A1", "A2", "A3"], "value": [10.0, 20, 30],
                       "created_at": ["2026-11-01T09:59:00Z", "2026-11-01T10:59:00Z", "2026-11-01T11:59:00Z"]})


def small(*waivers, **settings):
    return dedupaudit.audit(pixel=EVENTS, capi=EVENTS, orders=ORDERS, waivers=list(waivers), **settings)


def by_code(items) -> dict:
    return {(f.code, f.platform): f for f in items}


def test_whole_waivers_remove_findings_and_the_exit_code():
    before = small()
    assert {f.code for f in before.model.findings} == {"DA101", "DA102", "DA113"} and before.exit_code() == 1
    after = small({"check": "DA101", "reason": "server sends no IDs yet"},
                  {"check": "browser-events-without-id", "platform": "meta", "event": "purchase", "reason": "legacy tag",
                   "expires": "2099-12-31"},
                  {"check": "inflated-conversions", "platform": "meta", "reason": "known, being fixed"})
    assert after.model.findings == [] and after.exit_code("info") == 0
    waived = by_code(after.model.waived)
    assert {k: (w.count, w.reason, w.expires) for k, w in waived.items()} == {
        ("DA101", "meta"): (3, "server sends no IDs yet", None),
        ("DA102", "meta"): (3, "legacy tag", "2099-12-31"),
        ("DA113", "meta"): (3, "known, being fixed", None)}
    assert waived[("DA102", "meta")].waiver == "audit(): waivers[1]"
    data = after.to_dict()
    assert data["findings"] == [] and {w["code"] for w in data["waived"]} == {"DA101", "DA102", "DA113"}
    assert set(data["waived"][0]) >= {"code", "name", "severity", "count", "message", "examples", "reason", "expires", "waiver"}


def test_a_list_waiver_takes_only_its_hits():
    result = small({"check": "DA101", "order_ids": ["A1", " #A3"], "reason": "test orders"})
    left, waived = by_code(result.model.findings)[("DA101", "meta")], by_code(result.model.waived)[("DA101", "meta")]
    assert (left.count, waived.count) == (1, 2)
    assert [e["order_id"] for e in left.examples] == ["A2"]
    assert sorted(e["order_id"] for e in waived.examples) == ["#A3", "A1"]
    assert "Of these, 2 are waived (test orders); 1 remains." in left.message
    assert by_code(result.model.findings)[("DA102", "meta")].count == 3  # another check: untouched


def test_lists_must_all_match_and_earlier_waivers_are_not_counted_twice():
    none = small({"check": "DA101", "order_ids": ["A1"], "event_names": ["AddToCart"], "reason": "x"})
    assert by_code(none.model.findings)[("DA101", "meta")].count == 3
    assert any(f.code == "DA140" for f in none.model.findings)  # it matched no hit: unused
    overlap = small({"check": "DA101", "order_ids": ["A1", "A2"], "reason": "first"},
                    {"check": "DA101", "order_ids": ["A2", "A3"], "reason": "second"})
    assert [(w.reason, w.count) for w in overlap.model.waived] == [("first", 2), ("second", 1)]
    assert ("DA101", "meta") not in by_code(overlap.model.findings)


def test_list_waivers_on_the_example_shop_count_in_the_checks_unit():
    """Events (DA103, one row per event), orders (DA105, one per order whatever its rows) and names (DA108)."""
    pixel = pd.read_csv(SHOP["pixel"], dtype=str)
    capi = pd.read_json(SHOP["capi"], lines=True, dtype=False)
    undefined = sum(int(((t["platform"] == "tiktok") & (t["event_id"].astype(str).str.strip().str.lower() == "undefined")).sum())
                    for t in (pixel, capi))
    before = dedupaudit.audit(**SHOP)
    after = dedupaudit.audit(**SHOP, waivers=[
        {"check": "DA103", "platform": "tiktok", "event_ids": ["undefined"], "reason": "the old checkout theme"},
        {"check": "DA105", "platform": "meta", "order_ids": ["NW-100008", "#NW-100011 "], "reason": "two test orders"},
        {"check": "DA108", "platform": "meta", "event_names": ["PURCHASE"], "reason": "the app sends lower case"}])
    b, a, w = by_code(before.model.findings), by_code(after.model.findings), by_code(after.model.waived)
    assert w[("DA103", "tiktok")].count == undefined > 0
    assert b[("DA103", "tiktok")].count - undefined == (a[("DA103", "tiktok")].count if ("DA103", "tiktok") in a else 0)
    assert (w[("DA105", "meta")].count, a[("DA105", "meta")].count) == (2, b[("DA105", "meta")].count - 2)
    assert not {"NW-100008", "NW-100011"} & {e["order_id"] for e in a[("DA105", "meta")].examples}
    assert ("DA108", "meta") not in a and w[("DA108", "meta")].count == b[("DA108", "meta")].count  # names match in any case


def test_unused_and_expired_waivers_are_findings_and_expired_ones_do_not_apply():
    result = small({"check": "DA109", "platform": "meta", "reason": "custom events"},
                   {"check": "DA102", "reason": "legacy", "expires": "2020-01-31"})
    found = by_code(result.model.findings)
    assert found[("DA140", "meta")].severity == "info" and "waivers[0]" in found[("DA140", "meta")].message
    assert found[("DA141", None)].severity == "info" and "expired on 2020-01-31" in found[("DA141", None)].message
    assert found[("DA102", "meta")].count == 3 and result.model.waived == []


@pytest.mark.parametrize("waiver, message", [
    ({"check": "DA101"}, "waivers[0].reason: required key is missing"),
    ({"check": "DA101", "reason": " "}, "waivers[0].reason: ' ' is not text (valid: text saying why the finding is accepted)"),
    ({"reason": "x"}, "waivers[0].check: required key is missing"),
    ({"check": "DA999", "reason": "x"}, "waivers[0].check: unknown check 'DA999'"),
    ({"check": "DA101", "reason": "x", "platfrom": "meta"}, "waivers[0].platfrom: unknown key; did you mean 'platform'? (valid: check, event, "),
    ({"check": "DA101", "reason": "x", "platform": "bing"}, "waivers[0].platform: no rule file for platform 'bing' (valid: "),
    ({"check": "DA101", "reason": "x", "expires": "soon"}, "waivers[0].expires: 'soon' is not a date (valid: a date (YYYY-MM-DD))"),
    ({"check": "DA101", "reason": "x", "order_ids": "A1"}, "waivers[0].order_ids: 'A1' is not a list (valid: a non-empty list of texts)"),
    ({"check": "DA113", "reason": "x", "order_ids": ["A1"]}, "counts conversions, not single events or orders: waive it whole"),
])
def test_bad_waivers_are_input_errors(waiver, message):
    with pytest.raises(InputError) as caught:
        small(waiver)
    assert message in str(caught.value) and str(caught.value).startswith("audit(): waivers[0]")


def test_cli_config_and_waivers_file_both_apply(tmp_path):
    (tmp_path / "dedupaudit.yaml").write_text(
        "waivers:\n  - check: DA109\n    platform: tiktok\n    event_names: [Checkout]\n    reason: a custom step we send on purpose\n")
    (tmp_path / "waivers.yaml").write_text("- check: DA116\n  reason: marketplace orders are not in the export\n  expires: 2099-01-01\n")
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(SHOP["pixel"]), "--capi", str(SHOP["capi"]),
                           "--orders", str(SHOP["orders"]), "--waivers", "waivers.yaml", "-o", str(out), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    data = json.loads(out.read_text())
    waived = {(w["code"], w["platform"]): w for w in data["waived"]}
    assert waived[("DA109", "tiktok")]["waiver"].endswith("dedupaudit.yaml: waivers[0]")
    assert {p for c, p in waived if c == "DA116"} == {"meta", "snap", "tiktok"}
    assert not [f for f in data["findings"] if f["code"] in ("DA116", "DA140")]
    bad = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(SHOP["pixel"]), "--waivers", "nope.yaml"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert (bad.returncode, bad.stderr) == (2, "dedupaudit: error: --waivers nope.yaml: no such file\n")


def test_export_leaves_out_waived_rows(tmp_path):
    small({"check": "DA101", "order_ids": ["A1"], "reason": "test order"}, export_failures=str(tmp_path / "rows"))
    exported = pd.read_csv(tmp_path / "rows" / "DA101-server-events-without-id-meta-purchase.csv")
    assert list(exported["order_id"]) == ["A2", "#A3"]


def test_baselines_compare_waived_counts_apart():
    old = small({"check": "DA101", "order_ids": ["A1"], "reason": "test order"}).to_dict()
    new = small({"check": "DA101", "order_ids": ["A1", "A2"], "reason": "test orders"})
    diff = compare(old, new.to_dict())
    assert [(w.code, w.platform, w.old_count, w.new_count) for w in diff.waived] == [("DA101", "meta", 1, 2)]
    assert diff.to_dict()["waived"][0]["new_count"] == 2 and diff.to_dict()["summary"]["waived_changes"] == 1
    assert not diff.regressed  # fewer open hits, more waived: accepted, not worse
    from dedupaudit.reports.diff_report import render_markdown
    assert "- DA101 server-events-without-id Meta purchase: 1 waived before, 2 now" in render_markdown(diff)


def test_junit_and_github_show_waived_findings_with_the_reason():
    result = small({"check": "DA101", "reason": "server IDs come in January", "expires": "2099-01-31"},
                   {"check": "DA102", "order_ids": ["A1"], "reason": "test order"})
    junit = result.render("junit")
    assert '<skipped message="waived: server IDs come in January" />' in junit
    assert "WAIVED DA102 browser-events-without-id on Meta (purchase): 1 event. Reason: test order (audit(): waivers[1])" in junit
    assert 'name="dedupaudit.meta" tests="' in junit and 'skipped="1"' in junit
    github = result.render("github")
    assert "::notice title=DA101 server-events-without-id (Meta)%2C waived::3 events waived: server IDs come in January (until 2099-01-31)" in github


def test_every_report_lists_waived_findings_with_the_reason():
    result = small({"check": "DA101", "reason": "server IDs come in January", "expires": "2099-01-31"},
                   {"check": "DA102", "reason": "legacy tag"}, {"check": "DA113", "reason": "known"})
    for fmt in ("rich", "markdown", "html"):
        text = result.render(fmt, width=160)
        assert "Waived findings" in text and "server IDs come in January" in text and "2099-01-31" in text, fmt
        assert "No open findings; 3 accepted by a waiver" in text, fmt
        assert "deduplication looks right" not in text, fmt
    sarif = json.loads(result.render("sarif"))
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert [(r["ruleId"], r["suppressions"][0]["justification"]) for r in suppressed] == [
        ("DA101", "server IDs come in January"), ("DA102", "legacy tag"), ("DA113", "known")]
    assert all(r["suppressions"][0]["status"] == "accepted" for r in suppressed)
    import jsonschema
    schema = json.loads((Path(__file__).parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
