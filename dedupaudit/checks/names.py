"""Checks on event names: the two paths disagree, differ only in case, or use names the platform does not know."""

from __future__ import annotations

from dedupaudit.checks.base import EVIDENCE_COLUMNS, SIDE_WORDS, AuditView, Check, Hit, agree, first_examples, plural


def _find_drift(view: AuditView, options: dict):
    pairs = view.rows("""
        SELECT platform, pixel, capi, count(*) AS n FROM (
            SELECT p.platform, p.link_key,
                   string_agg(DISTINCT p.event_name, ' + ' ORDER BY p.event_name) FILTER (WHERE p.source = 'pixel') AS pixel,
                   string_agg(DISTINCT p.event_name, ' + ' ORDER BY p.event_name) FILTER (WHERE p.source = 'capi') AS capi
            FROM purchases p SEMI JOIN (SELECT platform, link_key FROM order_checks WHERE event_name_drift) o USING (platform, link_key)
            GROUP BY p.platform, p.link_key)
        GROUP BY platform, pixel, capi QUALIFY row_number() OVER (PARTITION BY platform ORDER BY n DESC, pixel, capi) = 1""")
    for platform, count, examples, evidence in view.order_hits("event_name_drift"):
        top = next(p for p in pairs if p["platform"] == platform)
        rules = view.rules[platform]
        yield Hit(
            platform, "purchase", count,
            f"On {plural(count, 'order')} the pixel and the server name the purchase differently (most often: pixel "
            f"'{top['pixel']}', server '{top['capi']}' on {plural(top['n'], 'order')}). {rules.display_name} deduplicates only "
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

_CASE_VARIANT = """
    e.event_type IS NULL AND r.names_case_sensitive
    AND lower(e.event_name) IN (SELECT lower(t.name) FROM taxonomy t WHERE t.platform = e.platform)
"""


def _names_evidence(platform: str, condition: str) -> tuple[str, dict]:
    """Every untyped event of the platform whose name meets `condition` (on `e`, with its rules `r`)."""
    return (f"SELECT {EVIDENCE_COLUMNS} FROM audit_events WHERE platform = $p AND event_type IS NULL AND event_name IN "
            f"(SELECT e.event_name FROM audit_events e JOIN rules r USING (platform) WHERE e.platform = $p AND {condition}) "
            "ORDER BY event_name, file, row", {"p": platform})


def _name_groups(view: AuditView, fields: dict[str, str], joins: str, condition: str) -> list[dict]:
    """Per platform: its events (n) meeting `condition`, and the five biggest (platform, side, name) groups with
    `fields` (name -> aggregate over `e`, its rules `r` and `joins`)."""
    columns = {"platform": "e.platform", "side": "e.source", "event_name": "e.event_name", "events": "count(*)", **fields}
    group = "{" + ", ".join(f"'{name}': {name}" for name in columns) + "}"
    return view.rows(f"""
        WITH g AS (
            SELECT {', '.join(f'{sql} AS {name}' for name, sql in columns.items())}
            FROM audit_events e JOIN rules r USING (platform) {joins}
            WHERE {condition} GROUP BY e.platform, e.source, e.event_name)
        SELECT platform, sum(events) AS n, {first_examples(group, "(-events, event_name, side)")} AS top
        FROM g GROUP BY platform ORDER BY platform""")


def _find_case_drift(view: AuditView, options: dict):
    rows = _name_groups(view, {"expected": "min(t.name)", "event_id": "min(e.event_id)", "order_id": "min(e.order_id)",
                               "file": "min(e.file)", "row": "min(e.row)"},
                        "JOIN taxonomy t ON t.platform = e.platform AND lower(t.name) = lower(e.event_name)", _CASE_VARIANT)
    for r in rows:
        platform, count, variants = r["platform"], r["n"], r["top"]
        rules = view.rules[platform]
        first = variants[0]
        yield Hit(
            platform, None, count,
            f"{plural(count, 'event')} {agree(count, 'uses', 'use')} a standard name in the wrong letter case (e.g. '{first['event_name']}' "
            f"instead of '{first['expected']}' from the {SIDE_WORDS[first['side']]} side). {rules.display_name} names are "
            f"case-sensitive: these are a different, custom event and never deduplicate against the standard one.",
            f"Send exactly '{first['expected']}' on the {SIDE_WORDS[first['side']]} side.",
            [{"side": v["side"], "event_name": v["event_name"], "expected": v["expected"], "events": v["events"],
              "example_event_id": v["event_id"], "example_order_id": v["order_id"], "file": v["file"], "row": v["row"]}
             for v in variants],
            evidence=_names_evidence(platform, _CASE_VARIANT),
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
    unknown = f"e.event_type IS NULL AND NOT ({_CASE_VARIANT})"
    rows = _name_groups(view, {"event_id": "min(e.event_id)", "file": "min(e.file)", "row": "min(e.row)"}, "", unknown)
    for r in rows:
        platform, count, names = r["platform"], r["n"], r["top"]
        rules = view.rules[platform]
        listed = ", ".join(f"'{n['event_name']}' ({n['events']:,})" for n in names[:3])
        yield Hit(
            platform, None, count,
            f"{plural(count, 'event')} {agree(count, 'uses a name that is not a', 'use names that are not')} {rules.display_name} "
            f"standard {agree(count, 'event', 'events')}: {listed}. "
            f"{agree(count, 'It is', 'They are')} not counted as any standard conversion and this audit cannot check "
            f"{agree(count, 'its', 'their')} deduplication.",
            f"If these are meant as a standard event, rename them to {rules.display_name}'s name for it "
            f"(see `dedupaudit` rule file {rules.platform}.yaml); if they are deliberate custom events, disable this check.",
            [{"side": n["side"], "event_name": n["event_name"], "events": n["events"], "example_event_id": n["event_id"],
              "file": n["file"], "row": n["row"]} for n in names],
            evidence=_names_evidence(platform, unknown),
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
