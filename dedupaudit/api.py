"""The Python API: `audit()` for notebooks and scripts. The CLI is a layer over it, so both take the same
settings, run the same checks and fail the same way (`InputError`, whose message is the CLI's one line).

    import dedupaudit
    result = dedupaudit.audit(pixel="pixel.csv", capi=capi_frame, orders="orders/", timezone="Europe/Berlin")
    result.platforms        # one row per platform and event type (the JSON's `platforms`, nested keys joined by _)
    result.write("audit.html")
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa

from dedupaudit import config as cfg
from dedupaudit import outputs
from dedupaudit.engine.run import run_audit
from dedupaudit.baseline import BaselineDiff, Tolerances, compare, load_result, validate_result
from dedupaudit.connection import Connection, parse_memory, storage_for
from dedupaudit.errors import InputError
from dedupaudit.inputs.canonical import Loaded, load_events, load_orders
from dedupaudit.inputs.detect import ReadContext, check_format
from dedupaudit.inputs.files import InMemory, expand_paths
from dedupaudit.inputs.lake import LakePath, SparkTable, is_lake_path, is_spark_frame
from dedupaudit.inputs.mapping import load_mapping_file, parse_mapping
from dedupaudit.inputs.platform_reported import load_platform_reported
from dedupaudit.inputs.spend import load_spend_inputs
from dedupaudit.inputs.textfile import check_delimiter, check_encoding
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import canonical_platform, load_rules, platform_names
from dedupaudit.privacy import clean, clean_tree, one_line
from dedupaudit.reports import FORMATS, RenderOptions, format_of
from dedupaudit.reports.json_report import json_native
from dedupaudit.result import AuditResult
from dedupaudit.settings import FAIL_ON, Settings
from dedupaudit.waivers import parse as parse_waivers
from dedupaudit.wording import plural

SIDES = ("pixel", "capi", "orders")
SIDE_NAMES = {"pixel": "browser-pixel events", "capi": "server events", "orders": "orders"}
REJECT_COLUMNS = ["input", "file", "row", "source_ref", "reason", "value"]
REJECT_BATCH_ROWS = 100_000


def audit(pixel=None, capi=None, orders=None, *, spend=None, exchange_rates=None, platform_reported=None, config=None, baseline=None,
          tolerances: dict | None = None, rejects=None, progress=None, **settings) -> Result:
    """Audit pixel, server (CAPI) and order inputs; each is a path, a folder, a glob, a pandas DataFrame, an
    Arrow table, or a list of these (tables in the canonical columns of the README).

    `settings` are the keys of dedupaudit.yaml (timezone, since, until, excluded_statuses, fail_on, platform,
    rules, checks, mapping, memory_limit, threads, export_failures, ...), checked the same way: an unknown
    key raises InputError. `config` is a dedupaudit.yaml path or a mapping of the same keys (keywords win).
    `baseline` is an earlier result (a JSON path, a dict or a Result) to compare with, judged by `tolerances`
    (the `baseline:` section's shape). `rejects` is a CSV path for every rejected input row.
    `spend` (platform, spend, currency, optional date) adds ROAS as reported and deduplicated per currency;
    `exchange_rates` (from, to, rate) converts values into the spend's currency; `platform_reported` (platform,
    conversions, optional event, date) is what the dashboards show. Each is a CSV path or a DataFrame.
    """
    try:
        layers = [cfg.DEFAULTS]
        if isinstance(config, (str, os.PathLike)):
            layers.append(cfg.load_file(Path(config)))
        elif config is not None:
            layers.append(cfg.layer_from(dict(config), "config", Path.cwd()))
        tables = {}  # the table arguments given as DataFrames; paths go through the settings like the config's
        for key, given in (("platform_reported", platform_reported), ("spend", spend), ("exchange_rates", exchange_rates)):
            if isinstance(given, (str, os.PathLike)):
                settings[key] = str(given)
            elif given is not None:
                tables[key] = given
        layers.append(cfg.layer_from(settings, "audit()", Path.cwd()))
        merged = cfg.merge(*layers)
        sources = {side: given for side, given in zip(SIDES, (pixel, capi, orders)) if given is not None}
        return run(merged, sources, **tables, baseline=baseline,
                   tolerances=tolerances_from(merged, tolerances, "audit(tolerances=)"), rejects=rejects, tracker=progress,
                   config_path=Path(config) if isinstance(config, (str, os.PathLike)) else None)
    except InputError as exc:
        raise InputError(one_line(exc, 500)) from None


def run(merged: cfg.Layer, sources: dict[str, Any], *, platform_reported=None, spend=None, exchange_rates=None, baseline=None,
        tolerances: Tolerances | None = None, rejects=None, report_files: Iterable[Path] = (), tracker=None,
        config_path: Path | None = None) -> Result:
    """The audit behind `audit()` and `dedupaudit check`, from merged settings layers. `sources` override the
    config's `inputs:`; every file named is checked before anything is read (outputs never land on inputs)."""
    value = lambda key, default=None: cfg.value(merged, key, default)  # noqa: E731
    settings = cfg.settings_from(merged)
    if settings.fail_on not in FAIL_ON:
        raise InputError(f"{_option(merged, 'fail_on')}: '{settings.fail_on}' is not one of {', '.join(FAIL_ON)}")
    zone = resolve_timezone(settings.timezone)
    rules = load_rules(Path(value("rules")) if value("rules") else None)
    default_platform = canonical_platform(value("platform"), rules, _option(merged, "platform")) if value("platform") else None
    context = ReadContext(rules=rules, mapping=_mapping(merged), formats={
        side: value(f"formats.{side}") for side in SIDES if value(f"formats.{side}")},
        encoding=check_encoding(value("encoding"), _source(merged, "encoding")),
        delimiter=check_delimiter(value("delimiter"), _source(merged, "delimiter")))
    for side, name in context.formats.items():
        check_format(name, side, rules, _source(merged, f"formats.{side}"))

    given = {side: sources[side] if side in sources else value(f"inputs.{side}", []) for side in SIDES}
    items = {side: _items(given[side], side) + [SparkTable(name) for name in value(f"tables.{side}", [])] for side in SIDES}
    spark_only = next((i for found in items.values() for i in found if isinstance(i, (LakePath, SparkTable))), None)
    if spark_only is not None and cfg.value(merged, "engine", "duckdb") != "spark":
        raise InputError(f"{spark_only}: {'a lake path' if isinstance(spark_only, LakePath) else 'a Spark table'} is read by Spark: "
                         "add --engine spark (engine: spark)")
    if not items["pixel"] and not items["capi"]:
        raise InputError("give at least one of --pixel and --capi, or inputs in dedupaudit.yaml (see `dedupaudit check --help`)")
    if value("platform_reported"):
        platform_reported = load_platform_reported(Path(value("platform_reported")), platform_names(rules))
    elif platform_reported is not None:
        platform_reported = load_platform_reported(platform_reported, platform_names(rules))
    spend, exchange_rates = load_spend_inputs(value("spend", spend), value("exchange_rates", exchange_rates), platform_names(rules))
    baseline_path = baseline if isinstance(baseline, (str, os.PathLike)) else None
    inputs = _protect(given, items, [config_path, value("mapping_file"), baseline_path, value("platform_reported"),
                                     value("spend"), value("exchange_rates"), value("waivers_file")])
    parse_waivers(settings.waivers, set(rules))  # waiver errors before anything is read
    for path in report_files:
        outputs.check_target(path, "--output")
    if rejects is not None and is_lake_path(str(rejects)):
        if cfg.value(merged, "engine", "duckdb") != "spark":
            raise InputError(f"--rejects {rejects}: a lake path is written by Spark: add --engine spark (engine: spark)")
    elif rejects is not None:
        outputs.check_target(rejects, "--rejects")
    export = outputs.FailureExport(value("export_failures"), value("export_format", "csv")) if value("export_failures") else None
    if export is not None and export.lake and cfg.value(merged, "engine", "duckdb") != "spark":
        raise InputError(f"--export-failures {export.folder}: a lake folder is written by Spark: add --engine spark (engine: spark)")
    old = _baseline(baseline) if baseline is not None else None

    tracker = tracker or _Silent()
    memory = parse_memory(value("memory_limit"))
    spark = _spark(merged)  # before any input is read: a missing PySpark or Java fails fast
    storage = storage_for(value("storage"), [p for found in items.values() for p in found if isinstance(p, Path)], memory, _option(merged, "storage"))
    with Connection(value("memory_limit"), value("threads"), storage) as connection:
        engine = _on_spark(spark, connection)  # on Spark the rows are typed and audited there; this machine reads local files
        try:
            loaded = {}
            for side in SIDES:
                tracker.stage(f"reading {SIDE_NAMES[side]}")
                loaded[side] = (load_orders(items[side], zone, context, on_read=tracker.file_read, connection=engine or connection)
                                if side == "orders" else
                                load_events(items[side], side, zone, default_platform, set(rules), context, on_read=tracker.file_read,
                                            connection=engine or connection))
            if rejects is not None:
                tracker.stage("writing rejected rows")
                _write_rejects(str(rejects), loaded)
            tracker.stage("auditing")
            model = clean_tree(run_audit(loaded["pixel"], loaded["capi"], loaded["orders"], rules, settings, export, platform_reported,
                                         spend, exchange_rates, engine=engine, release_inputs=True))
        finally:
            if engine is not None:
                engine.close()
    diff = None
    if old is not None:
        old_data, old_name = old
        diff = compare(old_data, model, tolerances or Tolerances(), names=(old_name, "this run"))
        model.baseline = diff.to_dict()
    return Result(model, settings, {"title": value("title"), "client": value("client")}, diff,
                  exported=len(export.names) if export else None, inputs=inputs)


