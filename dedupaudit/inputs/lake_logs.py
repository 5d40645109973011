"""CAPI request logs Spark reads where they are (engine: spark): JSON Lines files (.gz too) on any path Spark
reads, normalised on the executors by the compiled query that reads a local log (inputs/native/compile.py), run by
an embedded DuckDB over each file split's lines. Only the canonical rows and the rejects leave the executors.

The driver reads a few lines to tell a log from a canonical table (detect.py on the first lines). Each file's first
lines, on the executors, give the evidence a body that only they place needs (capi_logs.file_scores). Lines are
numbered as lake.py numbers any file. Two forms are refused with the file and record, to be read from a local path:
those the compiled query leaves to the Python reader (compile.FALLBACK_SHAPES), and gateway logs whose request and
response lines are joined by TraceId (the two lines of a pair may sit in different splits).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow as pa

from dedupaudit.errors import UserError
from dedupaudit.inputs.files import Scan
from dedupaudit.inputs.native.capi_logs import file_scores, join_responses, server_formats
from dedupaudit.inputs.native.jsonsql import lit
from dedupaudit.inputs.native.compile import ID_COLUMNS, OUTPUT, Declined, normalise, platform_names, valid_lines
from dedupaudit.inputs.textfile import Text
from dedupaudit.platforms.rules import PlatformRules

HEAD = 1000  # lines of each file read for its evidence (the local reader reads its first 50 records)
SNIFF = 200  # lines read on the driver to tell a log from a table
TASK_MEMORY = "1GB"  # the DuckDB of one task: a split's lines (128 MB by default) and its stages
_FIELDS = [("kind", pa.string()), ("__file", pa.string()), ("__file_index", pa.int64()), ("__row", pa.int64()),
           ("__idx", pa.int64()), *((c, pa.string()) for c in (*OUTPUT, "source_ref")),
           *((f"__numeric_{c}", pa.bool_()) for c in ID_COLUMNS), ("reason", pa.string())]
SCHEMA = pa.schema(_FIELDS)


def log_formats(rules: dict[str, PlatformRules]) -> tuple[str, ...]:
    return ("capi-log", *(s.format for s in server_formats(rules)))


def sniff(spark, path: str, side: str, rules: dict[str, PlatformRules]) -> str:
    """What the first lines of a lake JSON path are, as detect.py names a local file's format."""
    from dedupaudit.inputs.detect import detect
    from dedupaudit.inputs.lake import read_error

    try:
        lines = [r.value for r in spark.read.text(path).limit(SNIFF).collect()]
    except Exception as exc:
        raise read_error(path, "JSON Lines", exc) from None
    with tempfile.TemporaryDirectory(prefix="dedupaudit-sniff-") as folder:
        head = Path(folder) / "head.jsonl"
        head.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            return detect(head, side, rules, None)[0]
        except UserError as exc:
            raise UserError(str(exc).replace(str(head), path)) from None


def scan_lake_log(connection, path: str, fmt: str, rules: dict[str, PlatformRules]) -> Scan:
    """A CAPI request log (format `fmt`: 'capi-log' or one platform's server format) as a view on the session."""
    from dedupaudit.inputs.lake import _numbered, read_error

    spark = connection.spark
    specs = server_formats(rules)
    forced = next((s for s in specs if s.format == fmt), None)
    if forced is None and fmt != "capi-log":
        raise UserError(f"{path}: the first lines read as {fmt}; on Spark a lake path is read as a canonical table or a CAPI "
                        f"request log (JSON Lines): read it from a local path")
    try:
        frame = spark.read.text(path)
    except Exception as exc:
        raise read_error(path, "JSON Lines", exc) from None
    lines = _numbered(connection, frame, "text", path, first_row=1)
    numbered = spark.table(lines.relation).select("__file", "__file_index", "__row", "value")
    scores = {} if forced else _file_scores(numbered, specs, platform_names(rules))
    task = _Task(rules, [forced] if forced else specs, scores, bool(forced))
    try:
        result = numbered.mapInArrow(task, _spark_schema()).localCheckpoint(eager=True)
        declined = result.where("kind = 'declined'").select("__file", "reason").limit(1).collect()
    except Exception as exc:
        lines.drop()
        raise read_error(path, "a CAPI request log", exc) from None
    if declined:
        lines.drop()
        result.unpersist()
        file, reason = declined[0]
        raise UserError(f"{file}: {reason}; the lake reader leaves this form to the local reader: read this file from a local path")
    events, view = connection.name("lake_log_rows"), connection.name("lake_log")
    result.createOrReplaceTempView(events)
    spark.sql(f"""SELECT __file, __file_index, __row, row_number() OVER (PARTITION BY __file_index ORDER BY __row, __idx) - 1 AS __seq,
                  {', '.join(OUTPUT)}, source_ref, {', '.join(f'__numeric_{c}' for c in ID_COLUMNS)}
                  FROM {events} WHERE kind = 'event'""").createOrReplaceTempView(view)
    broken_sql = f"SELECT __file AS file, __row AS row, source_ref, reason, __file_index AS file_index FROM {events} WHERE kind = 'reject'"

    def drop() -> None:
        for temp in (view, events):
            spark.catalog.dropTempView(temp)
        result.unpersist()
        lines.drop()

    columns = [*OUTPUT, "source_ref"]
    return Scan(path, view, columns, {c: "VARCHAR" for c in columns}, numeric={c: f"__numeric_{c}" for c in ID_COLUMNS},
                files=lines.files, broken_sql=broken_sql, text=Text("utf-8", None), cleanup=[drop])


