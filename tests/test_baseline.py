"""Baselines: compare() on small hand-made results, the tolerance config, and `dedupaudit diff` as a contract.

Results are built as `AuditResult.to_dict()` shapes: `result(entry(...), findings=[finding(...)])`.
"""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dedupaudit.baseline import Tolerances, compare, load_result, tolerance_options
from dedupaudit.cli.main import app
from dedupaudit.errors import UserError
from dedupaudit.reports.diff_report import render_json, render_markdown, render_rich
from dedupaudit.result import AuditResult, Finding, InputSummary, PlatformSummary

NAMES = {"meta": "Meta", "tiktok": "TikTok", "snap": "Snapchat", "google": "Google Ads"}


def entry(platform="tiktok", event="purchase", inflation=1.02, coverage=(0.95, 0.9, 1.0), **counts) -> dict:
    summary = PlatformSummary(
        platform=platform, display_name=NAMES[platform], event=event, orders=100, pixel_events=95, capi_events=90,
        reported_conversions=round(100 * (inflation or 1)), inflation_ratio=inflation,
        extra_conversions=counts.pop("extra_conversions", 2), missing_event_id=counts.pop("missing_event_id", {"pixel": 0, "capi": 0}),
        mismatched_event_id=counts.pop("mismatched_event_id", 0), event_name_drift=counts.pop("event_name_drift", 0),
        outside_window=counts.pop("outside_window", 0),
        coverage=None if coverage is None else dict(zip(("pixel", "capi", "any"), coverage)),
        links=None, assumptions=[], window_hours=48,
    )
    assert not counts, counts
    return summary


def finding(code="DA105", severity="error", platform="tiktok", event="purchase", count=10, name=None) -> Finding:
    return Finding(code=code, name=name or f"check-{code}", severity=severity, platform=platform, event=event, count=count,
                   unit="orders", message=f"{count} orders affected", hint="fix it")


