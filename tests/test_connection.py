"""The audit's one DuckDB connection: bounded memory and threads, as asked, and a spill folder that goes away."""

from __future__ import annotations

import json
import os

import pytest

from dedupaudit.connection import Connection, machine_memory, parse_memory, parse_threads, storage_for
from dedupaudit.errors import UserError
from tests.conftest import EXAMPLES
from tests.test_cli import run

EXAMPLE_ARGS = ["--pixel", EXAMPLES / "pixel_events.csv", "--capi", EXAMPLES / "capi_events.jsonl", "--orders", EXAMPLES / "orders.csv"]


@pytest.mark.parametrize("text, expected", [("512MB", 512 * 2**20), ("8GB", 8 * 2**30), ("8 GiB", 8 * 2**30), ("1.5g", int(1.5 * 2**30))])
def test_sizes(text, expected):
    assert parse_memory(text) == expected


def test_share_and_default_are_of_this_machine():
    assert parse_memory("50%") == int(machine_memory() * 0.5)
    assert parse_memory(None) == int(machine_memory() * 0.6)


@pytest.mark.parametrize("text", ["lots", "0%", "120%", "10MB", "-1GB"])
def test_bad_sizes_are_user_errors(text):
    with pytest.raises(UserError, match="--memory-limit"):
        parse_memory(text)


def test_threads():
    assert parse_threads(None) == (os.cpu_count() or 1)
    assert parse_threads(3) == 3
    for bad in (0, -2, True, "2"):
        with pytest.raises(UserError, match="--threads"):
            parse_threads(bad)


def test_the_engine_gets_the_limits_and_the_spill_folder_is_removed():
    with Connection("300MB", 1) as connection:
        settings = dict(connection.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'threads', 'temp_directory')").fetchall())
        spill = connection.spill
        assert os.path.isdir(spill) and settings["temp_directory"] == spill
        assert settings["threads"] == "1"
        assert settings["memory_limit"] == "300.0 MiB"
    assert not os.path.exists(spill)


def test_cli_runs_with_limits_and_gives_the_same_figures():
    plain = run("check", *EXAMPLE_ARGS, "--format", "json", "--fail-on", "never")
    limited = run("check", *EXAMPLE_ARGS, "--format", "json", "--fail-on", "never", "--memory-limit", "256MB", "--threads", "1")
    assert plain.returncode == limited.returncode == 0, limited.stderr
    strip = lambda d: [{k: v for k, v in p.items()} for p in json.loads(d)["platforms"]]  # noqa: E731
    assert strip(limited.stdout) == strip(plain.stdout)


@pytest.mark.parametrize("option, value", [("--memory-limit", "plenty"), ("--threads", "0"), ("--storage", "cloud")])
def test_cli_bad_limits_exit_2_in_one_line(option, value):
    done = run("check", *EXAMPLE_ARGS, option, value)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and option in done.stderr


def test_a_connection_dropped_without_close_removes_its_spill_folder():
    import gc
    connection = Connection("300MB", 1)
    spill = connection.spill
    assert os.path.isdir(spill)
    del connection
    gc.collect()
    assert not os.path.exists(spill)


def test_storage_is_memory_unless_the_inputs_tables_would_not_fit(tmp_path):
    csv, parquet = tmp_path / "a.csv", tmp_path / "b.parquet"
    csv.write_bytes(b"x" * 1000)
    parquet.write_bytes(b"x" * 1000)
    assert storage_for("auto", [csv], 64 * 2**20) == "memory"
    assert storage_for(None, [csv], 9_999) == "disk"  # 1,000 CSV bytes make about 10,000 bytes of tables
    assert storage_for("auto", [csv], 10_001) == "memory"
    assert storage_for("auto", [parquet], 39_999) == "disk"  # Parquet is packed: about 40x
    assert storage_for("memory", [parquet], 1) == "memory" and storage_for("disk", [csv], 2**40) == "disk"
    with pytest.raises(UserError, match="--storage: 'cloud' is not one of auto, memory, disk"):
        storage_for("cloud", [csv], 2**30)


def test_disk_storage_keeps_the_tables_in_a_compressed_file_in_the_spill_folder():
    with Connection("300MB", 1, storage="disk") as connection:
        con = connection.con
        con.execute("CREATE TABLE t AS SELECT range AS i, 'meta' AS platform FROM range(300000)")
        con.execute("CHECKPOINT")
        database = os.path.join(connection.spill, "audit.duckdb")
        assert con.execute("SELECT current_database()").fetchone()[0] == "audit"
        assert os.path.getsize(database) > 0
        compressions = {c for (c,) in con.execute("SELECT DISTINCT compression FROM pragma_storage_info('t')").fetchall()}
        assert compressions - {"Uncompressed"}
        spill = connection.spill
    assert not os.path.exists(spill)


