"""`dedupaudit generate OUTDIR`: write a fictional shop with every failure planted, and its truth.json."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dedupaudit.cli.main import app, user_errors
from dedupaudit.errors import UserError
from dedupaudit.wording import plural

# The names generate.writers.WRITERS and generate.shop.PLATFORMS define, spelled here so that the help does
# not load numpy and DuckDB (tests/test_terminal.py keeps them equal).
WRITERS = ("csv", "jsonl", "parquet")
PLATFORMS = ("meta", "tiktok", "snap", "google")


@app.command()
def generate(
    outdir: Path = typer.Argument(..., metavar="OUTDIR", help="The folder to write pixel.*, capi.*, orders.* and truth.json to.",
                                  show_default=False),
    orders: int = typer.Option(..., "--orders", metavar="N", min=1, help="How many orders (about 9 events each with the defaults).",
                               show_default=False),
    seed: int = typer.Option(0, "--seed", metavar="N", help="The same seed writes the same bytes."),
    file_format: str = typer.Option("csv", "--format", metavar="FORMAT", help=f"{', '.join(WRITERS)}."),
    platforms: str = typer.Option(",".join(PLATFORMS), "--platforms", metavar="NAMES",
                                  help="Comma-separated, from " + ", ".join(PLATFORMS) + "."),
    rates: Path = typer.Option(None, "--rates", metavar="FILE", help="A YAML or JSON file of failure rates (0..1) over the defaults; "
                                                     "the README lists them.", show_default=False),
    truth: bool = typer.Option(True, "--truth/--no-truth", help="Compute truth.json with the reference model "
                                                                "(plain Python: about 1.5 to 2 minutes per million events)."),
    native: bool = typer.Option(False, "--native", help="Write the server events as the platforms' own request bodies "
                                "(capi.native.jsonl, a CAPI request log read like a real one) instead of a canonical table."),
    force: bool = typer.Option(False, "--force", help="Write into OUTDIR even if it is not empty (replacing these files)."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Write a fictional shop's pixel, server and order files with known failures, and the figures they must give.

    The failures the audit finds are planted at chosen rates; truth.json holds the figures `dedupaudit check` must give, computed by the reference model.

    Exit codes: 0 written; 2 bad option, rates file or OUTDIR.
    """
    from dedupaudit.generate import rates as rates_file
    from dedupaudit.generate.run import write_shop

    with user_errors(debug):
        if file_format not in WRITERS:
            raise UserError(f"--format: '{file_format}' is not one of {', '.join(WRITERS)}")
        chosen = [p.strip().lower() for p in platforms.split(",") if p.strip()]
        unknown = [p for p in chosen if p not in PLATFORMS]
        if unknown or not chosen:
            raise UserError(f"--platforms: {', '.join(unknown) or 'none given'}; choose from {', '.join(PLATFORMS)}")
        rate_values = rates_file.load(rates) if rates is not None else rates_file.DEFAULTS
        if outdir.exists() and (not outdir.is_dir() or (any(outdir.iterdir()) and not force)):
            raise UserError(f"{outdir}: exists and is not an empty folder (--force writes into it anyway)")
        summary = write_shop(outdir, orders, seed, file_format, list(dict.fromkeys(chosen)), rate_values, truth, native=native)
        rows, seconds = summary["rows"], summary["seconds"]
        print(f"dedupaudit: wrote {rows['pixel']:,} pixel and {plural(rows['capi'], 'server event')}, {plural(rows['orders'], 'order')} "
              f"to {outdir} in {seconds['total']} s" + (f" ({seconds['truth']} s of it for truth.json)" if truth else ""),
              file=sys.stderr)
