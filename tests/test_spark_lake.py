"""Inputs Spark reads where they are (inputs/lake.py): lake paths (here file:// URIs, as s3a:// or hdfs:// would be),
folders and globs, session tables and DataFrames give the result DuckDB gives on the same files, with the
same row numbers (also across many small file splits) and every unreadable record accounted for; and the
DuckDB forms the loading uses are translated without reading more than DuckDB reads."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dedupaudit import api
from dedupaudit.cli.main import app
from dedupaudit.generate.rates import RATES
from dedupaudit.generate.run import write_shop
from tests.test_spark_parity import EXAMPLES, PLATFORMS, REQUIRED, spark  # noqa: F401  (the session fixture)

EVERYTHING = {**{k: 0.3 for k in RATES}, "placeholder_ids": 0.05}


def _uri(path) -> str:
    return f"file://{path}"


def _local_names(result: dict, root) -> dict:
    """Spark names a file by its URI (file:/..., URL-encoded): the same file DuckDB names by its path."""
    return json.loads(re.sub(r'file:(/[^"]*)', lambda m: unquote(m.group(1)), json.dumps(result, ensure_ascii=False)))


def _rejects(path) -> list[tuple]:
    """The rows of a --rejects CSV, or of the CSV part files Spark wrote to a lake folder."""
    path = Path(path)
    found = []
    for part in sorted(path.glob("part-*.csv")) if path.is_dir() else [path]:
        with open(part, newline="", encoding="utf-8") as handle:
            found += [(r["input"], r["file"], int(r["row"]), r["reason"]) for r in csv.DictReader(handle)]
    return sorted(found)


def _plant_bad_rows(path, width: int) -> None:
    """Rows the typing rejects (a bad time, a bad value) and records no reader can split into the header's columns."""
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write("meta,Purchase,BAD-1,not a time" + "," * (width - 4) + "\n")
        handle.write("meta,Purchase,BAD-2\n")  # too few fields
        handle.write("meta,Purchase,BAD-3,2026-10-05T10:00:00Z" + ",x" * (width - 3) + "\n")  # too many


