"""`dedupaudit check`: a thin layer over the Python API (dedupaudit.api): options to settings, the progress
display, the report files, the exit code. Heavy modules are imported inside the command, so `--help` is fast."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from dedupaudit.cli.main import app, user_errors, write_file
from dedupaudit.errors import UserError
from dedupaudit.wording import plural

FILES_HELP = "File, folder or glob; repeat the option for more. CSV, TSV, JSON Lines, JSON array or Parquet, optionally .gz/.zst."


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
                                      help="Report on stdout: rich, json, markdown, html, junit, github or sarif. [default: none when -o is given; "
                                           "else github under GitHub Actions, rich on a terminal, json otherwise]"),
    output: list[Path] = typer.Option([], "--output", "-o", metavar="FILE", show_default=False,
                                      help="Write a report to this file; repeat for more. The format comes from the extension: "
                                           ".json .md .html .xml (JUnit) .sarif .txt (plain text)."),
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
    pixel_table: list[str] = typer.Option([], "--pixel-table", metavar="NAME", show_default=False,
                                          help="With --engine spark: a Spark table or view of browser-pixel events, read in place (repeatable)."),
    capi_table: list[str] = typer.Option([], "--capi-table", metavar="NAME", show_default=False,
                                         help="With --engine spark: a Spark table or view of server events (repeatable)."),
    orders_table: list[str] = typer.Option([], "--orders-table", metavar="NAME", show_default=False,
                                           help="With --engine spark: a Spark table or view of orders (repeatable)."),
    pixel_format: str = typer.Option(None, "--pixel-format", metavar="FORMAT", help="Read the pixel files as this format instead of detecting it (see `dedupaudit formats`)."),
    capi_format: str = typer.Option(None, "--capi-format", metavar="FORMAT", help="Read the server files as this format, e.g. meta-capi, tiktok-events-api."),
    orders_format: str = typer.Option(None, "--orders-format", metavar="FORMAT", help="Read the order files as this format, e.g. shopify-orders, woocommerce-orders."),
    platform_reported: Path = typer.Option(None, "--platform-reported", metavar="FILE", show_default=False,
                                           help="CSV of what each platform's dashboard shows (platform, conversions; optional event, "
                                                "date): compared with the simulation."),
    spend: Path = typer.Option(None, "--spend", metavar="FILE", show_default=False,
                               help="CSV of ad spend (platform, spend, currency; optional date): adds ROAS as reported and deduplicated."),
    exchange_rates: Path = typer.Option(None, "--exchange-rates", metavar="FILE", show_default=False,
                                        help="CSV of exchange rates (from, to, rate) to convert conversion values into the spend's currency."),
    waivers: Path = typer.Option(None, "--waivers", metavar="FILE", show_default=False,
                                 help="YAML list of accepted findings (check, reason; optional platform, event, event_names, "
                                      "event_ids, order_ids, expires), applied with the config's waivers."),
    # text, not Path: a lake URI (s3a://bucket/x) keeps its two slashes
    rejects: str = typer.Option(None, "--rejects", metavar="FILE", show_default=False,
                                help="Write every rejected input row, with its reason, to this CSV file (on Spark, also a lake "
                                     "folder of CSV part files)."),
    export_failures: str = typer.Option(None, "--export-failures", metavar="FOLDER", show_default=False,
                                         help="Write the events behind each finding to this folder, one file per finding."),
    export_format: str = typer.Option(None, "--export-format", metavar="FORMAT", help="csv or parquet, for --export-failures. [default: csv]", show_default=False),
    encoding: str = typer.Option(None, "--encoding", metavar="NAME", show_default=False,
                                 help="Encoding of the text inputs, e.g. utf-8, utf-16, cp1252, latin-1. [default: detected per file]"),
    delimiter: str = typer.Option(None, "--delimiter", metavar="CHAR", show_default=False,
                                  help="Delimiter of the CSV/TSV inputs: comma, semicolon, tab, pipe or one character. [default: sniffed per file]"),
    memory_limit: str = typer.Option(None, "--memory-limit", metavar="SIZE", show_default=False,
                                     help="Most memory the audit may use before it spills to disk, e.g. 8GB or 50%. [default: 60% of this machine]"),
    threads: int = typer.Option(None, "--threads", metavar="N", show_default=False, help="Threads the audit may use. [default: all cores]"),
    storage: str = typer.Option(None, "--storage", metavar="WHERE", show_default=False,
                                help="Where the audit keeps its tables: memory, disk (compressed, for inputs larger than memory) or auto. [default: auto]"),
    engine: str = typer.Option(None, "--engine", metavar="ENGINE", show_default=False,
                               help="Where the audit runs: duckdb (this machine) or spark (needs pip install 'dedupaudit[spark]'). [default: duckdb]"),
    spark_master: str = typer.Option(None, "--spark-master", metavar="URL", show_default=False,
                                     help="Spark master for --engine spark, e.g. local[4] or spark://host:7077. [default: $SPARK_MASTER, else local[*]]"),
    spark_conf: list[str] = typer.Option(None, "--spark-conf", metavar="KEY=VALUE", show_default=False,
                                         help="A Spark setting for --engine spark (repeatable), e.g. spark.sql.shuffle.partitions=64."),
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
        from dedupaudit import api, config
        from dedupaudit.baseline import tolerance_options
        from dedupaudit.cli.progress import progress
        from dedupaudit.reports.diff_report import render_rich as render_diff

        config_path = config.find_config(config_file)
        cli_layer = _cli_layer(
            pixel=pixel, capi=capi, orders=orders, platform=platform, rules_dir=rules_dir, timezone=timezone, since=since,
            until=until, exclude_statuses=exclude_statuses, output_format=output_format, output=output, title=title,
            client=client, fail_on=fail_on, baseline=baseline, mapping=mapping, pixel_format=pixel_format,
            capi_format=capi_format, orders_format=orders_format, export_failures=export_failures, export_format=export_format,
            platform_reported=platform_reported, spend=spend, exchange_rates=exchange_rates, memory_limit=memory_limit, threads=threads, storage=storage, encoding=encoding,
            delimiter=delimiter, waivers=waivers, engine=engine, spark_master=spark_master, spark_conf=spark_conf,
            pixel_table=pixel_table, capi_table=capi_table, orders_table=orders_table)
        merged = config.merge(config.DEFAULTS, config.load_file(config_path) if config_path else {}, cli_layer)
        value = lambda key, default=None: config.value(merged, key, default)  # noqa: E731
        stdout_format, files = _outputs(value("format"), [Path(p) for p in value("outputs", [])])
        if tolerance and not value("baseline_file"):
            raise UserError("--tolerance only applies with --baseline FILE (or use `dedupaudit diff --tolerance`)")
        tolerances = api.tolerances_from(merged, tolerance_options(tolerance), "--tolerance") if value("baseline_file") else None
        with progress(not quiet, stages=4 + (rejects is not None)) as tracker:
            result = api.run(merged, {}, baseline=value("baseline_file"), tolerances=tolerances, rejects=rejects,
                             report_files=[path for path, _ in files], tracker=tracker, config_path=config_path)
        # The display is gone: nothing of it precedes the report.
        if result.diff is not None and not quiet and stdout_format != "rich":  # the rich report has it already
            sys.stderr.write(render_diff(result.diff))
        _write_reports(result, stdout_format, files, quiet)
        if result.exported is not None and not quiet:
            print(f"dedupaudit: wrote the rows behind {plural(result.exported, 'finding')} to {_clean(value('export_failures'))}",
                  file=sys.stderr)
        if strict:
            _fail_on_rejects(result.model)
        code = result.exit_code()
    if code:
        raise typer.Exit(code)


def _cli_layer(**args) -> dict:
    """The options actually given on the command line, as a config layer named after each option."""
    layer: dict = {}  # config.Layer

    def put(key: str, value, option: str):
        if value not in (None, [], ()):
            layer[key] = (value, option)

    for side in ("pixel", "capi", "orders"):
        put(f"inputs.{side}", list(args[side]), f"--{side}")
        put(f"tables.{side}", list(args[f"{side}_table"]), f"--{side}-table")
    put("platform", args["platform"], "--platform")
    put("rules", str(args["rules_dir"]) if args["rules_dir"] else None, "--rules")
    for key in ("timezone", "since", "until", "title", "client", "fail_on", "export_format", "memory_limit", "threads",
                "storage", "encoding", "delimiter", "engine", "spark_master"):
        put(key, args[key], "--" + key.replace("_", "-"))
    if args["spark_conf"]:
        from dedupaudit.engine.spark import parse_conf
        layer["spark_conf"] = (parse_conf(args["spark_conf"]), "--spark-conf")
    if args["exclude_statuses"] is not None:
        layer["excluded_statuses"] = ([s for s in args["exclude_statuses"].split(",") if s.strip()], "--exclude-statuses")
    put("format", args["output_format"], "--format")
    put("outputs", [str(p) for p in args["output"]], "--output")
    put("export_failures", str(args["export_failures"]) if args["export_failures"] else None, "--export-failures")
    if args["baseline"] is not None:
        layer["baseline_file"] = (str(args["baseline"]), "--baseline")
    put("mapping_file", str(args["mapping"]) if args["mapping"] else None, "--mapping")
    put("waivers_file", str(args["waivers"]) if args["waivers"] else None, "--waivers")
    put("platform_reported", str(args["platform_reported"]) if args["platform_reported"] else None, "--platform-reported")
    put("spend", str(args["spend"]) if args["spend"] else None, "--spend")
    put("exchange_rates", str(args["exchange_rates"]) if args["exchange_rates"] else None, "--exchange-rates")
    for side in ("pixel", "capi", "orders"):
        put(f"formats.{side}", args[f"{side}_format"], f"--{side}-format")
    return layer


def _outputs(fmt: str | None, files: list[Path]) -> tuple[str | None, list[tuple[Path, str]]]:
    """What goes to stdout and each file's format (from its extension), checked before anything is read.

    A --format given explicitly always goes to stdout; without one, stdout gets the default format
    only when no report files are written.
    """
    from dedupaudit.reports import FORMATS, format_of
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")
    targets = [(path, format_of(path, "--output")) for path in files]
    if fmt is None and not files:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "rich" if sys.stdout.isatty() else "json"
    return fmt, targets


def _fail_on_rejects(result) -> None:
    """--strict: a rejected row is an input error (exit 2), named by file and reason."""
    bad = [(f["file"], f["rejected"], f["rejected_reasons"]) for s in result.inputs.values() for f in s.per_file if f["rejected"]]
    if bad:
        file, n, reasons = bad[0]
        total = sum(b[1] for b in bad)
        raise UserError(f"--strict: {plural(total, 'input row')} rejected, first in {file}: {n:,} "
                        f"({', '.join(f'{k}: {v:,}' for k, v in reasons.items())}); list them with --rejects FILE")


def _write_reports(result, stdout_format: str | None, files, quiet: bool) -> None:
    for path, kind in files:
        write_file(path, result.render(kind), "--output")
        if not quiet:
            print(f"dedupaudit: wrote {kind} report to {_clean(path)}", file=sys.stderr)
    if stdout_format is not None:
        sys.stdout.write(result.render(stdout_format, colour=stdout_format == "rich" and sys.stdout.isatty()))


def _clean(text) -> str:
    from dedupaudit.privacy import clean
    return clean(str(text))