@dataclass
class Result:
    """One audit's result: the figures as DataFrames for a notebook, the JSON contract, every report format."""

    model: AuditResult
    settings: Settings
    report_options: dict
    diff: BaselineDiff | None = None  # with a baseline: what changed
    exported: int | None = None  # findings written by export_failures
    inputs: outputs.Inputs = outputs.Inputs()  # what this run read: `write` never replaces it

    @property
    def platforms(self) -> pd.DataFrame:
        """One row per platform and event type; nested keys flattened with '_' (coverage_capi, reported_range_low)."""
        return _frame(self.to_dict()["platforms"])

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding, in the reports' order; `examples` stays a list of rows."""
        return _frame(self.to_dict()["findings"], keep=("examples",))

    @property
    def daily(self) -> pd.DataFrame:
        """Per platform and day: the purchases the platform counts against the real orders."""
        return _frame(self.to_dict()["daily"])

    @property
    def pair_gaps(self) -> pd.DataFrame:
        return _frame(self.to_dict()["pair_gaps"])

    @property
    def regressed(self) -> bool:
        """True when a baseline was given and a metric got worse beyond its tolerance."""
        return bool(self.diff and self.diff.regressed)

    def to_dict(self) -> dict:
        """The JSON contract (docs/json-schema.md), JSON-native values only."""
        return _json_dict(self.model)

    def render(self, fmt: str = "json", **options) -> str:
        """The report in one format (json, rich, markdown, html, junit, github) as text."""
        if fmt not in FORMATS:
            raise InputError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
        return FORMATS[fmt].render(self.model, RenderOptions(**{"fail_on": self.settings.fail_on, **self.report_options, **options}))

    def write(self, path, fmt: str | None = None, **options) -> Path:
        """Write a report; the format comes from the extension (.json .md .html .xml .txt) unless `fmt` is given.
        Never over an input of the run, never half-written."""
        path = Path(path)
        text = self.render(fmt or format_of(path, "write"), **options)
        outputs.write(path, text, "write", self.inputs)
        return path

    def exit_code(self, fail_on: str | None = None) -> int:
        """What `dedupaudit check` exits with: 1 when a finding is at or above `fail_on` (default: the run's
        setting) or the baseline comparison found a regression, else 0."""
        fail_on = fail_on or self.settings.fail_on
        if fail_on not in FAIL_ON:
            raise InputError(f"fail_on '{fail_on}' is not one of {', '.join(FAIL_ON)}")
        from dedupaudit.reports.summary import failing  # the one definition of "at or above fail_on"

        return int(self.regressed or bool(failing(self.model.findings, fail_on)))

    def _repr_html_(self) -> str:
        columns = [c for c in ("display_name", "event", "orders", "reported_conversions", "inflation_ratio", "extra_conversions")
                   if c in self.platforms.columns]
        table = self.platforms[columns].rename(columns={"display_name": "platform", "reported_conversions": "counted by the platform",
                                                        "inflation_ratio": "inflation", "extra_conversions": "extra"})
        counts = {s: sum(f.severity == s for f in self.model.findings) for s in ("error", "warning", "info")}
        head = ", ".join(plural(n, s) for s, n in counts.items())
        return f"<p><strong>dedupaudit</strong>: {head}</p>" + table.to_html(index=False, na_rep="-", escape=True)

    def __repr__(self) -> str:
        return f"<dedupaudit.Result: {len(self.model.platforms)} platform rows, {len(self.model.findings)} findings>"


