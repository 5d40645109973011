"""Turn raw files into the canonical event and order tables the audit runs on, inside DuckDB.

Every input row ends in exactly one place: the canonical table, or the rejects with the reason.
Typing (timestamps, numbers, IDs, order-ID spelling) and the reject reasons are one SQL statement
per file, run by the engine over the file itself (`files.scan`: DuckDB's CSV, Parquet and JSON Lines readers)
or over the rows a native reader produced; Python only parses the rare values no SQL form covers
(`timestamps.TimeColumn`). Only the canonical columns are carried forward, so extra columns of an
export (emails, IPs, user agents) never reach the audit or its reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

import pandas as pd

from dedupaudit.connection import Connection
from dedupaudit.errors import UserError
from dedupaudit.inputs.detect import ReadContext, scan_input
from dedupaudit.inputs.files import Scan
from dedupaudit.inputs.timestamps import TEXT, TimeColumn, is_number_type, sql_text
from dedupaudit.inputs.values import EARLIEST, FUTURE_SLACK
from dedupaudit.platforms.rules import platform_names

EVENT_REQUIRED = ("platform", "event_name", "event_time")
EVENT_OPTIONAL = ("event_id", "received_time", "order_id", "value", "currency", "delivery", "delivery_message", "source_ref",
                  *("fbp", "external_id", "ttp", "action_source", "conversion_action"),
                  "unhashed_user_data")  # unhashed_user_data: which user fields a server event sent unhashed ("em,ph"), never the values
# Identifiers some platforms deduplicate on when an event has no ID (Meta fbp / external_id, TikTok _ttp).
# They are compared as sent and never shown: the audit keeps only a hash of each.
IDENTIFIER_COLUMNS = ("fbp", "external_id", "ttp")
DELIVERY_VALUES = ("test", "refused")  # events the platform never counts: test traffic, refused by the API
ORDER_REQUIRED = ("order_id", "created_at")
ORDER_OPTIONAL = ("value", "currency", "status", "source_ref")
REJECT_COLUMNS = ["file", "row", "source_ref", "reason", "value"]
ID_COLUMNS = ("event_id", "order_id")
TIME_COLUMNS = ("event_time", "received_time", "created_at")

EVENT_COLUMNS = ("source", "file", "row", "platform", "event_name", "event_id", "event_time", "event_time_unit", "received_time",
                 "order_id", "order_key", "value", "currency", "delivery", "delivery_message", "source_ref", *IDENTIFIER_COLUMNS,
                 "action_source", "conversion_action", "numeric_ids", "unhashed_user_data")
ORDER_COLUMNS = ("file", "row", "order_id", "order_key", "created_at", "value", "currency", "status", "source_ref", "numeric_ids")
_TYPES = {"row": "BIGINT", "event_time": "TIMESTAMP", "received_time": "TIMESTAMP", "created_at": "TIMESTAMP",
          "value": "DOUBLE", "numeric_ids": "BIGINT"}


@dataclass
class Loaded:
    """The rows of one side's files in `table` on the audit's connection (reason NULL: used; else rejected),
    the lines no reader could use in `broken`, and the files they came from.

    A row of `table` keeps its file's number (file_no), not its name: a path repeated on every row cost
    about 50 bytes an event, 0.6 GiB of a 10M audit's peak. `file_sql` names the file again where it is read."""

    connection: Connection
    table: str
    broken: str
    columns: tuple[str, ...]
    files: list[str] = field(default_factory=list)
    texts: dict[int, dict] = field(default_factory=dict)  # file number -> its encoding (and delimiter), as read

    @property
    def con(self):
        return self.connection.con

    @property
    def file_sql(self) -> str:
        """The file's name, from the row's file_no (list_extract: Spark gets element_at, engine/dialect.py)."""
        if not self.files:
            return "NULL::VARCHAR"
        return f"list_extract([{', '.join(_literal(str(name)) for name in self.files)}], file_no + 1)"

    @property
    def select_list(self) -> str:
        """The canonical columns of `table`, the file's name among them."""
        return ", ".join(f"{self.file_sql} AS file" if c == "file" else c for c in self.columns)

    @property
    def frame(self) -> pd.DataFrame:
        """The used rows as a DataFrame (for the Python API and tests; the audit itself never fetches them)."""
        return self.con.execute(f"SELECT {self.select_list} FROM {self.table} WHERE reason IS NULL ORDER BY file_no, seq").df()

    @property
    def rejects(self) -> pd.DataFrame:
        return self.con.execute(f"SELECT * FROM ({self.rejects_sql}) ORDER BY file_no, row").df()[REJECT_COLUMNS]

    @property
    def rejects_sql(self) -> str:
        """Every rejected row and unreadable line: file, row, source_ref, reason, value (and file_no for ordering)."""
        return (f"SELECT {self.file_sql} AS file, row, source_ref, reason, reason_value AS value, file_no FROM {self.table} WHERE reason IS NOT NULL "
                f"UNION ALL SELECT file, row, source_ref, reason, value, file_no FROM {self.broken}")

    def scalar(self, sql: str) -> int:
        return int(self.con.execute(sql).fetchall()[0][0] or 0)

    @property
    def used(self) -> int:
        return self.scalar(f"SELECT count(*) FROM {self.table} WHERE reason IS NULL")

    @property
    def rows(self) -> int:
        return self.scalar(f"SELECT count(*) FROM {self.table}") + self.scalar(f"SELECT count(*) FROM {self.broken}")

    @property
    def normalised_order_ids(self) -> int:
        """Rows whose order ID is compared in another spelling ('#1001' or ' 1001 ' as '1001')."""
        return self.scalar(f"SELECT count(*) FROM {self.table} WHERE reason IS NULL AND order_id <> order_key")

    @property
    def numeric_ids(self) -> int:
        """Event and order IDs that were stored as numbers (1001.0) and are compared as 1001."""
        return self.scalar(f"SELECT sum(numeric_ids) FROM {self.table} WHERE reason IS NULL")

    def reason_counts(self) -> dict[str, int]:
        rows = self.con.execute(f"SELECT reason, count(*) FROM ({self.rejects_sql}) GROUP BY reason ORDER BY count(*) DESC, reason").fetchall()
        return {str(k): int(v) for k, v in rows}

    def per_file(self) -> list[dict]:
        """Per input file: rows read = used + rejected, with the count per reason."""
        used = dict(self.con.execute(f"SELECT file_no, count(*) FROM {self.table} WHERE reason IS NULL GROUP BY ALL").fetchall())
        reasons: dict[int, dict[str, int]] = {}
        for file_no, reason, n in self.con.execute(
                f"SELECT file_no, reason, count(*) FROM ({self.rejects_sql}) GROUP BY ALL ORDER BY count(*) DESC, reason").fetchall():
            reasons.setdefault(file_no, {})[str(reason)] = int(n)
        out = []
        for number, name in enumerate(self.files):
            by_reason = reasons.get(number, {})
            rejected = sum(by_reason.values())
            out.append({"file": name, "rows": int(used.get(number, 0)) + rejected, "used": int(used.get(number, 0)),
                        "rejected": rejected, "rejected_reasons": by_reason,
                        **self.texts.get(number, {"encoding": None})})
        return out


