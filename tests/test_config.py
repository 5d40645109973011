"""dedupaudit.yaml: discovery, strict keys, one merge with provenance, and its effect on `check`."""

from __future__ import annotations

import json
import re

import pytest

from dedupaudit import config
from dedupaudit.errors import UserError
from tests.conftest import write_jsonl
from tests.test_cli import PAIR, ORDERS, run


def test_found_in_a_parent_folder(tmp_path):
    (tmp_path / "dedupaudit.yaml").write_text("timezone: Europe/Berlin\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert config.find_config(None, tmp_path / "a" / "b") == tmp_path / "dedupaudit.yaml"
    # The nearest file wins over one further up.
    (tmp_path / "a" / "dedupaudit.yaml").write_text("timezone: UTC\n")
    assert config.find_config(None, tmp_path / "a" / "b") == tmp_path / "a" / "dedupaudit.yaml"
    # --config names a file that must exist.
    with pytest.raises(UserError, match="--config .*missing.yaml: no such file"):
        config.find_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("text, message", [
    ("timezon: UTC\n", r"timezon: unknown key; did you mean 'timezone'\? \(valid: .*timezone"),
    ("fail_on: sometimes\n", r"fail_on: 'sometimes' is not a valid value \(valid: one of error, warning, info, never\)"),
    ("inputs:\n  pixel: data.csv\n", r"inputs.pixel: 'data.csv' is not a list of paths \(valid: a list of paths\)"),
    ("inputs:\n  web: [a.csv]\n", r"inputs.web: unknown key \(valid: capi, orders, pixel\)"),
    ("link_tolerance_minutes: soon\n", r"link_tolerance_minutes: 'soon' is not a number \(valid: a number of at least 0\)"),
    ("checks: [DA101]\n", r"checks: \['DA101'\] is not a mapping \(valid: per-check"),
    ("- a\n- b\n", "expected a mapping of settings"),
    ("timezone: [unclosed\n", "not a readable YAML file"),
])
def test_bad_config_names_key_and_file(tmp_path, text, message):
    path = tmp_path / "dedupaudit.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as error:
        config.load_file(path)
    assert str(path) in str(error.value)


def test_merge_later_layers_win_and_nothing_is_mutated(tmp_path):
    path = tmp_path / "dedupaudit.yaml"
    path.write_text("timezone: Europe/Berlin\nfail_on: warning\nsince: 2026-10-01\ninputs:\n  pixel: [data/p.csv]\n")
    file_layer = config.load_file(path)
    defaults = dict(config.DEFAULTS)
    cli = {"fail_on": ("never", "--fail-on")}
    merged = config.merge(config.DEFAULTS, file_layer, cli)
    assert merged["fail_on"] == ("never", "--fail-on")
    assert merged["timezone"] == ("Europe/Berlin", str(path))
    assert merged["since"][0] == "2026-10-01"  # a YAML date is read back as text
    assert merged["inputs.pixel"][0] == [str(tmp_path / "data" / "p.csv")]  # relative to the file
    assert merged["excluded_statuses"][1] == "default"
    assert config.DEFAULTS == defaults
    assert "fail_on" in config.show(merged) and "# --fail-on" in config.show(merged)


def test_starter_file_is_valid_and_every_commented_key_is_known(tmp_path):
    path = tmp_path / "dedupaudit.yaml"
    path.write_text(config.STARTER)
    assert config.load_file(path) == {}
    # Un-commenting the example settings (not the prose) gives a valid file too.
    setting = re.compile(r"^# ( *)(- )?([a-z_][a-z0-9_-]*|DA\d+):")
    path.write_text("\n".join(line[2:] for line in config.STARTER.splitlines() if setting.match(line)))
    loaded = config.load_file(path)
    assert "checks" in loaded and loaded["waivers"][0][0]["check"] == "unknown-event-names"


def test_check_runs_with_no_arguments_from_the_config(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", PAIR)
    write_jsonl(tmp_path / "o.jsonl", ORDERS)
    (tmp_path / "dedupaudit.yaml").write_text(
        "inputs:\n  pixel: [p.jsonl]\n  capi: [p.jsonl]\n  orders: [o.jsonl]\n"
        "checks:\n  inflated-conversions:\n    options: {min_orders: 1}\n")
    (tmp_path / "sub").mkdir()
    done = run("check", cwd=tmp_path / "sub")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["platforms"][0]["reported_conversions"] == 1


def test_unknown_check_and_option_in_config_exit_2(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", PAIR)
    (tmp_path / "dedupaudit.yaml").write_text("checks:\n  DA999: {enabled: false}\n")
    done = run("check", "--pixel", "p.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and "unknown check 'DA999'" in done.stderr
    (tmp_path / "dedupaudit.yaml").write_text("checks:\n  inflated-conversions: {options: {error_abve: 2}}\n")
    done = run("check", "--pixel", "p.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and ("dedupaudit.yaml: checks.inflated-conversions.options.error_abve: unknown key; did you mean 'error_above'? "
                                   "(valid: error_above, min_orders, warning_above)") in done.stderr


def test_config_show_and_init(tmp_path):
    from dedupaudit.config import STARTER
    assert run("init", cwd=tmp_path).returncode == 0
    written = (tmp_path / "dedupaudit.yaml").read_text()
    assert written == STARTER and "# waivers:" in written
    assert config.load_file(tmp_path / "dedupaudit.yaml") == {}  # every line a comment: valid, and no setting
    (tmp_path / "dedupaudit.yaml").write_text(written + "fail_on: warning\n")
    again = run("init", cwd=tmp_path)
    assert (again.returncode, again.stderr) == (2, "dedupaudit: error: dedupaudit.yaml exists already (use --force to overwrite)\n")
    assert (tmp_path / "dedupaudit.yaml").read_text().endswith("fail_on: warning\n")
    (tmp_path / "dedupaudit.yaml").write_text("timezone: Europe/Berlin\n")
    done = run("config", "show", cwd=tmp_path)
    assert done.returncode == 0
    assert 'timezone                "Europe/Berlin"    # ' in done.stdout and "dedupaudit.yaml" in done.stdout
