"""`dedupaudit inspect FILE...`: what each input file was recognised as, and what the audit would read from it.

For every file: the detected format (or the one forced), its text encoding and CSV delimiter (as
detected, or as --encoding / --delimiter say), the side it belongs to, how many rows or
events it yields per platform (and how many are test traffic, refused, or rejected), which canonical
column came from where, how order IDs were normalised, and the first canonical rows. Exit 2 when a
file cannot be recognised or read, with the reason on stderr; the other files are still shown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dedupaudit.cli.main import EXIT_USER_ERROR, app, user_errors
from dedupaudit.errors import UserError
from dedupaudit.wording import plural

if TYPE_CHECKING:
    import pandas as pd

SIDE_OF = {"capi-log": "capi", "har": "pixel", "pixel-log": "pixel", "shopify-orders": "orders", "woocommerce-orders": "orders"}
SHOWN_COLUMNS = ("platform", "event_name", "event_id", "event_time", "received_time", "order_id", "value", "currency",
                 "delivery", "created_at", "status", "source_ref")


@app.command()
def inspect(
    files: list[str] = typer.Argument(..., metavar="FILE", help="Files, folders or globs to inspect.", show_default=False),
    side: str = typer.Option("auto", "--side", metavar="SIDE", help="Read the files as pixel, capi or orders input; auto decides per file."),
    read_as: str = typer.Option(None, "--read-as", metavar="FORMAT", help="Force an input format instead of detecting it (see `dedupaudit formats`)."),
    mapping: Path = typer.Option(None, "--mapping", metavar="FILE", help="A column mapping file (YAML), as for `dedupaudit check`.", show_default=False),
    rules_dir: Path = typer.Option(None, "--rules", metavar="FOLDER", help="Folder of platform rule files to use instead of the built-in ones.", show_default=False),
    timezone: str = typer.Option("UTC", "--timezone", metavar="ZONE", help="Time zone of timestamps written without an offset."),
    rows: int = typer.Option(5, "--rows", metavar="N", min=0, help="How many canonical rows to show per file."),
    output_format: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
    encoding: str = typer.Option(None, "--encoding", metavar="NAME", help="Encoding of text files, e.g. utf-8, utf-16, cp1252. [default: detected per file]",
                                 show_default=False),
    delimiter: str = typer.Option(None, "--delimiter", metavar="CHAR", help="Delimiter of CSV/TSV files (comma, semicolon, tab, pipe). [default: sniffed]",
                                  show_default=False),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Say what each file is, what the audit reads from it, and show its first canonical rows."""
    from dedupaudit.inputs.detect import ReadContext, check_format
    from dedupaudit.inputs.files import expand_paths
    from dedupaudit.inputs.mapping import load_mapping_file
    from dedupaudit.inputs.textfile import check_delimiter, check_encoding
    from dedupaudit.inputs.timestamps import resolve_timezone
    from dedupaudit.platforms.rules import load_rules
    from dedupaudit.privacy import clean_tree, one_line

    failed = False
    with user_errors(debug):
        if side not in ("auto", "pixel", "capi", "orders"):
            raise UserError(f"--side: '{side}' is not one of auto, pixel, capi, orders")
        if output_format not in ("text", "json"):
            raise UserError(f"--format: '{output_format}' is not one of text, json")
        rules = load_rules(rules_dir)
        zone = resolve_timezone(timezone)
        context = ReadContext(rules=rules, mapping=load_mapping_file(mapping) if mapping else None,
                              encoding=check_encoding(encoding), delimiter=check_delimiter(delimiter))
        fixed_side = None if side == "auto" else side
        if read_as:
            check_format(read_as, fixed_side, rules, "--read-as")
        reports = []
        for path in expand_paths(files, "inspect"):
            try:
                reports.append(_inspect_file(path, fixed_side, read_as, context, zone, rows))
            except UserError as exc:
                if debug:
                    raise
                failed = True
                print(f"dedupaudit: error: {one_line(exc, 500)}", file=sys.stderr)
                reports.append({"file": str(path), "error": one_line(exc, 500)})
        reports = clean_tree(reports)  # every value shown comes from the files: masked and escaped here, once
        if output_format == "json":
            sys.stdout.write(json.dumps(reports, indent=2, default=str) + "\n")
        else:
            sys.stdout.write("\n".join(_text(r) for r in reports if "error" not in r))
    if failed:
        raise typer.Exit(EXIT_USER_ERROR)