def order_key(order_ids: pd.Series) -> pd.Series:
    """How shops and platforms write one order: '#1001', '1001' and ' 1001 ' are the same order."""
    key = order_ids.astype(TEXT).str.strip().str.replace(r"^#", "", regex=True).str.strip()
    return key.mask(key == "")


ORDER_KEY_SQL = "nullif(strip(CASE WHEN starts_with(strip({c}), '#') THEN substr(strip({c}), 2) ELSE strip({c}) END), '')"  # the same rule in SQL


def load_events(paths: list, source: str, zone: tzinfo, default_platform: str | None, known_platforms: set[str],
                context: ReadContext = ReadContext(), on_read=None, connection: Connection | None = None) -> Loaded:
    """`paths` are files or in-memory tables (files.InMemory). `on_read(path, rows)` is called after each file
    (the progress display). Without a `connection`, a private one is opened (tests); the API passes the audit's."""
    loaded = _start(connection, "events", EVENT_COLUMNS)
    aliases = {name: p for name, p in platform_names(context.rules).items() if name != p} if context.rules else {}
    for path in paths:
        numbers = _load_one(loaded, path, source, context, lambda scan: _event_exprs(scan, source, zone, default_platform, aliases), on_read)
        _check_platforms(loaded, numbers, known_platforms)
    return loaded


