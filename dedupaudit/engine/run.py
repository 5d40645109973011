"""Run an audit: canonical tables in, one AuditResult out. No printing, no files, no exit codes.

The checks and their settings are here; the figures beside the findings (metrics, money, daily series) in engine/metrics.py."""

from __future__ import annotations

import datetime as dt
from typing import Callable

import pandas as pd
import pyarrow as pa

from dedupaudit import __version__
from dedupaudit.engine.metrics import (add_order_value, add_platform_reported, add_ranges, add_roas, daily_series, no_coverage_without_input,
                                       pair_gaps, platform_metrics)
from dedupaudit.engine.tables import build_order_checks, build_tables
from dedupaudit.checks import ALL_CHECKS, get_check
from dedupaudit.checks.base import AuditView, Check, CheckOptions
from dedupaudit.connection import Connection
from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import Loaded
from dedupaudit.inputs.timestamps import parse_one, resolve_timezone
from dedupaudit.options import Option, check_mapping, fail
from dedupaudit.platforms.rules import PlatformRules
from dedupaudit.privacy import redact
from dedupaudit.result import SEVERITIES, AuditResult, Finding, InputSummary, finding_order, severity_rank
from dedupaudit.settings import Settings
from dedupaudit.waivers import parse as parse_waivers, waive


def run_audit(pixel: Loaded, capi: Loaded, orders: Loaded, rules: dict[str, PlatformRules], settings: Settings,
              export: Callable[[Finding, pa.RecordBatchReader], None] | None = None,
              platform_reported: pd.DataFrame | None = None, spend: pd.DataFrame | None = None,
              exchange_rates: pd.DataFrame | None = None, engine=None, release_inputs: bool = False) -> AuditResult:
    """Audit the loaded inputs. With `export`, hand it each finding and a reader over the rows behind it (--export-failures).

    `platform_reported` (inputs/platform_reported.py) holds the figures the platforms' dashboards show;
    `spend` and `exchange_rates` (inputs/spend.py) the ad spend and the user's rates, for ROAS.
    `engine` runs the audit elsewhere than on the inputs' DuckDB connection: an engine.spark.SparkConnection
    (inputs loaded elsewhere are copied into it; its owner closes it, which drops what the audit created there).
    `release_inputs`: the caller will not read the loaded inputs again, so their tables are dropped once the
    audit's own tables hold their rows: at scale the memory (or spill) they held is the largest part of the
    audit's (DuckDB only; inputs the audit copied for itself are always released).
    """
    check_settings = resolve_check_settings(settings, set(rules))
    waivers = parse_waivers(settings.waivers, set(rules))
    today = dt.date.today()
    zone = resolve_timezone(settings.timezone)
    since = parse_one(settings.since, zone, "--since") if settings.since else None
    until = _until(settings.until, zone) if settings.until else None
    if since is not None and until is not None and since > until:
        raise UserError(f"--since {settings.since} is after --until {settings.until}")

    connection, own = (engine, False) if engine is not None else _shared_connection(pixel, capi, orders)
    con = connection.con
    before = None if own or engine is not None else _temp_objects(con)  # the engine's owner drops what the audit made there
    try:
        if own or engine is not None:
            pixel, capi, orders = (side if side.connection is connection else _copy(side, connection) for side in (pixel, capi, orders))
        # What the audit reads of the inputs themselves is taken first: build_tables may release them.
        inputs = {"pixel": _input_summary(pixel), "capi": _input_summary(capi), "orders": _input_summary(orders)}
        release = (own or release_inputs) and engine is None
        con.execute(f"CREATE {'TABLE' if release else 'VIEW'} rejected_rows AS " + " UNION ALL ".join(
            f"SELECT * EXCLUDE (file_no), '{side}' AS input FROM ({loaded.rejects_sql})"
            for side, loaded in (("pixel", pixel), ("capi", capi), ("orders", orders))))
        build_tables(con, pixel, capi, orders, rules, settings, since, until, release=release)
        for side, n in con.execute("SELECT source, n FROM outside_period").fetchall():
            inputs[side].outside_period = int(n)
        build_order_checks(con)
        # Without an orders input the number of real orders is unknown (null), not zero.
        order_count = con.execute("SELECT count(DISTINCT order_key) FROM orders WHERE NOT excluded").fetchall()[0][0] if orders.files else None
        metrics = platform_metrics(con, rules, order_count)
        no_coverage_without_input(metrics, inputs)
        add_order_value(con, metrics)
        add_ranges(con, rules, metrics)
        daily = daily_series(con, settings.timezone)
        add_platform_reported(platform_reported, metrics, daily)
        view = AuditView(con, rules, metrics, inputs, waivers, today)
        findings, waived = [], []
        # Checks on the data first; then the checks on the waivers themselves, which read how much each waived.
        for check in sorted(ALL_CHECKS, key=lambda c: c.reads_waivers):
            if check_settings[check.code]["enabled"]:
                kept, accepted = _run_check(check, view, check_settings[check.code], export)
                findings += kept
                waived += accepted
        period = _period(con, since, until)
        add_roas(con, metrics, spend, exchange_rates, period, zone)
        gaps = pair_gaps(con)
    finally:
        if own:
            connection.close()
        elif before is not None:
            _drop_new(con, before)

    findings.sort(key=finding_order)
    return AuditResult(
        tool={"name": "dedupaudit", "version": __version__},
        inputs=inputs,
        period=period,
        platforms=list(metrics.values()),
        findings=findings,
        waived=sorted(waived, key=lambda f: (f.platform or "", f.code, f.event or "", f.waiver)),
        daily=daily,
        pair_gaps=gaps,
        settings=settings.public(),
    )


