"""The JUnit XML report: one test case per check and platform, so CI systems show the audit as test results.

A test case fails when its check has a finding at or above `fail_on` (error > warning > info; 'never' fails
nothing); findings below it are kept in the case's system-out. Checks on the inputs themselves form the
'inputs' suite. Nothing time-of-run is written, so the same audit gives the same file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from dedupaudit.checks import ALL_CHECKS
from dedupaudit.checks import inputs as input_checks
from dedupaudit.checks import orders as order_checks
from dedupaudit.checks import waivers as waiver_checks
from dedupaudit.reports import summary as S
from dedupaudit.result import AuditResult, Finding

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_INPUT_CODES = {c.code for c in [*input_checks.CHECKS, *order_checks.CHECKS, *waiver_checks.CHECKS]}  # on the inputs, not a platform


def render(result: AuditResult, options=None) -> str:
    fail_on = options.fail_on if options else "error"
    root = ET.Element("testsuites", name="dedupaudit")
    by_suite: dict[str, dict[str, list[Finding]]] = {}
    waived: dict[tuple[str, str], list] = {}
    for f in S.ordered(result.findings):
        suite = "inputs" if f.platform is None or f.code in _INPUT_CODES else f.platform
        by_suite.setdefault(suite, {}).setdefault(f.code, []).append(f)
    for w in result.waived:  # accepted by a waiver: a skipped case (or a note beside what is left)
        suite = "inputs" if w.platform is None or w.code in _INPUT_CODES else w.platform
        waived.setdefault((suite, w.code), []).append(w)
        by_suite.setdefault(suite, {}).setdefault(w.code, [])

    platforms = S.platform_ids(result)
    platform_codes = [c.code for c in ALL_CHECKS if c.code not in _INPUT_CODES]
    names = S.display_names(result)
    for suite in ["inputs", *platforms, *sorted(set(by_suite) - {"inputs", *platforms})]:
        found = by_suite.get(suite, {})
        codes = sorted(_INPUT_CODES) if suite == "inputs" else platform_codes
        codes = [*codes, *sorted(set(found) - set(codes))]  # a finding from a check this build does not list
        _suite(root, suite, names.get(suite, suite), codes, found, fail_on, result, waived)

    root.set("tests", str(sum(int(s.get("tests")) for s in root)))
    root.set("failures", str(sum(int(s.get("failures")) for s in root)))
    root.set("errors", "0")
    root.set("skipped", str(sum(int(s.get("skipped")) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root, suite: str, display: str, codes: list[str], found: dict, fail_on: str, result: AuditResult,
           waived: dict) -> None:
    node = ET.SubElement(root, "testsuite", name=f"dedupaudit.{suite}")
    purchase = next((p for p in S.purchases(result) if p.platform == suite), None)
    if purchase is not None:
        props = ET.SubElement(node, "properties")
        for key, value in (("platform", display), ("orders", purchase.orders),
                           ("reported_conversions", purchase.reported_conversions),
                           ("inflation_ratio", purchase.inflation_ratio), ("extra_conversions", purchase.extra_conversions),
                           ("inflation_range", S.inflation_range(purchase)), ("platform_reported", purchase.platform_reported),
                           ("model_gap", purchase.model_gap)):
            ET.SubElement(props, "property", name=key, value=_clean("" if value is None else value))
    failures = skipped = 0
    for code in codes:
        check = S.CHECKS_BY_CODE.get(code)
        findings = found.get(code, [])
        accepted = waived.get((suite, code), [])
        name = check.name if check else (findings or accepted)[0].name
        case = ET.SubElement(node, "testcase", classname=f"dedupaudit.{suite}", name=f"{code} {name}", time="0")
        if findings:
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="count", value=str(sum(f.count for f in findings)))
            ET.SubElement(props, "property", name="unit", value=_clean(findings[0].unit))
        failed = S.failing(findings, fail_on)
        if failed:
            failures += 1
            first = failed[0]
            ET.SubElement(case, "failure", message=_clean(first.message), type=first.severity).text = _clean(
                "\n\n".join(_describe(f, display) for f in failed))
        if accepted and not findings:
            skipped += 1
            ET.SubElement(case, "skipped", message=_clean("waived: " + "; ".join(sorted({w.reason for w in accepted}))))
        passed = [f for f in findings if f not in failed]
        notes = [_describe(f, display) for f in passed] + [_describe_waived(w, display) for w in accepted]
        if notes:
            ET.SubElement(case, "system-out").text = _clean("\n\n".join(notes))
    if suite == "inputs":  # every row read is used or rejected, per file
        ET.SubElement(node, "system-out").text = _clean("\n".join(S.accounting_lines(result)))
    node.set("tests", str(len(codes)))
    node.set("failures", str(failures))
    node.set("errors", "0")
    node.set("skipped", str(skipped))
    node.set("time", "0")


def _describe(f: Finding, display: str) -> str:
    event = f" ({f.event})" if f.event else ""
    lines = [f"{f.severity.upper()} {f.code} {f.name} on {display}{event}: {S.counted(f)}", f.message, f"Fix: {f.hint}"]
    if f.examples:
        lines.append("Examples:")
        lines += ["  " + ", ".join(f"{k}={v}" for k, v in row.items()) for row in f.examples]
    return "\n".join(lines)


def _describe_waived(w, display: str) -> str:
    event = f" ({w.event})" if w.event else ""
    expires = f", until {w.expires}" if w.expires else ""
    return f"WAIVED {w.code} {w.name} on {display}{event}: {S.counted(w)}. Reason: {w.reason} ({w.waiver}{expires})"


def _clean(value) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: show them as U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(value))