def load_orders(paths: list, zone: tzinfo, context: ReadContext = ReadContext(), on_read=None,
                connection: Connection | None = None) -> Loaded:
    loaded = _start(connection, "orders", ORDER_COLUMNS)
    for path in paths:
        _load_one(loaded, path, "orders", context, lambda scan: _order_exprs(scan, zone), on_read)
    return loaded


def _load_one(loaded: Loaded, path, side: str, context: ReadContext, exprs, on_read) -> range:
    """One input (a file; on Spark also a folder, a glob or a table) in; the file numbers it took."""
    scan = _scan(loaded.connection, path, side, context)
    numbers = range(len(loaded.files), len(loaded.files) + len(scan.files or [scan.path]))
    loaded.files += scan.files or [scan.path]
    for number in numbers:
        loaded.texts[number] = scan.text.describe() if scan.text else {"encoding": None}
    try:
        _insert(loaded, scan, numbers, exprs(scan))
    finally:
        scan.drop()
    if on_read:
        within = f"file_no BETWEEN {numbers.start} AND {numbers.stop - 1}"
        on_read(path, loaded.scalar(f"SELECT count(*) FROM {loaded.table} WHERE {within}")
                + loaded.scalar(f"SELECT count(*) FROM {loaded.broken} WHERE {within}"))
    return numbers


def _scan(connection, path, side: str, context: ReadContext) -> Scan:
    """The input as a relation on the connection its rows are typed on; on Spark (engine/spark.SparkConnection)
    the session reads lake paths and tables itself and is handed what this machine reads."""
    if hasattr(connection, "scan_input"):
        return connection.scan_input(path, side, context)
    return scan_input(connection, path, side, context)


def _start(connection: Connection | None, kind: str, columns: tuple[str, ...]) -> Loaded:
    connection = connection or Connection()
    table, broken = connection.name(f"loaded_{kind}"), connection.name(f"unreadable_{kind}")
    con = connection.con
    typed = ", ".join(f"{c} {_TYPES.get(c, 'VARCHAR')}" for c in columns if c != "file")  # file_no names it (Loaded.file_sql)
    con.execute(f"CREATE TABLE {table} ({typed}, reason VARCHAR, reason_value VARCHAR, file_no INTEGER, seq BIGINT)")
    con.execute(f"CREATE TABLE {broken} (file VARCHAR, row BIGINT, source_ref VARCHAR, reason VARCHAR, value VARCHAR, file_no INTEGER)")
    return Loaded(connection, table, broken, columns, [])


class _Exprs:
    """The SQL of one file's canonical columns (over the scan, after the time columns' levels), the
    problems that reject a row (first listed wins; over those columns), and the time columns."""

    def __init__(self, columns: dict[str, str], problems: list[tuple[str, str, str]], times: list[TimeColumn]):
        self.columns, self.problems, self.times = columns, problems, times


PENDING = "(waiting for Python)"  # a first-pass marker, never left in the table


