"""Output safety: redaction patterns, control characters, formula cells, outputs that would hit an input, atomic writes."""

from __future__ import annotations

import io
import json
import os

import pandas as pd
import pytest

from dedupaudit import outputs
from dedupaudit.errors import UserError
from dedupaudit.privacy import clean, clean_table, escape_controls, one_line, redact
from tests.conftest import write_jsonl
from tests.test_cli import ORDERS, PAIR, run

PERSONAL = ["jo.doe+x@example.co.uk", "a%40b.com", "+49 171 1234567", "+4917112345678", "(555) 123-4567", "555-123-4567",
            "0171 1234567", "030 12345678", "192.168.1.20", "2001:db8::8a2e:370:7334", "fe80::1", "::1"]
NOT_PERSONAL = ["::error file=a.csv::boom", "::add", "09:14:03", "2026-10-05 09:14:03", "2026-10-05T09:14:03Z", "1001",
                "1001-1696500000", "ord-2026-000123", "1696500000000", "1,870 orders", "version 1.2.3", "19.99", "300.1.1.1",
                "evt_1696500000_123", "#1001", "undefined"]


@pytest.mark.parametrize("value", PERSONAL)
def test_personal_data_is_masked_alone_and_inside_text(value):
    assert redact(value).startswith("<redacted:") and value not in redact(value)
    inside = redact(f"order for {value}, thanks")
    assert value not in inside and inside.startswith("order for <redacted:") and inside.endswith(", thanks")
    assert redact(value) == redact(value)  # stable: the same value gets the same mask in every output


@pytest.mark.parametrize("value", NOT_PERSONAL)
def test_ids_times_and_workflow_commands_are_kept(value):
    assert redact(value) == value


def test_control_characters_are_escaped_and_text_kept():
    hostile = "Purchase\x1b[2J\x1b]0;pwned\x07\n::error::fake\x9b\u202e"
    shown = escape_controls(hostile)
    assert shown == "Purchase\\x1b[2J\\x1b]0;pwned\\x07\\x0a::error::fake\\x9b\\u202e"
    assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in shown)
    assert clean("a@b.co\x1b") == redact("a@b.co") + "\\x1b"


def test_one_line_is_one_short_clean_line():
    assert one_line("first a@b.co\nsecond") == f"first {redact('a@b.co')}"
    assert len(one_line("x" * 10_000)) == 300


def test_clean_table_ignores_dtype_names():
    """Every string cell is cleaned whatever the column's dtype (object, str, string, Arrow)."""
    frame = pd.DataFrame({"obj": pd.Series(["a@b.co"], dtype=object), "text": pd.Series(["10.0.0.1"], dtype="string"),
                          "arrow": pd.Series(["+1 555 123 4567"], dtype="string[pyarrow]"), "n": [1.5]})
    cleaned = clean_table(frame)
    assert cleaned.loc[0, "n"] == 1.5
    assert all(str(cleaned.loc[0, c]).startswith("<redacted:") for c in ("obj", "text", "arrow"))


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_defused(cell):
    assert outputs.defuse_formula(cell) == "'" + cell
    written = pd.read_csv(io.StringIO(outputs.csv_text(pd.DataFrame({"value": [cell]}))), dtype=str)["value"][0]
    assert not written.startswith(outputs.FORMULA_START)  # defused with an apostrophe, or a control character escaped
    assert written.startswith("'") or written.startswith("\\x")


def test_write_is_atomic_and_refuses_inputs(tmp_path):
    source = tmp_path / "in" / "p.csv"
    source.parent.mkdir()
    source.write_text("keep")
    outputs.protect(files=[source], folders=[source.parent])
    try:
        with pytest.raises(UserError, match="this is the input file"):
            outputs.write(source, "x", "--output")
        with pytest.raises(UserError, match="inside the input folder"):
            outputs.write(source.parent / "report.json", "x", "--output")
        with pytest.raises(UserError, match="holds the input file"):
            outputs.check_folder(tmp_path, "--export-failures")
        (tmp_path / "busy").mkdir()  # a folder where the file should go: the rename fails, nothing is left behind
        with pytest.raises(UserError, match="cannot write"):
            outputs.write(tmp_path / "busy", "x")
        outputs.write(tmp_path / "r.txt", "done")
    finally:
        outputs.protect()
    assert source.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "in", "r.txt"]  # no temporary file left


