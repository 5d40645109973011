"""`dedupaudit rules list`, `dedupaudit rules platforms` and `dedupaudit explain CODE`: the documentation lives on the checks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import typer

from dedupaudit.checks import ALL_CHECKS, get_check
from dedupaudit.checks.base import both_fields
from dedupaudit.cli.main import app, user_errors
from dedupaudit.errors import UserError
from dedupaudit.options import doc_lines


# Loaded on first use, not when Typer builds the app: --version and --help need neither PyYAML nor Rich's tables.
def load_rules(rules_dir: Path | None = None):
    from dedupaudit.platforms.rules import load_rules as load

    return load(rules_dir)


def Table(*columns, **options):  # noqa: N802  (stands for rich.table.Table)
    from rich.table import Table as RichTable

    return RichTable(*columns, **options)


def Console(**options):  # noqa: N802  (stands for rich.console.Console)
    from rich.console import Console as RichConsole

    return RichConsole(**options)

rules_app = typer.Typer(help="List the checks and the platform rules.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(rules_app, name="rules")


def _print(renderable, width: int = 120) -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False).print(renderable)
    typer.echo(buffer.getvalue().rstrip("\n"))


@rules_app.command("list")
def list_checks():
    """Every check with its code, name, default severity and a one-line summary."""
    table = Table("code", "name", "severity", "summary", box=None, pad_edge=False)
    for check in ALL_CHECKS:
        table.add_row(check.code, check.name, check.severity, check.summary)
    _print(table)


@rules_app.command("platforms")
def platforms(
    rules_dir: Path = typer.Option(None, "--rules", metavar="FOLDER", help="Folder of platform rule files instead of the built-in ones.", show_default=False),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Each platform's dedup rules, and which of them are assumptions rather than documented facts."""
    with user_errors(debug):
        rules = load_rules(rules_dir)
    table = Table("platform", "aliases", "window", "same-source", "case-sensitive", "server time", "max age", "purchase names",
                  "keyed also by", "without an ID", "not documented", box=None, pad_edge=False)
    for r in rules.values():
        fallback = f"{' / '.join(r.fallback.keys)} ({r.fallback.window_hours:g} h)" if r.fallback else "-"
        table.add_row(r.platform, ", ".join(r.aliases) or "-", "none" if r.dedup_window_hours is None else f"{r.dedup_window_hours:g} h",
                      "yes" if r.same_source_dedup else "no", "yes" if r.names_case_sensitive else "no", " or ".join(r.server_time_units),
                      "-" if r.max_event_age_days is None else f"{r.max_event_age_days:g} d", ", ".join(r.events["purchase"]),
                      r.dedup_scope.label if r.dedup_scope else "-", fallback,
                      f"{len(r.assumptions)} of {len(r.facts)}")
    _print(table, width=200)
    typer.echo("Every value with its source, and the other reading of the unconfirmed ones: dedupaudit rules facts [PLATFORM]")


@rules_app.command("facts")
def facts(
    platform: list[str] = typer.Argument(None, metavar="PLATFORM", help="Platforms to show (default: all).", show_default=False),
    rules_dir: Path = typer.Option(None, "--rules", metavar="FOLDER", help="Folder of platform rule files instead of the built-in ones.", show_default=False),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Every rule value of each platform with its evidence, and the other reading of the unconfirmed ones.

    Evidence is documented (source), observed (where) or assumption (why); for an unconfirmed value the audit also counts the other reading.
    """
    with user_errors(debug):
        rules = load_rules(rules_dir)
        unknown = sorted(set(platform or []) - set(rules))
        if unknown:
            raise UserError(f"no rule file for platform '{unknown[0]}' (known: {', '.join(sorted(rules))})")
    lines = []
    for r in rules.values():
        if platform and r.platform not in platform:
            continue
        lines += [f"{r.display_name} ({r.platform}, {r.path})"]
        for key, fact in r.facts.items():
            lines.append(f"  {key}: {_value(r.data, key)}  [{fact['status']}]")
            if fact.get("source"):
                lines.append(f"    source: {fact['source']}")
            if fact.get("note"):
                lines.append(f"    note: {' '.join(str(fact['note']).split())}")
            if "alternative" in fact:
                lines.append(f"    the audit assumes: {fact['reading']}")
                lines.append(f"    also counted if {fact['other_reading']} ({key}: {_value({'x': fact['alternative']}, 'x')})")
        lines.append("")
    typer.echo("\n".join(lines).rstrip("\n"))


def _value(data: dict, dotted: str) -> str:
    """A rule value as the file writes it (dotted paths reach into dedup_scope and fallback)."""
    value = data
    for part in dotted.split("."):
        value = (value or {}).get(part)
    if isinstance(value, dict) and "purchase" in value:  # events: the purchase names are what matters here
        return f"{len(value)} event types; purchase: {', '.join(value['purchase'])}"
    return json.dumps(value, ensure_ascii=False)


@app.command()
def explain(
    code: str = typer.Argument(..., metavar="CODE", help="A check code (DA105) or name (mismatched-event-ids)."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """The full documentation of one check: what it checks, why it matters, an example, the fix per platform, its options."""
    with user_errors(debug):
        check = get_check(code)
        rules = load_rules()
    lines = [
        f"{check.code} {check.name}  (default severity: {check.severity}; counts {check.unit})",
        "",
        check.summary,
        "",
        "What it checks", "  " + check.what,
        "",
        "Why it matters", "  " + check.why,
        "",
        "Example", "  " + check.example,
        "",
        "How to fix", "  " + check.fix,
        "  Where the dedup ID goes on each platform:",
        *[f"    {r.display_name}: {both_fields(r)}" for r in rules.values()],
        "",
        "Options (set under checks: in dedupaudit.yaml, globally or per platform)",
        *(doc_lines(check.options) or ["  none"]),
        "",
        f"Turn it off: checks: {{{check.name}: {{enabled: false}}}}; change its severity: checks: {{{check.name}: {{severity: warning}}}}",
    ]
    typer.echo("\n".join(lines))