def _insert(loaded: Loaded, scan: Scan, numbers: range, exprs: _Exprs) -> None:
    """One statement per file: scan -> cleaned time text -> its form -> SQL readings -> (lookups joined)
    canonical columns -> reasons. Rows whose times no SQL form reads are marked pending, then parsed in
    Python (each distinct value once) and inserted again: the bulk of a file is read in one pass."""
    con = loaded.con
    level = lambda part: ", ".join(f"{e} AS {n}" for t in exprs.times for n, e in getattr(t, part)().items())  # noqa: E731
    helpers = [h for t in exprs.times for h in t.helpers] + [n for n in exprs.columns if n.startswith("__")]
    reason = "CASE " + " ".join([f"WHEN {t.wait} THEN '{PENDING}'" for t in exprs.times] +
                                [f"WHEN {cond} THEN {_literal(why)}" for cond, why, _ in exprs.problems]) + " END"
    value = "CASE " + " ".join(f"WHEN {cond} THEN CAST({raw} AS VARCHAR)" for cond, _, raw in exprs.problems) + " END"

    def levels(where: str) -> tuple[str, str]:
        first = f"SELECT s.*, {level('first')} FROM {scan.relation} s {where}"
        second = f"SELECT s.*, {level('second')} FROM (SELECT s.*, {level('forms')} FROM ({first}) s) s"
        third = (f"SELECT {level('third')}, {', '.join(f'{e} AS {n}' for n, e in exprs.columns.items())}, s.__seq AS seq "
                 f"FROM ({second}) s {' '.join(joins)}")
        return second, f"""
            INSERT INTO {loaded.table} BY NAME
            SELECT * EXCLUDE ({', '.join(helpers)}), {reason} AS reason, {value} AS reason_value, {numbers.start} + __file_index AS file_no
            FROM (SELECT *, {level('fourth')} FROM ({third}))"""

    joins: list[str] = []  # read by levels() when called
    try:
        joins += [j for t in exprs.times for j in t.prepare(loaded.connection, levels("")[0])]
        con.execute(levels("")[1])
        mine = f"file_no BETWEEN {numbers.start} AND {numbers.stop - 1} AND reason = '{PENDING}'"
        pending = loaded.scalar(f"SELECT count(*) FROM {loaded.table} WHERE {mine}")
        if pending:
            waiting = loaded.connection.name("pending")
            con.execute(f"CREATE TABLE {waiting} AS SELECT seq FROM {loaded.table} WHERE {mine}")
            con.execute(f"DELETE FROM {loaded.table} WHERE {mine}")
            only = f"WHERE s.__seq IN (SELECT seq FROM {waiting})"
            second, insert = levels(only)
            for time in exprs.times:
                time.fill(loaded.connection, second)
            con.execute(insert)
            con.execute(f"DROP TABLE {waiting}")
    finally:
        for time in exprs.times:
            time.release(loaded.connection)
    if scan.broken:
        rows = [(scan.path, b[0], b[2] if len(b) > 2 else None, b[1], None, numbers.start) for b in scan.broken]
        con.executemany(f"INSERT INTO {loaded.broken} VALUES (?, ?, ?, ?, ?, ?)", rows)
    if scan.broken_sql:  # lines the engine's own reader could not use (a lake file on Spark)
        con.execute(f"INSERT INTO {loaded.broken} SELECT file, row, source_ref, reason, NULL, {numbers.start} + file_index "
                    f"FROM ({scan.broken_sql})")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _present(scan: Scan, required: tuple, optional: tuple) -> dict[str, str | None]:
    """Canonical name -> the scan's column (header names match ignoring case and surrounding spaces)."""
    by_name = {}
    for column in scan.columns:
        by_name.setdefault(str(column).strip().lower(), column)
    missing = [c for c in required if c not in by_name]
    if missing and scan.columns:
        raise UserError(f"{scan.path}: missing required column {', '.join(missing)} (found: {', '.join(map(str, scan.columns)) or 'none'})")
    return {name: by_name.get(name) for name in required + optional}


def _id(scan: Scan, column: str | None) -> tuple[str, str]:
    """(the ID as text, 1 when it was an integer-valued number): 1001.0 from a spreadsheet or JSON is the ID 1001."""
    if column is None:
        return "NULL::VARCHAR", "0"
    c, kind = scan.quoted(column), scan.types[column]
    flag = scan.numeric_flag(column)
    if kind in ("DOUBLE", "FLOAT", "REAL"):
        whole = f"(isfinite({c}) AND {c} = trunc({c}) AND abs({c}) < 9007199254740992)"
        return f"CASE WHEN {whole} THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END", f"CASE WHEN {whole} THEN 1 ELSE 0 END"
    return sql_text(c, kind), (f"CASE WHEN {flag} THEN 1 ELSE 0 END" if flag else "0")