def _shared_connection(*loaded: Loaded) -> tuple[Connection, bool]:
    """The connection all inputs were loaded into; inputs loaded apart (tests, the Python API) are
    copied into a new one, which the audit then owns and closes."""
    first = loaded[0].connection
    if all(l.connection is first for l in loaded):
        return first, False
    return Connection(), True


def _copy(loaded: Loaded, connection: Connection) -> Loaded:
    """The same loaded input on another connection (through Arrow, in input order)."""
    copy = Loaded(connection, connection.name("copied"), connection.name("copied_unreadable"), loaded.columns, loaded.files, loaded.texts)
    for source, target in ((loaded.table, copy.table), (loaded.broken, copy.broken)):
        connection.con.register("copy_in", loaded.con.sql(f"SELECT * FROM {source} ORDER BY rowid").to_arrow_table())
        connection.con.execute(f"CREATE TABLE {target} AS SELECT * FROM copy_in")
        connection.con.unregister("copy_in")
    return copy


def _temp_objects(con) -> dict[str, str]:
    """The run's tables and views on the connection (in its own database, memory or disk): name -> TABLE or VIEW."""
    return dict(con.execute("SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() UNION ALL "
                            "SELECT view_name, 'VIEW' FROM duckdb_views() WHERE database_name = current_database() AND NOT internal")
                .fetchall())


def _drop_new(con, before: dict[str, str]) -> None:
    """Leave the caller's connection as it was: the loaded inputs stay, the audit's derived tables go (views first)."""
    new = {name: kind for name, kind in _temp_objects(con).items() if name not in before}
    for name, kind in sorted(new.items(), key=lambda item: item[1] != "VIEW"):
        con.execute(f"DROP {kind} IF EXISTS {name}")


def _until(value: str, zone) -> pd.Timestamp:
    """A date without a time means the whole day: --until 2026-10-18 includes the 18th."""
    stamp = parse_one(value, zone, "--until")
    if len(value.strip()) == 10:
        stamp = parse_one(value.strip() + "T23:59:59.999999", zone, "--until")
    return stamp


# What `checks: {CODE: {...}}` and its `platforms: {PLATFORM: {...}}` entries may set.
CHECK_SETTINGS = {
    "enabled": Option(True, "bool", "run the check", nullable=True),
    "severity": Option(None, "text", "the severity of its findings instead of the check's own", choices=SEVERITIES, nullable=True),
    "options": Option(None, "mapping", "the check's options (`dedupaudit explain CODE` lists them)", nullable=True),
    "platforms": Option(None, "mapping", "the same keys for one platform", nullable=True),
}


