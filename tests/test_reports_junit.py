"""The JUnit view: one test case per check and platform, failed at or above the fail level, valid XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dedupaudit.checks import ALL_CHECKS
from dedupaudit.reports import RenderOptions
from dedupaudit.reports.junit_report import render
from tests.report_helpers import HOSTILE, finding, small_result


def parse(result, fail_on="error") -> ET.Element:
    return ET.fromstring(render(result, RenderOptions(fail_on=fail_on)).encode())


def case(root, suite, code) -> ET.Element:
    matches = [c for c in root.iter("testcase") if c.get("classname") == f"dedupaudit.{suite}" and c.get("name").startswith(code + " ")]
    assert len(matches) == 1, (suite, code)
    return matches[0]


def test_one_case_per_check_and_platform():
    root = parse(small_result())
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["dedupaudit.inputs", "dedupaudit.meta", "dedupaudit.tiktok"]
    platform_checks = [c for c in ALL_CHECKS if c.code not in ("DA100", "DA121", "DA131", "DA140", "DA141")]  # inputs, order export, waivers
    for name in ("dedupaudit.meta", "dedupaudit.tiktok"):
        names = [c.get("name") for c in suites[name].iter("testcase")]
        assert names == [f"{c.code} {c.name}" for c in platform_checks]
        assert suites[name].get("tests") == str(len(platform_checks))
    assert [c.get("name") for c in suites["dedupaudit.inputs"].iter("testcase")] == ["DA100 rejected-rows",
                                                                                      "DA121 input-missing",
                                                                                      "DA131 conflicting-order-statuses",
                                                                                      "DA140 unused-waiver", "DA141 expired-waiver"]
    assert root.get("tests") == str(2 * len(platform_checks) + 5)


def test_failure_carries_the_message_and_the_counts():
    root = parse(small_result())
    failed = case(root, "meta", "DA101")
    failure = failed.find("failure")
    assert failure.get("message") == "30 purchase events from the server carry no event ID."
    assert failure.get("type") == "error"
    assert "Fix: On the server side, send `event_id`." in failure.text and "order_id=A-1" in failure.text
    props = {p.get("name"): p.get("value") for p in failed.find("properties")}
    assert props == {"count": "30", "unit": "events"}
    meta = next(s for s in root.iter("testsuite") if s.get("name") == "dedupaudit.meta")
    assert {p.get("name"): p.get("value") for p in meta.find("properties")}["inflation_ratio"] == "1.3"
    assert case(root, "meta", "DA102").find("failure") is None  # no finding: passes


@pytest.mark.parametrize("fail_on, failing", [
    ("error", {("meta", "DA101"), ("meta", "DA113")}),
    ("warning", {("meta", "DA101"), ("meta", "DA113"), ("meta", "DA106"), ("inputs", "DA100")}),
    ("info", {("meta", "DA101"), ("meta", "DA113"), ("meta", "DA106"), ("inputs", "DA100"), ("tiktok", "DA116")}),
    ("never", set()),
])
def test_fail_level(fail_on, failing):
    root = parse(small_result(), fail_on)
    got = {(c.get("classname").split(".")[1], c.get("name").split()[0]) for c in root.iter("testcase") if c.find("failure") is not None}
    assert got == failing
    assert root.get("failures") == str(len(failing))
    if fail_on == "error":  # below the level: reported, not failed
        assert "near-miss" in case(root, "meta", "DA106").find("system-out").text


def test_xml_stays_valid_with_markup_and_control_characters():
    bad = finding(message=f"ID {HOSTILE} & \x00\x1b broke", examples=[{"order_id": '"quoted" <b>'}])
    xml = render(small_result(findings=[bad]), RenderOptions())
    root = ET.fromstring(xml.encode())
    assert case(root, "meta", "DA101").find("failure").get("message") == f"ID {HOSTILE} & \ufffd\ufffd broke"
    assert "<script>" not in xml


def test_a_platform_without_findings_passes_every_case():
    root = parse(small_result(findings=[]))
    assert root.get("failures") == "0" and not list(root.iter("failure"))