class _Silent:
    def stage(self, text: str) -> None:
        pass

    def file_read(self, path, rows: int) -> None:
        pass


def _json_dict(model: AuditResult) -> dict:
    """The JSON contract as Python values, without rendering text and parsing it back."""
    return json_native(model.to_dict())


def _frame(rows: list[dict], keep: tuple[str, ...] = ()) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    kept = [{k: r.get(k) for k in keep} for r in rows]
    flat = pd.json_normalize([{k: v for k, v in r.items() if k not in keep} for r in rows], sep="_")
    for key in keep:
        flat[key] = [k[key] for k in kept]
    return flat


def _items(given, side: str) -> list:
    """Paths (files, folders, globs) and in-memory tables, in order; a list may mix them."""
    if given is None:
        return []
    entries = given if isinstance(given, (list, tuple)) else [given]
    items, paths = [], []
    for number, entry in enumerate(entries):
        name = f"{side} table {number + 1}" if len(entries) > 1 else f"{side} table"
        if isinstance(entry, (pd.DataFrame, pa.Table, pa.RecordBatch)) or is_spark_frame(entry) or is_lake_path(entry):
            items.extend(expand_paths(paths, f"--{side}"))
            paths = []
            items.append(SparkTable(f"{side} DataFrame", entry) if is_spark_frame(entry) else LakePath(str(entry))
                         if is_lake_path(entry) else InMemory.of(entry, name))
        elif isinstance(entry, (str, os.PathLike)):
            paths.append(str(entry))
        else:
            raise InputError(f"{side}: expected a path, a pandas DataFrame, an Arrow table or a Spark DataFrame, got {type(entry).__name__}")
    return items + expand_paths(paths, f"--{side}")


