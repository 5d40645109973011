"""The Python API: paths, DataFrames and Arrow tables in, the same figures as the CLI out; errors as InputError."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import dedupaudit
from dedupaudit import InputError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "canonical"
PIXEL, CAPI, ORDERS = EXAMPLES / "pixel_events.csv", EXAMPLES / "capi_events.jsonl", EXAMPLES / "orders.csv"


def figures(data: dict) -> tuple:
    """What the audit concluded, without the input file names."""
    return data["platforms"], [(f["code"], f["platform"], f["event"], f["count"]) for f in data["findings"]], data["daily"]


@pytest.fixture(scope="module")
def from_paths():
    return dedupaudit.audit(pixel=PIXEL, capi=str(CAPI), orders=[ORDERS])


@pytest.fixture(scope="module")
def cli_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "result.json"
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(PIXEL), "--capi", str(CAPI),
                           "--orders", str(ORDERS), "-o", str(out), "--quiet"], capture_output=True, text=True)
    return done.returncode, json.loads(out.read_text())


def test_paths_give_the_cli_result(from_paths, cli_json):
    code, data = cli_json
    assert from_paths.to_dict() == data
    assert from_paths.exit_code() == code == 1


def test_dataframes_and_arrow_tables_give_the_same_figures(from_paths):
    frames = dedupaudit.audit(pixel=pd.read_csv(PIXEL, dtype=str), capi=pd.read_json(CAPI, lines=True, dtype=False),
                              orders=pd.read_csv(ORDERS, dtype=str))
    assert figures(frames.to_dict()) == figures(from_paths.to_dict())
    arrow = dedupaudit.audit(pixel=pa_csv.read_csv(PIXEL), capi=CAPI, orders=pa_csv.read_csv(ORDERS))
    assert figures(arrow.to_dict()) == figures(from_paths.to_dict())
    assert arrow.to_dict()["inputs"]["pixel"]["files"] == ["pixel table"]


def test_a_list_may_mix_paths_and_tables(from_paths, tmp_path):
    pixel = pd.read_csv(PIXEL, dtype=str)
    first, second = pixel.iloc[:9000], pixel.iloc[9000:]
    second.to_csv(tmp_path / "second.csv", index=False)
    mixed = dedupaudit.audit(pixel=[first, tmp_path / "second.csv"], capi=CAPI, orders=ORDERS)
    assert figures(mixed.to_dict()) == figures(from_paths.to_dict())
    files = mixed.to_dict()["inputs"]["pixel"]["per_file"]
    assert [(f["file"], f["rows"]) for f in files] == [("pixel table 1", 9000), (str(tmp_path / "second.csv"), len(second))]


def test_typed_columns_in_a_dataframe():
    """Timestamps as datetime64 with a zone, IDs as numbers: read as a Parquet file's typed columns are."""
    pixel = pd.DataFrame({"platform": ["meta"], "event_name": ["Purchase"], "event_id": [1001.0],
                          "event_time": pd.to_datetime(["2026-11-01T10:00:00+01:00"]), "order_id": [1001.0], "value": [10.5]})
    capi = pixel.assign(event_id=["1001"], event_time=pd.to_datetime(["2026-11-01T09:00:30Z"]))
    orders = pd.DataFrame({"order_id": ["#1001"], "created_at": ["2026-11-01T09:00:00Z"], "value": [10.5]})
    result = dedupaudit.audit(pixel=pixel, capi=capi, orders=orders)
    meta = result.platforms.set_index(["platform", "event"]).loc[("meta", "purchase")]
    assert (meta["orders"], meta["reported_conversions"], meta["extra_conversions"]) == (1, 1, 0)
    assert result.to_dict()["inputs"]["pixel"]["numeric_ids"] == 2  # 1001.0 in both ID columns, compared as 1001


def test_frames_flatten_nested_keys(from_paths):
    platforms = from_paths.platforms
    assert {"coverage_pixel", "coverage_capi", "missing_event_id_capi", "links_order_id"} <= set(platforms.columns)
    assert len(platforms) == len(from_paths.to_dict()["platforms"])
    findings = from_paths.findings
    assert list(findings["code"]) == [f["code"] for f in from_paths.to_dict()["findings"]]
    assert isinstance(findings["examples"].iloc[0], list)
    assert set(from_paths.daily.columns) >= {"platform", "date", "reported_conversions", "orders"}
    assert len(from_paths.daily) == len(from_paths.to_dict()["daily"])


def test_write_by_extension_and_never_over_an_input(from_paths, tmp_path):
    for name, start in (("r.json", "{"), ("r.md", "# "), ("r.html", "<!doctype html>"), ("r.xml", "<?xml")):
        assert from_paths.write(tmp_path / name).read_text().startswith(start), name
    with pytest.raises(InputError, match="cannot tell the format"):
        from_paths.write(tmp_path / "r.pdf")
    with pytest.raises(InputError, match="is the input file"):
        from_paths.write(ORDERS, fmt="json")
    assert ORDERS.read_text().startswith("order_id,created_at")


def test_exit_code_and_fail_on(from_paths):
    severities = {f["severity"] for f in from_paths.to_dict()["findings"]}
    assert "error" in severities
    assert from_paths.exit_code("error") == 1 and from_paths.exit_code("never") == 0
    with pytest.raises(InputError, match="not one of"):
        from_paths.exit_code("sometimes")


def test_repr_html_shows_the_summary(from_paths):
    page = from_paths._repr_html_()
    assert "<table" in page and "Meta" in page and "TikTok" in page
    assert f"{from_paths.platforms['reported_conversions'].iloc[0]}" in page


