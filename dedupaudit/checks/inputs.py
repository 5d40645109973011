"""Checks on the inputs themselves: rows that could not be used."""

from __future__ import annotations

from dedupaudit.checks.base import AuditView, Check, Hit, plural


def _find_rejected(view: AuditView, options: dict):
    for side, summary in view.inputs.items():
        if not summary.rejected:
            continue
        reasons = ", ".join(f"{why} ({n:,})" for why, n in summary.rejected_reasons.items())
        yield Hit(
            None, None, summary.rejected,
            f"{plural(summary.rejected, 'row')} of the {side} input could not be used: {reasons}. They are left out "
            f"of every figure.",
            "Write them out with --rejects FILE to see each row and its reason, then fix the export.",
            evidence=("SELECT input, file, row, source_ref, reason, value FROM rejected_rows WHERE input = $side ORDER BY file, row", {"side": side}),
        )


REJECTED_ROWS = Check(
    code="DA100", name="rejected-rows", severity="warning", unit="rows",
    summary="Input rows that could not be read and are left out of the audit.",
    what="Counts rows of each input that were rejected: unparseable timestamps, empty required values, broken lines.",
    why="Every figure in the report is computed without them; many rejected rows make the figures unreliable.",
    example="event_time 'not-a-date' on one pixel row.",
    fix="Run with --rejects rejects.csv to list them with reasons, and fix the export.",
    find=_find_rejected,
)

CHECKS = [REJECTED_ROWS]