def resolve_check_settings(settings: Settings, platforms: set[str]) -> dict[str, dict]:
    """Per check code: {enabled, severity, options: CheckOptions}; names and codes accepted, anything unknown refused."""
    source = settings.checks_source
    given: dict[str, list[tuple[str, dict]]] = {}
    for key, value in settings.checks.items():
        try:
            code = get_check(key).code
        except UserError as exc:
            raise fail(source, f"checks.{key}", str(exc)) from None
        given.setdefault(code, []).append((f"checks.{key}", value))
    resolved = {}
    for check in ALL_CHECKS:
        merged = {"enabled": True, "severity": None, "options": {}, "platforms": {}}
        for where, value in given.get(check.code, []):
            value = _validate_check_setting(check, value, source, where)
            for platform, per in (value.get("platforms") or {}).items():
                if platform not in platforms:
                    raise fail(source, f"{where}.platforms.{platform}", "no rule file for this platform", ", ".join(sorted(platforms)))
                per = _validate_check_setting(check, per, source, f"{where}.platforms.{platform}", nested=False)
                merged["platforms"].setdefault(platform, {}).update(per)
            merged.update({k: v for k, v in value.items() if k in ("enabled", "severity") and v is not None})
            merged["options"].update(value.get("options") or {})
        per_platform_options = {p: dict(v.get("options") or {}) for p, v in merged["platforms"].items()}
        defaults = {name: option.default for name, option in check.options.items()}
        merged["options"] = CheckOptions({**defaults, **merged["options"]}, per_platform_options)
        resolved[check.code] = merged
    return resolved


def _validate_check_setting(check: Check, value, source: str, where: str, nested: bool = True) -> dict:
    """One check's settings, every value checked against its Option (the check's options included)."""
    spec = CHECK_SETTINGS if nested else {k: v for k, v in CHECK_SETTINGS.items() if k != "platforms"}
    value = check_mapping(value, spec, source, where)
    if value.get("options") is not None:
        value["options"] = check_mapping(value["options"], check.options, source, f"{where}.options")
    return value


# Rows per batch handed to `export`: what an export holds in memory at a time, whatever the finding's size.
EXPORT_BATCH_ROWS = 100_000


def _run_check(check: Check, view: AuditView, config: dict, export) -> tuple[list[Finding], list[Finding]]:
    """The check's findings, with severity from config, minus what waivers accept (returned apart)."""
    findings, waived = [], []
    for hit in check.find(view, config["options"]):
        per = config["platforms"].get(hit.platform, {})
        if per.get("enabled") is False:
            continue
        severity = per.get("severity") or config["severity"] or hit.level or check.severity
        if hit.cap and severity_rank(severity) < severity_rank(hit.cap):
            severity = hit.cap
        finding = Finding(
            code=check.code, name=check.name, severity=severity,
            platform=hit.platform, event=hit.event, count=int(hit.count), unit=check.unit,
            message=redact(hit.message), hint=redact(hit.hint),
            examples=[{k: redact(v) for k, v in example.items()} for example in hit.examples],
        )
        finding, accepted, evidence = waive(finding, hit.evidence, view.con, view.waivers, view.today)
        waived += accepted
        if finding is None:
            continue
        findings.append(finding)
        if export is not None and evidence is not None:
            # Streamed while the connection is open: the rows behind a finding never sit in memory at once.
            sql, params = evidence
            if hasattr(view.con, "frame"):  # on Spark the rows stay there: Spark's writers write them
                export(finding, view.con.frame(sql, params))
                continue
            with view.con.sql(sql, params=params).to_arrow_reader(EXPORT_BATCH_ROWS) as rows:
                export(finding, rows)
    return findings, waived

def _input_summary(loaded: Loaded) -> InputSummary:
    """What the loaded tables say of one input (outside_period comes later, from build_tables)."""
    reasons = loaded.reason_counts()
    return InputSummary(files=loaded.files, rows=loaded.rows, rejected=sum(reasons.values()),
                        rejected_reasons=reasons,
                        normalised_order_ids=loaded.normalised_order_ids,
                        numeric_ids=loaded.numeric_ids, per_file=loaded.per_file())  # issue 9: input accounting


def _period(con, since, until) -> dict:
    """The period the figures cover: the bounds asked for, else the span of the data."""
    first, last = con.execute("""
        SELECT min(t), max(t) FROM (SELECT event_time AS t FROM events UNION ALL SELECT created_at FROM orders)""").fetchall()[0]
    start = since if since is not None else first
    end = until if until is not None else last
    fmt = lambda t: None if t is None or pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return {"start": fmt(start), "end": fmt(end)}