def _text(scan: Scan, column: str | None) -> str:
    return "NULL::VARCHAR" if column is None else sql_text(scan.quoted(column), scan.types[column])


DECIMAL_COMMA = r"-?(\d{1,3}(\.\d{3})+|\d+),\d+"  # 12,50  1.234,50: read in `;`-separated files only


def _number(scan: Scan, column: str | None) -> tuple[str, str]:
    """(the number, a present value that is not one). In a `;`-separated file (Excel's CSV where the
    decimal separator is a comma) `12,50` is 12.5 and `1.234,50` is 1234.5; elsewhere a comma is no number."""
    if column is None:
        return "NULL::DOUBLE", "false"
    c, kind = scan.quoted(column), scan.types[column]
    if is_number_type(kind):
        return f"CASE WHEN isnan(CAST({c} AS DOUBLE)) THEN NULL ELSE CAST({c} AS DOUBLE) END", "false"
    text = f"nullif(strip({sql_text(c, kind)}), '')"
    if scan.text is not None and scan.text.delimiter == ";":
        text = (f"CASE WHEN regexp_full_match({text}, {_literal(DECIMAL_COMMA)}) "
                f"THEN replace(replace({text}, '.', ''), ',', '.') ELSE {text} END")
    number = f"CASE WHEN contains({text}, '_') THEN NULL ELSE try_cast({text} AS DOUBLE) END"
    return f"CASE WHEN isnan({number}) THEN NULL ELSE {number} END", f"({text} IS NOT NULL AND ({number} IS NULL OR isnan({number})))"


def _time_problems(time: TimeColumn, name: str, now: str) -> list[tuple[str, str, str]]:
    return [(f"{time.utc} < TIMESTAMP '{EARLIEST}'", f"{name} is before 2000", time.raw),
            (f"{time.utc} > {now}", f"{name} is more than a day after this run", time.raw)]


def _now() -> str:
    limit = pd.Timestamp.now(tz="UTC").tz_localize(None) + FUTURE_SLACK
    return f"TIMESTAMP '{limit.isoformat(sep=' ')}'"


def _file(scan: Scan) -> dict[str, str]:
    """Where each row came from: its file's place in the scan's files (Loaded.file_sql names it), the row."""
    return {"__file_index": "s.__file_index" if scan.files else "0", "row": scan.row}


def _raw(scan: Scan, column: str | None) -> str:
    """A column as read, for the reject's value (cast to text only for rejected rows)."""
    return "NULL" if column is None else scan.quoted(column)


def _blank_to_null(expr: str) -> str:
    return f"CASE WHEN strip({expr}) = '' THEN NULL ELSE {expr} END"


