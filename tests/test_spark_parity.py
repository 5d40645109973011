"""The audit on Spark (--engine spark) gives DuckDB's result, field for field, on generated shops with every
failure planted, whatever the number of partitions; and the DuckDB SQL's translation (engine/dialect.py).

Spark runs in local mode (Java 17+). Without PySpark these tests skip, except in CI: .ci/run installs the
`spark` extra and sets DEDUPAUDIT_REQUIRE_SPARK=1, which turns a skip into a failure."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

import pytest
from typer.testing import CliRunner

from dedupaudit import api
from dedupaudit.cli.main import app
from dedupaudit.generate.rates import DEFAULTS, RATES
from dedupaudit.generate.run import write_shop

REQUIRED = os.environ.get("DEDUPAUDIT_REQUIRE_SPARK") == "1"
PLATFORMS = ["meta", "tiktok", "snap", "google"]
EXAMPLES = ["examples/canonical/pixel_events.csv", "examples/canonical/capi_events.jsonl", "examples/canonical/orders.csv"]


def _unavailable(why: str):
    if REQUIRED:
        pytest.fail(f"{why}, and DEDUPAUDIT_REQUIRE_SPARK=1 requires the Spark tests")
    pytest.skip(f"{why} (pip install 'dedupaudit[spark]'; .ci/run does)")


@pytest.fixture(scope="module")
def spark():
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        _unavailable(f"{exc.name} is not installed")
    from dedupaudit.engine.spark import session
    from dedupaudit.errors import UserError
    try:
        spark = session("local[2]")
    except UserError as exc:
        _unavailable(str(exc))
    yield spark
    spark.stop()


def _both(files, **settings) -> tuple[dict, dict]:
    duck = api.audit(*files, **settings).to_dict()
    on_spark = api.audit(*files, engine="spark", **settings).to_dict()
    return duck, on_spark


def _shop(tmp_path, orders: int, seed: int, fmt: str, rates: dict) -> list[str]:
    write_shop(tmp_path, orders, seed, fmt, PLATFORMS, rates, truth=False)
    return [str(tmp_path / f"{name}.{fmt}") for name in ("pixel", "capi", "orders")]


# Every failure at once (keys spanning many dedup windows through the placeholder IDs), and the defaults.
EVERYTHING = {**{k: 0.4 for k in RATES}, "placeholder_ids": 0.1}


@pytest.mark.parametrize("partitions", [1, 7])
def test_every_failure_same_result_as_duckdb_with_1_and_7_partitions(spark, tmp_path, partitions):
    files = _shop(tmp_path, 800, 11, "parquet", EVERYTHING)
    conf = {"spark.sql.shuffle.partitions": str(partitions), "spark.sql.adaptive.enabled": "false"}  # no coalescing: 7 is 7
    duck, on_spark = _both(files, spark_conf=conf)
    assert on_spark == duck
    assert sum(len(p.get("unconfirmed_rules", [])) for p in duck["platforms"]) > 0  # the readings ran too
    assert {f["code"] for f in duck["findings"]} >= {"DA101", "DA104", "DA105", "DA107"}


def test_default_rates_csv_same_result_as_duckdb(spark, tmp_path):
    files = _shop(tmp_path, 3000, 3, "csv", DEFAULTS)
    duck, on_spark = _both(files, spark_conf={"spark.sql.shuffle.partitions": "4", "spark.sql.adaptive.enabled": "true"})
    assert on_spark == duck
    assert duck["inputs"]["pixel"]["rows"] > 10_000


def test_settings_that_become_sql_values_same_result(spark):
    """The period bounds (timestamps), a zone (day boundaries), statuses (a list), waivers (lists, the strip
    macro) and check options reach the SQL as parameters: on Spark as literals."""
    settings = dict(since="2026-10-06", until="2026-10-16 12:00", timezone="America/New_York",
                    excluded_statuses=["cancelled", "refunded", "test"], link_tolerance_minutes=30,
                    waivers=[{"check": "DA103", "reason": "known", "event_ids": ["undefined", "null"]},
                             {"check": "DA105", "reason": "known", "order_ids": [" #1001", "1002"]},
                             {"check": "DA108", "reason": "known", "event_names": ["PURCHASE"]}],
                    checks={"DA104": {"options": {"min_orders": 3}}, "DA106": {"options": {"min_length": 6}}})
    duck, on_spark = _both(EXAMPLES, **settings)
    assert on_spark == duck
    assert duck["period"]["start"].startswith("2026-10-06")


def test_cli_engine_spark_prints_the_same_json(spark):
    args = ["check", "--pixel", EXAMPLES[0], "--capi", EXAMPLES[1], "--orders", EXAMPLES[2], "--format", "json", "--quiet"]
    duck = CliRunner().invoke(app, args)
    on_spark = CliRunner().invoke(app, [*args, "--engine", "spark", "--spark-conf", "spark.sql.shuffle.partitions=3"])
    assert (duck.exit_code, on_spark.exit_code) == (1, 1), on_spark.output
    assert json.loads(on_spark.stdout) == json.loads(duck.stdout)


def test_a_users_session_settings_do_not_change_the_result_and_are_given_back(spark):
    """A notebook's session may run ANSI SQL (Spark 4's default) in its own zone; the audit runs under UTC
    without ANSI for its duration, and leaves the session as it found it."""
    spark.conf.set("spark.sql.ansi.enabled", "true")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        duck, on_spark = _both(EXAMPLES, timezone="Europe/Paris")
        assert on_spark == duck
        assert (spark.conf.get("spark.sql.ansi.enabled"), spark.conf.get("spark.sql.session.timeZone")) == ("true", "America/New_York")
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "false")
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_an_active_session_is_used(spark):
    from dedupaudit.engine.spark import session
    assert session() is spark


def test_the_jvm_logs_to_stderr_not_into_a_report_on_stdout(spark):
    """A JVM writes its own warnings (GC under memory pressure) to stdout unless told otherwise: seen in a 1M-event
    benchmark run, inside the JSON report."""
    assert "-Xlog:all=warning:stderr" in spark.sparkContext.getConf().get("spark.driver.extraJavaOptions")


# ------------------------------------------------------------------ without Spark, and the translation itself

def test_without_pyspark_engine_spark_exits_2_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    result = CliRunner().invoke(app, ["check", "--pixel", EXAMPLES[0], "--orders", EXAMPLES[2], "--engine", "spark"])
    assert result.exit_code == 2
    assert "pip install 'dedupaudit[spark]'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--engine", "hadoop"], "hadoop"),
    (["--engine", "spark", "--spark-conf", "no-equals-sign"], "KEY=VALUE"),
])
def test_bad_engine_options_exit_2(args, message):
    result = CliRunner().invoke(app, ["check", "--pixel", EXAMPLES[0], *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def _spark_text(sql: str, params: dict | None = None) -> str:
    if not REQUIRED:  # in CI a missing SQLGlot fails below instead
        pytest.importorskip("sqlglot")
    from dedupaudit.engine.dialect import spark_sql, to_spark
    return "; ".join(spark_sql(s) for s in to_spark(sql, params))


def test_translation_of_the_duckdb_only_forms():
    assert _spark_text("SELECT epoch_us(t), epoch(t) FROM x") == "SELECT UNIX_MICROS(t), UNIX_MICROS(t) / 1000000.0 FROM x"
    assert "SLICE(TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(STRUCT(-n, k) AS k, v AS v))), x -> x.v), 1, 5)" in \
        _spark_text("SELECT min_by(v, (-n, k), 5) FROM x")
    assert "MIN_BY(v, STRUCT(a, b))" in _spark_text("SELECT arg_min(v, (a, b)) FROM x")
    # the connection's macros: the earliest (time, eid), and the overlap of two lists (SQLGlot alone writes `&&`)
    assert _spark_text("SELECT earliest_eid(t, eid) FROM x") == "SELECT MIN_BY(eid, STRUCT(t, eid)) FROM x"
    assert _spark_text("SELECT list_has_any(a, b) FROM x") == "SELECT ARRAYS_OVERLAP(a, b) FROM x"
    joined = _spark_text("SELECT string_agg(DISTINCT s, ', ' ORDER BY s) FILTER (WHERE k = 1) FROM x")
    assert "ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(s) FILTER(WHERE k = 1)), ', ')" in joined and "THEN NULL" in joined
    assert "ARRAY_JOIN(ARRAY_SORT(COLLECT_LIST(s)), ' + ')" in _spark_text("SELECT string_agg(s, ' + ' ORDER BY s) FROM x")
    assert "FROM_UTC_TIMESTAMP(CAST(t AS TIMESTAMP_LTZ), 'Europe/Paris')" in _spark_text(
        "SELECT timezone($z, t::TIMESTAMPTZ)::DATE FROM x", {"z": "Europe/Paris"})
    assert _spark_text("SELECT list_contains($l, s), $n, $f, $b, $none, $t FROM x",
                       {"l": [], "n": 3, "f": 0.5, "b": True, "none": None, "t": dt.datetime(2026, 1, 2, 3, 4, 5)}) == (
        "SELECT ARRAY_CONTAINS(CAST(ARRAY() AS ARRAY<STRING>), s), 3, 0.5, TRUE, NULL, "
        "CAST('2026-01-02 03:04:05' AS TIMESTAMP_LTZ) FROM x")
    assert _spark_text("SELECT $s", {"s": "it's"}) == "SELECT 'it\\'s'"


def test_translation_refuses_what_it_cannot_keep_exact():
    with pytest.raises(ValueError, match="ordered by its value"):
        _spark_text("SELECT string_agg(DISTINCT s, ',' ORDER BY t) FROM x")
    with pytest.raises(ValueError, match="ordered by its value"):  # DuckDB's order of the values is arbitrary
        _spark_text("SELECT string_agg(s, ',') FROM x")
    with pytest.raises(KeyError):
        _spark_text("SELECT $missing")
    with pytest.raises(ValueError, match="unanchored pattern"):  # DuckDB replaces the first match, Spark every one
        _spark_text("SELECT regexp_replace(s, 'a', 'b') FROM x")