def _protect(given: dict, items: dict, other_inputs: list) -> outputs.Inputs:
    """Declare every input (files read, folders and globs given) so no output of this run lands on one."""
    args = [str(a) for entries in given.values() for a in (entries if isinstance(entries, (list, tuple)) else [entries])
            if isinstance(a, (str, os.PathLike))]
    read = [p for found in items.values() for p in found if isinstance(p, Path)] + [Path(p) for p in other_inputs if p]
    return outputs.protect(read, [Path(a) for a in args if Path(a).is_dir()], [a for a in args if glob.has_magic(a)])


def _on_spark(spark, reader: Connection):
    """The audit's connection on `spark` (closing it gives the session its settings back), or None; `reader`
    reads the local files whose rows it is handed."""
    if spark is None:
        return None
    from dedupaudit.engine.spark import SparkConnection
    return SparkConnection(spark, reader)


def _spark(merged: cfg.Layer):
    """None for DuckDB (the audit runs on the inputs' connection); for engine: spark, the active SparkSession
    (from the Python API) or a new one on spark_master with spark_conf."""
    name, choices = cfg.value(merged, "engine", "duckdb"), cfg.KEYS["engine"].choices
    if name not in choices:
        raise InputError(f"{_option(merged, 'engine')}: '{name}' is not one of {', '.join(choices)}")
    if name == "duckdb":
        return None
    from dedupaudit.engine.spark import session
    conf = {str(k): str(v) for k, v in (cfg.value(merged, "spark_conf") or {}).items()}
    return session(cfg.value(merged, "spark_master"), conf)


def _baseline(baseline) -> tuple[dict, str]:
    if isinstance(baseline, Result):
        return baseline.to_dict(), "baseline"
    if isinstance(baseline, dict):
        validate_result(baseline, "baseline")
        return clean_tree(baseline), "baseline"
    return load_result(Path(baseline)), clean(str(baseline))


def tolerances_from(merged: cfg.Layer, extra, where: str) -> Tolerances:
    """The config's `baseline:` tolerances with `extra` (same shape: --tolerance, audit(tolerances=)) on top."""
    return Tolerances.from_config(cfg.value(merged, "baseline"), _source(merged, "baseline")).with_config(extra, where, section="")


def _mapping(merged: cfg.Layer):
    """--mapping FILE replaces the config file's mapping: section."""
    if "mapping_file" in merged:
        return load_mapping_file(Path(merged["mapping_file"][0]))
    if "mapping" in merged:
        section, source = merged["mapping"]
        return parse_mapping(section, f"{source}: mapping")
    return None


def _source(merged: cfg.Layer, key: str) -> str:
    return merged[key][1] if key in merged else "defaults"


def _option(merged: cfg.Layer, key: str) -> str:
    """How errors name a setting: the option (--fail-on), else its source and key (dedupaudit.yaml: fail_on)."""
    source = _source(merged, key)
    return source if source.startswith("--") else f"{source}: {key}"


def _write_rejects(path: str, loaded: dict[str, Loaded]) -> None:
    """Stream every rejected row from DuckDB to the CSV (a hostile file can be all rejects: never a frame of them),
    side by side in input order, each side by file and row as `Loaded.rejects`; cleaned and defused by `outputs.write_table`.
    A lake path (on Spark) is written by Spark's writers where the executors are: a folder of CSV part files."""
    con = next(iter(loaded.values())).con
    sides = " UNION ALL ".join(f"SELECT '{side}' AS input, *, {number} AS side_no FROM ({l.rejects_sql})"
                               for number, (side, l) in enumerate(loaded.items()))
    sql = f"SELECT {', '.join(REJECT_COLUMNS)} FROM ({sides}) ORDER BY side_no, file_no, row"
    if is_lake_path(path):
        outputs.write_frame(path, con.frame(sql), "csv", "--rejects")
        return
    with con.sql(sql).to_arrow_reader(REJECT_BATCH_ROWS) as rows:
        outputs.write_table(Path(path), rows, "csv", "--rejects")
