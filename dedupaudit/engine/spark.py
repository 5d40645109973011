"""The audit on Apache Spark: the same SQL as on DuckDB (engine/dialect.py translates it), run by a SparkSession.

`SparkConnection` stands where `connection.Connection` stands: `.con` takes the calls the engine makes
on a DuckDB connection (execute, sql, register, unregister) and answers them from Spark, so the tables,
checks and metrics have one definition for both engines. A table the SQL creates is a temporary view
whose rows are materialised once (a local checkpoint), as DuckDB would store them; views stay views.
Only what the checks fetch (counts, up to five examples, the figures) comes back to the driver.

Times are UTC instants: the run sets the session's zone to UTC (RUN_CONF) and every timestamp column is TIMESTAMP (Spark's
local-time kind), so unix_micros() and the day boundaries (from_utc_timestamp) mean what they mean in
DuckDB; naive timestamps come back as naive UTC, as from DuckDB.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import warnings

import pyarrow as pa

from dedupaudit.connection import machine_memory
from dedupaudit.engine.dialect import spark_sql, to_spark
from dedupaudit.errors import UserError

INSTALL = "pip install 'dedupaudit[spark]'"
# PySpark warns about pandas 3 on every Arrow conversion; the audit hands it Arrow tables, not pandas frames.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
DEFAULT_MASTER = "local[*]"
# Small inputs on one machine: Spark's default of 200 shuffle partitions costs more than the work.
DEFAULT_CONF = {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                # The JVM logs its warnings (GC) to stdout by default, into a JSON report written there.
                "spark.driver.extraJavaOptions": "-Xlog:all=warning:stderr"}
# What the translated SQL means only under (engine/dialect.py): times as UTC instants, DuckDB's non-ANSI
# casts and arithmetic. Set for the run on any session, a user's own too, and put back at its end.
RUN_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "false"}


def _local_conf(master: str | None) -> dict[str, str]:
    """In local mode the driver does all the work: its default heap (1 GB) thrashes from about a million
    events, so it gets a third of the machine."""
    if master and master.startswith("local"):
        return {"spark.driver.memory": f"{max(1, machine_memory() // 3 // 2**30)}g"}
    return {}


def session(master: str | None = None, conf: dict[str, str] | None = None):
    """The active SparkSession, or a new one on `master` (else $SPARK_MASTER, else spark-submit's --master, else
    local[*]) with `conf`."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError(f"--engine spark needs PySpark: {INSTALL}") from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        spark = active
    else:
        builder = SparkSession.builder.appName("dedupaudit")
        # Under spark-submit the JVM is already up with its --master: it is used unless one is named here.
        master = master or os.environ.get("SPARK_MASTER") or (None if "PYSPARK_GATEWAY_PORT" in os.environ else DEFAULT_MASTER)
        if master:
            builder = builder.master(master)
        for key, value in {**DEFAULT_CONF, **_local_conf(master), **(conf or {})}.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # no Java, a master that does not answer, a bad setting
            raise UserError(f"--engine spark: could not start Spark ({_first_line(exc)})") from None
        spark.sparkContext.setLogLevel("OFF")
    for key, value in (conf or {}).items():  # an existing session still takes the run's SQL settings
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    return spark


def parse_conf(pairs: list[str] | None, option: str = "--spark-conf") -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option}: '{pair}' is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


