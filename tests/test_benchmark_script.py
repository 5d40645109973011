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
    native_rows = [line for line in native.split("## The work")[0].splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(native_rows) == 1 and native_rows[0].endswith(f"| audit = sql = from Parquet = truth | {_module().COMMIT} |")
    results = json.loads((tmp_path / "results.json").read_text())
    row = results["native"][0]
    assert row["audit"]["exit"] == row["sql"]["exit"] == 0
    figures = row["figures"]
    assert figures["audit"] == figures["sql"] == figures["audit_parquet"] and figures["audit"]["events"] == row["events"] > 2000
    # The floors: the same events from Parquet, and one of them alone, each a timed fresh audit.
    assert row["audit_parquet"]["exit"] == row["audit_one"]["exit"] == 0
    assert json.loads((tmp_path / "work" / "3000" / "native-parquet" / "audit-one.json").read_text())["inputs"]["capi"]["rows"] == 1
    assert "## What the native target leaves" in text and "## The work: CPU seconds" in text
    assert figures["truth"] == {k: figures["audit"][k] for k in ("events", "purchase_events")}
    assert set(figures["audit"]["reported"]) == {"meta"}
    assert results["rows"][0]["parquet"]["checked"] == ["audit", "sql", "truth"]
    # Where the time goes: both runs profiled by stage, the stages and what is outside the queries adding up to the wall time.
    assert set(results["stages"]) == {"canonical", "native"}
    for profiled in results["stages"].values():
        stages = profiled["stages"]
        assert stages["reading and typing the inputs"] > 0 and stages["the dedup model"] > 0
        assert abs(sum(stages.values()) - profiled["wall"]) < 0.05
        # The in-process query times fit inside the wall time taken from outside (what is left is start-up and the report).
        queries = {name: s for name, s in stages.items() if not name.startswith("outside the queries")}
        assert all(s >= 0 for s in queries.values()) and 0 < sum(queries.values()) < profiled["wall"]
        assert stages["outside the queries (start-up, rule files, the report)"] > 0
    assert text.count("| the checks: counts and examples | ") == 2


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


def test_targets_say_met_or_missed_by_how_much_from_the_rows():
    run = _module()
    timed = lambda seconds, mib=100, code=0: {"seconds": seconds, "peak_mib": mib, "exit": code}  # noqa: E731
    row = lambda events, commit, audit, sql, parse, mib=100: {"events_target": events, "events": events, "commit": commit,  # noqa: E731
                                                              "parquet": {"audit": timed(audit, mib), "sql": timed(sql), "pyarrow": timed(parse)}}
    rows = [row(1_000_000, "c1", 5.0, 1.0, 1.0), row(10_000_000, "c1", 26.0, 4.0, 2.0, mib=300),
            row(100_000_000, "c0", 900.0, 50.0, 20.0, mib=30_000)]
    native = [{"events_target": 1_000_000, "commit": "c1", "audit": timed(1.2, 150), "sql": timed(1.0, 100)},
              {"events_target": 10_000_000, "commit": "c1", "audit": timed(80.0, 7000, code=0), "sql": timed(6.0)}]
    lines = run.targets_table(rows, native)
    table = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in lines if line.startswith("| ") and not line.startswith("| target")}
    assert table["audit ÷ hand-written SQL ≤ 1.3 at 10M events (parquet)"] == ["6.5x", "no: missed by 5.0x", "c1 |"]
    assert table["audit ÷ pyarrow parse ≤ 4 at 10M events (parquet)"] == ["13.0x", "no: missed by 3.2x", "c1 |"]
    assert table["peak memory ≤ 1.5x the SQL's at 10M events (parquet)"] == ["3.0x", "no: missed by 2.0x", "c1 |"]
    assert table["time at 10M ≤ 11x time at 1M (parquet)"] == ["5.2x", "yes", "c1 |"]
    assert table["100M events complete in 24 GiB (parquet)"] == ["exit 0, peak 30,000 MiB", "no", "c0 |"]  # over 24 GiB
    assert table["native log: audit ÷ the read_json query ≤ 2 at 1M events"] == ["1.2x", "yes", "c1 |"]
    assert table["native log: peak memory ≤ 2x the query's at 1M events"] == ["1.5x", "yes", "c1 |"]
    assert table["native log: 10M events complete on this machine (24 GiB)"] == ["exit 0, peak 7,000 MiB", "yes", "c1 |"]
    # The scaling target compares rows of one commit only; nothing measured, no section.
    rows[0]["commit"] = "other"
    assert not any("time at 10M" in line for line in run.targets_table(rows, native))
    assert run.targets_table([], []) == []


