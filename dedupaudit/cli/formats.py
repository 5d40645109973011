"""`dedupaudit formats`: every input format `dedupaudit` reads, with the rule that recognises it.

The generic formats (canonical tables, request logs, HAR, pixel logs, shop exports, mappings) come
from `inputs.native.formats`; the platform request formats come from the rule files' `native:`
sections, with every field path and which of them the platform does not document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dedupaudit.cli.main import app, user_errors
from dedupaudit.errors import UserError

if TYPE_CHECKING:
    from dedupaudit.platforms.rules import PlatformRules


@app.command()
def formats(
    rules_dir: Path = typer.Option(None, "--rules", metavar="FOLDER", help="Folder of platform rule files to use instead of the built-in ones.",
                                   show_default=False),
    output_format: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """List every supported input format with its detection rule, and the platform parameters that are not confirmed."""
    with user_errors(debug):
        if output_format not in ("text", "json"):
            raise UserError(f"--format: '{output_format}' is not one of text, json")
        from dedupaudit.platforms.rules import load_rules

        listing = describe_formats(load_rules(rules_dir))
        if output_format == "json":
            sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        else:
            sys.stdout.write(_text(listing))


def describe_formats(rules: dict[str, PlatformRules]) -> dict:
    from dedupaudit.inputs.native.formats import GENERIC_FORMATS
    from dedupaudit.inputs.textfile import TEXT_RULES
    from dedupaudit.platforms.rules import unconfirmed_facts

    generic = [{"format": f.name, "sides": list(f.sides), "label": f.label, "detected_by": f.detection, "source": f.source}
               for f in GENERIC_FORMATS]
    platform = []
    for rule in sorted(rules.values(), key=lambda r: r.platform):
        native = rule.native
        if native is None:
            continue
        for spec in native.server:
            detected = []
            if spec.endpoints:
                detected.append("URL " + ", ".join(spec.endpoints))
            detected.append("body with " + " and ".join(" or ".join(alt) for alt in spec.require))
            if spec.signature:
                detected.append("fields only it has: " + ", ".join(spec.signature))
            detected += [f"{k} in {', '.join(v)}" for k, v in spec.hints.items()]
            platform.append({
                "format": spec.format, "platform": rule.platform, "kind": "server request body (in a capi-log)",
                "sides": ["capi"], "label": spec.label, "detected_by": "; ".join(detected),
                "source": _source(spec.facts), "events": list(spec.events),
                "columns": {c: f.describe() for c, f in spec.fields.items()},
                "test": ", ".join(list(spec.test) + [f"each event's {p}" for p in spec.event_test]
                                  + [f"{p} (validation only)" for p in spec.validate] + list(spec.test_endpoints)) or None,
                "names": spec.names or None, "unconfirmed": unconfirmed_facts(spec.facts),
            })
        for spec in native.browser:
            detected = "URL " + ", ".join(spec.endpoints)
            if spec.require:
                detected += " with " + " and ".join(" or ".join(alt) for alt in spec.require)
            platform.append({
                "format": spec.format, "platform": rule.platform, "kind": "pixel request (in a HAR capture)",
                "sides": ["pixel"], "label": spec.label, "detected_by": f"{detected}; {spec.body} body",
                "source": _source(spec.facts),
                "columns": {c: f.describe() for c, f in spec.fields.items()},
                "names": spec.names or None, "unconfirmed": unconfirmed_facts(spec.facts),
            })
        if native.log:
            platform.append({
                "format": f"{rule.platform} pixel log", "platform": rule.platform, "kind": "flat pixel log columns (pixel-log)",
                "sides": ["pixel"], "label": native.log.note or f"{rule.display_name} pixel log",
                "detected_by": ("columns " + " or ".join(native.log.signature)) if native.log.signature
                else "a platform column or the platform in the file name",
                "columns": {c: f.describe() for c, f in native.log.fields.items()},
            })
    return {"generic": generic, "platform": platform, "text": list(TEXT_RULES)}


def _source(facts: dict) -> str | None:
    """Where the shape itself comes from: the source of the format's `events` fact (server) or `endpoints` (pixel)."""
    fact = facts.get("events") or facts.get("endpoints") or {}
    return fact.get("source") or (f"assumption: {fact['note']}" if fact.get("note") else None)


def _text(listing: dict) -> str:
    from dedupaudit.inputs.textfile import TEXT_RULES

    out = ["Input formats. Force one with --pixel-format / --capi-format / --orders-format (dedupaudit check),",
           "--read-as (dedupaudit inspect) or `format:` in a mapping; otherwise each file is detected.", "",
           *TEXT_RULES, ""]
    for f in listing["generic"]:
        out.append(f"{f['format']:<20} {', '.join(f['sides'])}")
        out.append(f"    {f['label']}")
        out.append(f"    detected by: {f['detected_by']}")
        if f.get("source"):
            out.append(f"    shapes from: {f['source']}")
        out.append("")
    out.append("Platform formats, from the rule files' native: sections (not documented = observed in public")
    out.append("captures or integrators' code, or assumed; the figures that rest on them may be off):")
    out.append("")
    for f in listing["platform"]:
        out.append(f"{f['format']:<20} {f['kind']}")
        out.append(f"    {f['label']}")
        out.append(f"    detected by: {f['detected_by']}")
        if f.get("source"):
            out.append(f"    shape from: {f['source']}")
        out.append("    columns: " + "; ".join(f"{c} <- {w}" for c, w in f["columns"].items()))
        if f.get("test"):
            out.append(f"    test traffic: {f['test']}")
        if f.get("names"):
            out.append("    names: " + ", ".join(f"{a} -> {b}" for a, b in f["names"].items()))
        for key, why in (f.get("unconfirmed") or {}).items():
            out.append(f"    not documented: {key} ({why})")
        out.append("")
    return "\n".join(out)