def test_lake_files_folders_and_globs_same_result_as_duckdb(spark, tmp_path):
    """Pixel events in two CSV files read by a glob, in splits of 4 KB (many per file); server events as JSON Lines
    in a folder; orders as Parquet: the JSON result and every rejected row (file, row, reason) are DuckDB's."""
    write_shop(tmp_path, 400, 5, "csv", PLATFORMS, EVERYTHING, truth=False)
    shop = tmp_path / "lake"
    (shop / "capi").mkdir(parents=True)
    rows = (tmp_path / "pixel.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = rows[0], rows[1:]
    width = len(header.split(","))
    halves = [body[: len(body) // 2], body[len(body) // 2:]]
    pixel = [shop / "pixel-1.csv", shop / "pixel-2.csv"]
    for path, half in zip(pixel, halves):
        path.write_text(header + "".join(half), encoding="utf-8")
        _plant_bad_rows(path, width)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{tmp_path / 'capi.csv'}', all_varchar = true)) TO '{shop / 'capi' / 'part-0.jsonl'}' (FORMAT json)")
    con.execute(f"COPY (SELECT * FROM read_csv('{tmp_path / 'orders.csv'}', all_varchar = true)) TO '{shop / 'orders.parquet'}' (FORMAT parquet)")
    settings = {"timezone": "Europe/Berlin", "fail_on": "never"}

    duck = api.audit([str(p) for p in pixel], str(shop / "capi" / "part-0.jsonl"), str(shop / "orders.parquet"),
                     rejects=tmp_path / "duck-rejects.csv", **settings).to_dict()
    on_spark = api.audit(_uri(shop / "pixel-*.csv"), _uri(shop / "capi" / "*.jsonl"), _uri(shop / "orders.parquet"), engine="spark",
                         rejects=_uri(tmp_path / "spark-rejects"),  # a lake folder: Spark's writers write it
                         spark_conf={"spark.sql.files.maxPartitionBytes": "4096", "spark.sql.files.openCostInBytes": "0"},
                         **settings).to_dict()

    assert len(duck["inputs"]["pixel"]["per_file"]) == 2 and duck["inputs"]["pixel"]["rejected"] == 6
    assert (tmp_path / "spark-rejects" / "_SUCCESS").exists()
    spark_rejects = [(i, f.replace(f"file:{shop}", str(shop)), row, _reason(reason)) for i, f, row, reason in _rejects(tmp_path / "spark-rejects")]
    duck_rejects = [(i, f, row, _reason(reason)) for i, f, row, reason in _rejects(tmp_path / "duck-rejects.csv")]
    assert sorted(spark_rejects) == duck_rejects
    assert sum(1 for r in duck_rejects if r[3] == UNSPLIT) == 4
    assert _same_reasons(_local_names(on_spark, shop)) == _same_reasons(duck)


UNSPLIT = "(a record not split into the header's columns)"


def _reason(reason: str) -> str:
    """Each engine's reader words a record it cannot split in its own way (DuckDB's exact reader counts the fields)."""
    return UNSPLIT if "fields, the header has" in reason or "does not split into the header's columns" in reason else reason


def _same_reasons(result: dict) -> dict:
    for finding in result["findings"]:
        if finding["code"] == "DA100":  # the rejected rows, with each reason's words
            finding["message"] = finding["message"].split(":")[0]
    for side in result["inputs"].values():
        for entry in [side, *side["per_file"]]:
            merged: dict[str, int] = {}
            for reason, n in entry["rejected_reasons"].items():
                merged[_reason(reason)] = merged.get(_reason(reason), 0) + n
            entry["rejected_reasons"] = merged
    return result


def test_session_tables_and_dataframes_same_result_as_duckdb(spark, tmp_path):
    """--pixel-table NAME (a view of the session) from the CLI, and Spark DataFrames given to audit()."""
    files = [str(tmp_path / f"{name}.parquet") for name in ("pixel", "capi", "orders")]
    write_shop(tmp_path, 300, 9, "parquet", PLATFORMS, EVERYTHING, truth=False)
    for name, path in zip(("lake_pixel", "lake_capi", "lake_orders"), files):
        spark.read.parquet(path).createOrReplaceTempView(name)

    duck = api.audit(*files, fail_on="never", export_failures=tmp_path / "duck-rows", export_format="parquet").to_dict()
    frames = api.audit(*(spark.read.parquet(p) for p in files), engine="spark", fail_on="never",
                       export_failures=tmp_path / "spark-rows", export_format="parquet").to_dict()
    # --export-failures on Spark: Spark's writers, a folder of part files per finding, the same rows and columns.
    exported = {p.name: pq.read_table(p) for p in (tmp_path / "duck-rows").iterdir()}
    on_spark = {p.name: pq.read_table(p) for p in (tmp_path / "spark-rows").iterdir() if p.is_dir()}
    assert len(exported) >= 5 and set(on_spark) == set(exported)
    assert {n: (t.num_rows, t.column_names) for n, t in on_spark.items()} == {n: (t.num_rows, t.column_names) for n, t in exported.items()}
    cli = CliRunner().invoke(app, ["check", "--pixel-table", "lake_pixel", "--capi-table", "lake_capi", "--orders-table", "lake_orders",
                                   "--engine", "spark", "--format", "json", "--quiet", "--fail-on", "never"])
    assert cli.exit_code == 0, cli.output
    on_tables = json.loads(cli.stdout)
    assert on_tables["inputs"]["pixel"]["files"] == ["lake_pixel"]
    assert frames["inputs"]["orders"]["files"] == ["orders DataFrame"]

    def unnamed(result: dict, names) -> dict:
        """The inputs' names (paths, tables, DataFrames) as '-'."""
        text = json.dumps(result)
        for name in names:
            text = text.replace(json.dumps(name)[1:-1], "-")
        return json.loads(text)

    assert unnamed(frames, [f"{s} DataFrame" for s in ("pixel", "capi", "orders")]) == \
        unnamed(on_tables, ["lake_pixel", "lake_capi", "lake_orders"]) == unnamed(duck, files)


@pytest.mark.parametrize("args, message", [
    (["--pixel", "s3a://bucket/pixel/*.parquet"], "add --engine spark"),
    (["--pixel-table", "pixel_events"], "add --engine spark"),
    # the URI is kept as given (a Path would make it s3a:/bucket)
    (["--pixel", EXAMPLES[0], "--rejects", "s3a://bucket/rejects"],
     "--rejects s3a://bucket/rejects: a lake path is written by Spark: add --engine spark"),
    (["--pixel", EXAMPLES[0], "--export-failures", "s3a://bucket/failures"],
     "--export-failures s3a://bucket/failures: a lake folder is written by Spark: add --engine spark"),
])
def test_lake_inputs_without_spark_exit_2(args, message):
    result = CliRunner().invoke(app, ["check", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--pixel-table", "no_such_table"], "table no_such_table"),
    (["--pixel", "file:///nowhere/at/all.csv"], "cannot read it as csv on Spark"),
    (["--pixel", "file:///nowhere/folder/"], "a folder as a glob: file:///nowhere/folder/*.parquet"),
    (["--pixel", "file:///nowhere/x.har", "--pixel-format", "har"], "on Spark a lake path is read as a canonical table"),
])
def test_lake_inputs_spark_cannot_read_exit_2(spark, args, message):
    result = CliRunner().invoke(app, ["check", *args, "--engine", "spark"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------ the loading's DuckDB forms on Spark

NUMBERS = ["12", " 12 ", "12.", ".5", "1e5", "1E+5", "-1.5e-3", "+3", "12d", "12f", "12D", "inf", "-inf", "Infinity", "nan", "NaN",
           "0x10", "1,5", "", "  ", "\t12\n", "١٢", "1e", "e5", "--1", "1.2.3", "12 34", "00012", "+.5e1", ".e1", "INF", "\u00a012",
           "1L", "0b1", "1__0", "5.", "-.", "+"]


def test_try_cast_double_reads_on_spark_exactly_what_duckdb_reads(spark):
    """Spark's cast also reads '12d' and '12f' (Java's float suffixes): a value DuckDB rejects would become a number."""
    from dedupaudit.engine.spark import SparkConnection
    con = duckdb.connect()
    want = [con.execute("SELECT try_cast(? AS DOUBLE)", [v]).fetchone()[0] for v in NUMBERS]
    with SparkConnection(spark) as engine:
        engine.con.register("numbers", __import__("pyarrow").table({"i": list(range(len(NUMBERS))), "v": NUMBERS}))
        got = [v for _, v in engine.con.execute("SELECT i, try_cast(v AS DOUBLE) FROM numbers ORDER BY i").fetchall()]
    same = lambda a, b: (a is None and b is None) or (a is not None and b is not None and (a == b or a != a and b != b))  # noqa: E731
    assert [v for v, a, b in zip(NUMBERS, got, want) if not same(a, b)] == []


def test_regular_expressions_keep_duckdbs_meaning_on_spark(spark):
    from dedupaudit.engine.spark import SparkConnection
    sql = (r"SELECT regexp_full_match('12' || chr(10), '\d+'), regexp_full_match('12', '\d+'), "
           r"regexp_replace('2026-10-05 10:00:00 UTC', '(\d)\s+UTC$', '\1Z'), regexp_replace('a $1 b', '^a', 'x$'), "
           r"isnan(CAST(NULL AS DOUBLE)), isfinite(CAST('inf' AS DOUBLE)), isfinite(1.5)")
    want = duckdb.connect().execute(sql).fetchall()
    with SparkConnection(spark) as engine:
        assert engine.con.execute(sql).fetchall() == want
    assert want == [(False, True, "2026-10-05 10:00:00Z", "x$ $1 b", None, False, True)]


def test_native_capi_log_read_in_place_same_result_as_duckdb(spark, tmp_path):
    """A CAPI request log of four platforms in two JSON Lines files, one gzipped, one read in 4 KB splits, with lines
    the reader rejects (broken JSON, a body of no known platform, an event without a name) and a blank line: normalised
    on the executors, the JSON result and every reject (file, row, reason) are those of DuckDB reading the same files."""
    import gzip

    write_shop(tmp_path, 300, 3, "parquet", PLATFORMS, EVERYTHING, truth=False, native=True)
    lines = (tmp_path / "capi.native.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    shop = tmp_path / "lake"
    shop.mkdir()
    bad = ['{"url": "https://graph.facebook.com/1/events", "body": {"data": [{"event_name"\n', "\n",
           '{"body": {"something": "else"}}\n', '{"url": "https://graph.facebook.com/1/events", "body": {"data": [{"event_id": "x"}]}}\n']
    mid = len(lines) // 2
    first, second = lines[:mid] + bad, lines[mid:mid + 5] + bad + lines[mid + 5:]
    (shop / "capi-1.jsonl").write_text("".join(first), encoding="utf-8")
    with gzip.open(shop / "capi-2.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(second))
    files = [str(shop / "capi-1.jsonl"), str(shop / "capi-2.jsonl.gz")]
    settings = {"timezone": "UTC", "fail_on": "never"}
    pixel, orders = str(tmp_path / "pixel.parquet"), str(tmp_path / "orders.parquet")

    duck = api.audit(pixel, files, orders, rejects=tmp_path / "duck-rejects.csv", **settings).to_dict()
    on_spark = api.audit(_uri(pixel), _uri(shop / "capi-*.jsonl*"), _uri(orders), engine="spark", rejects=tmp_path / "spark-rejects.csv",
                         spark_conf={"spark.sql.files.maxPartitionBytes": "4096", "spark.sql.files.openCostInBytes": "0"},
                         **settings).to_dict()

    duck_rejects = _rejects(tmp_path / "duck-rejects.csv")
    assert len([r for r in duck_rejects if r[0] == "capi"]) == 6
    assert sorted((i, f.replace(f"file:{tmp_path}", str(tmp_path)), row, reason) for i, f, row, reason in _rejects(tmp_path / "spark-rejects.csv")) == duck_rejects
    assert duck["inputs"]["capi"]["rows"] > 1000
    assert _local_names(on_spark, tmp_path) == duck


REAL = Path(__file__).parent / "fixtures" / "real"


def test_real_request_logs_read_in_place_same_result_as_duckdb(spark, tmp_path):
    """The public payloads of tests/fixtures/real (every JSON Lines request log but the gateway logs, whose lines are
    joined by TraceId): one folder read by a glob on Spark gives the rows, rejects and result of DuckDB's reading."""
    logs = [p for p in sorted(REAL.rglob("*.jsonl")) if "TraceId" not in p.read_text(encoding="utf-8")]
    folder = tmp_path / "logs"
    folder.mkdir()
    for n, path in enumerate(logs):
        (folder / f"part-{n:02}.jsonl").write_bytes(path.read_bytes())
    parts = sorted(str(p) for p in folder.iterdir())
    settings = {"timezone": "UTC", "fail_on": "never"}

    duck = api.audit(capi=parts, rejects=tmp_path / "duck-rejects.csv", **settings).to_dict()
    on_spark = api.audit(capi=_uri(folder / "*.jsonl"), engine="spark", rejects=tmp_path / "spark-rejects.csv", **settings).to_dict()

    assert len(logs) >= 15 and len(duck["inputs"]["capi"]["per_file"]) == len(logs)
    assert sorted((i, f.replace(f"file:{tmp_path}", str(tmp_path)), row, reason) for i, f, row, reason in _rejects(tmp_path / "spark-rejects.csv")) \
        == _rejects(tmp_path / "duck-rejects.csv")
    assert _local_names(on_spark, tmp_path) == duck


def test_forced_log_format_on_a_lake_path(spark, tmp_path):
    """--capi-format names the body shape: the lake reader uses it as the local reader does."""
    log = tmp_path / "meta.jsonl"
    log.write_bytes((REAL / "meta" / "capi_json.jsonl").read_bytes())
    duck = api.audit(capi=str(log), formats={"capi": "meta-capi"}, fail_on="never").to_dict()
    on_spark = api.audit(capi=_uri(log), formats={"capi": "meta-capi"}, engine="spark", fail_on="never").to_dict()
    assert duck["inputs"]["capi"]["rows"] > 0
    assert _local_names(on_spark, tmp_path) == duck


OBJECT_TEST_CODE = "".join('{"url": "https://graph.facebook.com/v19.0/1/events", "body": {"data": [{"event_name": "Purchase", '
                           '"event_id": "a1", "event_time": 1730000000, "action_source": "website"}]%s}}\n' % extra
                           for extra in ("", ', "test_event_code": {"a": 1}'))


def _records(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _same_on_spark(tmp_path, folder: Path, glob: str) -> dict:
    """The folder's files read locally and as a lake glob on Spark: the same result and the same rejects."""
    import glob as globbing

    parts = sorted(globbing.glob(str(folder / glob)))
    settings = {"timezone": "UTC", "fail_on": "never"}
    duck = api.audit(capi=parts, rejects=tmp_path / "duck-rejects.csv", **settings).to_dict()
    on_spark = api.audit(capi=_uri(folder / glob), engine="spark", rejects=tmp_path / "spark-rejects.csv", **settings).to_dict()
    assert sorted((i, unquote(f.removeprefix("file:")), row, reason) for i, f, row, reason in _rejects(tmp_path / "spark-rejects.csv")) \
        == _rejects(tmp_path / "duck-rejects.csv")
    assert _local_names(on_spark, tmp_path) == duck
    return duck


@pytest.mark.parametrize("content", [
    (REAL / "x/stape_log.jsonl").read_text(encoding="utf-8"),
    (REAL / "snap/capi_v3_stape_log.jsonl").read_text(encoding="utf-8"),
    OBJECT_TEST_CODE,  # a test code that is an object: the Python reader's form
], ids=["x stape", "snap stape", "python reader form"])
def test_lake_logs_the_split_reading_cannot_take_are_read_whole(spark, tmp_path, content):
    """Gateway logs whose request and response lines are joined by TraceId, and forms the compiled query leaves to the
    Python reader, are read again whole by the local reader on an executor: the local result, beside a plain log
    (in a folder whose name Spark's readers URL-encode, a%20b, and binaryFile does not)."""
    folder = tmp_path / "lake logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(content, encoding="utf-8")
    (folder / "b.jsonl").write_bytes((REAL / "meta" / "capi_json.jsonl").read_bytes())
    duck = _same_on_spark(tmp_path, folder, "*.jsonl")
    assert [f["used"] > 0 for f in duck["inputs"]["capi"]["per_file"]] == [True, True]


def test_json_arrays_and_documents_read_whole_in_place(spark, tmp_path):
    """A folder of JSON Lines, pretty-printed JSON arrays (one gzipped) and a single JSON document, read by one glob:
    each file that is not JSON Lines is read whole, so the arrays' lines are never taken for broken records (a file
    name with glob characters is read as that file)."""
    import gzip

    folder = tmp_path / "lake logs"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes((REAL / "meta" / "capi_json.jsonl").read_bytes())
    (folder / "b.json").write_text(json.dumps(_records(REAL / "linkedin" / "capi.jsonl"), indent=2), encoding="utf-8")
    with gzip.open(folder / "c.json.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(_records(REAL / "pinterest" / "capi_v5.jsonl"), indent=1))
    (folder / "d[1].json").write_text(json.dumps(_records(REAL / "tiktok" / "events_api_stape.jsonl")[0], indent=2), encoding="utf-8")
    duck = _same_on_spark(tmp_path, folder, "*.json*")
    per_file = duck["inputs"]["capi"]["per_file"]
    assert len(per_file) == 4 and all(f["used"] > 0 for f in per_file), per_file

    only_arrays = tmp_path / "arrays"
    only_arrays.mkdir()
    (only_arrays / "b.json").write_bytes((folder / "b.json").read_bytes())
    (only_arrays / "c.json.gz").write_bytes((folder / "c.json.gz").read_bytes())
    (tmp_path / "duck-rejects.csv").unlink()
    assert _same_on_spark(tmp_path, only_arrays, "*.json*")["inputs"]["capi"]["rows"] > 0


def test_a_json_array_that_is_no_request_log_exit_2(spark, tmp_path):
    rows = [{"platform": "meta", "event_name": "Purchase", "event_id": "a1", "event_time": "2026-10-05T10:00:00Z"}]
    (tmp_path / "events.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--capi", _uri(tmp_path / "events.json"), "--engine", "spark"])
    assert result.exit_code == 2, result.output
    assert "events.json: reads as canonical" in result.output and "Traceback" not in result.output
