"""CAPI request logs Spark reads where they are (engine: spark), on any path Spark reads, normalised on the
executors by the readers that read a local log, each run by an embedded DuckDB. Only the canonical rows and the
rejects leave the executors.

JSON Lines are read in file splits: the compiled query (inputs/native/compile.py) runs over each split's lines,
numbered as lake.py numbers any file, and each file's first lines, on the executors, give the evidence a body that
only they place needs (capi_logs.file_scores). A file the compiled query cannot read split by split (a form it
leaves to the Python reader, compile.FALLBACK_SHAPES, or a gateway log whose request and response lines are joined
by TraceId, the two lines of a pair possibly in different splits) is read again whole. Files that are not JSON Lines
(a JSON array, one JSON document) are read whole from the start. Reading a file whole is the local reading itself
(detect.scan_input on a copy of the file's bytes in the task's temporary folder): the same format decision, compiled
query or Python reader, rows and rejects; the file must fit in a task's memory (Spark hands at most 2 GiB a file).

The driver reads a few lines to tell a log from a canonical table (detect.py on the first lines), and whether the
files are JSON Lines (the first line is one JSON object) or are read whole.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

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
WHOLE = "whole"  # what sniff() says of files read whole, each in one task
TASK_MEMORY = "1GB"  # the DuckDB of one task: a split's lines (128 MB by default) and its stages
_FIELDS = [("kind", pa.string()), ("__file", pa.string()), ("__file_index", pa.int64()), ("__row", pa.int64()),
           ("__idx", pa.int64()), *((c, pa.string()) for c in (*OUTPUT, "source_ref")),
           *((f"__numeric_{c}", pa.bool_()) for c in ID_COLUMNS), ("reason", pa.string())]
SCHEMA = pa.schema(_FIELDS)


def log_formats(rules: dict[str, PlatformRules]) -> tuple[str, ...]:
    return ("capi-log", *(s.format for s in server_formats(rules)))


def sniff(spark, path: str, side: str, rules: dict[str, PlatformRules]) -> str:
    """What the first lines of a lake JSON path are, as detect.py names a local file's format; WHOLE when the first
    line is not one JSON object (a JSON array or a document over several lines: each file's executor decides)."""
    from dedupaudit.inputs.detect import detect
    from dedupaudit.inputs.lake import read_error

    try:
        lines = [r.value for r in spark.read.text(path).limit(SNIFF).collect()]
    except Exception as exc:
        raise read_error(path, "JSON", exc) from None
    if not _one_object(next((line for line in lines if line.strip()), "")):
        return WHOLE
    with tempfile.TemporaryDirectory(prefix="dedupaudit-sniff-") as folder:
        head = Path(folder) / "head.jsonl"
        head.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            return detect(head, side, rules, None)[0]
        except UserError as exc:
            raise UserError(str(exc).replace(str(head), path)) from None


def _one_object(line: str) -> bool:
    """Whether a file's first line is one JSON object, as in JSON Lines; a file whose first line is not is read whole."""
    try:
        return isinstance(json.loads(line.lstrip("\ufeff")), dict)
    except ValueError:
        return False


def scan_lake_log(connection, path: str, fmt: str, rules: dict[str, PlatformRules], side: str, context) -> Scan:
    """A CAPI request log (format `fmt`: 'capi-log', one platform's server format, or WHOLE) as a view on the session."""
    from dedupaudit.inputs.lake import _numbered, read_error

    spark = connection.spark
    specs = server_formats(rules)
    forced = next((s for s in specs if s.format == fmt), None)
    if forced is None and fmt not in ("capi-log", WHOLE):
        raise UserError(f"{path}: the first lines read as {fmt}; on Spark a lake path is read as a canonical table or a CAPI "
                        f"request log (JSON): read it from a local path")
    cleanup, again = [], []
    try:
        if fmt == WHOLE:
            files = _listed(spark, path)
            result = _read_whole(spark, files, _WholeFiles(rules, side, None, context, files))
        else:
            frame = spark.read.text(path)
            lines = _numbered(connection, frame, "text", path, first_row=1)
            cleanup.append(lines.drop)
            files = lines.files
            numbered = spark.table(lines.relation).select("__file", "__file_index", "__row", "value")
            scores, whole_files = _file_heads(numbered, specs, platform_names(rules), bool(forced))
            task = _Task(rules, [forced] if forced else specs, scores, bool(forced), whole_files)
            result = numbered.mapInArrow(task, _spark_schema()).localCheckpoint(eager=True)
            cleanup.append(result.unpersist)
            again = sorted({r["__file"] for r in result.where("kind = 'declined'").select("__file").distinct().collect()})
            # these files again, each whole, in place of their declined splits
            if again:
                whole = _read_whole(spark, again, _WholeFiles(rules, side, fmt, context, files))
                result = result.where("kind <> 'declined'").unionByName(whole)
        if fmt == WHOLE or again:  # kept once read: the rows are read twice below (errors, then the scan)
            result = result.localCheckpoint(eager=True)
            cleanup.append(result.unpersist)
        failed = result.where("kind = 'error'").select("reason").limit(1).collect()
    except UserError:
        _undo(cleanup)
        raise
    except Exception as exc:
        _undo(cleanup)
        raise read_error(path, "a CAPI request log", exc) from None
    if failed:
        _undo(cleanup)
        raise UserError(failed[0]["reason"])
    events, view = connection.name("lake_log_rows"), connection.name("lake_log")
    result.createOrReplaceTempView(events)
    spark.sql(f"""SELECT __file, __file_index, __row, row_number() OVER (PARTITION BY __file_index ORDER BY __row, __idx) - 1 AS __seq,
                  {', '.join(OUTPUT)}, source_ref, {', '.join(f'__numeric_{c}' for c in ID_COLUMNS)}
                  FROM {events} WHERE kind = 'event'""").createOrReplaceTempView(view)
    broken_sql = f"SELECT __file AS file, __row AS row, source_ref, reason, __file_index AS file_index FROM {events} WHERE kind = 'reject'"

    def drop() -> None:
        for temp in (view, events):
            spark.catalog.dropTempView(temp)
        _undo(cleanup)

    columns = [*OUTPUT, "source_ref"]
    return Scan(path, view, columns, {c: "VARCHAR" for c in columns}, numeric={c: f"__numeric_{c}" for c in ID_COLUMNS},
                files=files, broken_sql=broken_sql, text=Text("utf-8", None), cleanup=[drop])


def _undo(cleanup: list) -> None:
    for undo in reversed(cleanup):
        undo()
    cleanup.clear()


def _uri(path: str) -> str:
    """One spelling of a local file's URI (Spark writes file:/x, file:///x or file:x by where it came from)."""
    return re.sub(r"^file:/*", "file:/", path)


def _key(path: str) -> str:
    """A file as both of Spark's spellings name it: its readers' file paths are URL-encoded (a%20b), binaryFile's not."""
    return unquote(_uri(path))


def _listed(spark, path: str) -> list[str]:
    from dedupaudit.inputs.lake import read_error

    try:
        return sorted({_uri(p) for p in spark.read.format("binaryFile").load(path).inputFiles()})
    except Exception as exc:
        raise read_error(path, "JSON", exc) from None


def _read_whole(spark, paths: list[str], task: "_WholeFiles"):
    """The files `paths` each read whole by one task."""
    literal = [re.sub(r"([\\\[\]{}*?])", r"\\\1", _key(p)) for p in paths]  # a path, not a glob: a[1].json is that file
    return spark.read.format("binaryFile").load(literal).select("path", "content").mapInArrow(task, _spark_schema())


def _spark_schema():
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(SCHEMA)


def _file_heads(numbered, specs, names, forced: bool) -> tuple[dict[str, dict[str, int]], set[str]]:
    """Each file's evidence from its first records (capi_logs.file_scores), and the files whose first line is not one
    JSON object (read whole), computed where the lines are."""
    def heads(head: pa.Table) -> pa.Table:
        items, first = [], None
        for row, value in sorted(zip(head["__row"].to_pylist(), head["value"].to_pylist())):
            first = value if first is None and (value or "").strip() else first
            try:
                items.append((row, json.loads(value)))
            except (TypeError, ValueError):
                continue
        found = {} if forced else file_scores(join_responses(items)[0], specs, names)
        whole = first is not None and not _one_object(first)
        return pa.table({"file": [head["__file"][0].as_py()], "scores": [json.dumps(found)], "whole": [whole]})

    found = (numbered.where(f"__row <= {HEAD}").groupBy("__file").applyInArrow(heads, "file string, scores string, whole boolean")
             .collect())
    return {r["file"]: json.loads(r["scores"]) for r in found}, {r["file"] for r in found if r["whole"]}


class _Task:
    """The work of one task: its lines, grouped by file, through compile.normalise on an embedded DuckDB."""

    def __init__(self, rules, specs, scores, forced: bool, whole_files: set[str]):
        self.rules, self.specs, self.scores, self.forced, self.whole_files = rules, specs, scores, forced, whole_files

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

        if file in self.whole_files:
            yield _batch({"kind": ["declined"], "__file": [file], "__file_index": [file_index], "reason": ["not JSON Lines"]})
            return

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
            yield from _rejected(file, file_index, [*reasons, *rejects])


class _WholeFiles:
    """The work of one task reading files whole: each file's bytes, copied to the task's temporary folder, read as
    a local file is (detect.scan_input: format decision, compiled query or Python reader), in an embedded DuckDB."""

    def __init__(self, rules, side: str, fmt: str | None, context, files: list[str]):
        self.rules, self.side, self.fmt = rules, side, fmt
        self.encoding, self.delimiter = context.encoding, context.delimiter
        self.index = {_key(f): (f, n) for n, f in enumerate(files)}  # each file's name and number as the scan has them

    def __call__(self, batches):
        for batch in batches:
            paths, contents = batch.column("path"), batch.column("content")
            for n in range(batch.num_rows):
                yield from self._file(*self.index[_key(paths[n].as_py())], contents[n].as_py())

    def _file(self, file: str, file_index: int, content: bytes):
        from dedupaudit.connection import Connection
        from dedupaudit.inputs.detect import ReadContext, decide_format, scan_input

        name = re.sub(r"[^A-Za-z0-9._-]", "_", file.rstrip("/").rsplit("/", 1)[-1])
        context = ReadContext(rules=self.rules, formats={self.side: self.fmt} if self.fmt else {}, encoding=self.encoding,
                              delimiter=self.delimiter)
        with tempfile.TemporaryDirectory(prefix="dedupaudit-whole-") as folder, \
                Connection(memory_limit=TASK_MEMORY, threads=1) as connection:
            local = Path(folder) / f"log-{name}"
            local.write_bytes(content)
            del content
            try:
                fmt = decide_format(local, self.side, context)
                if fmt not in log_formats(self.rules):
                    raise UserError(f"{local}: reads as {fmt}; on Spark a lake path that is not JSON Lines is read as a CAPI "
                                    f"request log only: read it from a local path")
                scan = scan_input(connection, local, self.side, context)
            except UserError as exc:
                yield _batch({"kind": ["error"], "__file": [file], "__file_index": [file_index], "reason": [str(exc).replace(str(local), file)]})
                return
            values = [f"{scan.quoted(c)}::VARCHAR AS {c}" if c in scan.columns else f"NULL AS {c}" for c in (*OUTPUT, "source_ref")]
            flags = [f"{scan.numeric_flag(c) or 'NULL'} AS __numeric_{c}" for c in ID_COLUMNS]
            rows = connection.con.sql(
                f"SELECT 'event' AS kind, {lit(file)} AS __file, {int(file_index)}::BIGINT AS __file_index, {scan.row} AS __row, "
                f"s.__seq AS __idx, {', '.join([*values, *flags])} FROM {scan.relation} s").to_arrow_table()
            yield from (_conform(b) for b in rows.to_batches())
            yield from _rejected(file, file_index, scan.broken)
            scan.drop()


def _rejected(file: str, file_index: int, broken: list[tuple]):
    """A file's rejects, (row, reason) or (row, reason, where in the row), as one batch."""
    if broken:
        pos, reason, where = zip(*((b[0], b[1], b[2] if len(b) > 2 else None) for b in broken))
        yield _batch({"kind": ["reject"] * len(pos), "__file": [file] * len(pos), "__file_index": [file_index] * len(pos),
                      "__row": list(pos), "reason": list(reason), "source_ref": list(where)})


def _batch(columns: dict) -> pa.RecordBatch:
    n = len(next(iter(columns.values())))
    return pa.RecordBatch.from_arrays([pa.array(columns.get(name, [None] * n), t) for name, t in _FIELDS], schema=SCHEMA)


def _conform(batch: pa.RecordBatch) -> pa.RecordBatch:
    n = batch.num_rows
    arrays = [batch.column(name).cast(t) if name in batch.schema.names else pa.nulls(n, t) for name, t in _FIELDS]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)
