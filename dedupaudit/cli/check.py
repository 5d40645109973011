"""`dedupaudit check`: load the inputs, run the audit, write the report, set the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import typer

from dedupaudit.audit.engine import run_audit
from dedupaudit.cli.main import EXIT_FINDINGS, app, user_errors
from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import Loaded, load_events, load_orders
from dedupaudit.inputs.files import expand_paths
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import load_rules
from dedupaudit.privacy import redact
from dedupaudit.reports import RENDERERS, RenderOptions
from dedupaudit.result import AuditResult, severity_rank
from dedupaudit.settings import DEFAULT_EXCLUDED_STATUSES, FAIL_ON, Settings

FILES_HELP = "File, folder or glob; repeat the option for more. CSV, TSV, JSON Lines, JSON array or Parquet, optionally .gz/.zst."


@app.command()
def check(
    pixel: list[str] = typer.Option([], "--pixel", help=f"Browser-pixel events. {FILES_HELP}", show_default=False),
    capi: list[str] = typer.Option([], "--capi", help=f"Server (Conversions API) events. {FILES_HELP}", show_default=False),
    orders: list[str] = typer.Option([], "--orders", help=f"Backend orders (order_id, created_at; value, currency, status). {FILES_HELP}", show_default=False),
    platform: str = typer.Option(None, "--platform", help="Platform of event rows that have no platform column or an empty value (e.g. meta)."),
    rules_dir: Path = typer.Option(None, "--rules", help="Folder of platform rule files to use instead of the built-in ones.", show_default=False),
    timezone: str = typer.Option("UTC", "--timezone", help="Time zone of timestamps written without an offset (IANA name, e.g. Europe/Berlin)."),
    since: str = typer.Option(None, "--since", help="Only events (by event_time) and orders (by created_at) at or after this time."),
    until: str = typer.Option(None, "--until", help="Only events and orders at or before this time; a bare date includes that whole day."),
    exclude_statuses: str = typer.Option(",".join(DEFAULT_EXCLUDED_STATUSES), "--exclude-statuses",
                                         help="Comma-separated order statuses that are not real sales (any case); '' counts every order."),
    output_format: str = typer.Option(None, "--format", "-f", help="rich (default on a terminal) or json (default otherwise)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout.", show_default=False),
    fail_on: str = typer.Option("error", "--fail-on", help="Exit 1 when a finding is at or above this severity: error, warning, info or never."),
    rejects: Path = typer.Option(None, "--rejects", help="Write every rejected input row, with its reason, to this CSV file.", show_default=False),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Simulate what each ad platform would count and report missing IDs, mismatched IDs, name drift and inflation.

    Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 bad input, option or rule file.
    """
    with user_errors(debug):
        if fail_on not in FAIL_ON:
            raise UserError(f"--fail-on: '{fail_on}' is not one of {', '.join(FAIL_ON)}")
        fmt = output_format or ("rich" if sys.stdout.isatty() and output is None else "json")
        if fmt not in RENDERERS:
            raise UserError(f"--format: '{fmt}' is not one of {', '.join(RENDERERS)}")
        if not pixel and not capi:
            raise UserError("give at least one of --pixel and --capi (see `dedupaudit check --help`)")
        settings = Settings(
            timezone=timezone, since=since, until=until, fail_on=fail_on,
            excluded_statuses=tuple(s.strip().lower() for s in exclude_statuses.split(",") if s.strip()),
        )
        zone = resolve_timezone(timezone)
        rules = load_rules(rules_dir)
        if platform and platform.strip().lower() not in rules:
            raise UserError(f"--platform {platform}: no rule file for this platform (known: {', '.join(sorted(rules))})")
        known = set(rules)
        pixel_in = load_events(expand_paths(pixel, "--pixel"), "pixel", zone, platform, known)
        capi_in = load_events(expand_paths(capi, "--capi"), "capi", zone, platform, known)
        orders_in = load_orders(expand_paths(orders, "--orders"), zone)
        result = run_audit(pixel_in, capi_in, orders_in, rules, settings)

        if rejects is not None:
            _write_rejects(rejects, {"pixel": pixel_in, "capi": capi_in, "orders": orders_in})
        colour = fmt == "rich" and output is None and sys.stdout.isatty()
        report = RENDERERS[fmt](result, RenderOptions(colour=colour, fail_on=fail_on))
        if output is None:
            sys.stdout.write(report)
        else:
            _write(output, report)
            print(f"dedupaudit: wrote {fmt} report to {output}", file=sys.stderr)
        code = exit_code(result, fail_on)
    if code:
        raise typer.Exit(code)


def exit_code(result: AuditResult, fail_on: str) -> int:
    if fail_on == "never":
        return 0
    threshold = severity_rank(fail_on)
    return EXIT_FINDINGS if any(severity_rank(f.severity) <= threshold for f in result.findings) else 0


def _write_rejects(path: Path, loaded: dict[str, Loaded]) -> None:
    frames = [l.rejects.assign(input=side) for side, l in loaded.items() if len(l.rejects)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["input", "file", "row", "reason", "value"])
    table["value"] = table["value"].map(redact)
    _write(path, table[["input", "file", "row", "reason", "value"]].to_csv(index=False))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from exc
