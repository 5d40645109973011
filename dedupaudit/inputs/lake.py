"""Inputs Spark reads where they are (engine: spark): Parquet, CSV/TSV and JSON Lines files on object storage,
HDFS or any path Spark reads (folders and globs too), and the session's tables, views and DataFrames.

Nothing of them comes to this machine: the scan is a view on the session, typed and checked by the same
SQL as a file DuckDB reads (inputs/canonical.py, translated by engine/dialect.py). A row's number is its
record's place in its file, counted per file split: each split's records are numbered in order (Spark's
monotonically increasing id is contiguous within a split) and the splits of a file add up in file order,
from a small per-split count. Records Spark's reader cannot split into the header's columns are the
file's unreadable lines, with their row. Spark skips blank lines and reads a CSV value that runs over
several lines as broken records: in such files the numbers count records, not lines. CAPI request logs
in JSON (JSON Lines as lines, blank ones too; JSON arrays and documents a file at a time) are normalised on the
executors: lake_logs.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dedupaudit.errors import UserError
from dedupaudit.privacy import one_line

LAKE_FORMATS = ("parquet", "csv", "tsv", "jsonl")
_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "jsonl"}
_COMPRESSED = (".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # s3a://, gs://, abfss://, hdfs://, file:/, dbfs:/ (not C:\)
_CORRUPT = "__corrupt"
# Spark's types by the DuckDB names the canonical SQL is written for (inputs/timestamps.py, canonical.py).
_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT",
          "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE",
          "timestamp_ntz": "TIMESTAMP"}


@dataclass(frozen=True)
class SparkTable:
    """A table or view of the Spark session (--pixel-table NAME), or a Spark DataFrame given to the Python API."""

    name: str
    frame: object = None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class LakePath:
    """A path Spark reads (a URI with a scheme): a file, a folder or a glob."""

    path: str

    def __str__(self) -> str:
        return self.path


def is_lake_path(text: str) -> bool:
    return bool(_SCHEME.match(str(text)))


def is_spark_frame(value) -> bool:
    return type(value).__module__.startswith("pyspark.sql") and hasattr(value, "schema") and hasattr(value, "createOrReplaceTempView")


def lake_format(path: str) -> str:
    """The file type of a lake path, from its name: a folder is given as a glob with the files' extension."""
    name = path.rstrip("/").lower().rstrip("*")  # capi-*.jsonl* also takes the compressed files
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    found = next((fmt for ext, fmt in _EXTENSIONS.items() if name.endswith(ext)), None)
    if found is None:
        raise UserError(f"{path}: cannot tell the format from the name; name the files with their extension "
                        f"(a folder as a glob: {path.rstrip('/')}/*.parquet)")
    return found


def scan_lake(connection, item, side: str, context):
    """A lake path or a session table as a relation on `connection` (engine.spark.SparkConnection). JSON Lines
    are a canonical table or a CAPI request log (lake_logs.py), told apart by their first lines."""
    spark = connection.spark
    if isinstance(item, SparkTable):
        frame = item.frame if item.frame is not None else _table(spark, item.name)
        return _numbered(connection, frame, None, item.name, first_row=1, checkpoint=True)
    from dedupaudit.inputs.detect import bundled_rules
    from dedupaudit.inputs.lake_logs import log_formats, scan_lake_log, sniff
    from dedupaudit.inputs.textfile import Text

    forced = context.formats.get(side)
    forced = None if forced in (None, "auto") else forced
    rules = context.rules or bundled_rules()
    if forced not in (None, "canonical", *log_formats(rules)):
        raise UserError(f"{item.path}: on Spark a lake path is read as a canonical table ({', '.join(LAKE_FORMATS)}) or a CAPI "
                        f"request log (JSON), not as '{forced}'; read other formats from a local path")
    fmt = lake_format(item.path)
    if fmt == "jsonl":
        kind = forced or sniff(spark, item.path, side, rules)
        if kind != "canonical":
            return scan_lake_log(connection, item.path, kind, rules, side, context)
    elif forced not in (None, "canonical"):
        raise UserError(f"{item.path}: on Spark a CAPI request log is read from JSON (.jsonl, .json, .ndjson; .gz too)")
    encoding, delimiter = context.encoding, context.delimiter
    sep = (delimiter or ("\t" if fmt == "tsv" else ",")) if fmt in ("csv", "tsv") else None
    frame = _read(spark, item.path, fmt, _JAVA_ENCODINGS.get(encoding or "utf-8", encoding), sep)
    scan = _numbered(connection, frame, fmt, item.path, first_row=2 if sep else 1)
    scan.text = None if fmt == "parquet" else Text(encoding or "utf-8", sep)  # what the per-file accounting shows
    return scan


def read_error(path: str, what: str, exc: Exception) -> UserError:
    return UserError(f"{path}: cannot read it as {what} on Spark ({_first_line(exc)})")


def _table(spark, name: str):
    try:
        return spark.table(name)
    except Exception as exc:  # AnalysisException: no such table or view
        raise UserError(f"table {name}: {_first_line(exc)}") from None


_JAVA_ENCODINGS = {"utf-8": "UTF-8", "utf-8-bom": "UTF-8", "cp1252": "windows-1252", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE",
                   "latin-1": "ISO-8859-1", "iso-8859-1": "ISO-8859-1"}


