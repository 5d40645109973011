"""The CLI as a contract: exit codes, stdout vs stderr, JSON equal to the library's result, no tracebacks.

Most tests run the command in-process (`run`: Typer's CliRunner, stdout and stderr apart); `run_process` starts
`python -m dedupaudit` where the process itself is the point (the exit code and stderr a shell sees, --debug's
traceback, a usage error from Click).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dedupaudit.cli.main import app
from tests.conftest import EXAMPLES, write_jsonl

PAIR = [{"platform": "google", "event_name": "purchase", "event_id": "T1", "event_time": "2026-01-05T10:00:00Z", "order_id": "1",
         "conversion_action": "AW-1/buy"}]
ORDERS = [{"order_id": "1", "created_at": "2026-01-05T10:00:00Z"}]


def run(*args, cwd=None, env=None):
    """The command in-process, in `cwd`, with `env` added to the environment; the result has a subprocess's
    returncode, stdout and stderr. A crash is raised here, never mistaken for exit 1 ("findings")."""
    with contextlib.chdir(cwd or os.getcwd()):
        done = CliRunner().invoke(app, [str(a) for a in args], env=env)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return SimpleNamespace(returncode=done.exit_code, stdout=done.stdout, stderr=done.stderr)


def run_process(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "dedupaudit", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture
def clean(tmp_path):
    """A clean shop: one Google purchase reported by both paths with the same ID."""
    return ["--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), "--capi", write_jsonl(tmp_path / "c.jsonl", PAIR),
            "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS)]


def test_clean_audit_exits_0_with_json_on_stdout(clean):
    done = run("check", *clean)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)  # not a terminal: JSON by default
    assert data["schema_version"] == 1 and data["findings"] == []
    assert data["platforms"][0]["inflation_ratio"] == 1.0


def test_findings_exit_1_and_fail_on_controls_it(tmp_path):
    capi = [dict(PAIR[0], event_id="")]
    args = ["--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), "--capi", write_jsonl(tmp_path / "c.jsonl", capi),
            "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS)]
    done = run("check", *args)
    assert done.returncode == 1 and done.stderr == ""
    found = [(f["code"], f["severity"], f["platform"], f["count"]) for f in json.loads(done.stdout)["findings"]]
    assert ("DA101", "error", "google", 1) in found
    never = run("check", *args, "--fail-on", "never")
    assert never.returncode == 0
    assert [(f["code"], f["severity"], f["platform"], f["count"]) for f in json.loads(never.stdout)["findings"]] == found
    assert json.loads(never.stdout)["settings"]["fail_on"] == "never"


def test_warning_only_findings_pass_by_default_and_fail_on_warning(tmp_path):
    rows = PAIR + [dict(PAIR[0], event_id="T2", order_id="2", event_name="Checkout")]  # unknown name: a warning
    args = ["--pixel", write_jsonl(tmp_path / "p.jsonl", rows), "--capi", write_jsonl(tmp_path / "c.jsonl", PAIR),
            "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS)]
    done = run("check", *args)
    assert [(f["code"], f["severity"], f["count"]) for f in json.loads(done.stdout)["findings"]] == [("DA109", "warning", 1)]
    assert done.returncode == 0
    strict = run("check", *args, "--fail-on", "warning")
    assert strict.returncode == 1 and json.loads(strict.stdout)["findings"] == json.loads(done.stdout)["findings"]


@pytest.mark.parametrize("args, message", [
    (["--pixel", "missing.csv"], "--pixel missing.csv: no such file or folder"),
    ([], "give at least one of --pixel and --capi"),
    (["--capi", "{capi}", "--fail-on", "sometimes"], "--fail-on: 'sometimes' is not one of"),
    (["--capi", "{capi}", "--format", "pdf"], "--format: 'pdf' is not one of"),
    (["--capi", "{capi}", "--timezone", "Nowhere/Town"], "unknown time zone"),
    (["--capi", "{capi}", "--since", "2026-02-01", "--until", "2026-01-01"], "--since 2026-02-01 is after --until"),
    (["--capi", "{capi}", "--platform", "myspace"], "--platform myspace: no rule file"),
    (["--capi", "{bad_platform}"], "row 1: unknown platform 'bing'"),
    (["--capi", "{capi}", "--rules", "{empty_dir}"], "no rule files"),
])
def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path, args, message):
    files = {
        "capi": write_jsonl(tmp_path / "c.jsonl", PAIR),
        "bad_platform": write_jsonl(tmp_path / "b.jsonl", [dict(PAIR[0], platform="bing")]),
        "empty_dir": tmp_path / "empty",
    }
    (tmp_path / "empty").mkdir()
    done = run("check", *[a.format(**files) for a in args], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("dedupaudit: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_user_error_as_a_shell_sees_it(tmp_path):
    done = run_process("check", "--pixel", "missing.csv", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "dedupaudit: error: --pixel missing.csv: no such file or folder\n"


def test_debug_shows_the_traceback(tmp_path):
    done = run_process("check", "--capi", tmp_path / "nope.csv", "--debug")
    assert done.returncode == 2 and done.stdout == ""  # the traceback, and still the exit code of a user error
    assert done.stderr.startswith("Traceback") and done.stderr.rstrip().endswith("nope.csv: no such file or folder")


def test_usage_errors_exit_2():
    done = run_process("check", "--no-such-option")
    assert done.returncode == 2 and done.stdout == ""
    assert "No such option: --no-such-option" in done.stderr and "Traceback" not in done.stderr


def test_help_explains_every_option():
    done = run("check", "--help")
    assert done.returncode == 0 and done.stderr == ""
    for option in ("--pixel", "--capi", "--orders", "--platform", "--rules", "--timezone", "--since", "--until",
                   "--exclude-statuses", "--format", "--output", "--fail-on", "--rejects", "--debug"):
        assert option in done.stdout


def test_output_file_and_rejects_file(tmp_path):
    rows = PAIR + [dict(PAIR[0], event_time="not-a-date", event_id="someone@example.com")]
    pixel = write_jsonl(tmp_path / "p.jsonl", rows)
    done = run("check", "--pixel", pixel, "--output", tmp_path / "out.json", "--rejects", tmp_path / "rejects.csv")
    assert done.stdout == "" and done.returncode == 0
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["inputs"]["pixel"] == {"files": [str(pixel)], "rows": 2, "rejected": 1,
                                       "rejected_reasons": {"event_time is not a timestamp": 1}, "outside_period": 0,
                                       "normalised_order_ids": 0, "numeric_ids": 0,
                                       "per_file": [{"file": str(pixel), "rows": 2, "used": 1, "rejected": 1,
                                                     "rejected_reasons": {"event_time is not a timestamp": 1},
                                                     "encoding": "utf-8"}]}
    rejects = (tmp_path / "rejects.csv").read_text().splitlines()
    assert rejects[0] == "input,file,row,source_ref,reason,value"
    assert rejects[1].endswith(",2,,event_time is not a timestamp,not-a-date")


def test_personal_data_never_reaches_the_output(tmp_path):
    # A wrongly mapped export: an email as the pixel's ID and a phone number as the order ID.
    rows = [dict(PAIR[0], event_id="jane.doe@example.com", order_id="+49 151 23456789")]
    capi = [dict(PAIR[0], order_id="+49 151 23456789")]
    done = run("check", "--pixel", write_jsonl(tmp_path / "p.jsonl", rows), "--capi", write_jsonl(tmp_path / "c.jsonl", capi),
               "--format", "json")
    [mismatch] = [f for f in json.loads(done.stdout)["findings"] if f["name"] == "mismatched-event-ids"]
    shown = json.dumps(mismatch["examples"])  # the finding's examples carry both values, masked
    assert shown.count("<redacted:") >= 2
    assert "jane.doe" not in done.stdout + done.stderr and "23456789" not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def example_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("example") / "result.json"
    done = run("check", "--pixel", EXAMPLES / "pixel_events.csv", "--capi", EXAMPLES / "capi_events.jsonl",
               "--orders", EXAMPLES / "orders.csv", "-o", out)
    assert done.returncode == 1 and done.stdout == ""  # the example shop is broken on purpose; the report went to -o
    return json.loads(out.read_text())


def test_cli_json_equals_the_library_result(example_json):
    from dedupaudit.engine.run import run_audit
    from dedupaudit.inputs.canonical import load_events, load_orders
    from dedupaudit.inputs.timestamps import resolve_timezone
    from dedupaudit.platforms.rules import load_rules
    from dedupaudit.reports.json_report import render
    from dedupaudit.settings import Settings

    rules, utc = load_rules(), resolve_timezone("UTC")
    result = run_audit(
        load_events([EXAMPLES / "pixel_events.csv"], "pixel", utc, None, set(rules)),
        load_events([EXAMPLES / "capi_events.jsonl"], "capi", utc, None, set(rules)),
        load_orders([EXAMPLES / "orders.csv"], utc), rules, Settings())
    library = json.loads(render(result))
    for side in ("pixel", "capi", "orders"):  # the CLI names files as given on its command line
        library["inputs"][side]["files"] = example_json["inputs"][side]["files"]
    assert library == example_json


def test_example_shop_shows_every_failure_and_a_clean_platform(example_json):
    by_platform = {}
    for f in example_json["findings"]:
        by_platform.setdefault(f["platform"], set()).add(f["name"])
    # Google's IDs are clean; its only cause is that the tag and the click-conversion upload are two actions.
    assert by_platform["google"] == {"order-counted-in-several-actions", "inflated-conversions"}
    everything = set().union(*by_platform.values())
    for name in ("server-events-without-id", "browser-events-without-id", "placeholder-event-ids", "reused-event-ids",
                 "mismatched-event-ids", "near-miss-event-ids", "event-name-drift", "case-only-name-drift",
                 "unknown-event-names", "pairs-outside-window", "wrong-time-unit", "events-too-old",
                 "inflated-conversions", "low-coverage", "rejected-rows", "order-counted-in-several-actions"):
        assert name in everything, name
    for f in example_json["findings"]:
        assert len(f["examples"]) <= 5 and f["message"] and f["hint"]
