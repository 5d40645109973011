"""`dedupaudit diff OLD.json NEW.json`: what changed between two audit results, and whether it regressed."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dedupaudit.cli.main import EXIT_FINDINGS, app, user_errors, write_file
from dedupaudit.errors import UserError



@app.command()
def diff(
    old: Path = typer.Argument(..., metavar="OLD.json", help="The earlier result: a `dedupaudit check --format json` report.", show_default=False),
    new: Path = typer.Argument(..., metavar="NEW.json", help="The later result, in the same format.", show_default=False),
    output_format: str = typer.Option(None, "--format", "-f", metavar="FORMAT",
                                      help="rich, json or markdown. Default: from the --output extension, else rich on a terminal and json otherwise."),
    output: Path = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to this file instead of stdout.", show_default=False),
    tolerance: list[str] = typer.Option([], "--tolerance", "-t", metavar="METRIC=VALUE", show_default=False,
                                        help="KEY=VALUE: how far a metric may get worse before it is a regression; repeat for more. "
                                             "E.g. inflation_ratio=0.05, coverage.pixel=0.03, platforms.tiktok.inflation_ratio=0.1, "
                                             "mismatched_event_id=10, new_error_findings=false; null means report only."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Show what changed per platform and metric since an earlier audit: metrics, new and resolved findings.

    Regressions by default: inflation up by more than 0.02, coverage down by more than 0.02, a new finding at severity error.

    Exit codes: 0 no regression; 1 a regression; 2 bad file or option.
    """
    from dedupaudit import outputs
    from dedupaudit.baseline import Tolerances, compare, load_result, tolerance_options
    from dedupaudit.privacy import clean
    from dedupaudit.reports import RenderOptions, format_of
    from dedupaudit.reports.diff_report import RENDERERS

    with user_errors(debug):
        fmt = output_format or (format_of(output, "--output") if output is not None else "rich" if sys.stdout.isatty() else "json")
        if fmt not in RENDERERS:
            where = f"--format: '{fmt}'" if output_format else f"--output {output}: {fmt}"
            raise UserError(f"{where} is not one of {', '.join(RENDERERS)} for a diff (.json .md .txt)")
        outputs.protect(files=[old, new])
        tolerances = Tolerances.from_config(tolerance_options(tolerance), "--tolerance", section="")
        result = compare(load_result(old), load_result(new), tolerances, names=(clean(str(old)), clean(str(new))))
        report = RENDERERS[fmt](result, RenderOptions(colour=fmt == "rich" and output is None and sys.stdout.isatty()))
        if output is None:
            sys.stdout.write(report)
        else:
            write_file(output, report, "--output")
            print(f"dedupaudit: wrote {fmt} diff to {clean(str(output))}", file=sys.stderr)
    if result.regressed:
        raise typer.Exit(EXIT_FINDINGS)
