"""Checks on time: pairs too far apart to deduplicate, the wrong epoch unit, events too old to accept."""

from __future__ import annotations

from dedupaudit.checks.base import AuditView, Check, Hit, agree, plural


def _find_outside_window(view: AuditView, options: dict):
    for platform, count, examples, evidence in view.order_hits("outside_window"):
        rules = view.rules[platform]
        yield Hit(
            platform, "purchase", count,
            f"On {plural(count, 'order')} the browser and server events match (same name and ID) but reached "
            f"{rules.display_name} more than {rules.dedup_window_hours:g} hours apart, after the dedup window closed: "
            f"both were counted.",
            f"Send server events as the purchase happens, not in a late batch; {rules.display_name} only deduplicates "
            f"within {rules.dedup_window_hours:g} h of the first event.",
            examples, evidence=evidence,
        )


PAIRS_OUTSIDE_WINDOW = Check(
    code="DA110", name="pairs-outside-window", severity="error", unit="orders",
    summary="Matching browser and server events received further apart than the dedup window.",
    what="For each order reported by both paths: some browser and some server event share name and ID but their "
         "received times differ by strictly more than the platform's window.",
    why="Deduplication only looks back one window. A nightly or weekly server batch arrives after it closed and "
        "is counted again.",
    example="Pixel Purchase at 10:00 Monday, the server batch with the same ID on Thursday: two purchases on Meta.",
    fix="Send server events in real time (or at least well within the window).",
    find=_find_outside_window,
)


def _find_time_unit(view: AuditView, options: dict):
    # A platform that accepts both epoch units (Snap) never gets this finding.
    where = ("source = 'capi' AND event_time_unit IN ('seconds', 'milliseconds') AND EXISTS (SELECT 1 FROM rules r "
             "WHERE r.platform = audit_events.platform AND r.server_time_unit IN ('seconds', 'milliseconds') "
             "AND NOT list_contains(r.server_time_units, audit_events.event_time_unit))")
    for platform, _, count, examples, evidence in view.event_hits(where, by_type=False):
        rules = view.rules[platform]
        sent = "milliseconds" if rules.server_time_unit == "seconds" else "seconds"
        yield Hit(
            platform, None, count,
            f"{plural(count, 'server event')} {agree(count, 'gives', 'give')} event_time in {sent}, but {rules.display_name} expects "
            f"{rules.server_time_unit}. The platform reads a date far in the future or the past and rejects or "
            f"misplaces the event, so it cannot deduplicate it.",
            f"Send event_time as a Unix timestamp in {rules.server_time_unit}"
            f"{' (divide by 1000)' if rules.server_time_unit == 'seconds' else ' (multiply by 1000)'}.",
            examples, evidence=evidence,
        )


WRONG_TIME_UNIT = Check(
    code="DA111", name="wrong-time-unit", severity="error", unit="events",
    summary="Server event_time in milliseconds where the platform wants seconds, or the reverse.",
    what="Counts server events whose epoch event_time is in a unit the platform's `server_time_unit` does not list "
         "(told apart by magnitude: 1e11 and above is milliseconds). Snap accepts both units.",
    why="JavaScript's Date.now() is in milliseconds; Meta, TikTok and Snap want seconds. Such events are rejected or land on the wrong day.",
    example="event_time 1728123456789 sent to Meta instead of 1728123456.",
    fix="Convert to the platform's unit before sending.",
    find=_find_time_unit,
)


def _find_too_old(view: AuditView, options: dict):
    where = ("platform IN (SELECT platform FROM rules WHERE max_age_us IS NOT NULL) AND epoch_us(received_time) - epoch_us(event_time) > "
             "(SELECT max_age_us FROM rules WHERE rules.platform = audit_events.platform)")
    for platform, _, count, examples, evidence in view.event_hits(where, by_type=False):
        rules = view.rules[platform]
        yield Hit(
            platform, None, count,
            f"{plural(count, 'event')} reached {rules.display_name} more than {rules.max_event_age_days:g} days after "
            f"they happened; the platform does not accept events that old"
            f"{' (and Meta rejects the whole request they are in)' if rules.platform == 'meta' else ''}.",
            f"Send events within {rules.max_event_age_days:g} days; retry failed server sends promptly instead of in a backlog.",
            examples, evidence=evidence,
        )


EVENTS_TOO_OLD = Check(
    code="DA112", name="events-too-old", severity="warning", unit="events",
    summary="Events received later after they happened than the platform accepts.",
    what="Counts events whose received_time is more than the platform's `max_event_age_days` after their event_time.",
    why="Platforms drop late events (Meta drops the whole batch). The audit still counts them as the dedup model "
        "says, so this finding tells you part of the reported figure may not actually arrive.",
    example="A backlog replayed 9 days later to Meta.",
    fix="Send in real time; alert on failed sends rather than replaying weeks later.",
    find=_find_too_old,
)

CHECKS = [PAIRS_OUTSIDE_WINDOW, WRONG_TIME_UNIT, EVENTS_TOO_OLD]