class SparkConnection:
    """A Spark session in the place of a DuckDB Connection (see the module docstring)."""

    def __init__(self, spark, reader=None):
        self.spark = spark
        self.con = SparkSQL(spark)
        self.reader = reader  # a DuckDB connection.Connection that reads the local files whose rows Spark is handed
        self._names = 0
        self._before = {key: spark.conf.get(key, None) for key in RUN_CONF}
        for key, value in RUN_CONF.items():
            spark.conf.set(key, value)

    def name(self, stem: str) -> str:
        self._names += 1
        return f"{stem}_{self._names}"

    def scan_input(self, item, side: str, context):
        """An input as a relation on the session: lake paths and tables read by Spark where they are, local files
        read on this machine (every format and reader of inputs/) and their rows handed over as Arrow."""
        from dedupaudit.inputs.detect import scan_input
        from dedupaudit.inputs.lake import LakePath, SparkTable, scan_lake

        if isinstance(item, (LakePath, SparkTable)):
            return scan_lake(self, item, side, context)
        found = scan_input(self.reader, item, side, context)
        view = self.name("handed")
        try:
            self.con.register(view, self.reader.con.sql(f"SELECT * FROM {found.relation}").to_arrow_table())
        finally:
            found.drop()
        return dataclasses.replace(found, relation=view, cleanup=[lambda: self.con.unregister(view)])

    def close(self) -> None:
        self.con.drop_all()
        for key, value in self._before.items():
            if value is None:
                self.spark.conf.unset(key)
            else:
                self.spark.conf.set(key, value)
        self._before = {}

    def __enter__(self) -> "SparkConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SparkSQL:
    """The DuckDB connection calls the engine makes, answered by Spark."""

    def __init__(self, spark):
        self.spark = spark
        self._frames: dict[str, object] = {}  # the run's temporary views -> the DataFrame behind a table (None: a view)

    def execute(self, sql: str, params: dict | None = None) -> "Result":
        result = Result(None)
        for statement in to_spark(sql, params):
            result = self._run(statement)
        return result

    def sql(self, sql: str, params: dict | None = None) -> "Result":
        return self.execute(sql, params)

    def frame(self, sql: str, params: dict | None = None):
        """A query's rows as a Spark DataFrame, left on the cluster (--export-failures writes it with Spark's writers)."""
        (statement,) = to_spark(sql, params)
        return self.spark.sql(spark_sql(statement))

    def register(self, name: str, table) -> None:
        """An Arrow table or a pandas DataFrame (the loading's small lookups) as a temporary view."""
        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        frame = self.spark.createDataFrame(_to_spark_arrow(table))
        frame.createOrReplaceTempView(name)
        self._frames[name] = frame

    def unregister(self, name: str) -> None:
        self._drop(name)

    def drop_all(self) -> None:
        for name in list(self._frames):
            self._drop(name)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        """INSERT INTO t VALUES (?, ...) for each row (the lines no reader could use): one union."""
        (statement,) = to_spark(sql.replace("?", "NULL"))
        target = self._frames[statement.this.name]
        if rows:
            added = self.spark.createDataFrame(list(rows), target.schema)
            self._store(statement.this.name, target.union(added))

    def _run(self, statement) -> "Result":
        from sqlglot import exp
        if isinstance(statement, exp.Create):
            if isinstance(statement.this, exp.Schema) and statement.expression is None:  # CREATE TABLE t (column type, ...)
                columns = ", ".join(f"CAST(NULL AS {_spark_type(c.args['kind'])}) AS `{c.name}`" for c in statement.this.expressions)
                self._store(statement.this.this.name, self.spark.sql(f"SELECT {columns} FROM range(0)"))
                return Result(None)
            name = statement.this.name
            query = spark_sql(statement.expression)
            if statement.kind == "VIEW":
                self.spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")
                self._frames[name] = None
            else:
                self._store(name, self.spark.sql(query))
            return Result(None)
        if isinstance(statement, exp.Insert):  # a table is a checkpointed frame: the rows are appended
            name = statement.this.name if isinstance(statement.this, exp.Table) else statement.this.this.name
            target = self._frames[name]
            added = self.spark.sql(spark_sql(statement.expression))
            if statement.args.get("by_name"):
                added = added.select(*[f"`{c}`" for c in target.columns])
            added = added.toDF(*[f"c{i}" for i in range(len(added.columns))])  # by position (a SELECT may repeat a name)
            added = added.select(*[added[f"c{i}"].cast(f.dataType).alias(f.name) for i, f in enumerate(target.schema.fields)])
            added = added.localCheckpoint(eager=True)
            self._store(name, target.union(added), checkpoint=False)
            return Result(None, pa.table({"count": pa.array([added.count()], pa.int64())}))  # what DuckDB's INSERT answers
        if isinstance(statement, exp.Delete):  # DELETE FROM t WHERE c: the rows for which c is not true stay
            name = statement.this.name
            keep = spark_sql(exp.not_(exp.func("coalesce", statement.args["where"].this, exp.false())))
            self._store(name, self.spark.sql(f"SELECT * FROM {name} WHERE {keep}"))
            return Result(None)
        if isinstance(statement, exp.Drop):
            for table in statement.args.get("tables") or [statement.this]:
                self._drop(table.name)
            return Result(None)
        return Result(self.spark.sql(spark_sql(statement)))

    def _store(self, name: str, frame, checkpoint: bool = True) -> None:
        """A table: its rows computed once (a local checkpoint), as DuckDB stores a table's rows."""
        frame = frame.localCheckpoint(eager=True) if checkpoint else frame
        frame.createOrReplaceTempView(name)
        old = self._frames.get(name)
        self._frames[name] = frame
        if checkpoint and old is not None:  # a union still reads the old rows: they stay
            old.unpersist()

    def _drop(self, name: str) -> None:
        frame = self._frames.pop(name, None)
        self.spark.catalog.dropTempView(name)
        if frame is not None:
            frame.unpersist()


