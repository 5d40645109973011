"""Checks on personal data the inputs show being sent: server events with unhashed user data."""

from __future__ import annotations

from dedupaudit.checks.base import AuditView, Check, Hit, plural


def _find_unhashed(view: AuditView, options: dict):
    counts = view.rows("""
        SELECT platform, count(*) AS n, string_agg(DISTINCT unhashed_user_data, '; ' ORDER BY unhashed_user_data) AS fields
        FROM unhashed_events GROUP BY platform ORDER BY platform""")
    examples = view.rows("""
        SELECT platform, source AS side, event_name, event_id, unhashed_user_data AS unhashed_fields, file, row, source_ref
        FROM unhashed_events
        QUALIFY row_number() OVER (PARTITION BY platform ORDER BY file, row) <= 5""")
    for c in counts:
        name = view.rules[c["platform"]].display_name if c["platform"] in view.rules else c["platform"]
        yield Hit(
            c["platform"], None, c["n"],
            f"{plural(c['n'], 'server event')} sent {name} the user's email or phone number in plain text "
            f"(fields: {c['fields']}). The platform requires SHA-256 hashes; the plain values are personal data "
            "sent where only hashes may go. The values are not shown here.",
            "Normalise (trim, lower-case; phone in E.164 digits) and hash with SHA-256 before sending: "
            "user_data.em / user_data.ph (or the platform's email and phone fields).",
            [{k: v for k, v in e.items() if k != "platform"} for e in examples if e["platform"] == c["platform"]],
            evidence=("SELECT source AS side, file, row, source_ref, platform, event_name, event_id, unhashed_user_data "
                      "FROM unhashed_events WHERE platform = $p ORDER BY file, row", {"p": c["platform"]}),
        )


UNHASHED_USER_DATA = Check(
    code="DA130", name="unhashed-user-data", severity="error", unit="events",
    summary="Server events that send the user's email or phone number unhashed.",
    what="Counts server (CAPI) events whose email or phone field holds something other than a SHA-256 hex hash. "
         "Only the names of the fields are kept (em, ph); the values never leave the file reader.",
    why="The platforms require these fields hashed with SHA-256. Plain values may be dropped for matching, and "
        "sending them is a data-protection problem for the shop.",
    example='"user_data": {"em": ["jane@example.com"]} instead of the hash of "jane@example.com".',
    fix="Normalise and hash email and phone with SHA-256 on the server before sending.",
    find=_find_unhashed,
)

CHECKS = [UNHASHED_USER_DATA]