def _shop(tmp_path):
    return ["--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), "--capi", write_jsonl(tmp_path / "c.json", [dict(PAIR[0], event_id="")]),
            "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS)]


@pytest.mark.parametrize("option,name", [("-o", "c.json"), ("--rejects", "p.jsonl"), ("--rejects", "o.jsonl")])
def test_an_output_over_an_input_file_is_exit_2_naming_both(tmp_path, option, name):
    args = _shop(tmp_path)
    target = tmp_path / name
    before = target.read_text()
    done = run("check", *args, option, target, "--quiet")
    assert done.returncode == 2
    assert str(target) in done.stderr and "input file" in done.stderr
    assert target.read_text() == before


def test_outputs_inside_an_input_folder_are_refused(tmp_path):
    folder = tmp_path / "pixel"
    folder.mkdir()
    write_jsonl(folder / "p.jsonl", PAIR)
    base = ["--pixel", folder, "--capi", write_jsonl(tmp_path / "c.jsonl", PAIR), "--quiet"]
    for extra, named in ((["--output", folder / "r.json"], f"lies inside the input folder {folder}"),
                         (["--export-failures", folder / "failures"], f"lies inside the input folder {folder}"),
                         (["--export-failures", tmp_path], f"holds the input file {tmp_path / 'c.jsonl'}")):
        done = run("check", *base, *extra)
        assert done.returncode == 2, (extra, done.stderr)
        assert f"{extra[0]} {extra[1]}: {named}" in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["p.jsonl"]


def test_diff_output_over_an_input_is_refused(tmp_path):
    args = _shop(tmp_path)
    assert run("check", *args, "-o", tmp_path / "a.json", "--quiet").returncode == 1
    before = (tmp_path / "a.json").read_text()
    done = run("diff", tmp_path / "a.json", tmp_path / "a.json", "-o", tmp_path / "a.json")
    assert done.returncode == 2 and "input file" in done.stderr and (tmp_path / "a.json").read_text() == before


def test_an_export_that_cannot_be_written_is_exit_2(tmp_path):
    """Root ignores read-only folders, so the failing write is a folder standing where the Parquet file goes."""
    blocked = tmp_path / "f" / "DA101-server-events-without-id-google-purchase.parquet"
    blocked.mkdir(parents=True)
    done = run("check", *_shop(tmp_path), "--export-failures", tmp_path / "f", "--export-format", "parquet", "--quiet")
    assert done.returncode == 2 and "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_a_baseline_whose_ratio_is_text_is_exit_2(tmp_path):
    args = _shop(tmp_path)
    run("check", *args, "-o", tmp_path / "b.json", "--quiet")
    data = json.loads((tmp_path / "b.json").read_text())
    data["platforms"][0]["inflation_ratio"] = "2.0"
    (tmp_path / "b.json").write_text(json.dumps(data))
    done = run("check", *args, "--baseline", tmp_path / "b.json", "--quiet")
    assert done.returncode == 2 and "inflation_ratio is '2.0', not a number" in done.stderr
    done = run("diff", tmp_path / "b.json", tmp_path / "b.json")
    assert done.returncode == 2 and "not a number" in done.stderr


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        outputs.write(tmp_path / "new.txt", "x")
        (tmp_path / "kept.txt").write_text("old")
        (tmp_path / "kept.txt").chmod(0o640)
        outputs.write(tmp_path / "kept.txt", "new")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o640 and (tmp_path / "kept.txt").read_text() == "new"


def test_strict_turns_any_reject_into_exit_2_after_writing_the_reports(tmp_path):
    rows = PAIR + [dict(PAIR[0], event_time="not-a-date")]
    args = ["--pixel", write_jsonl(tmp_path / "p.jsonl", rows), "--quiet", "-o", tmp_path / "r.json", "--rejects", tmp_path / "rej.csv"]
    assert run("check", *args).returncode == 0
    done = run("check", *args, "--strict")
    assert done.returncode == 2
    assert done.stderr == f"dedupaudit: error: --strict: 1 input row rejected, first in {tmp_path / 'p.jsonl'}: 1 " \
                          "(event_time is not a timestamp: 1); list them with --rejects FILE\n"
    assert (tmp_path / "r.json").exists() and len((tmp_path / "rej.csv").read_text().splitlines()) == 2
    assert run("check", "--pixel", write_jsonl(tmp_path / "ok.jsonl", PAIR), "--quiet", "--strict").returncode == 0


def test_export_names_stay_in_the_folder(tmp_path):
    import pyarrow as pa

    from dedupaudit.outputs import FailureExport as _Export
    from dedupaudit.result import Finding

    hostile = Finding("DA1/../../x", "a/b", "error", "../../etc", "..", 1, "events", "m", "h")
    _Export(tmp_path / "f", "csv")(hostile, pa.Table.from_pandas(pd.DataFrame({"event_id": ["=x"]})).to_reader())
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 1 and written[0].parent == tmp_path / "f" and ".." not in written[0].name
    assert written[0].read_text().splitlines()[1] == "'=x"


@pytest.mark.parametrize("fmt", ["rich", "markdown", "html", "junit", "github", "json", "sarif"])
def test_control_characters_are_shown_escaped_in_every_format(tmp_path, fmt):
    name = "Purchase\x1b]0;pwned\x07\x1b[2J[bold]x"
    rows = [dict(PAIR[0], event_name=name, platform="meta"), dict(PAIR[0], event_time="bad\x1b[31m", platform="meta")]
    done = run("check", "--pixel", write_jsonl(tmp_path / "p.jsonl", rows), "--format", fmt)
    assert done.returncode in (0, 1), done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    shown = done.stdout.replace("\\\\", "\\")  # JSON doubles the backslash
    assert "\\x1b]0;pwned\\x07" in shown


def test_outputs_matching_an_input_glob_or_the_baseline_are_refused(tmp_path):
    write_jsonl(tmp_path / "p1.jsonl", PAIR)
    pattern = str(tmp_path / "p*.jsonl")
    done = run("check", "--pixel", pattern, "--rejects", tmp_path / "p-rejects.jsonl", "--quiet")
    assert done.returncode == 2 and f"matches the input pattern {pattern}" in done.stderr
    assert not (tmp_path / "p-rejects.jsonl").exists()
    assert run("check", "--pixel", pattern, "-o", tmp_path / "b.json", "--quiet").returncode == 0
    done = run("check", "--pixel", pattern, "--baseline", tmp_path / "b.json", "-o", tmp_path / "b.json", "--quiet")
    assert done.returncode == 2 and f"this is the input file {tmp_path / 'b.json'}" in done.stderr
