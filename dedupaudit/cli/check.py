"""`dedupaudit check`: load the inputs, run the audit, write the reports, set the exit code."""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from pathlib import Path

import pandas as pd
import typer

from dedupaudit import config, outputs
from dedupaudit.audit.engine import run_audit
from dedupaudit.baseline import Tolerances, compare, load_result, tolerance_options
from dedupaudit.cli.main import EXIT_FINDINGS, app, user_errors, write_file
from dedupaudit.cli.progress import progress
from dedupaudit.connection import Connection
from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import Loaded, load_events, load_orders
from dedupaudit.inputs.detect import ReadContext, check_format
from dedupaudit.inputs.mapping import load_mapping_file, parse_mapping
from dedupaudit.inputs.platform_reported import load_platform_reported
from dedupaudit.inputs.files import expand_paths
from dedupaudit.inputs.textfile import check_delimiter, check_encoding
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import load_rules
from dedupaudit.privacy import clean, clean_tree
from dedupaudit.reports import RENDERERS, RenderOptions
from dedupaudit.reports.diff_report import render_rich as render_diff
from dedupaudit.result import AuditResult, severity_rank

FILES_HELP = "File, folder or glob; repeat the option for more. CSV, TSV, JSON Lines, JSON array or Parquet, optionally .gz/.zst."
EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
              ".xml": "junit", ".txt": "rich"}


