"""One schema for every setting (dedupaudit/options.py): each family's errors in the one style
`source: key.path: what is wrong (valid: ...)`, the link_tolerance_minutes bugs, and the docs printed from it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import dedupaudit
from dedupaudit import InputError, config
from dedupaudit.checks import ALL_CHECKS
from dedupaudit.errors import UserError
from dedupaudit.options import Option
from tests.test_cli import run

# One purchase without an order ID, 5 minutes before an order of the same value: only value+time linking ties them.
PIXEL = pd.DataFrame([{"platform": "meta", "event_name": "Purchase", "event_id": "e1", "event_time": "2026-01-05T10:00:00Z",
                       "value": 70.0, "currency": "EUR"}])
ORDERS = pd.DataFrame([{"order_id": "1002", "created_at": "2026-01-05T10:05:00Z", "value": 70.0, "currency": "EUR"}])


def _config_error(tmp_path, text: str) -> str:
    path = tmp_path / "dedupaudit.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        config.load_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: "):]


# ---------------------------------------------------------------- the Option type itself

def test_option_refuses_type_range_choice_and_non_finite():
    ratio = Option(0.9, "number", "a share", minimum=0, maximum=1)
    assert ratio.check(0.5, "f", "k") == 0.5 and ratio.check(1, "f", "k") == 1
    for bad, problem in [("x", "'x' is not a number"), (True, "True is not a number"), (1.5, "1.5 is out of range"),
                         (-0.1, "-0.1 is out of range"), (math.nan, "nan is not a finite number"),
                         (math.inf, "inf is not a finite number")]:
        with pytest.raises(UserError) as caught:
            ratio.check(bad, "f.yaml", "a.b")
        assert str(caught.value) == f"f.yaml: a.b: {problem} (valid: a number from 0 to 1)"
    whole = Option(2, "integer", minimum=2)
    assert whole.check(3.0, "f", "k") == 3 and isinstance(whole.check(3.0, "f", "k"), int)
    with pytest.raises(UserError, match=r"^f: k: 2\.5 is not a whole number \(valid: a whole number of at least 2\)$"):
        whole.check(2.5, "f", "k")
    choice = Option("a", "text", choices=("a", "b"), nullable=True)
    assert choice.check(None, "f", "k") is None
    with pytest.raises(UserError, match=r"^f: k: 'c' is not a valid value \(valid: one of a, b, or null\)$"):
        choice.check("c", "f", "k")


# ---------------------------------------------------------------- config file keys

@pytest.mark.parametrize("text, message", [
    ("link_tolerance_minutes: -1\n", "link_tolerance_minutes: -1 is out of range (valid: a number of at least 0)"),
    ("link_tolerance_minutes: .inf\n", "link_tolerance_minutes: inf is not a finite number (valid: a number of at least 0)"),
    ("link_tolerance_minutes: .nan\n", "link_tolerance_minutes: nan is not a finite number (valid: a number of at least 0)"),
    ("threads: 0\n", "threads: 0 is out of range (valid: a whole number of at least 1)"),
    ("threads: 1.5\n", "threads: 1.5 is not a whole number (valid: a whole number of at least 1)"),
    ("export_format: xlsx\n", "export_format: 'xlsx' is not a valid value (valid: one of csv, parquet)"),
    ("fail_on: true\n", "fail_on: True is not a valid value (valid: one of error, warning, info, never)"),
    ("delimiter: ab\n", "delimiter: 'ab' is not a delimiter (valid: comma, semicolon, tab, pipe or one character)"),
    ("memory_limit: true\n", "memory_limit: True is not a size (valid: a size such as 8GB or 50%)"),
    ("formats:\n  pixl: har\n", "formats.pixl: unknown key; did you mean 'pixel'? (valid: capi, orders, pixel)"),
])
def test_config_file_errors(tmp_path, text, message):
    assert _config_error(tmp_path, text) == message


# ---------------------------------------------------------------- check options (through the engine)

@pytest.mark.parametrize("checks, message", [
    ({"inflated-conversions": {"options": {"error_above": -3}}},
     "audit(): checks.inflated-conversions.options.error_above: -3 is out of range (valid: a number of at least 1)"),
    ({"DA104": {"options": {"min_orders": 0.5}}},
     "audit(): checks.DA104.options.min_orders: 0.5 is not a whole number (valid: a whole number of at least 2)"),
    ({"low-coverage": {"options": {"warning_below": 1.5}}},
     "audit(): checks.low-coverage.options.warning_below: 1.5 is out of range (valid: a number from 0 to 1)"),
    ({"inflated-conversions": {"platforms": {"meta": {"options": {"error_above": float("inf")}}}}},
     "audit(): checks.inflated-conversions.platforms.meta.options.error_above: inf is not a finite number (valid: a number of at least 1)"),
    ({"inflated-conversions": {"severity": "fatal"}},
     "audit(): checks.inflated-conversions.severity: 'fatal' is not a valid value (valid: one of error, warning, info, or null)"),
    ({"inflated-conversions": {"enabled": "no"}},
     "audit(): checks.inflated-conversions.enabled: 'no' is not true or false (valid: true or false, or null)"),
    ({"inflated-conversions": {"options": {"eror_above": 2}}},
     "audit(): checks.inflated-conversions.options.eror_above: unknown key; did you mean 'error_above'? "
     "(valid: error_above, min_orders, warning_above)"),
    ({"DA999": {"enabled": False}}, "audit(): checks.DA999: unknown check 'DA999' (see `dedupaudit rules list`)"),
    ({"inflated-conversions": {"platforms": {"myspace": {}}}},
     "audit(): checks.inflated-conversions.platforms.myspace: no rule file for this platform (valid: "),
])
def test_check_option_errors(checks, message):
    with pytest.raises(InputError) as caught:
        dedupaudit.audit(pixel=PIXEL, orders=ORDERS, checks=checks)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_every_check_option_is_declared_with_a_doc_and_a_valid_default():
    for check in ALL_CHECKS:
        for name, option in check.options.items():
            assert isinstance(option, Option) and option.doc, (check.code, name)
            option.check(option.default if not isinstance(option.default, tuple) else list(option.default), check.code, name)


# ---------------------------------------------------------------- link_tolerance_minutes

def _links(**settings) -> dict:
    result = dedupaudit.audit(pixel=PIXEL, orders=ORDERS, **settings).to_dict()
    return next(p for p in result["platforms"] if p["platform"] == "meta" and p["event"] == "purchase")["links"]


def test_link_tolerance_zero_turns_value_time_linking_off():
    assert _links()["value_time"] == 1  # 5 minutes apart, within the default 15
    assert _links(link_tolerance_minutes=10)["value_time"] == 1
    assert _links(link_tolerance_minutes=4)["value_time"] == 0  # a real tolerance, not just on/off
    assert _links(link_tolerance_minutes=0) == {"order_id": 0, "event_id": 0, "value_time": 0, "unlinked": 1}


@pytest.mark.parametrize("value, problem", [(math.inf, "inf is not a finite number"), (math.nan, "nan is not a finite number"),
                                            (-5, "-5 is out of range")])
def test_link_tolerance_non_finite_is_a_user_error(value, problem):
    with pytest.raises(InputError) as caught:
        _links(link_tolerance_minutes=value)
    assert str(caught.value) == f"audit(): link_tolerance_minutes: {problem} (valid: a number of at least 0)"


def test_link_tolerance_inf_in_the_config_file_exits_2_not_3(tmp_path):
    PIXEL.to_csv(tmp_path / "pixel.csv", index=False)
    (tmp_path / "dedupaudit.yaml").write_text("link_tolerance_minutes: .inf\n")
    done = run("check", "--pixel", "pixel.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith("dedupaudit.yaml: link_tolerance_minutes: inf is not a finite number (valid: a number of at least 0)")


# ---------------------------------------------------------------- docs from the same Options

def test_explain_prints_each_option_with_doc_default_and_range():
    done = run("explain", "inflated-conversions")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "  error_above: an error above this inflation ratio (platform counts / real orders)\n" \
           "      default 1.05; valid: a number of at least 1" in out
    assert "  min_orders: with fewer real orders than this" in out and "default 30; valid: a whole number of at least 0" in out


def test_config_show_prints_every_keys_doc(tmp_path):
    (tmp_path / "dedupaudit.yaml").write_text("link_tolerance_minutes: 5\n")
    done = run("config", "show", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for key, option in config.KEYS.items():
        assert f"# {key}: {option.doc}" in done.stdout, key
    assert "# link_tolerance_minutes: value+time linking" in done.stdout and "0 turns value+time linking off; default 15; " \
        "valid: a number of at least 0" in done.stdout
    assert "link_tolerance_minutes  5    # " in done.stdout


# ---------------------------------------------------------------- baseline tolerances, rule files, mappings

@pytest.mark.parametrize("data, message", [
    ({"coverage": {"pixel": math.inf}}, "baseline.coverage.pixel: inf is not a finite number (valid: a number of at least 0, or null)"),
    ({"inflation_ratio": -1}, "baseline.inflation_ratio: -1 is out of range (valid: a number of at least 0, or null)"),
    ({"new_error_findings": 1}, "baseline.new_error_findings: 1 is not true or false (valid: true or false)"),
    ({"platforms": {"meta": {"coverage": {"pxl": 0.1}}}},
     "baseline.platforms.meta.coverage.pxl: unknown key; did you mean 'pixel'? (valid: any, capi, pixel)"),
])
def test_baseline_tolerance_errors(data, message):
    from dedupaudit.baseline import Tolerances
    with pytest.raises(UserError) as caught:
        Tolerances.from_config(data, "dedupaudit.yaml")
    assert str(caught.value) == f"dedupaudit.yaml: {message}"


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(dedup_window_hours=math.inf), "dedup_window_hours: inf is not a finite number (valid: a number above 0, or null)"),
    (lambda d: d.update(dedup_window_hours=0), "dedup_window_hours: 0 is out of range (valid: a number above 0, or null)"),
    (lambda d: d.update(same_source_dedup="no"), "same_source_dedup: 'no' is not true or false (valid: true or false)"),
    (lambda d: d["fallback"].update(applies_to="some"),
     "fallback.applies_to: 'some' is not a valid value (valid: one of without_event_id, all)"),
])
def test_rule_file_errors(change, message):
    import yaml

    from dedupaudit.platforms.rules import bundled_rules_dir, parse_rule_data

    path = bundled_rules_dir() / "meta.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    with pytest.raises(UserError) as caught:
        parse_rule_data(data, path)
    assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize("data, message", [
    ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus' (valid: an IANA time zone name such as Europe/Berlin)"),
    ({"files": {"*.csv": {"constans": {}}}}, "files['*.csv'].constans: unknown key; did you mean 'constants'? "
                                              "(valid: columns, constants, format, timestamp_format, timezone)"),
    ({"constants": {"platform": True}}, "constants.platform: True is not a constant (valid: a text or number value)"),
])
def test_mapping_errors(data, message):
    from dedupaudit.inputs.mapping import parse_mapping
    with pytest.raises(UserError) as caught:
        parse_mapping(data, "dedupaudit.yaml: mapping")
    assert str(caught.value) == f"dedupaudit.yaml: mapping.{message}"