def _spark_schema():
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(SCHEMA)


def _file_scores(numbered, specs, names) -> dict[str, dict[str, int]]:
    """Each file's evidence from its first records (capi_logs.file_scores), computed where the lines are."""
    def scores(head: pa.Table) -> pa.Table:
        items = []
        for row, value in sorted(zip(head["__row"].to_pylist(), head["value"].to_pylist())):
            try:
                items.append((row, json.loads(value)))
            except (TypeError, ValueError):
                continue
        found = file_scores(join_responses(items)[0], specs, names)
        return pa.table({"file": [head["__file"][0].as_py()], "scores": [json.dumps(found)]})

    heads = numbered.where(f"__row <= {HEAD}").groupBy("__file").applyInArrow(scores, "file string, scores string")
    return {r["file"]: json.loads(r["scores"]) for r in heads.collect()}


class _Task:
    """The work of one task: its lines, grouped by file, through compile.normalise on an embedded DuckDB."""

    def __init__(self, rules, specs, scores, forced: bool):
        self.rules, self.specs, self.scores, self.forced = rules, specs, scores, forced

    def __call__(self, batches):
        import pyarrow.compute as pc

        batches = list(batches)
        if not batches:
            return
        lines = pa.Table.from_batches(batches)
        for file_index in pc.unique(lines["__file_index"]).to_pylist():
            part = lines.filter(pc.equal(lines["__file_index"], file_index))
            yield from self._file(part["__file"][0].as_py(), file_index, part.select(["__row", "value"]).rename_columns(["pos", "j"]))

    def _file(self, file: str, file_index: int, lines: pa.Table):
        from dedupaudit.connection import Connection

        with Connection(memory_limit=TASK_MEMORY, threads=1) as connection:
            con = connection.con
            table = connection.name("lines")
            con.register(table + "_in", lines)
            con.execute(f"CREATE TABLE {table} AS SELECT pos, j FROM {table}_in ORDER BY pos")
            made = [table]
            try:
                valid = valid_lines(con, table, "jsonl")
                if valid is None:
                    raise Declined("a line Python's JSON parser reads and DuckDB's does not, or a line break inside a line")
                relation, reasons = valid
                out, rejects = normalise(connection, relation, "jsonl", self.rules, self.specs, self.scores.get(file, {}),
                                         self.forced, made, gateway_joins=False)
            except Declined as exc:
                yield _batch({"kind": ["declined"], "__file": [file], "__file_index": [file_index], "reason": [str(exc)]})
                return
            rows = con.sql(f"SELECT 'event' AS kind, {lit(file)} AS __file, {int(file_index)}::BIGINT AS __file_index, * FROM {out}").to_arrow_table()
            yield from (_conform(b) for b in rows.to_batches())
            broken = [(b[0], b[1], b[2] if len(b) > 2 else None) for b in (*reasons, *rejects)]
            if broken:
                pos, reason, where = zip(*broken)
                yield _batch({"kind": ["reject"] * len(pos), "__file": [file] * len(pos), "__file_index": [file_index] * len(pos),
                              "__row": list(pos), "reason": list(reason), "source_ref": list(where)})


def _batch(columns: dict) -> pa.RecordBatch:
    n = len(next(iter(columns.values())))
    return pa.RecordBatch.from_arrays([pa.array(columns.get(name, [None] * n), t) for name, t in _FIELDS], schema=SCHEMA)


def _conform(batch: pa.RecordBatch) -> pa.RecordBatch:
    n = batch.num_rows
    arrays = [batch.column(name).cast(t) if name in batch.schema.names else pa.nulls(n, t) for name, t in _FIELDS]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)