def result(*platforms: PlatformSummary, findings=()) -> dict:
    """A result dict exactly as the engine writes it: through AuditResult.to_dict()."""
    empty = InputSummary(files=[], rows=0, rejected=0)
    return AuditResult(
        tool={"name": "dedupaudit", "version": "test"}, inputs={"pixel": empty, "capi": empty, "orders": empty},
        period={"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        platforms=list(platforms), findings=list(findings),
    ).to_dict()


def only(changes, metric):
    matches = [c for c in changes if c.metric == metric]
    assert len(matches) == 1, changes
    return matches[0]


# ================================================================ metrics

def test_inflation_up_beyond_tolerance_is_a_regression():
    diff = compare(result(entry(inflation=1.02)), result(entry(inflation=1.31)), Tolerances())
    change = only(diff.metrics, "inflation_ratio")
    assert (change.old, change.new, change.delta, change.tolerance) == (1.02, 1.31, 0.29, 0.02)
    assert change.worse and change.regressed and diff.regressed
    assert "TikTok purchase: inflation up from 1.02 to 1.31 (+0.29, tolerance 0.02) REGRESSION" in render_rich(diff)


def test_change_within_tolerance_is_reported_but_not_a_regression():
    diff = compare(result(entry(inflation=1.02, coverage=(0.95, 0.9, 1.0))),
                   result(entry(inflation=1.03, coverage=(0.94, 0.9, 1.0))), Tolerances())
    assert {c.metric for c in diff.metrics} == {"inflation_ratio", "coverage.pixel"}
    assert not any(c.regressed for c in diff.metrics) and not diff.regressed
    assert "No regression." in render_rich(diff)


@pytest.mark.parametrize("old, new", [(1.0, 1.02), (1.1, 1.12), (1.246982, 1.266982)])
def test_inflation_exactly_at_tolerance_is_not_a_regression(old, new):
    diff = compare(result(entry(inflation=old)), result(entry(inflation=new)), Tolerances())
    change = only(diff.metrics, "inflation_ratio")
    assert change.worse and not change.regressed
    assert not diff.regressed


@pytest.mark.parametrize("side, index", [("pixel", 0), ("capi", 1), ("any", 2)])
def test_coverage_down_by_the_tolerance_passes_and_beyond_it_fails(side, index):
    base = [0.95, 0.93, 0.97]
    at, beyond = list(base), list(base)
    at[index] -= 0.02
    beyond[index] -= 0.021
    assert not compare(result(entry(coverage=base)), result(entry(coverage=tuple(round(v, 6) for v in at)))).regressed
    diff = compare(result(entry(coverage=base)), result(entry(coverage=tuple(round(v, 6) for v in beyond))))
    change = only(diff.metrics, f"coverage.{side}")
    assert change.regressed and change.delta == -0.021


def test_improvements_are_not_regressions():
    diff = compare(result(entry(inflation=1.5, coverage=(0.8, 0.8, 0.9))), result(entry(inflation=1.0, coverage=(1.0, 1.0, 1.0))))
    assert len(diff.metrics) == 4
    assert not any(c.worse or c.regressed for c in diff.metrics)


def test_counts_are_reported_as_changes_but_only_regress_with_a_tolerance():
    old = result(entry(mismatched_event_id=5, missing_event_id={"pixel": 1, "capi": 0}, outside_window=0))
    new = result(entry(mismatched_event_id=40, missing_event_id={"pixel": 1, "capi": 7}, outside_window=3))
    diff = compare(old, new, Tolerances())
    assert {c.metric for c in diff.metrics} == {"mismatched_event_id", "missing_event_id.capi", "outside_window"}
    assert only(diff.metrics, "mismatched_event_id").delta == 35
    assert not diff.regressed

    strict = Tolerances.from_config({"mismatched_event_id": 10, "missing_event_id": {"capi": 7}}, "dedupaudit.yaml")
    diff = compare(old, new, strict)
    assert only(diff.metrics, "mismatched_event_id").regressed
    assert not only(diff.metrics, "missing_event_id.capi").regressed  # exactly at the tolerance
    assert diff.regressed


def test_null_inflation_ratio_is_reported_but_never_a_regression():
    diff = compare(result(entry(inflation=None, coverage=None)), result(entry(inflation=1.3, coverage=(0.5, 0.5, 0.6))))
    change = only(diff.metrics, "inflation_ratio")
    assert (change.old, change.new, change.delta, change.regressed) == (None, 1.3, None, False)
    assert not diff.regressed
    text = render_rich(diff)
    assert "inflation now 1.30 (not measurable before)" in text
    back = compare(result(entry(inflation=1.3)), result(entry(inflation=None)))
    assert not back.regressed and "no longer measurable (was 1.30)" in render_rich(back)
    both = compare(result(entry(inflation=None, coverage=None)), result(entry(inflation=None, coverage=None)))
    assert not both.metrics and not both.changed


def test_per_platform_override():
    tolerances = Tolerances.from_config({"platforms": {"tiktok": {"inflation_ratio": 0.1}}}, "dedupaudit.yaml")
    old = result(entry("tiktok", inflation=1.02), entry("meta", inflation=1.02))
    new = result(entry("tiktok", inflation=1.10), entry("meta", inflation=1.10))
    diff = compare(old, new, tolerances)
    by_platform = {c.platform: c for c in diff.metrics}
    assert by_platform["tiktok"].tolerance == 0.1 and not by_platform["tiktok"].regressed
    assert by_platform["meta"].tolerance == 0.02 and by_platform["meta"].regressed
    assert diff.regressed


def test_a_tolerance_of_null_reports_only():
    tolerances = Tolerances.from_config({"inflation_ratio": None}, "dedupaudit.yaml")
    diff = compare(result(entry(inflation=1.0)), result(entry(inflation=2.0)), tolerances)
    assert only(diff.metrics, "inflation_ratio").tolerance is None
    assert not diff.regressed


def test_platforms_added_and_removed():
    diff = compare(result(entry("meta"), entry("snap")), result(entry("meta"), entry("tiktok")))
    assert [(p.platform, p.event) for p in diff.platforms_added] == [("tiktok", "purchase")]
    assert [(p.platform, p.display_name) for p in diff.platforms_removed] == [("snap", "Snapchat")]
    assert not diff.metrics and not diff.regressed


# ================================================================ findings

def test_new_error_finding_is_a_regression():
    old = result(entry(), findings=[finding("DA105", "error", count=10)])
    new = result(entry(), findings=[finding("DA105", "error", count=10), finding("DA107", "error", count=891)])
    diff = compare(old, new)
    assert [(f.code, f.new_count, f.regressed) for f in diff.new_findings] == [("DA107", 891, True)]
    assert not diff.metrics and not diff.changed_findings and not diff.resolved_findings
    assert diff.regressed
    assert "DA107" in render_rich(diff) and "REGRESSION: 1 new error finding" in render_rich(diff)


def test_new_warning_finding_is_not_a_regression_and_new_errors_can_be_allowed():
    diff = compare(result(entry()), result(entry(), findings=[finding("DA106", "warning")]))
    assert len(diff.new_findings) == 1 and not diff.regressed
    errors = result(entry(), findings=[finding("DA107", "error")])
    assert compare(result(entry()), errors).regressed
    assert not compare(result(entry()), errors, Tolerances(new_error_findings=False)).regressed
    per_platform = Tolerances.from_config({"platforms": {"tiktok": {"new_error_findings": False}}}, "dedupaudit.yaml")
    assert not compare(result(entry()), errors, per_platform).regressed


def test_resolved_finding():
    old = result(entry(), entry("snap"), findings=[finding("DA105", count=1870, platform="snap"), finding("DA113")])
    new = result(entry(), entry("snap"), findings=[finding("DA113")])
    diff = compare(old, new)
    assert [(f.code, f.platform, f.old_count, f.new_count) for f in diff.resolved_findings] == [("DA105", "snap", 1870, None)]
    assert not diff.resolved_findings[0].platform_absent
    assert not diff.regressed
    assert "DA105 check-DA105  Snapchat purchase (was 1,870 orders)" in render_rich(diff)


def test_findings_of_a_platform_that_left_the_result_say_so():
    diff = compare(result(entry(), entry("snap"), findings=[finding(platform="snap")]), result(entry()))
    assert diff.resolved_findings[0].platform_absent
    assert "the platform is not in the new result" in render_rich(diff)


def test_findings_match_on_code_platform_and_event():
    old = result(entry(), entry("meta"), findings=[finding("DA100", "warning", platform=None, event=None, count=2),
                                                   finding("DA108", platform="meta", event=None, count=40),
                                                   finding("DA105", platform="meta", count=121)])
    new = result(entry(), entry("meta"), findings=[finding("DA100", "warning", platform=None, event=None, count=5),
                                                   finding("DA108", platform="meta", event=None, count=40),
                                                   finding("DA105", platform="tiktok", count=121)])
    diff = compare(old, new)
    assert [(f.code, f.platform, f.old_count, f.new_count) for f in diff.changed_findings] == [("DA100", None, 2, 5)]
    assert [(f.code, f.platform) for f in diff.new_findings] == [("DA105", "tiktok")]
    assert [(f.code, f.platform) for f in diff.resolved_findings] == [("DA105", "meta")]
    text = render_rich(diff)
    assert "Inputs (2 to 5 orders, +3)" in text


def test_count_change_of_an_existing_error_is_not_a_regression_but_escalation_to_error_is():
    old = result(entry(), findings=[finding("DA105", "error", count=10), finding("DA114", "warning", count=3)])
    new = result(entry(), findings=[finding("DA105", "error", count=50), finding("DA114", "error", count=3)])
    diff = compare(old, new)
    changes = {f.code: f for f in diff.changed_findings}
    assert not changes["DA105"].regressed and (changes["DA105"].old_count, changes["DA105"].new_count) == (10, 50)
    assert changes["DA114"].regressed and (changes["DA114"].old_severity, changes["DA114"].new_severity) == ("warning", "error")
    assert diff.regressed


def test_unchanged_results_are_quiet():
    same = result(entry(), findings=[finding()])
    diff = compare(same, json.loads(json.dumps(same)))
    assert not diff.changed and not diff.regressed
    assert diff.to_dict()["summary"] == {"metric_regressions": 0, "new_error_findings": 0, "metric_changes": 0,
                                         "new_findings": 0, "resolved_findings": 0, "changed_findings": 0, "waived_changes": 0}
    assert "No changes." in render_rich(diff)


# ================================================================ input validation

@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_schema_version_names_the_file(version):
    bad = {**result(entry()), "schema_version": version}
    with pytest.raises(UserError, match=r"new\.json: schema_version .* is not supported"):
        compare(result(entry()), bad, Tolerances(), names=("old.json", "new.json"))
    with pytest.raises(UserError, match=r"^old\.json: schema_version"):
        compare(bad, result(entry()), Tolerances(), names=("old.json", "new.json"))


def test_not_a_result_names_the_file():
    with pytest.raises(UserError, match=r"^a\.json: not a dedupaudit result"):
        compare({"hello": 1}, result(entry()), names=("a.json", "b.json"))
    broken = result(entry())
    broken["platforms"][0].pop("event")
    with pytest.raises(UserError, match=r"^b\.json: platforms\[0\]"):
        compare(result(entry()), broken, names=("a.json", "b.json"))


def test_load_result(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(result(entry())))
    assert load_result(good) == result(entry())
    with pytest.raises(UserError, match="missing.json: no such file"):
        load_result(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match=r"bad\.json: not a dedupaudit JSON result \(invalid JSON at line 1"):
        load_result(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(UserError, match=r"list\.json: not a dedupaudit result"):
        load_result(tmp_path / "list.json")
    with pytest.raises(UserError, match="is a folder"):
        load_result(tmp_path)


# ================================================================ the tolerance config

def test_config_section_shape():
    t = Tolerances.from_config({"inflation_ratio": 0.05, "coverage": 0.03, "new_error_findings": True,
                                "platforms": {"TikTok": {"inflation_ratio": 0.1, "coverage": {"pixel": 0.05}}}},
                               "dedupaudit.yaml")
    assert t.tolerance("meta", "inflation_ratio") == 0.05
    assert t.tolerance("tiktok", "inflation_ratio") == 0.1
    assert [t.tolerance("meta", f"coverage.{s}") for s in ("pixel", "capi", "any")] == [0.03, 0.03, 0.03]
    assert [t.tolerance("tiktok", f"coverage.{s}") for s in ("pixel", "capi", "any")] == [0.05, 0.03, 0.03]
    assert t.tolerance(None, "inflation_ratio") == 0.05
    assert t.tolerance("meta", "mismatched_event_id") is None
    assert Tolerances.from_config(None, "dedupaudit.yaml") == Tolerances()
    assert Tolerances.from_config(t.to_dict(), "x") == t  # to_dict is the config shape


def test_later_layers_win():
    t = Tolerances.from_config({"coverage": 0.03, "platforms": {"tiktok": {"inflation_ratio": 0.1}}}, "dedupaudit.yaml")
    t = t.with_config({"coverage": {"capi": 0.1}, "platforms": {"tiktok": {"coverage": 0.2}}}, "--tolerance", section="")
    assert t.tolerance("meta", "coverage.pixel") == 0.03 and t.tolerance("meta", "coverage.capi") == 0.1
    assert t.tolerance("tiktok", "inflation_ratio") == 0.1 and t.tolerance("tiktok", "coverage.any") == 0.2


@pytest.mark.parametrize("data, message", [
    ({"inflaton_ratio": 0.05}, r"^dedupaudit\.yaml: baseline\.inflaton_ratio: unknown key; did you mean 'inflation_ratio'\? \(valid: coverage, event_name_drift, "),
    ({"coverage": {"pxl": 0.1}}, r"^dedupaudit\.yaml: baseline\.coverage\.pxl: unknown key; did you mean 'pixel'\? \(valid: any, capi, pixel\)$"),
    ({"platforms": {"tiktok": {"bogus": 1}}}, r"^dedupaudit\.yaml: baseline\.platforms\.tiktok\.bogus: unknown key \(valid: "),
    ({"platforms": {"tiktok": {"platforms": {}}}}, r"baseline\.platforms\.tiktok\.platforms: unknown key"),
    ({"inflation_ratio": "high"}, r"^dedupaudit\.yaml: baseline\.inflation_ratio: 'high' is not a number \(valid: a number of at least 0, or null\)$"),
    ({"inflation_ratio": -0.1}, r"baseline\.inflation_ratio: -0\.1 is out of range \(valid: a number of at least 0, or null\)"),
    ({"inflation_ratio": True}, r"baseline\.inflation_ratio: True is not a number \(valid: a number of at least 0, or null\)"),
    ({"coverage": [0.1]}, r"baseline\.coverage: \[0\.1\] is not a number \(valid: a number of at least 0, or null\)"),
    ({"new_error_findings": "yes"}, r"baseline\.new_error_findings: 'yes' is not true or false \(valid: true or false\)"),
    ({"platforms": [1]}, r"baseline\.platforms: \[1\] is not a mapping \(valid: a mapping of platform names to tolerances\)"),
    ([0.02], r"^dedupaudit\.yaml: baseline: \[0\.02\] is not a mapping"),
])
def test_config_errors_name_the_key_and_the_file(data, message):
    with pytest.raises(UserError, match=message):
        Tolerances.from_config(data, "dedupaudit.yaml")


def test_tolerance_options():
    data = tolerance_options(["inflation_ratio=0.05", "coverage.pixel=none", "platforms.tiktok.inflation_ratio=0.1",
                              "new_error_findings=false", "inflation_ratio=0.06"])
    assert data == {"inflation_ratio": 0.06, "coverage": {"pixel": None}, "new_error_findings": False,
                    "platforms": {"tiktok": {"inflation_ratio": 0.1}}}
    t = Tolerances.from_config(data, "--tolerance", section="")
    assert t.tolerance("tiktok", "inflation_ratio") == 0.1 and t.tolerance("meta", "coverage.pixel") is None
    with pytest.raises(UserError, match="--tolerance 'inflation_ratio': expected KEY=VALUE"):
        tolerance_options(["inflation_ratio"])
    with pytest.raises(UserError, match="^--tolerance: inflation: unknown key; did you mean 'inflation_ratio'\\?"):
        Tolerances.from_config(tolerance_options(["inflation=0.1"]), "--tolerance", section="")


# ================================================================ outputs

def test_to_dict_is_json_and_names_every_part():
    old = result(entry(inflation=1.02), entry("snap"), findings=[finding("DA105", platform="snap")])
    new = result(entry(inflation=1.31), entry("meta"), findings=[finding("DA107")])
    data = json.loads(render_json(compare(old, new, names=("old.json", "new.json"))))
    assert data["schema_version"] == 1 and data["regressed"] is True
    assert data["old"]["name"] == "old.json" and data["new"]["period"]["start"] == "2026-01-01T00:00:00Z"
    assert data["metrics"][0] == {"platform": "tiktok", "display_name": "TikTok", "event": "purchase",
                                  "metric": "inflation_ratio", "label": "inflation", "kind": "ratio", "old": 1.02,
                                  "new": 1.31, "delta": 0.29, "worse": True, "tolerance": 0.02, "regressed": True}
    assert [f["code"] for f in data["findings"]["new"]] == ["DA107"]
    assert [f["code"] for f in data["findings"]["resolved"]] == ["DA105"]
    assert data["platforms"] == {"added": [{"platform": "meta", "display_name": "Meta", "event": "purchase"}],
                                 "removed": [{"platform": "snap", "display_name": "Snapchat", "event": "purchase"}]}
    assert data["tolerances"]["inflation_ratio"] == 0.02 and data["tolerances"]["new_error_findings"] is True


def test_markdown_escapes_text_from_the_inputs():
    new = result(entry(), findings=[finding("DA107", name="<script>|x")])
    text = render_markdown(compare(result(entry()), new, names=("old_<b>.json", "new.json")))
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;\\|x" in text  # the audit report's escaper (reports/markdown_text.py)
    assert text.startswith("## dedupaudit diff: regression")


def test_ratio_precision_grows_until_the_change_shows():
    diff = compare(result(entry(inflation=1.0201)), result(entry(inflation=1.0249)))
    assert "inflation up from 1.020 to 1.025 (+0.005, tolerance 0.02)" in render_rich(diff)


# ================================================================ `dedupaudit diff`

@pytest.fixture
def files(tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return str(path)
    return write


def run(*args):
    return CliRunner().invoke(app, ["diff", *args])


def test_cli_exit_0_without_regression_and_json_equals_the_library(files):
    old = files("old.json", result(entry(inflation=1.02)))
    new = files("new.json", result(entry(inflation=1.03)))
    res = run(old, new, "--format", "json")
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    expected = compare(load_result(old), load_result(new), Tolerances(), names=(old, new)).to_dict()
    assert json.loads(res.stdout) == expected


def test_cli_exit_1_on_regression(files):
    old = files("old.json", result(entry(inflation=1.02)))
    new = files("new.json", result(entry(inflation=1.31)))
    res = run(old, new, "--format", "rich")
    assert res.exit_code == 1
    assert "TikTok purchase: inflation up from 1.02 to 1.31 (+0.29, tolerance 0.02) REGRESSION" in res.stdout
    assert res.stderr == ""


def test_cli_tolerance_option_changes_the_verdict(files):
    old = files("old.json", result(entry(inflation=1.02)))
    new = files("new.json", result(entry(inflation=1.31)))
    assert run(old, new, "--tolerance", "inflation_ratio=0.5").exit_code == 0
    assert run(old, new, "-t", "platforms.tiktok.inflation_ratio=0.3", "-f", "markdown").exit_code == 0
    assert run(old, new, "-t", "platforms.meta.inflation_ratio=0.3").exit_code == 1


@pytest.mark.parametrize("args, message", [
    (["{old}", "{missing}"], "missing.json: no such file"),
    (["{old}", "{v2}"], "v2.json: schema_version 2 is not supported"),
    (["{old}", "{old}", "--format", "html"], "--format: 'html' is not one of rich, json, markdown"),
    (["{old}", "{old}", "--tolerance", "inflaton_ratio=0.1"], "--tolerance: inflaton_ratio: unknown key; did you mean 'inflation_ratio'?"),
    (["{old}", "{old}", "--tolerance", "coverage=lots"], "--tolerance: coverage: 'lots' is not a number (valid: a number of at least 0, or null)"),
])
def test_cli_exit_2_on_user_errors_with_one_line_on_stderr(files, tmp_path, args, message):
    paths = {"old": files("old.json", result(entry())), "v2": files("v2.json", {**result(entry()), "schema_version": 2}),
             "missing": str(tmp_path / "missing.json")}
    res = run(*[a.format(**paths) for a in args])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.startswith("dedupaudit: error: ") and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_output_file_takes_the_format_from_the_extension(files, tmp_path):
    old = files("old.json", result(entry(inflation=1.02)))
    new = files("new.json", result(entry(inflation=1.31)))
    target = tmp_path / "diff.md"
    res = run(old, new, "--output", str(target))
    assert res.exit_code == 1
    assert res.stdout == ""
    assert f"wrote markdown diff to {target}" in res.stderr
    assert target.read_text().startswith("## dedupaudit diff: regression")
    target = tmp_path / "diff.json"
    assert run(old, new, "-o", str(target)).exit_code == 1
    assert json.loads(target.read_text())["regressed"] is True


def test_cli_without_format_off_a_terminal_writes_json(files):
    old = files("old.json", result(entry()))
    res = run(old, old)
    assert res.exit_code == 0
    assert json.loads(res.stdout)["regressed"] is False
