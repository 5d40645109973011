"""Checks on the inputs themselves: rows that could not be used, inputs that were not given."""

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

# Per input: what cannot be computed without it, and how to supply it.
_WITHOUT = {
    "capi": ("server (CAPI) events (--capi)",
             "CAPI coverage, and whether the browser and server events of an order deduplicate (server events without "
             "an ID, mismatched IDs, name drift, pairs outside the window). Each platform's count is that of the browser "
             "events alone, so it may be too low if the server also reports purchases",
             "Export what the server sends each platform (a request log or the platform's event export; see "
             "`dedupaudit formats`) and pass it with --capi."),
    "pixel": ("browser-pixel events (--pixel)",
              "pixel coverage, and whether the browser and server events of an order deduplicate (browser events "
              "without an ID, mismatched IDs, name drift, pairs outside the window). Each platform's count is that of "
              "the server events alone, so it may be too low if the pixel also reports purchases",
              "Export the pixel's events (a HAR capture, a tag manager or pixel log; see `dedupaudit formats`) and "
              "pass them with --pixel."),
    "orders": ("orders (--orders)",
               "the number of real orders, and with it the inflation ratio, extra conversions, pixel and CAPI "
               "coverage, and the check for purchases without a real order",
               "Export the shop's orders for the same period (order_id, created_at; value, currency, status) and pass "
               "them with --orders."),
}


def _find_missing_inputs(view: AuditView, options: dict):
    given = {side for side, summary in view.inputs.items() if summary.files}
    if not given & {"pixel", "capi"}:  # nothing was audited: there are no figures to qualify
        return
    for side in ("pixel", "capi", "orders"):
        if side in given:
            continue
        what, figures, hint = _WITHOUT[side]
        yield Hit(None, None, 1, f"No {what} were given, so these figures are not computed: {figures}.", hint)


INPUT_MISSING = Check(
    code="DA121", name="input-missing", severity="info", unit="inputs",
    summary="An input was not given: which figures the audit cannot compute without it.",
    what="Reports each of the three inputs (browser-pixel events, server events, orders) that was not given, with the "
         "figures that need it. Those figures are left empty (null), not reported as failures.",
    why="Without the server events nothing can be said about CAPI coverage or browser/server deduplication; without "
        "the orders there is no real-order count to measure inflation against. An audit of one path is still useful "
        "(missing, placeholder and reused IDs, non-standard event names), but its limits should be stated, not shown as 0% or as errors.",
    example="dedupaudit check --pixel pixel.csv --orders orders.csv: no CAPI coverage, no mismatched-ID check.",
    fix="Add the missing export with --pixel, --capi or --orders.",
    find=_find_missing_inputs,
)

CHECKS = [REJECTED_ROWS, INPUT_MISSING]
