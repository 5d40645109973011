"""SARIF 2.1.0: the findings as static-analysis results, for code-scanning dashboards (GitHub, Azure DevOps, IDEs).

One run; its driver lists every check that fired as a rule, and each finding is one result. A result points at
the input file its first example came from, at that example's line in a CSV/TSV/JSON Lines file (else at the
first file of the input it concerns), and names the platform as a logical location. `partialFingerprints` is
code/platform/event, so a dashboard tracks the same problem across runs while its count changes. Nothing
time-of-run is written, so the same audit gives the same file.
"""

from __future__ import annotations

import json
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from urllib.parse import quote

from dedupaudit.reports import summary as S
from dedupaudit.result import AuditResult, Finding

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT = "dedupauditFinding/v1"
# The input a finding concerns when its examples name no file: the check's own side, else pixel, server, orders.
_SIDE_OF = {"DA101": "capi", "DA102": "pixel", "DA117": "capi", "DA118": "capi", "DA131": "orders"}
_LINE_FILES = (".csv", ".tsv", ".jsonl", ".ndjson")  # plain text read line by line: an example's row is its line


def render(result: AuditResult, options=None) -> str:
    findings = S.ordered(result.findings)
    everything = [*findings, *result.waived]
    codes = list(dict.fromkeys(f.code for f in everything))
    rules = [_rule(code, next(f for f in everything if f.code == code)) for code in codes]
    names = S.display_names(result)
    seen: dict[str, int] = {}
    results = [_result(f, codes.index(f.code), names, result, seen) for f in findings]
    # A waived finding is a result with a suppression (SARIF's word for an accepted one), carrying the reason.
    for w in result.waived:
        waived = _result(w, codes.index(w.code), names, result, seen)
        waived["suppressions"] = [{"kind": "external", "status": "accepted", "justification": w.reason,
                                   "location": {"physicalLocation": {"artifactLocation": {"uri": _uri(w.waiver.split(": ")[0])}}}
                                   if ": waivers[" in w.waiver and not w.waiver.startswith("audit()") else {},
                                   "properties": {"waiver": w.waiver, "expires": w.expires}}]
        results.append(waived)
    driver = {"name": result.tool.get("name", "dedupaudit"), "version": str(result.tool.get("version", "")), "rules": rules}
    log = {"$schema": SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints",
                     "properties": {"period": result.period}}]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(code: str, seen: Finding) -> dict:
    check = S.CHECKS_BY_CODE.get(code)
    if check is None:  # a finding from a check this build does not know: describe it from the finding
        return {"id": code, "name": seen.name, "shortDescription": {"text": seen.name},
                "defaultConfiguration": {"level": LEVELS[seen.severity]}}
    help_text = f"{check.what}\n\nWhy it matters: {check.why}\n\nExample: {check.example}\n\nFix: {check.fix}"
    return {"id": code, "name": check.name, "shortDescription": {"text": check.summary},
            "fullDescription": {"text": check.what}, "help": {"text": help_text},
            "defaultConfiguration": {"level": LEVELS[check.severity]}}


def _result(f: Finding, rule_index: int, names: dict[str, str], result: AuditResult, seen: dict[str, int]) -> dict:
    message = f.message.rstrip()
    message += (" " if message.endswith((".", "!", "?")) else ". ") + f"Fix: {f.hint}"
    key = f"{f.code}/{f.platform or 'inputs'}/{f.event or '-'}"
    seen[key] = seen.get(key, 0) + 1  # two findings of one check on one platform and event: keep them apart
    location: dict = {}
    path, line = _file(f, result)
    if path:
        location["physicalLocation"] = {"artifactLocation": {"uri": _uri(path)}}
        if line:
            location["physicalLocation"]["region"] = {"startLine": line}
    if f.platform:
        location["logicalLocations"] = [{"name": names.get(f.platform, f.platform), "kind": "resource",
                                         "fullyQualifiedName": f.platform if f.event is None else f"{f.platform}/{f.event}"}]
    out = {"ruleId": f.code, "ruleIndex": rule_index, "level": LEVELS[f.severity], "message": {"text": message},
           "partialFingerprints": {FINGERPRINT: key if seen[key] == 1 else f"{key}#{seen[key]}"},
           "properties": {"count": f.count, "unit": f.unit, "platform": f.platform, "event": f.event}}
    if location:
        out["locations"] = [location]
    return out


def _file(f: Finding, result: AuditResult) -> tuple[str | None, int | None]:
    """The input file named in the finding's first example (with its line, in a line-by-line text file), else the
    first file of the input the finding concerns."""
    for example in f.examples:
        if example.get("file"):
            path, row = str(example["file"]), example.get("row")
            lined = isinstance(row, int) and row > 0 and PurePosixPath(path.lower()).suffix in _LINE_FILES
            return path, row if lined else None
    sides = [e["side"] for e in f.examples if e.get("side")] + [_SIDE_OF.get(f.code, "")]
    if f.code == "DA100":  # rejected rows: the input that had them
        sides += [side for side, s in result.inputs.items() if s.rejected]
    for side in [*sides, "pixel", "capi", "orders"]:
        summary = result.inputs.get(side)
        if summary is not None and summary.files:
            return summary.files[0], None
    return None, None


def _uri(path: str) -> str:
    """A file path as a URI reference: relative paths stay relative (to where the audit ran), absolute ones become file URIs."""
    pure: PurePath = PureWindowsPath(path) if PureWindowsPath(path).drive else PurePosixPath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return quote(pure.as_posix(), safe="/")
