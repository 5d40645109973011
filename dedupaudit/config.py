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
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


from dedupaudit import yamlfile
from dedupaudit.errors import UserError
from dedupaudit.inputs.textfile import check_delimiter, check_encoding
from dedupaudit.settings import DEFAULT_EXCLUDED_STATUSES, FAIL_ON, Settings

CONFIG_NAME = "dedupaudit.yaml"
FORMATS = ("rich", "json", "markdown", "html", "junit", "github", "sarif")

Layer = dict[str, tuple[Any, str]]  # dotted key -> (value, where it came from)


@dataclass(frozen=True)
class Key:
    kind: str  # what the value must be, as said in errors
    valid: Callable[[Any], bool]
    path: bool = False  # a path (or list of paths) relative to the config file


def _str(v):
    return isinstance(v, str) and v.strip() != ""


def _str_list(v):
    return isinstance(v, list) and all(_str(x) for x in v)


def _accepted(check, v) -> bool:
    try:
        check(v)
        return True
    except UserError:
        return False


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


# Every key the file may set (besides checks.*, baseline and mapping, which are validated below and by their modules).
KEYS: dict[str, Key] = {
    "inputs.pixel": Key("a list of paths", _str_list, path=True),  # default browser-pixel inputs
    "inputs.capi": Key("a list of paths", _str_list, path=True),  # default server (CAPI) inputs
    "inputs.orders": Key("a list of paths", _str_list, path=True),  # default order exports
    "platform": Key("a platform id", _str),  # platform of event rows without one
    "rules": Key("a folder path", _str, path=True),  # platform rule files replacing the built-in ones
    "timezone": Key("an IANA time zone name", _str),  # zone of timestamps written without an offset
    "since": Key("a timestamp", _str),  # start of the period (events by event_time, orders by created_at)
    "until": Key("a timestamp", _str),  # end of the period; a bare date includes the whole day
    "excluded_statuses": Key("a list of statuses", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
    "fail_on": Key(f"one of {', '.join(FAIL_ON)}", lambda v: v in FAIL_ON),  # exit 1 at or above this severity
    "link_tolerance_minutes": Key("a number", _number),  # value+time linking: how far an event may be from its order
    "format": Key(f"one of {', '.join(FORMATS)}", lambda v: v in FORMATS),  # report format on stdout
    "outputs": Key("a list of paths", _str_list, path=True),  # report files; the format comes from the extension
    "title": Key("text", _str),  # report title (HTML, Markdown)
    "client": Key("text", _str),  # who the report is for (HTML, Markdown)
    "export_failures": Key("a folder path", _str, path=True),  # the events behind each finding go here
    "export_format": Key("csv or parquet", lambda v: v in ("csv", "parquet")),
    "platform_reported": Key("a file path", _str, path=True),  # what the platforms' dashboards show (CSV)
    "spend": Key("a file path", _str, path=True),  # ad spend per platform and currency (CSV), for ROAS
    "exchange_rates": Key("a file path", _str, path=True),  # the user's rates (CSV from, to, rate) for ROAS across currencies
    "memory_limit": Key("a size such as 8GB or 50%", lambda v: isinstance(v, (str, int)) and not isinstance(v, bool)),  # before spilling to disk
    "threads": Key("a whole number of at least 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    "encoding": Key("an encoding name such as utf-8, utf-16 or cp1252", lambda v: _str(v) and _accepted(check_encoding, v)),  # of every text input; default: detected per file
    "delimiter": Key("comma, semicolon, tab, pipe or one character", lambda v: _str(v) and _accepted(check_delimiter, v)),  # of CSV/TSV inputs; default: sniffed per file
    "waivers": Key("a list of waivers (check, reason, ...)", lambda v: isinstance(v, list)),  # accepted findings: waivers.py
    "formats.pixel": Key("a format name", _str),  # read pixel files as this format (see `dedupaudit formats`)
    "formats.capi": Key("a format name", _str),
    "formats.orders": Key("a format name", _str),
}
SECTIONS = ("checks", "baseline", "mapping")  # taken whole; their own code validates them (mapping: inputs/mapping.py)

DEFAULTS: Layer = {
    "timezone": ("UTC", "default"),
    "excluded_statuses": (list(DEFAULT_EXCLUDED_STATUSES), "default"),
    "fail_on": ("error", "default"),
    "link_tolerance_minutes": (15, "default"),
    "export_format": ("csv", "default"),
}


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
            if spec.path and isinstance(value, Path):
                value = str(value)
            if spec.path and isinstance(value, list):
                value = [str(v) if isinstance(v, Path) else v for v in value]
            if not spec.valid(value):
                raise UserError(f"{source}: {key}: expected {spec.kind}, got {reprlib.repr(value)}")  # reprlib: a huge value is shown cut short
            if spec.path:
                value = [str(base / v) for v in value] if isinstance(value, list) else str(base / value)
        layer[key] = (value, source)
    return layer


def _flatten(data: dict, path, prefix: str = ""):
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not prefix and key in SECTIONS:
            if not isinstance(value, dict):
                raise UserError(f"{path}: {key}: expected a mapping")
            yield dotted, value
        elif dotted in KEYS:
            yield dotted, value
        elif isinstance(value, dict) and any(k.startswith(dotted + ".") for k in KEYS):
            yield from _flatten(value, path, dotted + ".")
        else:
            valid = sorted({k.split(".")[0] for k in KEYS} | set(SECTIONS))
            raise UserError(f"{path}: {dotted}: unknown key (valid: {', '.join(valid)})")


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
    """The merged config as YAML-ish lines with where each value came from."""
    width = max((len(k) for k in merged), default=0)
    lines = []
    for key in sorted(merged):
        val, source = merged[key]
        text = json.dumps(val, ensure_ascii=False)
        lines.append(f"{key.ljust(width)}  {text}    # {source}")
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

# timezone: Europe/Berlin        # zone of timestamps written without an offset (default UTC)
# since: 2026-10-01              # period: events by event_time, orders by created_at
# until: 2026-10-31              # a bare date includes the whole day
# excluded_statuses: [test, cancelled, canceled, voided]   # orders that are not real sales
# fail_on: error                 # exit 1 on findings at or above: error, warning, info, never
# rules: rules/                  # your own platform rule files instead of the built-in ones
# memory_limit: 60%              # most memory the audit uses before it spills to disk (e.g. 8GB)
# threads: 2                     # threads the audit may use (default: all cores)
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

# Baseline tolerances for `check --baseline` and `dedupaudit diff`: how far a metric may get
# worse before it is a regression.
# baseline:
#   inflation_ratio: 0.02
#   coverage: 0.02
#   new_error_findings: true
"""
