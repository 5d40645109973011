"""The SARIF view: valid against the official SARIF 2.1.0 schema (vendored), levels, locations, stable fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dedupaudit.checks import get_check
from dedupaudit.reports.sarif_report import FINGERPRINT, render
from tests.report_helpers import HOSTILE, REPO, example_dict, example_result, finding, small_result
from tests.test_cli import run

SCHEMA = json.loads((REPO / "tests/fixtures/sarif/sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)  # the 2.1.0 schema is draft-04
CANONICAL = ["--pixel", "examples/canonical/pixel_events.csv", "--capi", "examples/canonical/capi_events.jsonl",
             "--orders", "examples/canonical/orders.csv"]


def sarif(result) -> dict:
    return json.loads(render(result))


def assert_valid(log: dict) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(log)]
    assert errors == []


def results(log: dict) -> list[dict]:
    (only_run,) = log["runs"]
    return only_run["results"]


def fingerprints(log: dict) -> dict[tuple, str]:
    return {(r["ruleId"], r["properties"]["platform"], r["properties"]["event"]): r["partialFingerprints"][FINGERPRINT]
            for r in results(log)}


def test_the_vendored_schema_is_the_official_one_and_it_bites():
    assert SCHEMA["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    log = sarif(small_result())
    log["runs"][0]["results"][0]["level"] = "info"  # not a SARIF level: the validator must refuse it
    assert not VALIDATOR.is_valid(log)
    del log["runs"][0]["tool"]
    assert not VALIDATOR.is_valid(log)


@pytest.mark.parametrize("make", [example_result, small_result, lambda: small_result(findings=[])],
                         ids=["example shop", "small", "no findings"])
def test_valid_sarif_2_1_0(make):
    log = sarif(make())
    assert_valid(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1


def test_one_result_per_finding_and_one_rule_per_check_that_fired():
    result = example_result()
    log = sarif(result)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "dedupaudit" and driver["version"] == result.tool["version"]
    fired = {f.code for f in result.findings}
    assert [r["id"] for r in driver["rules"]] == sorted(fired, key=[r["ruleId"] for r in results(log)].index)
    assert len(results(log)) == len(result.findings) == 24
    for r in results(log):
        rule = driver["rules"][r["ruleIndex"]]
        assert rule["id"] == r["ruleId"]
        check = get_check(r["ruleId"])
        assert rule["name"] == check.name and rule["shortDescription"]["text"] == check.summary
        assert check.fix in rule["help"]["text"] and check.why in rule["help"]["text"]
    assert sorted((r["ruleId"], r["properties"]["platform"], r["properties"]["event"], r["properties"]["count"])
                  for r in results(log)) == sorted((f.code, f.platform, f.event, f.count) for f in result.findings)


def test_levels_follow_severity():
    log = sarif(small_result())
    levels = {(r["ruleId"], r["properties"]["platform"]): r["level"] for r in results(log)}
    assert levels == {("DA101", "meta"): "error", ("DA113", "meta"): "error", ("DA106", "meta"): "warning",
                      ("DA116", "tiktok"): "note", ("DA100", None): "warning"}
    defaults = {r["id"]: r["defaultConfiguration"]["level"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert defaults == {"DA100": "warning", "DA101": "error", "DA113": "error", "DA106": "warning", "DA116": "note"}
    # A severity raised by config shows on the result; the rule keeps the check's default.
    raised = sarif(small_result(findings=[finding("DA116", "purchases-without-real-order", "error")]))
    assert results(raised)[0]["level"] == "error" and raised["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] == "note"


def test_message_properties_and_locations():
    log = sarif(small_result())
    first = next(r for r in results(log) if r["ruleId"] == "DA101")
    assert first["message"]["text"] == "30 purchase events from the server carry no event ID. Fix: On the server side, send `event_id`."
    assert first["properties"] == {"count": 30, "unit": "events", "platform": "meta", "event": "purchase"}
    (where,) = first["locations"]
    assert where["physicalLocation"] == {"artifactLocation": {"uri": "capi.jsonl"}, "region": {"startLine": 3}}  # its example
    assert where["logicalLocations"] == [{"name": "Meta", "kind": "resource", "fullyQualifiedName": "meta/purchase"}]
    by_code = {r["ruleId"]: r for r in results(log)}
    # No example file: the first file of the input concerned (rejected rows: the pixel input had them), else pixel.
    assert by_code["DA100"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pixel.csv"
    assert "logicalLocations" not in by_code["DA100"]["locations"][0]
    assert by_code["DA113"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pixel.csv"


def test_the_line_named_is_the_example_row_in_the_input():
    """The oracle is the input file itself: the line a result points at holds the event its finding describes."""
    for r in results(sarif(example_result())):
        where = r["locations"][0]["physicalLocation"]
        if r["ruleId"] in ("DA101", "DA102") and "region" in where:
            line = (REPO / where["artifactLocation"]["uri"]).read_text().splitlines()[where["region"]["startLine"] - 1]
            no_id = '"event_id": ""' in line if line.startswith("{") else line.split(",")[2] == ""
            assert no_id, (r["ruleId"], line)
    by_code = {(r["ruleId"], r["properties"]["platform"]): r for r in results(sarif(example_result()))}
    assert by_code[("DA101", "meta")]["locations"][0]["physicalLocation"]["region"] == {"startLine": 6}
    assert by_code[("DA102", "meta")]["locations"][0]["physicalLocation"]["region"] == {"startLine": 120}
    parquet = small_result(findings=[finding(examples=[{"file": "capi.parquet", "row": 3}])])  # a record, not a line
    assert "region" not in results(sarif(parquet))[0]["locations"][0]["physicalLocation"]


def test_file_names_become_uri_references():
    odd = [finding(examples=[{"side": "capi", "file": "exports/march 2026/capi #1%.jsonl"}]),
           finding("DA102", "browser-events-without-id", examples=[{"side": "pixel", "file": "/data/pixel events.csv"}]),
           finding("DA105", "mismatched-event-ids", examples=[{"file": "C:\\exports\\orders.csv"}]),
           finding("DA118", "refused-events", examples=[])]
    result = small_result(findings=odd)
    result.inputs["capi"].files = ["logs/server log.jsonl"]
    log = sarif(result)
    assert_valid(log)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results(log)]
    assert sorted(uris) == sorted(["exports/march%202026/capi%20%231%25.jsonl", "file:///data/pixel%20events.csv",
                                   "file:///C:/exports/orders.csv", "logs/server%20log.jsonl"])  # DA118: the server input


def test_fingerprints_are_code_platform_event_and_do_not_move_with_the_counts():
    before = sarif(small_result())
    changed = small_result(findings=[finding(count=7, message="7 purchase events from the server carry no event ID."),
                                     finding("DA106", "near-miss-event-ids", "warning", count=1, unit="orders")])
    after = sarif(changed)
    assert fingerprints(before)[("DA101", "meta", "purchase")] == "DA101/meta/purchase" == fingerprints(after)[("DA101", "meta", "purchase")]
    assert fingerprints(before)[("DA106", "meta", "purchase")] == fingerprints(after)[("DA106", "meta", "purchase")]
    assert fingerprints(before)[("DA100", None, None)] == "DA100/inputs/-"
    twins = sarif(small_result(findings=[finding(), finding(count=3)]))  # never two results with one fingerprint
    assert sorted(r["partialFingerprints"][FINGERPRINT] for r in results(twins)) == ["DA101/meta/purchase", "DA101/meta/purchase#2"]


def test_two_cli_runs_on_different_periods_keep_each_problem_s_fingerprint(tmp_path):
    """Two real audits: a problem found in both keeps its fingerprint though its count changed; the file is the library's render."""
    whole = tmp_path / "all.sarif"
    assert run("check", *CANONICAL, "-o", whole, "--quiet", cwd=REPO).returncode == 1
    week = run("check", *CANONICAL, "--until", "2026-10-09", "--format", "sarif", cwd=REPO)
    assert week.returncode == 1, week.stderr
    a, b = json.loads(whole.read_text()), json.loads(week.stdout)
    assert whole.read_text() == render(example_result())
    common = fingerprints(a).keys() & fingerprints(b).keys()
    assert len(common) >= 15
    assert all(fingerprints(a)[k] == fingerprints(b)[k] for k in common)
    counts = lambda log: {k: r["properties"]["count"] for k, r in zip(fingerprints(log), results(log))}  # noqa: E731
    assert any(counts(a)[k] != counts(b)[k] for k in common)  # the counts did change
    assert_valid(b)


def test_input_strings_stay_plain_text():
    bad = finding(message=f"IDs such as '{HOSTILE}' arrive.", examples=[{"file": f"/data/{HOSTILE}.csv"}])
    log = sarif(small_result(findings=[bad]))
    assert_valid(log)
    assert results(log)[0]["message"]["text"].startswith(f"IDs such as '{HOSTILE}' arrive.")
    assert results(log)[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "file:///data/%3Cscript%3Ealert%281%29%3C/script%3E.csv"
    assert Path(example_dict()["inputs"]["pixel"]["files"][0]).name == "pixel_events.csv"