def test_the_audit_gives_the_same_result_on_disk_as_in_memory():
    results = {}
    for storage in ("memory", "disk"):
        done = run("check", *EXAMPLE_ARGS, "--format", "json", "--fail-on", "never", "--storage", storage)
        assert done.returncode == 0, done.stderr
        results[storage] = {k: v for k, v in json.loads(done.stdout).items() if k not in ("run", "settings")}
    assert results["disk"] == results["memory"]


def test_earliest_eid_is_the_eid_of_the_earliest_time_then_the_lowest_eid_before_1970_too():
    """The connection's macro packs (time, eid) in one 128-bit number; times before 1970 are negative."""
    with Connection() as connection:
        rows = connection.con.execute("""
            SELECT g, earliest_eid(t, eid) FROM (VALUES
                (1, TIMESTAMP '1969-12-31 23:59:59', 9::BIGINT), (1, TIMESTAMP '1969-12-31 23:59:59', 4), (1, TIMESTAMP '2026-01-01', 1),
                (2, TIMESTAMP '2026-01-01', 4611686018427387905), (2, TIMESTAMP '2026-01-01', 4611686018427387904),
                (2, TIMESTAMP '2026-01-02', 3)) v(g, t, eid)
            GROUP BY g ORDER BY g""").fetchall()
    assert rows == [(1, 4), (2, 4611686018427387904)]


def _example_audit(release: bool, log) -> tuple[dict, set, set]:
    """The example shop from 8 October (rows before it are counted apart), plus a CAPI log that sends an email
    unhashed, audited on one shared connection: (the JSON result, the tables before, the tables after)."""
    from dedupaudit.engine.run import run_audit
    from dedupaudit.inputs.canonical import load_events, load_orders
    from dedupaudit.inputs.timestamps import resolve_timezone
    from dedupaudit.platforms.rules import load_rules
    from dedupaudit.reports.json_report import render
    from dedupaudit.settings import Settings

    rules, utc = load_rules(), resolve_timezone("UTC")
    tables = lambda con: {n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}  # noqa: E731
    with Connection() as connection:
        sides = [load_events([EXAMPLES / "pixel_events.csv"], "pixel", utc, None, set(rules), connection=connection),
                 load_events([EXAMPLES / "capi_events.jsonl", log], "capi", utc, None, set(rules), connection=connection),
                 load_orders([EXAMPLES / "orders.csv"], utc, connection=connection)]
        before = tables(connection.con)
        result = json.loads(render(run_audit(*sides, rules, Settings(since="2026-10-08"), release_inputs=release)))
        return result, before, tables(connection.con)


def test_an_audit_that_releases_its_inputs_drops_them_and_reports_the_same(tmp_path):
    """The CLI and api.audit read their inputs once: the audit drops them when its own tables hold their rows.
    Every figure, finding (rejected rows, unhashed user data) and input count must be the same as when they stay."""
    from tests.test_hostile_values import META, _unhashed
    log = tmp_path / "meta_capi.jsonl"
    log.write_text(json.dumps(_unhashed(META)) + "\n")
    kept, before, after_kept = _example_audit(False, log)
    released, before_released, after_released = _example_audit(True, log)
    assert after_kept == before  # the caller's inputs stay, the audit's tables go
    assert before_released and not (after_released & before_released)
    assert released == kept
    names = {f["name"] for f in kept["findings"]}
    assert {"rejected-rows", "unhashed-user-data"} <= names, names  # the findings that read the inputs after the build
    assert all(kept["inputs"][side]["outside_period"] > 0 for side in ("pixel", "capi", "orders")), kept["inputs"]


@pytest.mark.parametrize("value", ["", " ", "\u3000\u2028", "abc", " abc", "abc\t", "\u00a0 a b \u205f", "é", " é ", "\x1c", "a"])
def test_strip_is_pythons(value):
    """The strip() macro every canonical column goes through: Python's str.strip, the empty text included (it takes a
    path of its own) and Unicode white space."""
    connection = Connection("256MB", 1)
    try:
        assert connection.con.execute("SELECT strip($v)", {"v": value}).fetchall()[0][0] == value.strip()
    finally:
        connection.close()