def _read(spark, path: str, fmt: str, encoding: str, sep: str | None):
    try:
        if fmt == "parquet":
            return spark.read.parquet(path)
        if fmt == "jsonl":
            return spark.read.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", _CORRUPT).json(path)
        options = {"header": True, "sep": sep, "quote": '"', "escape": '"', "encoding": encoding, "multiLine": False}
        header = spark.read.options(**options).csv(path).columns  # the first file's header; every file is checked against it
        if len(set(c.lower() for c in header)) != len(header):
            raise UserError(f"{path}: the header names a column twice")
        schema = ", ".join(f"`{c.replace('`', '``')}` STRING" for c in header) + f", `{_CORRUPT}` STRING"
        return (spark.read.options(**options, enforceSchema=False, mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT)
                .schema(schema).csv(path))
    except UserError:
        raise
    except Exception as exc:
        raise read_error(path, fmt, exc) from None


def _numbered(connection, frame, fmt: str | None, name: str, first_row: int, checkpoint: bool = False):
    """The frame with __file, __file_index, __row and __seq (see the module docstring), its unreadable records apart."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    from dedupaudit.inputs.files import Scan

    spark = connection.spark
    data = [c for c in frame.columns if c != _CORRUPT]
    if fmt is None:  # a table or DataFrame: numbered per partition, in the session's order
        keyed = frame.select("*", F.lit(name).alias("__path"), F.spark_partition_id().cast("bigint").alias("__block"))
    else:
        keyed = frame.select("*", F.col("_metadata.file_path").alias("__path"), F.col("_metadata.file_block_start").alias("__block"))
    keyed = keyed.withColumn("__mono", F.monotonically_increasing_id())
    if checkpoint or fmt != "parquet":
        # Parsed once and kept: a DataFrame may not give its rows in the same order twice, and Spark's CSV and JSON
        # readers tell a broken record only when every column is parsed (with column pruning, a short row passes).
        keyed = keyed.localCheckpoint(eager=True)
    try:
        splits = keyed.groupBy("__path", "__block").agg(F.count(F.lit(1)).alias("n"), F.min("__mono").alias("low")).collect()
    except Exception as exc:
        raise UserError(f"{name}: cannot read it on Spark ({_first_line(exc)})") from None
    if fmt is None:
        files = [name]
    else:  # a file without a record (a header only) is still one of the files read
        listed = {re.sub(r"^file:/+", "file:/", p) for p in frame.inputFiles()}
        files = sorted({r["__path"] for r in splits} | listed)
    index = {path: number for number, path in enumerate(files)}
    rows, seen, before = [], {}, 0
    for split in sorted(splits, key=lambda r: (index.get(r["__path"], 0), r["__block"])):
        path = split["__path"] if fmt is not None else name
        in_file = seen.get(path, 0)
        rows.append((split["__path"], split["__block"], path, index[path], before, in_file, split["low"]))
        seen[path], before = in_file + split["n"], before + split["n"]
    table = pa.table(list(zip(*rows)) if rows else [[]] * 7,
                     schema=pa.schema([("path", pa.string()), ("block", pa.int64()), ("file", pa.string()), ("file_index", pa.int64()),
                                       ("before", pa.int64()), ("in_file", pa.int64()), ("low", pa.int64())]))
    splits_view, raw, view = connection.name("lake_splits"), connection.name("lake_raw"), connection.name("lake_scan")
    connection.con.register(splits_view, table)
    keyed.createOrReplaceTempView(raw)
    quoted = ", ".join(f"s.`{c.replace('`', '``')}`" for c in data)
    numbered = (f"SELECT k.file AS __file, k.file_index AS __file_index, k.in_file + (s.__mono - k.low) + {first_row} AS __row, "
                f"k.before + (s.__mono - k.low) AS __seq, {quoted}{', s.' + _CORRUPT if _CORRUPT in frame.columns else ''} "
                f"FROM {raw} s JOIN {splits_view} k ON s.__path = k.path AND s.__block = k.block")
    spark.sql(numbered).createOrReplaceTempView(view + "_all")
    broken_sql = None
    if _CORRUPT in frame.columns:
        spark.sql(f"SELECT * FROM {view}_all WHERE {_CORRUPT} IS NULL").createOrReplaceTempView(view)
        reason = ("the line does not split into the header's columns (a value over several lines, or broken quoting)"
                  if fmt in ("csv", "tsv") else "invalid JSON")
        broken_sql = (f"SELECT __file AS file, __row AS row, NULL AS source_ref, '{reason.replace(chr(39), chr(39) * 2)}' AS reason, "
                      f"__file_index AS file_index FROM {view}_all WHERE {_CORRUPT} IS NOT NULL")
    else:
        spark.sql(f"SELECT * FROM {view}_all").createOrReplaceTempView(view)
    types = {f.name: _duckdb_type(f.dataType.simpleString()) for f in frame.schema.fields if f.name in data}

    def drop():
        for temp in (view, view + "_all", raw):
            spark.catalog.dropTempView(temp)
        connection.con.unregister(splits_view)
        keyed.unpersist()  # the parsed copy, once the typed rows are in

    return Scan(name, view, data, types, files=files, broken_sql=broken_sql, cleanup=[drop])


def _duckdb_type(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    return _TYPES.get(spark_type, spark_type.upper())


def _first_line(exc: Exception) -> str:
    return one_line(str(exc) or type(exc).__name__)