def _event_exprs(scan: Scan, source: str, zone: tzinfo, default_platform: str | None, aliases: dict[str, str]) -> _Exprs:
    required = tuple(c for c in EVENT_REQUIRED if not (c == "platform" and default_platform))
    optional = EVENT_OPTIONAL + (("platform",) if default_platform else ())
    col = _present(scan, required, optional)
    text = {name: _text(scan, col[name]) for name in col if name not in ID_COLUMNS + TIME_COLUMNS}
    platform = f"lower(strip({text['platform']}))"
    if default_platform:
        platform = f"coalesce(nullif({platform}, ''), {_literal(default_platform.strip().lower())})"
    if aliases:  # 'facebook' and 'FB' are meta: the rule files' aliases, compared in lower case
        platform = (f"CASE {platform} " + " ".join(f"WHEN {_literal(a)} THEN {_literal(p)}" for a, p in sorted(aliases.items()))
                    + f" ELSE {platform} END")
    event_id, event_id_numeric = _id(scan, col["event_id"])
    order_id, order_id_numeric = _id(scan, col["order_id"])
    event_time = TimeColumn(scan, col["event_time"], "event_time", zone)
    received = TimeColumn(scan, col["received_time"], "received_time", zone)
    value, bad_value = _number(scan, col["value"])
    now = _now()
    problems = [
        ("coalesce(platform, '') = ''", "platform is empty", "__platform_raw"),
        ("coalesce(strip(event_name), '') = ''", "event_name is empty", "event_name"),
        (f"{event_time.utc} IS NULL AND NOT {event_time.bad}", "event_time is empty", event_time.raw),
        (event_time.bad, "event_time is not a timestamp", event_time.raw),
        *_time_problems(event_time, "event_time", now),
        (received.bad, "received_time is not a timestamp", received.raw),
        *_time_problems(received, "received_time", now),
        ("__value_bad", "value is not a number", "__value_raw"),
        ("delivery IS NOT NULL AND delivery NOT IN ('test', 'refused')", "delivery is not test, refused or empty", "__delivery_raw"),
    ]
    columns = {
        "source": _literal(source),
        **_file(scan),
        "platform": platform,
        "event_name": text["event_name"],
        "event_id": _blank_to_null(event_id),
        "event_time": event_time.utc,
        "event_time_unit": event_time.unit,
        "received_time": f"coalesce({received.utc}, {event_time.utc})",
        "order_id": order_id,
        "order_key": ORDER_KEY_SQL.format(c=order_id),
        "value": value,
        "currency": f"nullif(upper(strip({text['currency']})), '')",  # blank = no currency, as for IDs
        "delivery": f"nullif(nullif(nullif(lower(strip({text['delivery']})), ''), 'ok'), 'sent')",
        "delivery_message": text["delivery_message"],
        "source_ref": text["source_ref"],  # where inside a native file the row came from ("line 12, data[3]")
        **{name: _blank_to_null(text[name]) for name in (*IDENTIFIER_COLUMNS, "action_source", "conversion_action")},
        "numeric_ids": f"({event_id_numeric} + {order_id_numeric})",
        "unhashed_user_data": text["unhashed_user_data"],
        "__platform_raw": _raw(scan, col["platform"]), "__value_bad": bad_value, "__value_raw": _raw(scan, col["value"]),
        "__delivery_raw": _raw(scan, col["delivery"]),
    }
    return _Exprs(columns, problems, [event_time, received])


def _order_exprs(scan: Scan, zone: tzinfo) -> _Exprs:
    col = _present(scan, ORDER_REQUIRED, ORDER_OPTIONAL)
    text = {name: _text(scan, col[name]) for name in col if name not in ID_COLUMNS + TIME_COLUMNS}
    order_id, order_id_numeric = _id(scan, col["order_id"])
    created = TimeColumn(scan, col["created_at"], "created_at", zone)
    value, bad_value = _number(scan, col["value"])
    problems = [
        ("order_key IS NULL", "order_id is empty", "order_id"),
        (f"{created.utc} IS NULL AND NOT {created.bad}", "created_at is empty", created.raw),
        (created.bad, "created_at is not a timestamp", created.raw),
        *_time_problems(created, "created_at", _now()),
        ("__value_bad", "value is not a number", "__value_raw"),
    ]
    columns = {
        **_file(scan),
        "order_id": order_id,
        "order_key": ORDER_KEY_SQL.format(c=order_id),
        "created_at": created.utc,
        "value": value,
        "currency": f"nullif(upper(strip({text['currency']})), '')",  # blank = no currency, as for IDs
        "status": f"lower(strip({text['status']}))",
        "source_ref": text["source_ref"],
        "numeric_ids": order_id_numeric,
        "__value_bad": bad_value, "__value_raw": _raw(scan, col["value"]),
    }
    return _Exprs(columns, problems, [created])


def _check_platforms(loaded: Loaded, numbers: range, known: set[str]) -> None:
    unknown = loaded.con.execute(
        f"SELECT file_no, row, platform FROM {loaded.table} WHERE file_no BETWEEN $first AND $last AND reason IS NULL "
        "AND NOT list_contains($known, platform) ORDER BY file_no, seq LIMIT 1",
        {"first": numbers.start, "last": numbers.stop - 1, "known": sorted(known)}).fetchall()
    if unknown:
        number, row, platform = unknown[0]
        raise UserError(
            f"{loaded.files[number]} row {row}: unknown platform '{platform}' "
            f"(rule files exist for: {', '.join(sorted(known))}; add one with --rules DIR)"
        )