@app.command()
def check(
    pixel: list[str] = typer.Option([], "--pixel", metavar="FILE", help=f"Browser-pixel events. {FILES_HELP}", show_default=False),
    capi: list[str] = typer.Option([], "--capi", metavar="FILE", help=f"Server (Conversions API) events. {FILES_HELP}", show_default=False),
    orders: list[str] = typer.Option([], "--orders", metavar="FILE", help=f"Backend orders (order_id, created_at; value, currency, status). {FILES_HELP}", show_default=False),
    config_file: Path = typer.Option(None, "--config", metavar="FILE", help="Config file (default: dedupaudit.yaml here or in a parent folder).", show_default=False),
    platform: str = typer.Option(None, "--platform", metavar="NAME", help="Platform of event rows that have no platform column or an empty value (e.g. meta)."),
    rules_dir: Path = typer.Option(None, "--rules", metavar="FOLDER", help="Folder of platform rule files to use instead of the built-in ones.", show_default=False),
    timezone: str = typer.Option(None, "--timezone", metavar="ZONE", help="Time zone of timestamps written without an offset (IANA name, e.g. Europe/Berlin). [default: UTC]", show_default=False),
    since: str = typer.Option(None, "--since", metavar="TIME", help="Only events (by event_time) and orders (by created_at) at or after this time."),
    until: str = typer.Option(None, "--until", metavar="TIME", help="Only events and orders at or before this time; a bare date includes that whole day."),
    exclude_statuses: str = typer.Option(None, "--exclude-statuses", metavar="STATUSES", show_default=False,
                                         help="Comma-separated order statuses that are not real sales (any case); '' counts every order. "
                                              "[default: test, cancelled, canceled, voided, failed]"),
    output_format: str = typer.Option(None, "--format", "-f", metavar="FORMAT", show_default=False,
                                      help="Report on stdout: rich, json, markdown, html, junit or github. [default: none when -o is given; "
                                           "else github under GitHub Actions, rich on a terminal, json otherwise]"),
    output: list[Path] = typer.Option([], "--output", "-o", metavar="FILE", show_default=False,
                                      help="Write a report to this file; repeat for more. The format comes from the extension: "
                                           ".json .md .html .xml (JUnit) .txt (plain text)."),
    title: str = typer.Option(None, "--title", metavar="TEXT", help="Title of the HTML and Markdown reports."),
    client: str = typer.Option(None, "--client", metavar="NAME", help="Who the audit is for, shown on the HTML and Markdown reports."),
    fail_on: str = typer.Option(None, "--fail-on", metavar="SEVERITY", show_default=False,
                                help="Exit 1 when a finding is at or above this severity: error, warning, info or never. [default: error]"),
    baseline: Path = typer.Option(None, "--baseline", metavar="FILE", show_default=False,
                                  help="An earlier JSON result: show what changed and exit 1 on a regression (see `dedupaudit diff`)."),
    tolerance: list[str] = typer.Option([], "--tolerance", metavar="METRIC=VALUE", show_default=False,
                                        help="With --baseline: METRIC=VALUE, how far a metric may get worse (e.g. inflation_ratio=0.05)."),
    mapping: Path = typer.Option(None, "--mapping", metavar="FILE", show_default=False,
                                 help="Column mapping (YAML) for exports dedupaudit does not recognise; see `dedupaudit formats`."),
    pixel_format: str = typer.Option(None, "--pixel-format", metavar="FORMAT", help="Read the pixel files as this format instead of detecting it (see `dedupaudit formats`)."),
    capi_format: str = typer.Option(None, "--capi-format", metavar="FORMAT", help="Read the server files as this format, e.g. meta-capi, tiktok-events-api."),
    orders_format: str = typer.Option(None, "--orders-format", metavar="FORMAT", help="Read the order files as this format, e.g. shopify-orders, woocommerce-orders."),
    platform_reported: Path = typer.Option(None, "--platform-reported", metavar="FILE", show_default=False,
                                           help="CSV of what each platform's dashboard shows (platform, conversions; optional event, "
                                                "date): compared with the simulation."),
    rejects: Path = typer.Option(None, "--rejects", metavar="FILE", help="Write every rejected input row, with its reason, to this CSV file.", show_default=False),
    export_failures: Path = typer.Option(None, "--export-failures", metavar="FOLDER", show_default=False,
                                         help="Write the events behind each finding to this folder, one file per finding."),
    export_format: str = typer.Option(None, "--export-format", metavar="FORMAT", help="csv or parquet, for --export-failures. [default: csv]", show_default=False),
    encoding: str = typer.Option(None, "--encoding", metavar="NAME", show_default=False,
                                 help="Encoding of the text inputs, e.g. utf-8, utf-16, cp1252, latin-1. [default: detected per file]"),
    delimiter: str = typer.Option(None, "--delimiter", metavar="CHAR", show_default=False,
                                  help="Delimiter of the CSV/TSV inputs: comma, semicolon, tab, pipe or one character. [default: sniffed per file]"),
    memory_limit: str = typer.Option(None, "--memory-limit", metavar="SIZE", show_default=False,
                                     help="Most memory the audit may use before it spills to disk, e.g. 8GB or 50%. [default: 60% of this machine]"),
    threads: int = typer.Option(None, "--threads", metavar="N", show_default=False, help="Threads the audit may use. [default: all cores]"),
    strict: bool = typer.Option(False, "--strict", help="Exit 2 when any input row is rejected (after writing the reports and --rejects)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display and no notes on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Simulate what each ad platform would count and report missing IDs, mismatched IDs, name drift and inflation.

    Settings come from built-in defaults, then dedupaudit.yaml, then these options.
    Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it (or a regression against
    --baseline); 2 bad input, option, config or rule file.
    """
    with user_errors(debug):
        config_path = config.find_config(config_file)
        cli_layer = _cli_layer(
            pixel=pixel, capi=capi, orders=orders, platform=platform, rules_dir=rules_dir, timezone=timezone, since=since,
            until=until, exclude_statuses=exclude_statuses, output_format=output_format, output=output, title=title,
            client=client, fail_on=fail_on, baseline=baseline, mapping=mapping, pixel_format=pixel_format,
            capi_format=capi_format, orders_format=orders_format, export_failures=export_failures, export_format=export_format,
            platform_reported=platform_reported, memory_limit=memory_limit, threads=threads, encoding=encoding,
            delimiter=delimiter)
        merged = config.merge(config.DEFAULTS, config.load_file(config_path) if config_path else {}, cli_layer)
        settings = config.settings_from(merged)
        value = lambda key, default=None: config.value(merged, key, default)  # noqa: E731
        if settings.fail_on not in config.FAIL_ON:
            raise UserError(f"--fail-on: '{settings.fail_on}' is not one of {', '.join(config.FAIL_ON)}")
        stdout_format, files = _outputs(value("format"), [Path(p) for p in value("outputs", [])])
        if tolerance and not value("baseline_file"):
            raise UserError("--tolerance only applies with --baseline FILE (or use `dedupaudit diff --tolerance`)")
        tolerances = (Tolerances.from_config(value("baseline"), _source(merged, "baseline"))
                      .with_config(tolerance_options(tolerance), "--tolerance", section="")) if value("baseline_file") else None

        zone = resolve_timezone(settings.timezone)
        rules = load_rules(Path(value("rules")) if value("rules") else None)
        default_platform = value("platform")
        if default_platform and default_platform.strip().lower() not in rules:
            raise UserError(f"--platform {default_platform}: no rule file for this platform (known: {', '.join(sorted(rules))})")
        context = ReadContext(rules=rules, mapping=_mapping(merged), formats={
            side: value(f"formats.{side}") for side in ("pixel", "capi", "orders") if value(f"formats.{side}")},
            encoding=check_encoding(value("encoding"), _source(merged, "encoding")),
            delimiter=check_delimiter(value("delimiter"), _source(merged, "delimiter")))
        for side, name in context.formats.items():
            check_format(name, side, rules, _source(merged, f"formats.{side}"))
        inputs = {side: value(f"inputs.{side}", []) for side in ("pixel", "capi", "orders")}
        if not inputs["pixel"] and not inputs["capi"]:
            raise UserError("give at least one of --pixel and --capi, or inputs in dedupaudit.yaml (see `dedupaudit check --help`)")
        paths = {side: expand_paths(args, f"--{side}") for side, args in inputs.items()}
        reported = load_platform_reported(Path(value("platform_reported")), set(rules)) if value("platform_reported") else None
        _protect_inputs(paths, inputs, files, rejects, value("export_failures"),
                        [config_path, value("mapping_file"), value("baseline_file"), value("platform_reported")])

        export = _Export(Path(value("export_failures")), value("export_format", "csv")) if value("export_failures") else None
        with progress(not quiet) as step, Connection(value("memory_limit"), value("threads")) as connection:
            reading = lambda path: step(f"reading {clean(str(path))}")  # noqa: E731
            loaded = {
                side: load_events(paths[side], side, zone, default_platform, set(rules), context, on_file=reading, connection=connection)
                for side in ("pixel", "capi")
            }
            loaded["orders"] = load_orders(paths["orders"], zone, context, on_file=reading, connection=connection)
            step("auditing")
            result = clean_tree(run_audit(loaded["pixel"], loaded["capi"], loaded["orders"], rules, settings, export, reported))
            regressed = False
            if tolerances is not None:
                diff = compare(load_result(Path(value("baseline_file"))), json.loads(RENDERERS["json"](result)), tolerances,
                               names=(clean(value("baseline_file")), "this run"))
                result.baseline, regressed = diff.to_dict(), diff.regressed
                if not quiet:
                    sys.stderr.write(render_diff(diff))
            step("writing reports")
            _write_reports(result, stdout_format, files, settings.fail_on, value, quiet)
            if rejects is not None:
                _write_rejects(rejects, loaded)
            if export is not None and not quiet:
                print(f"dedupaudit: wrote the rows behind {len(export.names)} findings to {clean(str(export.folder))}", file=sys.stderr)
        if strict:
            _fail_on_rejects(result)
        code = EXIT_FINDINGS if regressed else exit_code(result, settings.fail_on)
    if code:
        raise typer.Exit(code)


def _cli_layer(**args) -> config.Layer:
    """The options actually given on the command line, as a config layer named after each option."""
    layer: config.Layer = {}

    def put(key: str, value, option: str):
        if value not in (None, [], ()):
            layer[key] = (value, option)

    for side in ("pixel", "capi", "orders"):
        put(f"inputs.{side}", list(args[side]), f"--{side}")
    put("platform", args["platform"], "--platform")
    put("rules", str(args["rules_dir"]) if args["rules_dir"] else None, "--rules")
    for key in ("timezone", "since", "until", "title", "client", "fail_on", "export_format", "memory_limit", "threads",
                "encoding", "delimiter"):
        put(key, args[key], "--" + key.replace("_", "-"))
    if args["exclude_statuses"] is not None:
        layer["excluded_statuses"] = ([s for s in args["exclude_statuses"].split(",") if s.strip()], "--exclude-statuses")
    put("format", args["output_format"], "--format")
    put("outputs", [str(p) for p in args["output"]], "--output")
    put("export_failures", str(args["export_failures"]) if args["export_failures"] else None, "--export-failures")
    if args["baseline"] is not None:
        layer["baseline_file"] = (str(args["baseline"]), "--baseline")
    put("mapping_file", str(args["mapping"]) if args["mapping"] else None, "--mapping")
    put("platform_reported", str(args["platform_reported"]) if args["platform_reported"] else None, "--platform-reported")
    for side in ("pixel", "capi", "orders"):
        put(f"formats.{side}", args[f"{side}_format"], f"--{side}-format")
    return layer


def _mapping(merged: config.Layer):
    """--mapping FILE replaces the config file's mapping: section."""
    if "mapping_file" in merged:
        return load_mapping_file(Path(merged["mapping_file"][0]))
    if "mapping" in merged:
        section, source = merged["mapping"]
        return parse_mapping(section, f"{source}: mapping")
    return None


def _source(merged: config.Layer, key: str) -> str:
    return merged[key][1] if key in merged else "defaults"


def _outputs(fmt: str | None, files: list[Path]) -> tuple[str | None, list[tuple[Path, str]]]:
    """What goes to stdout and each file's format (from its extension).

    A --format given explicitly always goes to stdout; without one, stdout gets the default format
    only when no report files are written.
    """
    if fmt is not None and fmt not in RENDERERS:
        raise UserError(f"--format: '{fmt}' is not one of {', '.join(RENDERERS)}")
    targets = []
    for path in files:
        kind = EXTENSIONS.get(path.suffix.lower())
        if kind is None:
            raise UserError(f"--output {path}: cannot tell the format from the extension (use {', '.join(sorted(EXTENSIONS))})")
        if kind not in RENDERERS:
            raise UserError(f"--output {path}: the {kind} format is not available")
        targets.append((path, kind))
    if fmt is None and not files:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" and "github" in RENDERERS else "rich" if sys.stdout.isatty() else "json"
    return fmt, targets


def _fail_on_rejects(result: AuditResult) -> None:
    """--strict: a rejected row is an input error (exit 2), named by file and reason."""
    bad = [(f["file"], f["rejected"], f["rejected_reasons"]) for s in result.inputs.values() for f in s.per_file if f["rejected"]]
    if bad:
        file, n, reasons = bad[0]
        total = sum(b[1] for b in bad)
        raise UserError(f"--strict: {total:,} input rows rejected, first in {file}: {n:,} "
                        f"({', '.join(f'{k}: {v:,}' for k, v in reasons.items())}); list them with --rejects FILE")


def _protect_inputs(paths: dict, args: dict, files, rejects, export_folder, other_inputs: list) -> None:
    """Refuse, before reading anything, an output that would replace an input or land in an input folder."""
    read = [p for found in paths.values() for p in found] + [Path(p) for p in other_inputs if p]
    folders = [Path(a) for given in args.values() for a in given if Path(a).is_dir()]
    patterns = [a for given in args.values() for a in given if glob.has_magic(a)]
    outputs.protect(read, folders, patterns)
    for path, _ in files:
        outputs.check_target(path, "--output")
    if rejects is not None:
        outputs.check_target(rejects, "--rejects")
    if export_folder:
        outputs.check_folder(export_folder, "--export-failures")


def _write_reports(result: AuditResult, stdout_format: str | None, files, fail_on: str, value, quiet: bool) -> None:
    options = dict(title=value("title"), client=value("client"), fail_on=fail_on)
    for path, kind in files:
        write_file(path, RENDERERS[kind](result, RenderOptions(**options)), "--output")
        if not quiet:
            print(f"dedupaudit: wrote {kind} report to {clean(str(path))}", file=sys.stderr)
    if stdout_format is not None:
        colour = stdout_format == "rich" and sys.stdout.isatty()
        sys.stdout.write(RENDERERS[stdout_format](result, RenderOptions(colour=colour, **options)))


def exit_code(result: AuditResult, fail_on: str) -> int:
    if fail_on == "never":
        return 0
    threshold = severity_rank(fail_on)
    return EXIT_FINDINGS if any(severity_rank(f.severity) <= threshold for f in result.findings) else 0


def _write_rejects(path: Path, loaded: dict[str, Loaded]) -> None:
    frames = [l.rejects.assign(input=side) for side, l in loaded.items() if len(l.rejects)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["input", "file", "row", "source_ref", "reason", "value"])
    write_file(path, outputs.csv_text(table[["input", "file", "row", "source_ref", "reason", "value"]]), "--rejects")


class _Export:
    """--export-failures: the audit hands each finding and a reader over its rows; one file per finding, named by
    code, check and platform, streamed (personal data redacted). Format and folder are checked before anything is read."""

    def __init__(self, folder: Path, fmt: str):
        if fmt not in ("csv", "parquet"):
            raise UserError(f"--export-format: '{fmt}' is not one of csv, parquet")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--export-failures {folder}: cannot create the folder ({exc.strerror})") from exc
        self.folder, self.fmt, self.names = folder, fmt, set()

    def __call__(self, finding, rows) -> None:
        stem = "-".join(clean(part) for part in (finding.code, finding.name, finding.platform, finding.event) if part)
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:120]  # no dots or separators: the name cannot leave the folder
        name, n = stem, 2
        while name in self.names:
            name, n = f"{stem}-{n}", n + 1
        self.names.add(name)
        target = self.folder / f"{name}.{self.fmt}"
        if target.resolve().parent != self.folder.resolve():  # cannot happen with the name above; a guard, not a hope
            raise UserError(f"--export-failures: refusing to write {target} outside {self.folder}")
        outputs.write_table(target, rows, self.fmt, "--export-failures")
