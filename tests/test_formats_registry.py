"""One registry of report formats: check, diff, the config and the Python API agree on names and extensions,
and a wrong format or extension stops the run before anything is read or written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dedupaudit import config
from dedupaudit.cli.main import app
from dedupaudit.reports import EXTENSIONS, FORMATS, RENDERERS, RenderOptions
from dedupaudit.reports import diff_report

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "canonical"


def test_the_config_and_the_registry_name_the_same_formats():
    assert set(config.FORMATS) == set(FORMATS) == set(RENDERERS)
    assert EXTENSIONS[".sarif"] == "sarif" and EXTENSIONS[".md"] == "markdown" and EXTENSIONS[".xml"] == "junit"


def test_diff_renderers_take_the_audits_signature(tmp_path):
    from dedupaudit.baseline import compare
    from tests.report_helpers import example_result
    data = __import__("json").loads(RENDERERS["json"](example_result(), RenderOptions()))
    diff = compare(data, data)
    for name, render in diff_report.RENDERERS.items():
        assert name in FORMATS
        assert render(diff, RenderOptions(width=90)).strip()


def test_a_bad_extension_or_format_stops_before_anything_is_written(tmp_path):
    good = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(EXAMPLES / "pixel_events.csv"),
                           "-o", str(good), "-o", str(tmp_path / "report.pdf")], capture_output=True, text=True)
    assert done.returncode == 2 and "report.pdf: cannot tell the format from the extension" in done.stderr
    assert not good.exists()
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(EXAMPLES / "pixel_events.csv"),
                           "-o", str(good), "--export-failures", str(tmp_path / "rows"), "--export-format", "xlsx"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "--export-format: 'xlsx' is not one of csv, parquet" in done.stderr
    assert not good.exists() and not (tmp_path / "rows").exists()


def test_diff_uses_the_registry_extensions(tmp_path):
    result = tmp_path / "r.json"
    CliRunner().invoke(app, ["check", "--pixel", str(EXAMPLES / "pixel_events.csv"), "-o", str(result), "--quiet"])
    assert result.exists()
    ok = CliRunner().invoke(app, ["diff", str(result), str(result), "-o", str(tmp_path / "d.md")])
    assert ok.exit_code == 0 and (tmp_path / "d.md").read_text().startswith("## dedupaudit diff: no regression")
    bad = CliRunner().invoke(app, ["diff", str(result), str(result), "-o", str(tmp_path / "d.html")])
    assert bad.exit_code == 2 and "d.html: html is not one of rich, json, markdown for a diff (.json .md .txt)" in bad.output
    assert not (tmp_path / "d.html").exists()