def test_a_stage_profile_of_a_failing_audit_is_left_out_not_raised(tmp_path):
    """The stage profile runs after every timed row: an audit that fails there must not lose the run's results."""
    run = _module()
    missing = tmp_path / "missing"
    profiled = run.stage_profile(run.audit_cmd(missing, "parquet"))
    assert profiled["stages"] == {} and profiled["exit"] == 2
    # No table for it (the section's introduction alone, which write_results leaves out when no profile has stages).
    assert run.stages_table({"canonical": {**profiled, "events_target": 10, "format": "parquet", "commit": "c"}}, [], []) == \
        run.stages_table({}, [], [])


def test_a_childs_peak_memory_is_its_own_not_the_benchmarks(tmp_path):
    """Linux starts a vfork'ed child's peak at its parent's: the benchmark, with DuckDB loaded and tables read, must not
    lend its memory to the small processes it times (the query at 1M, one event's audit)."""
    run = _module()
    held = bytearray(300 * 2**20)
    held[::4096] = b"\1" * len(held[::4096])  # resident, not only reserved
    measured = run.fresh([sys.executable, "-c", "pass"], tmp_path / "out.txt")
    assert measured["exit"] == 0 and measured["peak_mib"] < 100 and measured["seconds"] > 0 and measured["cpu_s"] >= 0
    del held


def test_the_work_table_gives_cpu_seconds_and_cores_busy_and_skips_runs_without_them():
    run = _module()
    timed = lambda seconds, cpu: {"seconds": seconds, "cpu_s": cpu, "peak_mib": 100, "exit": 0}  # noqa: E731
    rows = [{"events_target": 10, "events": 10, "commit": "c1", "parquet": {"audit": timed(4.0, 7.6), "sql": timed(1.0, 1.9)}},
            {"events_target": 100, "events": 100, "commit": "c0", "parquet": {"audit": {"seconds": 9.0, "peak_mib": 1, "exit": 0},
                                                                               "sql": timed(1.0, 1.0)}}]  # an earlier run: no CPU
    native = [{"events_target": 5, "events": 5, "commit": "c1", "audit": timed(2.0, 3.0), "sql": timed(0.5, 0.5)}]
    lines = [line for line in run.work_table(rows, native) if line.startswith("| ") and line[2].isdigit()]
    assert lines == ["| 10 | parquet | 7.6 | 1.9 | 4.0x | 1.90 | 1.90 | c1 |", "| 5 | native log | 3.0 | 0.5 | 6.0x | 1.50 | 1.00 | c1 |"]
    assert run.work_table(rows[1:], []) == []


def test_the_native_floors_set_the_audits_without_reading_beside_the_2x_target():
    run = _module()
    timed = lambda seconds, mib: {"seconds": seconds, "cpu_s": seconds, "peak_mib": mib, "exit": 0}  # noqa: E731
    row = {"events_target": 1000, "events": 1000, "commit": "c1", "sql": timed(0.8, 250), "audit": timed(9.0, 900),
           "audit_parquet": timed(4.0, 750), "audit_one": timed(1.2, 200)}
    lines = [line for line in run.floors_table([row]) if line.startswith("| 1")]
    assert lines == ["| 1,000 | 0.8 | 250 | 1.60 | 500 | 4.0 | 750 | 5.0x | 3.0x | 1.2 | 200 | 75% | 2.2x | c1 |"]
    assert run.floors_table([{**row, "audit_one": None}]) == []  # a row of an earlier run, without the floors
