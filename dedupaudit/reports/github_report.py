"""GitHub Actions workflow commands: one annotation per finding, then a summary line.

GitHub shows only the first few annotations of each level per step, so the most severe findings with the
largest counts come first. Values are escaped as the Actions toolkit does: %, CR and LF in the message;
also ':' and ',' in properties such as the title.
"""

from __future__ import annotations

from dedupaudit.reports import summary as S
from dedupaudit.result import AuditResult, Finding, severity_rank

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def render(result: AuditResult, options=None) -> str:
    fail_on = options.fail_on if options else "error"
    names = S.display_names(result)
    findings = sorted(result.findings, key=lambda f: (severity_rank(f.severity), -f.count, f.platform or "", f.code))
    lines = [_annotation(f, names) for f in findings]
    lines += [f"::notice title={escape_property(f'{w.code} {w.name} ({S.place(w, names)}), waived')}::"
              f"{escape_data(f'{S.counted(w)} waived: {w.reason}' + (f' (until {w.expires})' if w.expires else ''))}"
              for w in result.waived]
    lines.append(f"::notice title={escape_property('dedupaudit summary')}::{escape_data(_summary(result, fail_on))}")
    inputs = S.accounting_lines(result)
    if inputs:
        lines.append(f"::notice title={escape_property('dedupaudit inputs')}::{escape_data('; '.join(inputs))}")
    return "\n".join(lines) + "\n"


def _annotation(f: Finding, names: dict[str, str]) -> str:
    title = f"{f.code} {f.name} ({S.place(f, names)})"
    message = f.message.rstrip()
    message += (" " if message.endswith((".", "!", "?")) else ". ") + f"Fix: {f.hint}"
    return f"::{COMMANDS[f.severity]} title={escape_property(title)}::{escape_data(message)}"


def _summary(result: AuditResult, fail_on: str) -> str:
    rows = sorted(S.purchases(result), key=lambda p: -(p.inflation_ratio or 0))
    figures = "; ".join(
        f"{p.display_name} {S.ratio(p.inflation_ratio)}"
        + (f" ({p.extra_conversions:+,} conversions)" if p.extra_conversions else "")
        + (f" [{S.inflation_range(p)} depending on unconfirmed rules]" if S.inflation_range(p) else "") for p in rows)
    counts = S.severity_counts(result.findings)
    failing = len(S.failing(result.findings, fail_on))
    verdict = ("fail level never" if fail_on == "never" else
               f"{failing} at or above {fail_on}" if failing else f"none at or above {fail_on}")
    text = ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in
                     ((counts["error"], "error"), (counts["warning"], "warning"), (counts["info"], "note"))) + f" ({verdict})."
    return (f"Platform counts vs real orders: {figures}. " if figures else "") + text


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
