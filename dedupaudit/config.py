"""The config file (dedupaudit.yaml) and the one merge of defaults, file and command line.

Each layer is a flat mapping of dotted keys (`checks.DA113.options.error_above`) to (value, source);
`merge` puts later layers over earlier ones without changing any of them, so `config show` can say
where every value came from. Order: built-in defaults < dedupaudit.yaml < command-line options.

The file is found with --config, or as dedupaudit.yaml in the working folder or the nearest parent.
Unknown keys and wrong types stop the run (exit 2) with the key and the file named. Paths in the
file are relative to the file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


from dedupaudit import yamlfile
from dedupaudit.errors import UserError
from dedupaudit.inputs.lake import is_lake_path
from dedupaudit.inputs.textfile import check_delimiter, check_encoding
from dedupaudit.options import Option, fail, shown, unknown
from dedupaudit.settings import DEFAULT_EXCLUDED_STATUSES, FAIL_ON, LINK_TOLERANCE, Settings

CONFIG_NAME = "dedupaudit.yaml"
FORMATS = ("rich", "json", "markdown", "html", "junit", "github", "sarif")

Layer = dict[str, tuple[Any, str]]  # dotted key -> (value, where it came from)


def _accepted(check, what: str) -> Callable[[Any], str | None]:
    """An Option test from a command-line option's checker: its own message names the option, so only its verdict is used."""
    def test(v) -> str | None:
        try:
            check(v)
            return None
        except UserError:
            return f"{shown(v)} is not {what}"
    return test


def _memory(v) -> str | None:
    return None if isinstance(v, (str, int)) and not isinstance(v, bool) else f"{shown(v)} is not a size"


def _statuses(v) -> str | None:
    return None if all(isinstance(x, str) for x in v) else "every status must be text"


# Every key the file may set (besides checks.*, baseline and mapping, which are validated by their modules).
# Keys of kind path/paths are relative to the config file. `config show` prints these docs.
KEYS: dict[str, Option] = {
    "inputs.pixel": Option(None, "paths", "default browser-pixel inputs (files, folders or globs)"),
    "inputs.capi": Option(None, "paths", "default server (CAPI) inputs"),
    "inputs.orders": Option(None, "paths", "default order exports"),
    "tables.pixel": Option(None, "texts", "Spark tables or views of browser-pixel events, read in place (engine: spark)"),
    "tables.capi": Option(None, "texts", "Spark tables or views of server (CAPI) events (engine: spark)"),
    "tables.orders": Option(None, "texts", "Spark tables or views of orders (engine: spark)"),
    "platform": Option(None, "text", "platform of event rows without one", valid="a platform id"),
    "rules": Option(None, "path", "folder of platform rule files replacing the built-in ones"),
    "timezone": Option("UTC", "text", "zone of timestamps written without an offset", valid="an IANA time zone name"),
    "since": Option(None, "text", "start of the period (events by event_time, orders by created_at)", valid="a timestamp"),
    "until": Option(None, "text", "end of the period; a bare date includes the whole day", valid="a timestamp"),
    "excluded_statuses": Option(DEFAULT_EXCLUDED_STATUSES, "list", "order statuses that are not real sales",
                                valid="a list of statuses", test=_statuses),
    "fail_on": Option("error", "text", "exit 1 on findings at or above this severity", choices=FAIL_ON),
    "link_tolerance_minutes": LINK_TOLERANCE,
    "format": Option(None, "text", "report format on stdout", choices=FORMATS),
    "outputs": Option(None, "paths", "report files; the format comes from the extension"),
    "title": Option(None, "text", "report title (HTML, Markdown)"),
    "client": Option(None, "text", "who the report is for (HTML, Markdown)"),
    "export_failures": Option(None, "path", "folder for the events behind each finding"),
    "export_format": Option("csv", "text", "file format of --export-failures", choices=("csv", "parquet")),
    "platform_reported": Option(None, "path", "what the platforms' dashboards show (CSV)"),
    "spend": Option(None, "path", "ad spend per platform and currency (CSV), for ROAS"),
    "exchange_rates": Option(None, "path", "the user's rates (CSV from, to, rate) for ROAS across currencies"),
    "memory_limit": Option(None, "any", "most memory the audit uses before it spills to disk",
                           valid="a size such as 8GB or 50%", test=_memory),
    "threads": Option(None, "integer", "threads the audit may use (default: all cores)", minimum=1),
    "storage": Option("auto", "text", "where the audit keeps its tables: memory, disk (compressed), or auto (disk when the inputs would not fit in memory)",
                      choices=("auto", "memory", "disk")),
    "engine": Option("duckdb", "text", "where the audit runs: duckdb (this machine) or spark (a Spark cluster, or local[*])",
                     choices=("duckdb", "spark")),
    "spark_master": Option(None, "text", "the Spark master with engine: spark (default: $SPARK_MASTER, else spark-submit's, else local[*])",
                           valid="a Spark master URL such as local[4], spark://host:7077, yarn"),
    "spark_conf": Option(None, "mapping", "Spark settings with engine: spark (e.g. spark.sql.shuffle.partitions: 64)",
                         valid="a mapping of Spark setting names to values"),
    "encoding": Option(None, "text", "encoding of every text input (default: detected per file)",
                       valid="an encoding name such as utf-8, utf-16 or cp1252", test=_accepted(check_encoding, "a known encoding")),
    "delimiter": Option(None, "text", "delimiter of CSV/TSV inputs (default: sniffed per file)",
                        valid="comma, semicolon, tab, pipe or one character", test=_accepted(check_delimiter, "a delimiter")),
    "waivers": Option(None, "list", "accepted findings (check, reason, ...): see the README", valid="a list of waivers (check, reason, ...)"),
    "formats.pixel": Option(None, "text", "read pixel files as this format (see `dedupaudit formats`)", valid="a format name"),
    "formats.capi": Option(None, "text", "read server files as this format", valid="a format name"),
    "formats.orders": Option(None, "text", "read order files as this format", valid="a format name"),
}
SECTIONS = {  # taken whole; their own code validates them
    "checks": "per-check enabled, severity, options (`dedupaudit explain CODE` lists a check's options)",
    "baseline": "tolerances for --baseline and `dedupaudit diff` (baseline.py)",
    "mapping": "column mappings for exports in other shapes (inputs/mapping.py)",
}