def _inspect_file(path: Path, side: str | None, read_as: str | None, context, zone, rows: int) -> dict:
    from dedupaudit.inputs.canonical import load_events, load_orders
    from dedupaudit.inputs.detect import ReadContext, describe_input, format_sides

    formats = {s: read_as for s in ("pixel", "capi", "orders")} if read_as else {}
    sides = format_sides(context.rules)
    probe_side = side or (_only_side(sides.get(read_as)) if read_as else None)
    context = ReadContext(rules=context.rules, mapping=context.mapping, formats=formats, encoding=context.encoding,
                          delimiter=context.delimiter)
    read = describe_input(path, probe_side, context)
    frame = read.table.frame
    side = side or probe_side or SIDE_OF.get(read.format) or _only_side(sides.get(read.format)) or _table_side(frame)
    report = {
        "file": str(path), "format": read.format, "label": read.label, "side": side,
        **(read.text.describe() if read.text else {"encoding": None}),
        "rows": int(len(frame)), "unreadable": len(read.table.broken),
        "sources": read.sources, "notes": list(read.notes),
    }
    if report.get("delimiter") == "semicolon":
        report["notes"].append("separated by semicolons: a value with a decimal comma (12,50; 1.234,50) is read as 12.5 / 1234.5")
    if side == "orders":
        loaded = load_orders([path], zone, context)
        report["usable"], report["rejected"] = int(len(loaded.frame)), int(len(loaded.rejects))
        statuses = loaded.frame["status"].fillna("(none)").value_counts()
        report["statuses"] = {str(k): int(v) for k, v in statuses.items()}
    else:
        loaded = load_events([path], side if side in ("pixel", "capi") else "pixel", zone, None, set(context.rules), context)
        report["usable"], report["rejected"] = int(len(loaded.frame)), int(len(loaded.rejects))
        report["platforms"] = _per_platform(loaded.frame)
    if len(loaded.rejects):
        reasons = loaded.rejects["reason"].value_counts()
        report["rejected_reasons"] = {str(k): int(v) for k, v in reasons.items()}
    report["order_ids"] = _order_ids(frame)
    shown = [c for c in SHOWN_COLUMNS if c in frame.columns]
    first = frame[shown].head(rows).astype("object").where(frame[shown].head(rows).notna(), None)
    report["first_rows"] = first.to_dict("records")
    report["first_rows_at"] = [int(n) for n in read.table.row.head(rows)]
    return report


def _only_side(sides) -> str | None:
    """The side of a format that belongs to one side only (meta-capi: capi), as --read-as gives it."""
    return sides[0] if sides and len(sides) == 1 else None


def _table_side(frame: pd.DataFrame) -> str:
    columns = {str(c).strip().lower() for c in frame.columns}
    return "orders" if {"order_id", "created_at"} <= columns and "event_name" not in columns else "events (pixel or capi)"


def _per_platform(frame: pd.DataFrame) -> dict:
    out = {}
    for platform, part in frame.groupby("platform", sort=True):
        delivery = part["delivery"].fillna("")
        out[str(platform)] = {"events": int(len(part)), "counted_if_deduplicated": int((delivery == "").sum()),
                              "test": int((delivery == "test").sum()), "refused": int((delivery == "refused").sum()),
                              "names": {str(k): int(v) for k, v in part["event_name"].value_counts().head(8).items()}}
    return out


def _order_ids(frame: pd.DataFrame) -> dict | None:
    if "order_id" not in frame.columns:
        return None
    from dedupaudit.inputs.canonical import order_key

    raw = frame["order_id"].astype("string")
    present = raw.notna() & (raw.str.strip() != "")
    key = order_key(raw)
    changed = present & (key != raw).fillna(False)
    example = None
    if changed.any():
        i = changed.idxmax()
        example = {"written": str(raw[i]), "compared_as": str(key[i])}
    return {"present": int(present.sum()), "normalised": int(changed.sum()), "example": example,
            "rule": "trimmed, one leading '#' removed: '#1001', '1001' and ' 1001 ' are the same order"}


def _text(report: dict) -> str:
    lines = [report["file"], f"  format    {report['format']}: {report['label']}", f"  side      {report['side']}"]
    if report.get("encoding"):
        lines.append(f"  text      {report['encoding']}" + (f", {report['delimiter']}-separated" if report.get("delimiter") else ""))
    counted = f"  rows      {report['rows']:,} read, {report['usable']:,} usable, {report['rejected']:,} rejected"
    lines.append(counted + (f" ({', '.join(f'{k}: {v:,}' for k, v in report['rejected_reasons'].items())})"
                            if report.get("rejected_reasons") else ""))
    for platform, p in (report.get("platforms") or {}).items():
        extra = ", ".join(f"{p[k]:,} {k}" for k in ("test", "refused") if p[k])
        names = ", ".join(f"{n} {c:,}" for n, c in p["names"].items())
        lines.append(f"  {platform:<9} {plural(p['events'], 'event')}{f' ({extra})' if extra else ''}: {names}")
    if report.get("statuses"):
        lines.append("  statuses  " + ", ".join(f"{k} {v:,}" for k, v in report["statuses"].items()))
    for note in report["notes"]:
        lines.append(f"  note      {note}")
    ids = report.get("order_ids")
    if ids and ids["normalised"]:
        ex = ids["example"]
        lines.append(f"  order IDs {ids['normalised']:,} of {ids['present']:,} compared normalised "
                     f"(e.g. '{ex['written']}' as '{ex['compared_as']}'; {ids['rule']})")
    lines.append("  columns")
    for column, where in report["sources"].items():
        lines.append(f"    {column:<16} <- {where}")
    if report["first_rows"]:
        import pandas as pd

        lines.append("  first rows")
        table = pd.DataFrame(report["first_rows"], index=report["first_rows_at"]).fillna("")
        table.index.name = "row"
        lines.extend("    " + line for line in table.to_string(max_colwidth=32).splitlines())
    return "\n".join(lines) + "\n"
