"""Checks on events the platform never counts: test traffic and events it refused."""

from __future__ import annotations

from dedupaudit.checks.base import EVIDENCE_COLUMNS, AuditView, Check, Hit, agree, plural


def _undelivered(kind: str):
    def find(view: AuditView, options: dict):
        rows = view.rows("""
            SELECT platform, count(*) AS n, count(*) FILTER (WHERE source = 'pixel') AS blocked, mode(delivery_message) AS message
            FROM undelivered WHERE delivery = $kind GROUP BY platform ORDER BY platform""", {"kind": kind})
        examples = view.rows("""
            SELECT platform, source AS side, event_name, event_id, order_id, event_time, received_time, delivery_message, file, row
            FROM undelivered WHERE delivery = $kind
            QUALIFY row_number() OVER (PARTITION BY platform ORDER BY received_time, file, row) <= 5""", {"kind": kind})
        for r in rows:
            rules = view.rules[r["platform"]]
            shown = [{k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in e.items() if k != "platform"}
                     for e in examples if e["platform"] == r["platform"]]
            evidence = (f"SELECT {EVIDENCE_COLUMNS}, delivery_message FROM undelivered WHERE delivery = $kind AND platform = $p ORDER BY file, row",
                        {"kind": kind, "p": r["platform"]})
            if kind == "test":
                yield Hit(r["platform"], None, r["n"],
                          f"{plural(r['n'], 'event')} {agree(r['n'], 'was', 'were')} sent to {rules.display_name} as test traffic (a test event code, a test "
                          f"endpoint or a validation-only request{': ' + r['message'] if r['message'] else ''}). "
                          "They are left out of every figure here; the platform records them nowhere or only in its test tool.",
                          "Remove the test code (or validateOnly) from production requests, or this server path reports nothing real.",
                          shown, evidence=evidence)
            else:
                blocked = f" ({r['blocked']:,} of them blocked in the browser before reaching it)" if r["blocked"] else ""
                yield Hit(r["platform"], None, r["n"],
                          f"{plural(r['n'], 'event')} {agree(r['n'], 'was', 'were')} refused by {rules.display_name} and never counted{blocked}"
                          f"{' (for example: ' + r['message'] + ')' if r['message'] else ''}. They are left out of every figure here.",
                          "Fix the request the platform rejected (see its error message), then resend within the dedup window.",
                          shown, evidence=evidence)
    return find


TEST_EVENTS = Check(
    code="DA117", name="test-events", severity="warning", unit="events",
    summary="Server events sent as test traffic: a test event code, a test endpoint or a validation-only request.",
    what="Counts events whose delivery is 'test' (test_event_code or the platform's equivalent, a test endpoint, "
         "or Google's validateOnly).",
    why="Test events are not counted as conversions. A production integration left in test mode reports nothing, "
        "so the pixel alone carries the numbers.",
    example='{"data": [...], "test_event_code": "TEST123"} in the live server log.',
    fix="Drop the test code from production requests.",
    find=_undelivered("test"),
)

REFUSED_EVENTS = Check(
    code="DA118", name="refused-events", severity="error", unit="events",
    summary="Server events the platform refused (error response, or fewer events received than sent).",
    what="Counts events whose delivery is 'refused', with the platform's error message.",
    why="Refused events never count and never deduplicate; the figures the platform shows lack them.",
    example='response {"error": {"message": "Invalid parameter"}} for a batch of 50 purchases.',
    fix="Fix what the error message names and resend.",
    find=_undelivered("refused"),
)

CHECKS = [TEST_EVENTS, REFUSED_EVENTS]
