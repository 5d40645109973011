"""benchmarks/run.py at a tiny size: the canonical shop and the native CAPI log are generated, timed and checked
(the audit's figures equal the hand-written queries' and truth.json's), and RESULTS.md gets a row for each."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tiny_run_writes_both_tables_with_the_figures_checked(tmp_path):
    done = subprocess.run([sys.executable, SCRIPT, "--events", "3000", "--formats", "parquet", "--native-events", "3000",
                           "--work", tmp_path / "work", "--results", tmp_path / "RESULTS.md"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "RESULTS.md").read_text()
    canonical, native = text.split("## Native CAPI request log")
    assert [line.split(" | ")[1] for line in canonical.splitlines() if line.startswith("| ") and "parquet" in line] == ["parquet"]
    native_rows = [line for line in native.split("## Profile")[0].splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(native_rows) == 1 and native_rows[0].endswith(f"| audit = sql = truth | {_module().COMMIT} |")
    results = json.loads((tmp_path / "results.json").read_text())
    row = results["native"][0]
    assert row["audit"]["exit"] == row["sql"]["exit"] == 0
    figures = row["figures"]
    assert figures["audit"] == figures["sql"] and figures["audit"]["events"] == row["events"] > 2000
    assert figures["truth"] == {k: figures["audit"][k] for k in ("events", "purchase_events")}
    assert set(figures["audit"]["reported"]) == {"meta"}
    assert results["rows"][0]["parquet"]["checked"] == ["audit", "sql", "truth"]


def test_figures_that_differ_are_caught():
    run = _module()
    audit = {"events": 10, "purchase_events": {"meta": 7}, "reported": {"meta": 7}}
    assert run.agree({"audit": audit, "sql": dict(audit), "truth": {"events": 10, "purchase_events": {"meta": 7}}})
    assert not run.agree({"audit": audit, "sql": {**audit, "reported": {"meta": 6}}})
    assert not run.agree({"audit": audit, "sql": audit, "truth": {"events": 11}})
    assert not run.agree({"audit": audit, "sql": {**audit, "reported": {"meta": 7, "tiktok": 1}}})


def test_native_figures_read_the_same_counts_from_each_source():
    run = _module()
    audit = {"inputs": {"capi": {"rows": 13}},
             "platforms": [{"platform": "meta", "event": "purchase", "capi_events": 9, "reported_conversions": 8},
                           {"platform": "meta", "event": "add_to_cart", "capi_events": 3, "reported_conversions": 3}]}
    truth = {"rows": {"capi": 13}, "platforms": [{"platform": "meta", "event": "purchase", "capi_events": 9, "reported_conversions": 20}]}
    expected = {"events": 13, "purchase_events": {"meta": 9}, "reported": {"meta": 8}}
    assert run.native_figures("audit", audit) == expected
    assert run.native_figures("sql", [["meta", 13, 9, 8]]) == expected
    assert run.native_figures("truth", truth) == {"events": 13, "purchase_events": {"meta": 9}}


def test_a_run_of_one_size_keeps_the_rows_of_the_sizes_it_did_not_measure(tmp_path):
    run = _module()
    (tmp_path / "results.json").write_text(json.dumps({
        "rows": [{"events_target": 10, "commit": "old", "parquet": {}}, {"events_target": 100, "commit": "old", "parquet": {}},
                 {"events_target": 1000, "commit": "old", "csv": {}}],  # another format: kept too
        "native": [{"events_target": 10, "commit": "old"}]}))
    args = type("Args", (), {"results": tmp_path / "RESULTS.md", "formats": ["parquet"]})
    rows, native, spark = run.kept_rows([{"events_target": 100, "commit": "new", "parquet": {}}], [], [], args)
    assert [(r["events_target"], r["commit"]) for r in rows] == [(10, "old"), (100, "new"), (1000, "old")]
    assert [(r["events_target"], r["commit"]) for r in native] == [(10, "old")]
    assert spark == []


def test_a_tiny_spark_run_is_checked_against_the_embedded_one(tmp_path):
    """The Spark row (--spark-events): the same shop on Spark local mode, its whole result equal to the embedded one's."""
    from tests.test_spark_parity import REQUIRED
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if REQUIRED:
            raise
        import pytest
        pytest.skip("PySpark is not installed (pip install 'dedupaudit[spark]')")
    done = subprocess.run([sys.executable, SCRIPT, "--events", "3000", "--formats", "parquet", "--no-native", "--spark-events", "3000",
                           "--work", tmp_path / "work", "--results", tmp_path / "RESULTS.md"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    row = json.loads((tmp_path / "results.json").read_text())["spark"][0]
    assert row["spark"]["exit"] == 0 and row["same_result"] is True
    assert row["spark_lake"]["exit"] == 0 and row["same_result_lake"] is True  # the files read by Spark in place
    assert row["spark"]["peak_mib"] > row["embedded"]["peak_mib"]  # the JVM is counted
    assert "## Spark local mode" in (tmp_path / "RESULTS.md").read_text()


def test_scaling_compares_only_rows_of_the_first_rows_commit():
    run = _module()
    timed = lambda seconds: {"seconds": seconds, "peak_mib": 100, "exit": 0}  # noqa: E731
    row = lambda events, commit, seconds: {"events_target": events, "events": events, "commit": commit, "parquet": {  # noqa: E731
        "audit": timed(seconds), "sql": timed(seconds / 10), "pyarrow": timed(seconds / 20), "checked": ["audit", "sql"]}}
    lines = run.canonical_table([row(10, "new", 1.0), row(100, "new", 8.0), row(1000, "old", 200.0)], None)
    scaling = lines[lines.index(next(line for line in lines if line.startswith("Scaling"))):]
    assert "(new)" in scaling[0]
    assert [line for line in scaling if line.startswith("| 1")] == ["| 100 | parquet | 8.0x | 8.0x |"]
    assert not any(line.startswith("Scaling") for line in run.canonical_table([row(10, "new", 1.0), row(1000, "old", 2.0)], None))