DEFAULTS: Layer = {key: (list(o.default) if isinstance(o.default, tuple) else o.default, "default")
                   for key, o in KEYS.items() if o.default is not None}


def find_config(explicit: Path | None, start: Path | None = None) -> Path | None:
    """--config FILE, else dedupaudit.yaml in the working folder or the nearest parent that has one."""
    if explicit is not None:
        if not explicit.is_file():
            raise UserError(f"--config {explicit}: no such file")
        return explicit
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    return None


def load_file(path: Path) -> Layer:
    """Read and validate a config file into a layer; every error names the key and the file."""
    data = yamlfile.load(path)  # safe, no aliases, one-line errors
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of settings at the top level")
    return layer_from(data, str(path), path.resolve().parent)


def layer_from(data: dict, source: str, base: Path) -> Layer:
    """Validate settings given as a mapping (a config file's, or the Python API's keywords) into a layer;
    errors name `source` and the key. Relative paths are taken from `base`."""
    layer: Layer = {}
    for key, value in _flatten(data, source):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and key in ("since", "until"):
            value = str(value)
        if hasattr(value, "isoformat"):  # YAML reads 2026-10-05 as a date
            value = value.isoformat()
        spec = KEYS.get(key)
        if spec is not None:
            if isinstance(value, tuple):
                value = list(value)
            if isinstance(value, Path):
                value = str(value)
            if spec.kind == "paths" and isinstance(value, list):
                value = [str(v) if isinstance(v, Path) else v for v in value]
            value = spec.check(value, source, key)
            if spec.kind in ("path", "paths"):  # a lake URI (s3a://, hdfs://) is no path of this machine
                value = ([v if is_lake_path(v) else str(base / v) for v in value] if isinstance(value, list)
                         else value if is_lake_path(value) else str(base / value))
        layer[key] = (value, source)
    return layer


def _flatten(data: dict, path, prefix: str = ""):
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not prefix and key in SECTIONS:
            if not isinstance(value, dict):
                raise fail(str(path), key, f"{shown(value)} is not a mapping", SECTIONS[key])
            yield dotted, value
        elif dotted in KEYS:
            yield dotted, value
        elif isinstance(value, dict) and any(k.startswith(dotted + ".") for k in KEYS):
            yield from _flatten(value, path, dotted + ".")
        else:
            siblings = {k[len(prefix):].split(".")[0] for k in KEYS if k.startswith(prefix)} | (set() if prefix else set(SECTIONS))
            raise unknown(str(path), dotted, siblings)


def merge(*layers: Layer) -> Layer:
    """Later layers win, key by key; no layer is changed."""
    merged: Layer = {}
    for layer in layers:
        merged = {**merged, **layer}
    return merged


def value(merged: Layer, key: str, default=None):
    return merged[key][0] if key in merged else default


