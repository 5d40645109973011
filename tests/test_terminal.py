"""The terminal experience: progress display, fast start, completion, help texts, wording, missing inputs."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dedupaudit.cli.main import app
from dedupaudit.cli.progress import Tracker, progress
from dedupaudit.wording import agree, plural
from tests.conftest import platform_entry

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


# --- progress display -------------------------------------------------------------------------------

def _fake_terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=160), buffer


def _visible(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_progress_shows_stage_counts_and_redacted_path_then_clears_itself():
    console, buffer = _fake_terminal()
    with progress(True, stages=3, console=console) as tracker:
        tracker.stage("reading the inputs")
        tracker.file_read("/data/jane.doe@example.com/pixel.csv", 1_234_567)
        tracker.file_read("capi.jsonl", 1)
        tracker.stage("auditing")
        during = buffer.getvalue()
    shown = _visible(during)
    assert "stage 1/3: reading the inputs" in shown
    assert "1 file, 1,234,567 rows read" in shown
    assert "2 files, 1,234,568 rows read (last: capi.jsonl)" in shown
    assert "stage 2/3: auditing" in shown
    assert "jane.doe@example.com" not in during  # the path is redacted like every other output
    # Leaving the block erases the display: after its last frame come only cursor-up and erase-line codes.
    after = buffer.getvalue()[len(during):]
    tail = after[after.rindex("rows read"):] if "rows read" in after else after
    assert "\x1b[2K" in tail and "\x1b[1A" in tail
    assert after.endswith("\x1b[2K"), repr(after[-40:])


def test_a_note_printed_during_the_display_goes_above_it():
    console, buffer = _fake_terminal()
    with progress(True, stages=1, console=console) as tracker:
        tracker.stage("writing reports")
        print("dedupaudit: wrote json report to r.json", file=sys.stderr)
        tracker.stage("done")
    shown = _visible(buffer.getvalue())
    assert "dedupaudit: wrote json report to r.json\n" in shown  # a line of its own, not inside a frame


def test_progress_is_a_no_op_when_disabled_or_not_a_terminal(monkeypatch):
    console, buffer = _fake_terminal()
    with progress(False, stages=2, console=console) as tracker:  # --quiet
        tracker.stage("reading")
        tracker.file_read("a.csv", 3)
        tracker("old-style step")
    assert type(tracker) is Tracker and buffer.getvalue() == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with progress(True, stages=2) as tracker:
        tracker.stage("reading")
    assert type(tracker) is Tracker


def test_progress_is_on_for_a_terminal_stderr(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with progress(True) as tracker:
        assert type(tracker) is not Tracker
        tracker("reading a.csv")  # the one-argument form check.py used before stage()/file_read()


# --- fast --version and --help ----------------------------------------------------------------------

def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, check=True)


HEAVY = "sorted(m for m in ('pandas','pyarrow','duckdb','numpy') if m in sys.modules)"


def test_building_the_cli_loads_no_heavy_module():
    assert _run(f"import dedupaudit.cli.main, sys; print({HEAVY})").stdout.strip() == "[]"


def test_every_other_cli_module_loads_no_heavy_module():
    """The same, with check.py stood in for by an empty module: everything else under cli/ is lazy."""
    code = ("import sys, types; sys.modules['dedupaudit.cli.check'] = types.ModuleType('dedupaudit.cli.check'); "
            f"import dedupaudit.cli.main; print({HEAVY}, 'rich.progress' in sys.modules)")
    assert _run(code).stdout.strip() == "[] False"


def test_generate_names_spelled_in_the_cli_equal_the_generator():
    from dedupaudit.cli import generate_cmd
    from dedupaudit.generate.shop import PLATFORMS
    from dedupaudit.generate.writers import WRITERS

    assert generate_cmd.WRITERS == tuple(WRITERS) and generate_cmd.PLATFORMS == tuple(PLATFORMS)


def test_init_default_is_the_config_name():
    from dedupaudit import config

    init = next(c for c in app.registered_commands if c.callback.__name__ == "init")
    assert str(init.callback.__defaults__[0].default) == config.CONFIG_NAME


# --- completion -------------------------------------------------------------------------------------

def test_show_completion_prints_a_bash_script():
    # Typer takes the shell from the process's ancestors (shellingham), not from an argument: under a bash parent,
    # as a user types it. Without one (pytest started detached, its parent gone) it answers "Shell  not supported."
    result = subprocess.run(["bash", "-c", '"$0" -m dedupaudit --show-completion; exit $?', sys.executable], capture_output=True,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr
    assert "complete -o default -F" in result.stdout and "_COMPLETE=complete_bash" in result.stdout


def test_command_lists_show_whole_summaries():
    for command in ([], ["rules"], ["config"]):
        text = _help(*command)
        assert "..." not in text.split("\n", 1)[1], text  # below the usage line (COMMAND [ARGS]...)
    assert "Simulate what each ad platform would count and report missing IDs, mismatched IDs, name drift and " \
           "inflation." in " ".join(_help().split())


def test_help_offers_install_completion():
    assert "--install-completion" in runner.invoke(app, ["--help"], env={"COLUMNS": "80"}).output


# --- help texts -------------------------------------------------------------------------------------

def _help(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80", "TERM": "dumb"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def _help_words(command) -> set[str]:
    words = set()
    for param in command.params:
        for word in (param.help or "").replace("\\[", "[").split():
            words.add(word)
    return words


COMMANDS = ["check", "diff", "generate", "inspect", "formats", "init", "explain", "config show", "rules list",
            "rules platforms", "rules facts"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_at_80_columns_has_no_type_labels_and_no_cut_text(command):
    """No `<list[str]>`/`<path>` labels, no default or summary cut short ('…', '...'), nothing wider than 80."""
    import typer.main

    text = _help(*command.split())
    assert not re.search(r"<(list|text|str|path|int|bool)[^>]*>", text, re.IGNORECASE), \
        re.findall(r"<[^>]+>", text)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("Usage:"))  # usage: {FILE}...
    assert "…" not in body and "..." not in body  # a default, help or summary cut short
    assert max(len(line) for line in text.splitlines()) <= 80
    # every word of every option's help appears whole: none was cut across lines (a break after a hyphen,
    # as the help wrapper does in 'meta-capi', is not a cut)
    click_command = typer.main.get_command(app)
    for name in command.split():
        click_command = click_command.commands[name]
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split()).replace("- ", "-")
    missing = [w for w in _help_words(click_command) if w not in flat]
    assert not missing, missing


def test_value_options_are_named_by_what_they_take():
    text = _help("check")
    for option, metavar in (("--pixel", "FILE"), ("--rules", "FOLDER"), ("--tolerance", "METRIC=VALUE"),
                            ("--output", "FILE"), ("--threads", "N")):
        assert re.search(rf"{option}\s+(-\w\s+)?{re.escape(metavar)}\b", text), option


# --- formats names nothing outside the package ------------------------------------------------------

def test_formats_and_rule_facts_name_no_path_a_user_does_not_have():
    for command in (["formats"], ["formats", "-f", "json"], ["rules", "facts"]):
        output = runner.invoke(app, command).output
        assert "../" not in output and "shared/platforms" not in output and "tests/fixtures" not in output, command


# --- wording ----------------------------------------------------------------------------------------

def test_plural_and_agree():
    assert plural(1, "order") == "1 order" and plural(2, "order") == "2 orders"
    assert plural(1, "event ID") == "1 event ID" and plural(1_250, "event ID") == "1,250 event IDs"
    assert plural(0, "file") == "0 files" and plural(2, "entry", "entries") == "2 entries"
    assert agree(1, "carries", "carry") == "carries" and agree(2, "carries", "carry") == "carry"


def _refused(n: int) -> list[dict]:
    return [{"platform": "meta", "event_name": "Purchase", "event_id": f"E{i}", "order_id": str(i),
             "event_time": "2026-01-05T10:00:00Z", "delivery": "refused"} for i in range(n)]


@pytest.mark.parametrize("n, expected", [(1, "1 event was refused"), (2, "2 events were refused")])
def test_finding_messages_agree_with_their_count(audit, n, expected):
    result = audit(capi=_refused(n))
    message = next(f.message for f in result.findings if f.name == "refused-events")
    assert message.startswith(expected), message


@pytest.mark.parametrize("n, expected", [(1, "1 purchase event from the browser (pixel) carries no event ID"),
                                         (2, "2 purchase events from the browser (pixel) carry no event ID")])
def test_missing_id_message_agrees_with_its_count(audit, n, expected):
    pixel = [{"platform": "meta", "event_name": "Purchase", "event_id": "", "order_id": str(i),
              "event_time": "2026-01-05T10:00:00Z"} for i in range(n)]
    message = next(f.message for f in audit(pixel).findings if f.name == "browser-events-without-id")
    assert message.startswith(expected), message


# --- a run without one of the inputs ----------------------------------------------------------------

def _shop(n: int = 40):
    """n orders, each reported by the pixel and the server with the same ID."""
    pixel, capi, orders = [], [], []
    for i in range(n):
        event = {"platform": "meta", "event_name": "Purchase", "event_id": f"ORD-{i}", "order_id": f"ORD-{i}",
                 "event_time": "2026-01-05T10:00:00Z", "value": 20, "currency": "EUR"}
        pixel.append(event)
        capi.append(dict(event, event_time="2026-01-05T10:00:30Z"))
        orders.append({"order_id": f"ORD-{i}", "created_at": "2026-01-05T09:59:00Z", "value": 20, "currency": "EUR"})
    return pixel, capi, orders


def _missing(result):
    return [f for f in result.findings if f.name == "input-missing"]


def test_all_inputs_given_no_input_missing_finding(audit):
    pixel, capi, orders = _shop()
    result = audit(pixel, capi, orders)
    assert not _missing(result)
    assert platform_entry(result, "meta").coverage == {"pixel": 1.0, "capi": 1.0, "any": 1.0}


def test_without_capi_server_figures_are_unknown_not_failures(audit):
    pixel, _, orders = _shop()
    result = audit(pixel, (), orders)
    [missing] = _missing(result)
    assert (missing.code, missing.severity, missing.platform) == ("DA121", "info", None)
    assert "server (CAPI) events (--capi)" in missing.message and "CAPI coverage" in missing.message
    assert platform_entry(result, "meta").coverage == {"pixel": 1.0, "capi": None, "any": 1.0}
    assert not [f for f in result.findings if f.name == "low-coverage"], [f.message for f in result.findings]
    assert result.to_dict()["findings"][0]["name"] == "input-missing"


def test_without_capi_a_missing_browser_id_does_not_claim_what_the_server_does(audit):
    pixel, _, orders = _shop()
    pixel[0] = dict(pixel[0], event_id="")
    [finding] = [f for f in audit(pixel, (), orders).findings if f.name == "browser-events-without-id"]
    assert "cannot be told whether" in finding.message and "No purchase events from the server" not in finding.message


def test_without_pixel_browser_figures_are_unknown_not_failures(audit):
    _, capi, orders = _shop()
    result = audit((), capi, orders)
    [missing] = _missing(result)
    assert "browser-pixel events (--pixel)" in missing.message and "pixel coverage" in missing.message
    assert platform_entry(result, "meta").coverage == {"pixel": None, "capi": 1.0, "any": 1.0}
    assert not [f for f in result.findings if f.name == "low-coverage"]


def test_without_orders_inflation_is_null_and_said_why(audit):
    pixel, capi, _ = _shop()
    result = audit(pixel, capi, ())
    [missing] = _missing(result)
    assert "orders (--orders)" in missing.message and "inflation ratio" in missing.message
    meta = platform_entry(result, "meta")
    assert meta.inflation_ratio is None and meta.extra_conversions is None and meta.orders is None
    assert not [f for f in result.findings if f.name in ("inflated-conversions", "under-reported-conversions",
                                                         "low-coverage", "purchases-without-real-order")]


def test_a_platform_without_server_events_still_warns_when_the_server_input_was_given(audit):
    """0% coverage is a real finding when --capi was given and only this platform is missing from it."""
    pixel, capi, orders = _shop()
    tiktok = [dict(e, platform="tiktok", event_name="CompletePayment") for e in pixel]
    result = audit(pixel + tiktok, capi, orders)
    assert not _missing(result)
    low = [f for f in result.findings if f.name == "low-coverage" and f.platform == "tiktok"]
    assert low and "server (CAPI)" in low[0].message
