"""Checks on event names: the two paths disagree, differ only in case, or use names the platform does not know."""

from __future__ import annotations

from dedupaudit.checks.base import EVIDENCE_COLUMNS, SIDE_WORDS, AuditView, Check, Hit, plural


def _find_drift(view: AuditView, options: dict):
    pairs = view.rows("""
        SELECT platform, pixel, capi, count(*) AS n FROM (
            SELECT p.platform, p.link_key,
                   string_agg(DISTINCT p.event_name, ' + ' ORDER BY p.event_name) FILTER (WHERE p.source = 'pixel') AS pixel,
                   string_agg(DISTINCT p.event_name, ' + ' ORDER BY p.event_name) FILTER (WHERE p.source = 'capi') AS capi
            FROM purchases p SEMI JOIN (SELECT platform, link_key FROM order_checks WHERE event_name_drift) o USING (platform, link_key)
            GROUP BY p.platform, p.link_key)
        GROUP BY ALL ORDER BY platform, n DESC, pixel, capi""")
    for platform, count, examples, evidence in view.order_hits("event_name_drift"):
        top = next(p for p in pairs if p["platform"] == platform)
        rules = view.rules[platform]
        yield Hit(
            platform, "purchase", count,
            f"On {plural(count, 'order')} the pixel and the server name the purchase differently (most often: pixel "
            f"'{top['pixel']}', server '{top['capi']}' on {top['n']:,} orders). {rules.display_name} deduplicates only "
            f"events with the same name, so both are counted.",
            f"Use one name on both paths, preferably {rules.display_name}'s standard '{rules.events['purchase'][0]}'; "
            f"change the side that differs (the tag or the server mapping).",
            examples, evidence=evidence,
        )


EVENT_NAME_DRIFT = Check(
    code="DA107", name="event-name-drift", severity="error", unit="orders",
    summary="Orders where browser and server send the purchase under different event names.",
    what="For each order reported by both paths, the set of purchase-type names on the pixel side differs from the set on the server side.",
    why="Deduplication needs the same name and the same ID. A pixel 'CompletePayment' and a server 'Purchase' "
        "with the same ID are two conversions.",
    example="TikTok pixel fires CompletePayment, the Events API sends Purchase for the same order.",
    fix="Pick the platform's current standard name and use it in the tag and in the server integration.",
    find=_find_drift,
)

def _names_evidence(platform: str, names: list[str]) -> tuple[str, dict]:
    return (f"SELECT {EVIDENCE_COLUMNS} FROM audit_events WHERE platform = $p AND event_type IS NULL AND list_contains($names, event_name) "
            "ORDER BY event_name, file, row", {"p": platform, "names": names})


_CASE_VARIANT = """
    e.event_type IS NULL AND r.names_case_sensitive
    AND lower(e.event_name) IN (SELECT lower(t.name) FROM taxonomy t WHERE t.platform = e.platform)
"""


def _find_case_drift(view: AuditView, options: dict):
    rows = view.rows(f"""
        SELECT e.platform, e.source, e.event_name, min(t.name) AS expected, count(*) AS n,
               min(e.event_id) AS event_id, min(e.order_id) AS order_id, min(e.file) AS file, min(e.row) AS row
        FROM audit_events e JOIN rules r USING (platform)
        JOIN taxonomy t ON t.platform = e.platform AND lower(t.name) = lower(e.event_name)
        WHERE {_CASE_VARIANT}
        GROUP BY ALL ORDER BY e.platform, n DESC, e.event_name""")
    for platform in sorted({r["platform"] for r in rows}):
        variants = [r for r in rows if r["platform"] == platform]
        rules = view.rules[platform]
        count = sum(r["n"] for r in variants)
        first = variants[0]
        yield Hit(
            platform, None, count,
            f"{plural(count, 'event')} use a standard name in the wrong letter case (e.g. '{first['event_name']}' "
            f"instead of '{first['expected']}' from the {SIDE_WORDS[first['source']]} side). {rules.display_name} names are "
            f"case-sensitive: these are a different, custom event and never deduplicate against the standard one.",
            f"Send exactly '{first['expected']}' on the {SIDE_WORDS[first['source']]} side.",
            [{"side": r["source"], "event_name": r["event_name"], "expected": r["expected"], "events": r["n"],
              "example_event_id": r["event_id"], "example_order_id": r["order_id"], "file": r["file"], "row": r["row"]}
             for r in variants[:5]],
            evidence=_names_evidence(platform, [r["event_name"] for r in variants]),
        )


CASE_ONLY_NAME_DRIFT = Check(
    code="DA108", name="case-only-name-drift", severity="error", unit="events",
    summary="Standard event names sent in the wrong letter case on a case-sensitive platform.",
    what="Counts events whose name equals one of the platform's standard names except for letter case, on platforms "
         "whose rule file says names are case-sensitive.",
    why="'purchase' is not 'Purchase' to Meta: it is counted as a separate custom event and is not deduplicated "
        "against the pixel's Purchase, and it is missing from the standard purchase reporting.",
    example="CAPI sends event_name 'purchase' while the pixel sends 'Purchase'.",
    fix="Copy the name exactly from the platform's standard event list.",
    find=_find_case_drift,
)


def _find_unknown(view: AuditView, options: dict):
    rows = view.rows(f"""
        SELECT e.platform, e.source, e.event_name, count(*) AS n, min(e.event_id) AS event_id, min(e.file) AS file, min(e.row) AS row
        FROM audit_events e JOIN rules r USING (platform)
        WHERE e.event_type IS NULL AND NOT ({_CASE_VARIANT})
        GROUP BY ALL ORDER BY e.platform, n DESC, e.event_name""")
    for platform in sorted({r["platform"] for r in rows}):
        names = [r for r in rows if r["platform"] == platform]
        rules = view.rules[platform]
        count = sum(r["n"] for r in names)
        listed = ", ".join(f"'{r['event_name']}' ({r['n']:,})" for r in names[:3])
        yield Hit(
            platform, None, count,
            f"{plural(count, 'event')} use names that are not {rules.display_name} standard events: {listed}. "
            f"They are not counted as any standard conversion and this audit cannot check their deduplication.",
            f"If these are meant as a standard event, rename them to {rules.display_name}'s name for it "
            f"(see `dedupaudit` rule file {rules.platform}.yaml); if they are deliberate custom events, disable this check.",
            [{"side": r["source"], "event_name": r["event_name"], "events": r["n"], "example_event_id": r["event_id"],
              "file": r["file"], "row": r["row"]} for r in names[:5]],
            evidence=_names_evidence(platform, [r["event_name"] for r in names]),
        )


UNKNOWN_EVENT_NAMES = Check(
    code="DA109", name="unknown-event-names", severity="warning", unit="events",
    summary="Event names outside the platform's standard taxonomy.",
    what="Counts events whose name is not in the platform rule file's taxonomy (letter-case variants are DA108).",
    why="A misspelt or outdated standard name silently becomes a custom event: it does not feed the standard "
        "conversion the campaigns optimise for, and it does not deduplicate against the correctly named event.",
    example="TikTok pixel sends 'Checkout', which is not a TikTok standard event.",
    fix="Rename to the platform's standard name, or disable the check if the custom event is deliberate.",
    find=_find_unknown,
)

CHECKS = [EVENT_NAME_DRIFT, CASE_ONLY_NAME_DRIFT, UNKNOWN_EVENT_NAMES]