def test_settings_as_keywords_and_config(tmp_path):
    base = dict(pixel=PIXEL, capi=CAPI, orders=ORDERS)
    disabled = dedupaudit.audit(**base, checks={"inflated-conversions": {"enabled": False}})
    assert "DA113" not in set(disabled.findings["code"])
    config = tmp_path / "dedupaudit.yaml"
    config.write_text("checks:\n  inflated-conversions:\n    enabled: false\nfail_on: never\n")
    from_file = dedupaudit.audit(**base, config=config)
    assert "DA113" not in set(from_file.findings["code"]) and from_file.exit_code() == 0
    assert dedupaudit.audit(**base, config=config, fail_on="error").exit_code() == 1  # keywords win over the file


@pytest.mark.parametrize("kwargs, message", [
    (dict(timezon="UTC"), "audit(): timezon: unknown key"),
    (dict(threads=0), "audit(): threads: 0 is out of range (valid: a whole number of at least 1)"),
    (dict(fail_on="sometimes"), "audit(): fail_on: 'sometimes' is not a valid value (valid: one of error, warning, info, never)"),
    (dict(pixel=42), "pixel: expected a path, a pandas DataFrame, an Arrow table or a Spark DataFrame, got int"),
    (dict(pixel="no-such-file.csv"), "--pixel no-such-file.csv: no such file or folder"),
    (dict(pixel=None, capi=None), "give at least one of --pixel and --capi"),
])
def test_bad_input_raises_input_error_in_one_line(kwargs, message):
    args = {**dict(pixel=PIXEL, orders=ORDERS), **kwargs}
    with pytest.raises(InputError) as caught:
        dedupaudit.audit(**args)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_the_cli_says_the_same_line(tmp_path):
    bad = tmp_path / "events.csv"
    bad.write_text("platform,event_name,event_id,event_time\nbing,Purchase,e1,2026-11-01T10:00:00Z\n")
    with pytest.raises(InputError) as caught:
        dedupaudit.audit(pixel=bad)
    done = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(bad), "--format", "json"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == f"dedupaudit: error: {caught.value}\n"


def test_baseline_from_an_earlier_result(from_paths):
    same = dedupaudit.audit(pixel=PIXEL, capi=CAPI, orders=ORDERS, baseline=from_paths)
    assert same.to_dict()["baseline"] is not None and not same.regressed
    half = pd.read_json(CAPI, lines=True, dtype=False).iloc[::2]  # the server sent half its events: coverage falls
    worse = dedupaudit.audit(pixel=PIXEL, capi=half, orders=ORDERS, baseline=from_paths, fail_on="never")
    assert worse.regressed and worse.exit_code() == 1
    assert worse.to_dict()["baseline"]["regressed"] is True
    lenient = dedupaudit.audit(pixel=PIXEL, capi=half, orders=ORDERS, baseline=from_paths, fail_on="never",
                               tolerances={"coverage": 1, "inflation_ratio": 100, "new_error_findings": False})
    assert not lenient.regressed and lenient.exit_code() == 0


def test_rejects_written_as_csv(tmp_path):
    bad = tmp_path / "pixel.csv"
    bad.write_text("platform,event_name,event_id,event_time\nmeta,Purchase,e1,2026-11-01T10:00:00Z\nmeta,Purchase,e2,not a time\n")
    result = dedupaudit.audit(pixel=bad, rejects=tmp_path / "rejects.csv")
    rows = pd.read_csv(tmp_path / "rejects.csv")
    assert list(rows["row"]) == [3] and list(rows["input"]) == ["pixel"]
    assert result.to_dict()["inputs"]["pixel"]["rejected"] == 1


def test_importing_the_package_loads_no_engine():
    code = ("import sys, dedupaudit; print(sorted(m for m in ('pandas', 'pyarrow', 'duckdb') if m in sys.modules)); "
            "dedupaudit.audit; print('duckdb' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True"]


def test_the_typed_result_reads_its_json_back(from_paths):
    from dedupaudit.result import AuditResult
    data = from_paths.to_dict()
    assert AuditResult.from_dict(data).to_dict() == data


def test_spend_as_a_path_or_a_dataframe_gives_the_same_roas(tmp_path):
    spend = pd.DataFrame({"platform": ["meta", "tiktok"], "spend": [1000.0, 250], "currency": ["EUR", "EUR"]})
    spend.to_csv(tmp_path / "spend.csv", index=False)
    by_frame = dedupaudit.audit(pixel=PIXEL, capi=CAPI, orders=ORDERS, spend=spend)
    by_path = dedupaudit.audit(pixel=PIXEL, capi=CAPI, orders=ORDERS, spend=tmp_path / "spend.csv")
    assert by_frame.to_dict()["platforms"] == by_path.to_dict()["platforms"]
    meta = by_frame.platforms.set_index(["platform", "event"]).loc[("meta", "purchase")]
    assert meta["roas_EUR_spend"] == 1000.0
    assert meta["roas_EUR_roas_reported"] == pytest.approx(meta["roas_EUR_conversion_value_reported"] / 1000, abs=0.01)
    with pytest.raises(InputError, match=r"^spend line 3: spend '-5' is negative|^spend line 3: .*spend"):
        dedupaudit.audit(pixel=PIXEL, orders=ORDERS, spend=spend.assign(spend=[1000, -5]))


def test_the_baseline_compares_typed_results(from_paths):
    """A typed result and its JSON read back give the same comparison (no render-and-parse in between)."""
    from dedupaudit.baseline import compare
    half = dedupaudit.audit(pixel=PIXEL, capi=pd.read_json(CAPI, lines=True, dtype=False).iloc[::2], orders=ORDERS)
    typed = compare(from_paths.model, half.model)
    read_back = compare(json.loads(from_paths.render("json")), json.loads(half.render("json")))
    assert typed.to_dict() == read_back.to_dict() and typed.regressed