def settings_from(merged: Layer) -> Settings:
    return Settings(
        timezone=value(merged, "timezone", "UTC"),
        since=value(merged, "since"),
        until=value(merged, "until"),
        excluded_statuses=tuple(s.strip().lower() for s in value(merged, "excluded_statuses", []) if s.strip()),
        fail_on=value(merged, "fail_on", "error"),
        link_tolerance_minutes=float(value(merged, "link_tolerance_minutes", 15)),
        checks=value(merged, "checks", {}),
        checks_source=merged["checks"][1] if "checks" in merged else "settings",
        waivers=tuple(_waiver_entries(merged)),
    )


def _waiver_entries(merged: Layer) -> list:
    """The config's (or the API's) `waivers:` list, then those of --waivers FILE: both apply."""
    from dedupaudit.waivers import entries_from

    entries = entries_from(merged["waivers"][0], merged["waivers"][1]) if "waivers" in merged else []
    if "waivers_file" in merged:
        path = Path(merged["waivers_file"][0])
        if not path.is_file():
            raise UserError(f"--waivers {path}: no such file")
        entries += entries_from(yamlfile.load(path), str(path))
    return entries


def show(merged: Layer) -> str:
    """The merged config as YAML-ish lines with where each value came from, then every key's doc."""
    width = max((len(k) for k in merged), default=0)
    lines = []
    for key in sorted(merged):
        val, source = merged[key]
        text = json.dumps(val, ensure_ascii=False)
        lines.append(f"{key.ljust(width)}  {text}    # {source}")
    lines += ["", "# Every key dedupaudit.yaml may set: what it does; default; valid values"]
    for key, option in KEYS.items():
        default = "" if option.default is None else f"; default {json.dumps(list(option.default) if isinstance(option.default, tuple) else option.default)}"
        lines.append(f"# {key}: {option.doc}{default}; valid: {option.describe()}")
    lines += [f"# {key}: {doc}" for key, doc in SECTIONS.items()]
    return "\n".join(lines) + "\n"


STARTER = """\
# dedupaudit.yaml: settings for `dedupaudit check` in this folder (and below).
# Command-line options override these; `dedupaudit config show` prints the result and where each
# value came from. Unknown keys are errors. Paths are relative to this file.

# Default inputs, so a nightly job can run `dedupaudit check` with no arguments.
# inputs:
#   pixel: [exports/pixel/]
#   capi: [logs/capi/*.jsonl.gz]
#   orders: [exports/orders.csv]
# With engine: spark, inputs may be lake paths (s3a://logs/pixel/*.parquet) and Spark tables or views:
# engine: spark
# tables:
#   orders: [warehouse.shop_orders]

# timezone: Europe/Berlin        # zone of timestamps written without an offset (default UTC)
# since: 2026-10-01              # period: events by event_time, orders by created_at
# until: 2026-10-31              # a bare date includes the whole day
# excluded_statuses: [test, cancelled, canceled, voided]   # orders that are not real sales
# fail_on: error                 # exit 1 on findings at or above: error, warning, info, never
# rules: rules/                  # your own platform rule files instead of the built-in ones
# memory_limit: 60%              # most memory the audit uses before it spills to disk (e.g. 8GB)
# threads: 2                     # threads the audit may use (default: all cores)
# storage: auto                  # memory, disk (compressed tables in the spill folder) or auto (disk when the inputs would not fit)
# spend: spend.csv               # ad spend per platform (platform, spend, currency; optional date): adds ROAS
# exchange_rates: rates.csv      # from, to, rate: convert conversion values into the spend's currency

# Reports to write on every run; the format comes from the extension (.json .md .html .xml).
# outputs: [report.html, result.json]
# title: Tracking audit
# client: Northwind Coffee Co.

# Checks: by code or name. `dedupaudit rules list` lists them, `dedupaudit explain CODE` explains one.
# checks:
#   inflated-conversions:
#     options: {error_above: 1.05, warning_above: 1.02, min_orders: 30}
#     platforms:
#       google: {options: {error_above: 1.10}}
#   unknown-event-names:
#     enabled: false             # we send deliberate custom events
#   DA112:
#     severity: error

# Accepted findings: out of the count and the exit code, reported with the reason (README, Waivers).
# waivers:
#   - check: unknown-event-names   # a code or a name
#     platform: meta
#     event_names: [SubscribedButtonClick]
#     reason: fbevents sends it by itself; we do not optimise on it
#     expires: 2027-03-31

# Baseline tolerances for `check --baseline` and `dedupaudit diff`: how far a metric may get
# worse before it is a regression.
# baseline:
#   inflation_ratio: 0.02
#   coverage: 0.02
#   new_error_findings: true
"""