class Result:
    """A query's rows as DuckDB's cursor and relation give them (fetchall, description, Arrow)."""

    def __init__(self, frame, table: pa.Table | None = None):
        self.frame = frame
        self._table = table

    def to_arrow_table(self) -> pa.Table:
        if self._table is None:
            self._table = pa.table({}) if self.frame is None else _from_spark_arrow(self.frame.toArrow())
        return self._table


    def df(self):
        return self.to_arrow_table().to_pandas()

    @property
    def description(self) -> list[tuple]:
        return [(name, None, None, None, None, None, None) for name in self.to_arrow_table().column_names]

    def fetchall(self) -> list[tuple]:
        table = self.to_arrow_table()
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return list(zip(*columns)) if columns else []

    def to_arrow_reader(self, batch_rows: int = 1_000_000) -> pa.RecordBatchReader:
        """Streamed partition by partition (the rejected rows of a lake input can be many), unless a column holds
        times: PySpark turns a Row's time into this machine's local time, so those come whole through Arrow."""
        from pyspark.sql.types import TimestampType
        if self._table is not None or self.frame is None or any(isinstance(f.dataType, TimestampType) for f in self.frame.schema.fields):
            table = self.to_arrow_table()
            return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_rows))
        from pyspark.sql.pandas.types import to_arrow_schema
        schema = _from_spark_arrow(to_arrow_schema(self.frame.schema).empty_table()).schema

        def batches():
            rows = self.frame.toLocalIterator(prefetchPartitions=True)
            while chunk := list(itertools.islice(rows, batch_rows)):
                yield pa.RecordBatch.from_pylist([row.asDict() for row in chunk], schema=schema)

        return pa.RecordBatchReader.from_batches(schema, batches())


def _spark_type(kind) -> str:
    """A column type of a CREATE TABLE, for Spark (DuckDB's INTERVAL is a day-time interval there)."""
    from sqlglot import exp
    if kind.this == exp.DataType.Type.INTERVAL:
        return "INTERVAL DAY TO SECOND"
    return spark_sql(to_spark(f"SELECT CAST(NULL AS {kind.sql('duckdb')})")[0].expressions[0].to)


def _to_spark_arrow(table: pa.Table) -> pa.Table:
    """Naive timestamps as UTC instants (Spark's TIMESTAMP), untyped all-null columns as text."""
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            column = column.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        elif pa.types.is_null(field.type):
            column = column.cast(pa.string())
        elif pa.types.is_large_string(field.type):
            column = column.cast(pa.string())
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _from_spark_arrow(table: pa.Table) -> pa.Table:
    """Timestamps (also inside structs and lists) back as naive UTC, as DuckDB gives them."""
    return table.cast(pa.schema([pa.field(f.name, _naive(f.type)) for f in table.schema]))


def _naive(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us")
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _naive(f.type)) for f in kind])
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(_naive(kind.value_type))
    return kind


def _first_line(exc: Exception) -> str:
    text = re.sub(r"\s+", " ", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return text[:300]
