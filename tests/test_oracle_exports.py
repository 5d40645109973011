"""--export-failures writes, for every finding of the example shop, exactly the rows its count counts.

The count is in the finding's unit: `events` and `rows` count exported rows, `orders` distinct order IDs
(compared as the audit compares them: trimmed, one leading `#` removed), `ids` distinct event IDs. A
finding in `conversions` (a ratio against real orders) has no rows behind it and no file.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import dedupaudit

CANONICAL = Path(__file__).resolve().parents[1] / "examples" / "canonical"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("failures")
    return dedupaudit.audit(pixel=CANONICAL / "pixel_events.csv", capi=CANONICAL / "capi_events.jsonl",
                            orders=CANONICAL / "orders.csv", export_failures=folder), folder


@pytest.fixture(scope="module")
def exported(example):
    result, folder = example
    return result.to_dict()["findings"], folder


def export_name(finding) -> str:
    return "-".join(part for part in (finding["code"], finding["name"], finding["platform"], finding["event"]) if part) + ".csv"


def counted_in_unit(rows: pd.DataFrame, unit: str) -> int:
    if unit in ("events", "rows"):
        return len(rows)
    if unit == "orders":
        keys = rows["order_id"].str.strip().str.replace(r"^#\s*", "", regex=True).str.strip()
        return keys[keys != ""].nunique()
    if unit == "ids":
        return rows.loc[rows["event_id"].str.strip() != "", "event_id"].nunique()
    raise AssertionError(f"unit {unit} has no rows behind it")


def test_every_finding_with_rows_has_its_export(exported):
    findings, folder = exported
    want = {export_name(f) for f in findings if f["unit"] != "conversions"}
    assert want == {p.name for p in folder.iterdir()}
    assert any(re.match(r"DA116-.*", name) for name in want)  # the check whose export used to over-count


def test_exported_rows_agree_with_each_count(exported):
    findings, folder = exported
    problems = []
    for f in findings:
        if f["unit"] == "conversions":
            continue
        rows = pd.read_csv(folder / export_name(f), dtype=str, keep_default_na=False)
        got = counted_in_unit(rows, f["unit"])
        if got != f["count"]:
            problems.append(f"{export_name(f)}: count {f['count']} {f['unit']}, export has {got} ({len(rows)} rows)")
    assert not problems, "\n".join(problems)


def test_da116_exports_only_events_linked_to_an_order(exported):
    """The unlinked counted purchases (no order ID, no ID or value link) are not DA116's: it names orders."""
    findings, folder = exported
    da116 = [f for f in findings if f["code"] == "DA116"]
    assert {f["platform"] for f in da116} == {"meta", "snap", "tiktok"}
    for f in da116:
        rows = pd.read_csv(folder / export_name(f), dtype=str, keep_default_na=False)
        assert set(rows["order_status"]) <= {"test", "cancelled", "canceled", "voided", "failed", "(not in orders)"}
        assert len(rows) == f["count"], export_name(f)


def test_da116_export_leaves_out_unlinked_purchases(tmp_path):
    """Two counted purchases on a test order and one tied to no order: DA116 counts 2, so the export has 2 rows
    (the evidence query once dropped the `link_key IS NOT NULL` of the count and exported the unlinked one too)."""
    t = pd.Timestamp("2026-10-05 12:00", tz="UTC")
    pixel = pd.DataFrame({"platform": ["meta"] * 3, "event_name": ["Purchase"] * 3, "event_id": ["a", "b", "c"],
                          "event_time": [t, t, t], "order_id": ["T-1", "T-1", None], "value": [10.0, 10.0, 77.0]})
    orders = pd.DataFrame({"order_id": ["T-1", "R-1"], "created_at": [t, t], "value": [10.0, 20.0],
                           "status": ["test", "paid"]})
    result = dedupaudit.audit(pixel=pixel, orders=orders, export_failures=tmp_path / "f").to_dict()
    [finding] = [f for f in result["findings"] if f["code"] == "DA116"]
    assert finding["count"] == 2
    rows = pd.read_csv(tmp_path / "f" / export_name(finding), dtype=str, keep_default_na=False)
    assert sorted(rows["event_id"]) == ["a", "b"]
    assert set(rows["order_status"]) == {"test"}


def test_exit_code_and_the_views_agree_on_what_fails(example):
    """One definition of "at or above --fail-on" (summary.failing): the exit code and the GitHub summary agree with it."""
    result, _ = example
    findings = result.to_dict()["findings"]
    rank = {"error": 0, "warning": 1, "info": 2}
    for fail_on in ("error", "warning", "info", "never"):
        failing = [f for f in findings if fail_on != "never" and rank[f["severity"]] <= rank[fail_on]]
        assert result.exit_code(fail_on) == int(bool(failing)), fail_on
        github = result.render("github", fail_on=fail_on) if fail_on != "never" else ""
        if github:
            assert f"({len(failing)} at or above {fail_on})" in github
    assert {f["severity"] for f in findings} == {"error", "warning", "info"}
