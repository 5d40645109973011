"""check's outputs: several reports in one run, the rows behind each finding, baselines, rules and explain.

In-process (`run`, Typer's CliRunner) except the progress display, which needs a real terminal on stderr.
"""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import write_jsonl
from tests.test_cli import ORDERS, PAIR, run


def _broken_shop(tmp_path):
    capi = [dict(PAIR[0], event_id="")]
    return ["--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), "--capi", write_jsonl(tmp_path / "c.jsonl", capi),
            "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS)]


def test_several_outputs_take_their_format_from_the_extension(tmp_path):
    done = run("check", *_broken_shop(tmp_path), "-o", tmp_path / "r.json", "-o", tmp_path / "r.txt", "--quiet")
    assert done.returncode == 1 and done.stdout == "" and done.stderr == ""
    data = json.loads((tmp_path / "r.json").read_text())
    assert [(f["code"], f["platform"], f["count"]) for f in data["findings"]] == [("DA101", "google", 1), ("DA113", "google", 1)]
    terminal = (tmp_path / "r.txt").read_text()
    assert "DA101 server-events-without-id" in terminal and "\x1b[" not in terminal  # plain text in a file
    done = run("check", *_broken_shop(tmp_path), "-o", tmp_path / "r.unknown")
    assert done.returncode == 2 and "cannot tell the format" in done.stderr and "r.unknown" in done.stderr
    assert not (tmp_path / "r.unknown").exists()
    # An explicit --format still goes to stdout next to the files.
    done = run("check", *_broken_shop(tmp_path), "-o", tmp_path / "r2.json", "--format", "json", "--quiet")
    assert json.loads(done.stdout) == json.loads((tmp_path / "r2.json").read_text())


def test_export_failures_writes_the_rows_behind_each_finding(tmp_path):
    done = run("check", *_broken_shop(tmp_path), "--export-failures", tmp_path / "failures", "--quiet")
    assert done.returncode == 1
    files = sorted(p.name for p in (tmp_path / "failures").iterdir())
    assert "DA101-server-events-without-id-google-purchase.csv" in files
    rows = pd.read_csv(tmp_path / "failures" / "DA101-server-events-without-id-google-purchase.csv")
    assert rows[["side", "row", "platform", "event_name"]].values.tolist() == [["capi", 1, "google", "purchase"]]
    assert rows["file"].tolist()[0].endswith("c.jsonl")


def test_export_failures_as_parquet(tmp_path):
    done = run("check", *_broken_shop(tmp_path), "--export-failures", tmp_path / "f", "--export-format", "parquet", "--quiet")
    assert done.returncode == 1
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["DA101-server-events-without-id-google-purchase.parquet"]
    rows = pd.read_parquet(tmp_path / "f" / "DA101-server-events-without-id-google-purchase.parquet")
    assert rows[["side", "row", "platform", "event_name", "order_id"]].values.tolist() == [["capi", 1, "google", "purchase", "1"]]


def test_baseline_regression_exits_1_and_is_in_the_json(tmp_path):
    clean = ["--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), "--capi", write_jsonl(tmp_path / "c2.jsonl", PAIR),
             "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS)]
    assert run("check", *clean, "-o", tmp_path / "before.json", "--quiet").returncode == 0
    same = run("check", *clean, "--baseline", tmp_path / "before.json", "--format", "json")
    assert same.returncode == 0 and json.loads(same.stdout)["baseline"]["regressed"] is False
    worse = run("check", *_broken_shop(tmp_path), "--baseline", tmp_path / "before.json", "--fail-on", "never", "--format", "json")
    assert worse.returncode == 1  # a regression fails even with --fail-on never
    assert json.loads(worse.stdout)["baseline"]["regressed"] is True
    assert "inflation" in worse.stderr
    alone = run("check", *clean, "--tolerance", "inflation_ratio=0.5")
    assert alone.returncode == 2 and "--tolerance only applies with --baseline" in alone.stderr


def test_rules_list_and_explain():
    listed = run("rules", "list")
    assert listed.returncode == 0 and "DA105  mismatched-event-ids" in listed.stdout
    explained = run("explain", "mismatched-event-ids")
    assert explained.returncode == 0
    for heading in ("What it checks", "Why it matters", "Example", "How to fix", "Options"):
        assert heading in explained.stdout
    assert "Meta: `eventID` (browser) and `event_id` (server)" in explained.stdout
    unknown = run("explain", "DA999")
    assert unknown.returncode == 2 and unknown.stderr == "dedupaudit: error: unknown check 'DA999' (see `dedupaudit rules list`)\n"
    platforms = run("rules", "platforms").stdout.splitlines()
    assert "same-source" in platforms[0]
    meta = next(line.split() for line in platforms if line.startswith("meta "))
    assert meta[:4] == ["meta", "facebook,", "fb", "48"]


def test_github_annotations_are_the_default_under_github_actions(tmp_path):
    done = run("check", *_broken_shop(tmp_path), env={"GITHUB_ACTIONS": "true"})
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("::error title=DA101 server-events-without-id (Google Ads)::1 purchase event from the server")
    assert lines[1].startswith("::warning title=DA113 inflated-conversions (Google Ads)::")
    assert "1 error, 1 warning, 0 notes (1 at or above error)" in lines[2]
    assert run("check", *_broken_shop(tmp_path), env={"GITHUB_ACTIONS": ""}).stdout.lstrip().startswith("{")


def test_title_and_client_reach_the_html_report(tmp_path):
    done = run("check", *_broken_shop(tmp_path), "-o", tmp_path / "r.html", "--title", "Q4 audit", "--client", "Acme <Shop>", "--quiet")
    html = (tmp_path / "r.html").read_text()
    assert done.returncode == 1
    assert "Q4 audit" in html and "Acme &lt;Shop&gt;" in html and "Acme <Shop>" not in html


def test_progress_shows_on_a_terminal_only_and_never_on_stdout(tmp_path):
    """With stderr on a terminal the progress display draws there; stdout stays pure JSON; --quiet turns it off."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    def run_with_tty_stderr(*extra):
        leader, follower = pty.openpty()
        drawn = bytearray()

        def drain():  # read while the command runs, or it blocks on a full terminal buffer
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                drawn.extend(chunk)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        done = subprocess.run([sys.executable, "-m", "dedupaudit", "check", *map(str, _broken_shop(tmp_path)), "--format", "json", *extra],
                              stdout=subprocess.PIPE, stderr=follower, text=True, timeout=120)
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
        return done, bytes(drawn)

    done, drawn = run_with_tty_stderr()
    assert json.loads(done.stdout)["schema_version"] == 1
    assert b"\x1b[" in drawn  # the live display's terminal control codes
    done, drawn = run_with_tty_stderr("--quiet")
    assert json.loads(done.stdout)["schema_version"] == 1
    assert drawn == b""
