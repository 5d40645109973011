"""Checks on the dedup ID itself: missing, placeholder, reused, mismatched, nearly matching."""

from __future__ import annotations

from dedupaudit.options import Option
from dedupaudit.checks.base import EVIDENCE_COLUMNS, SIDE_WORDS, AuditView, Check, Hit, agree, both_fields, first_examples, plural

def _missing_ids(side: str):
    other = "pixel" if side == "capi" else "capi"

    def find(view: AuditView, options: dict):
        # Events a fallback key merged (Meta's fbp / external_id) are deduplicated: they are not this finding.
        where = f"source = '{side}' AND event_type IS NOT NULL AND event_id IS NULL AND merged_by IS DISTINCT FROM 'fallback'"
        by_fallback = {(r["platform"], r["event_type"]): r["n"] for r in view.rows(
            f"SELECT platform, event_type, count(*) AS n FROM audit_events WHERE source = '{side}' AND merged_by = 'fallback' GROUP BY ALL")}
        for platform, event, count, examples, evidence in view.event_hits(where):
            rules = view.rules[platform]
            field, how = (rules.server_field, rules.server_how) if side == "capi" else (rules.browser_field, rules.browser_how)
            fix = f"On the {SIDE_WORDS[side]} side, send `{field}`: {how}."
            caught = by_fallback.get((platform, event), 0)
            also = (f" ({plural(caught, 'more')} without an ID {'was' if caught == 1 else 'were'} matched by "
                    f"{' / '.join(rules.fallback.keys)}, which only works when the browser event arrives first.)" if caught else "")
            if getattr(view.metrics[(platform, event)], f"{other}_events") == 0:
                # One path only: nothing can be counted twice across paths yet (or, without the other input, not known).
                across = (f"No {event} events from the {SIDE_WORDS[other]} reach {rules.display_name}, so nothing is "
                          f"counted twice across the two paths" if view.inputs[other].files else
                          f"Without the {SIDE_WORDS[other]} events (not given) it cannot be told whether they are counted "
                          f"twice across the two paths")
                yield Hit(
                    platform, event, count,
                    f"{plural(count, event + ' event')} from the {SIDE_WORDS[side]} {agree(count, 'carries', 'carry')} no event ID. "
                    f"{across}; but {rules.display_name} cannot drop a repeated event without an ID, and a "
                    f"{SIDE_WORDS[other]} path could not be matched to these.",
                    fix, examples, cap="warning", evidence=evidence,
                )
                continue
            yield Hit(
                platform, event, count,
                f"{plural(count, event + ' event')} from the {SIDE_WORDS[side]} {agree(count, 'carries', 'carry')} no event ID, so "
                f"{rules.display_name} cannot match them to the other path and counts the conversion twice.{also}",
                fix, examples, evidence=evidence,
            )
    return find


SERVER_WITHOUT_ID = Check(
    code="DA101", name="server-events-without-id", severity="error", unit="events",
    summary="Server (CAPI) events that carry no event ID.",
    what="Counts server events of a known type whose event ID is empty, blank or absent.",
    why="A platform deduplicates a browser and a server event only when both carry the same ID. A server "
        "event without one is always counted, on top of the pixel's event for the same purchase.",
    example="CAPI sends {event_name: Purchase, event_id: ''} while the pixel sends eventID 'ORD-1001': two purchases.",
    fix="Send the same ID on the server as in the browser: Meta `data[].event_id`, TikTok `data[].event_id`, "
        "Snap `data[].event_id`, Google `order_id` on the click-conversion upload.",
    find=_missing_ids("capi"),
)

BROWSER_WITHOUT_ID = Check(
    code="DA102", name="browser-events-without-id", severity="error", unit="events",
    summary="Browser (pixel) events that carry no event ID.",
    what="Counts pixel events of a known type whose event ID is empty, blank or absent.",
    why="Without an ID on the pixel event the platform cannot tell it is the same purchase the server reported.",
    example="fbq('track', 'Purchase', {value: 20}) without the 4th argument {eventID: ...}.",
    fix="Pass the dedup ID in the tag: Meta `eventID` (4th argument of fbq), TikTok `event_id` (3rd argument of "
        "ttq.track), Snap `client_dedup_id`, Google `transaction_id` on the conversion event.",
    find=_missing_ids("pixel"),
)

PLACEHOLDERS = ["undefined", "null", "none", "nan", "0", "-1", "false", "true", "[object object]", "(not set)", "n/a", "event_id", "order_id"]
_TEMPLATE_MARKS = r"\{\{|\}\}|\$\{|%%|<%|\[\[|\]\]"  # an unrendered template: {{order.id}}, ${id}, <%= id %>


def _find_placeholders(view: AuditView, options: dict):
    values = [v.lower() for v in options["values"]]
    where = ("event_id IS NOT NULL AND (list_contains($values, lower(trim(event_id)))"
             " OR regexp_matches(event_id, $marks))")
    for platform, event, count, examples, evidence in view.event_hits(where, {"values": values, "marks": _TEMPLATE_MARKS}, by_type=False):
        rules = view.rules[platform]
        shown = sorted({e["event_id"] for e in examples})
        yield Hit(
            platform, None, count,
            f"{plural(count, 'event')} {agree(count, 'carries', 'carry')} a placeholder instead of a real ID ({', '.join(repr(s) for s in shown)}). "
            f"{rules.display_name} treats them as one ID: different purchases are merged and under-counted, "
            f"and their browser/server pairs are not matched.",
            f"The variable that should hold the order ID is empty or not rendered when the event is sent. Fill "
            f"{both_fields(rules)} from the order ID at that moment.",
            examples, evidence=evidence,
        )


PLACEHOLDER_IDS = Check(
    code="DA103", name="placeholder-event-ids", severity="error", unit="events",
    summary="Event IDs that are placeholders such as 'undefined', 'null', '0' or an unrendered template.",
    what="Counts events whose ID is a known placeholder (case-insensitive) or contains template marks such as {{ or ${.",
    why="The platform sees a placeholder as a real ID, so every purchase sent with it collapses into one.",
    example="eventID: 'undefined' on 80 different orders: the platform counts one purchase, or two with the server's.",
    fix="Read the ID from the order at the time the event fires; check the data layer variable is set before the tag runs.",
    find=_find_placeholders,
    options={"values": Option(PLACEHOLDERS, "texts", "event IDs that are placeholders, not IDs (compared ignoring case)")},
)


# Purchase event IDs used on `$min_orders` (at least 2) or more different orders: counted per order only for
# the IDs on two orders or more (one pass over the IDs first; nearly every ID has one order).
_REUSED = """
    SELECT platform, event_id, count(*) AS orders, sum(events) AS events,
           min(event_name) AS event_name, min(first_received) AS first_received
    FROM (SELECT platform, event_id, link_key, count(*) AS events, min(event_name) AS event_name,
                 min(received_time) AS first_received
          FROM purchases SEMI JOIN (SELECT platform, event_id FROM purchases WHERE event_id IS NOT NULL AND link_key IS NOT NULL
                                    GROUP BY platform, event_id HAVING min(link_key) <> max(link_key)) USING (platform, event_id)
          WHERE link_key IS NOT NULL
          GROUP BY platform, event_id, link_key)
    GROUP BY platform, event_id HAVING count(*) >= $min_orders
"""


def _find_reused(view: AuditView, options: dict):
    params = {"min_orders": options["min_orders"]}
    rows = view.rows(f"""
        SELECT platform, count(*) AS ids,
               {first_examples("{'event_id': event_id, 'orders': orders, 'events': events, 'event_name': event_name, "
                               "'first_received': first_received}", "(-orders, event_id)")} AS examples
        FROM ({_REUSED}) GROUP BY platform ORDER BY platform""", params)
    for r in rows:
        platform, count, worst = r["platform"], r["ids"], r["examples"][0]
        rules = view.rules[platform]
        yield Hit(
            platform, "purchase", count,
            f"{plural(count, 'event ID')} {'is' if count == 1 else 'are'} used on more than one order (the most: '{worst['event_id']}' on "
            f"{plural(worst['orders'], 'order')}). {rules.display_name} keeps one purchase per ID within its window, so real "
            f"purchases are dropped.",
            f"Make the ID unique per purchase: use the order ID (or a hash of it) in {both_fields(rules)}.",
            [{**{k: e[k] for k in ("event_id", "orders", "events", "event_name")},
              "first_received_time": e["first_received"].isoformat() + "Z"} for e in r["examples"]],
            evidence=(f"SELECT {EVIDENCE_COLUMNS} FROM purchases WHERE platform = $p AND event_id IN "
                      f"(SELECT event_id FROM ({_REUSED}) WHERE platform = $p) ORDER BY event_id, file, row", {"p": platform, **params}),
        )


REUSED_IDS = Check(
    code="DA104", name="reused-event-ids", severity="error", unit="ids",
    summary="One event ID used on several different orders.",
    what="Counts purchase event IDs that appear on events tied to two or more different orders.",
    why="The platform merges every event with the same name and ID inside its window into one conversion, "
        "so distinct purchases sharing an ID are under-counted and the bidding model loses real sales.",
    example="event_id 'checkout' sent for orders 1001, 1002 and 1003 within two days: one purchase counted.",
    fix="Derive the ID from the order (order ID, or a hash of it) on both paths.",
    find=_find_reused,
    options={"min_orders": Option(2, "integer", "report an event ID used on at least this many different orders", minimum=2)},
)


def _find_mismatched(view: AuditView, options: dict):
    for platform, count, examples, evidence in view.order_hits("mismatched_event_id"):
        rules = view.rules[platform]
        yield Hit(
            platform, "purchase", count,
            f"On {plural(count, 'order')} the pixel and the server both send an event ID, but never the same one, "
            f"so {rules.display_name} counts each of these purchases twice.",
            f"Generate the ID once (the order ID is the usual choice) and send it in {both_fields(rules)}.",
            examples, evidence=evidence,
        )


MISMATCHED_IDS = Check(
    code="DA105", name="mismatched-event-ids", severity="error", unit="orders",
    summary="Orders where browser and server send event IDs that never match.",
    what="For each order reported by both paths, both sides have at least one ID and no browser ID equals any server ID.",
    why="IDs generated independently on each side look fine in each system but never deduplicate: every such purchase is counted twice.",
    example="pixel eventID '7f3c…' (a random UUID) and CAPI event_id 'ORD-1001' for the same order.",
    fix="Use one ID, created once per purchase and passed to both the tag and the server call.",
    find=_find_mismatched,
)

_NEAR_MISS = """
    SELECT p.platform, p.link_key, p.event_id AS pixel_event_id, c.event_id AS capi_event_id, min(p.order_id) AS order_id,
           CASE WHEN trim(p.event_id) = trim(c.event_id) THEN 'whitespace'
                WHEN lower(trim(p.event_id)) = lower(trim(c.event_id)) THEN 'letter case'
                ELSE 'prefix or suffix' END AS difference
    FROM purchases p
    JOIN purchases c ON c.platform = p.platform AND c.link_key = p.link_key AND c.source = 'capi'
    JOIN order_checks o ON o.platform = p.platform AND o.link_key = p.link_key AND o.mismatched_event_id
    WHERE p.source = 'pixel' AND p.event_id IS NOT NULL AND c.event_id IS NOT NULL AND (
          lower(trim(p.event_id)) = lower(trim(c.event_id))
       OR (length(trim(p.event_id)) >= $min_len AND length(trim(c.event_id)) >= $min_len AND (
              starts_with(lower(trim(p.event_id)), lower(trim(c.event_id))) OR ends_with(lower(trim(p.event_id)), lower(trim(c.event_id)))
           OR starts_with(lower(trim(c.event_id)), lower(trim(p.event_id))) OR ends_with(lower(trim(c.event_id)), lower(trim(p.event_id))))))
    GROUP BY ALL
"""


def _find_near_misses(view: AuditView, options: dict):
    params = {"min_len": options["min_length"]}
    rows = view.rows(f"""
        SELECT platform, count(DISTINCT link_key) AS orders, list_sort(list(DISTINCT difference)) AS kinds,
               {first_examples("{'order_id': order_id, 'pixel_event_id': pixel_event_id, 'capi_event_id': capi_event_id, "
                               "'difference': difference}", "(link_key, pixel_event_id, capi_event_id)")} AS examples
        FROM ({_NEAR_MISS}) GROUP BY platform ORDER BY platform""", params)
    for r in rows:
        platform, orders = r["platform"], r["orders"]
        rules = view.rules[platform]
        yield Hit(
            platform, "purchase", orders,
            f"On {plural(orders, 'order')} the browser and server IDs differ only by {' / '.join(r['kinds'])}. "
            f"{rules.display_name} compares IDs exactly, so these never deduplicate.",
            f"Send the identical string on both sides: same case, no extra spaces, no prefix or suffix added by one "
            f"side (compare {both_fields(rules)}).",
            list(r["examples"]),
            evidence=(f"SELECT {EVIDENCE_COLUMNS} FROM purchases WHERE platform = $p AND link_key IN "
                      f"(SELECT link_key FROM ({_NEAR_MISS}) WHERE platform = $p) ORDER BY link_key, file, row", {"p": platform, **params}),
        )


NEAR_MISS_IDS = Check(
    code="DA106", name="near-miss-event-ids", severity="warning", unit="orders",
    summary="Browser and server IDs that differ only by case, whitespace or a prefix/suffix.",
    what="Among orders with mismatched IDs, those where a browser ID and a server ID become equal after trimming "
         "and lower-casing, or where one contains the other at its start or end (both at least `min_length` long).",
    why="These are almost-right implementations: one formatting step on one side breaks deduplication for every purchase.",
    example="pixel 'snap_NW-100123' vs CAPI 'NW-100123'; pixel 'nw-100123' vs CAPI 'NW-100123'.",
    fix="Remove the extra formatting on the side that adds it, so both send the same string.",
    find=_find_near_misses,
    options={"min_length": Option(4, "integer", "shortest ID compared (shorter ones match too easily)", minimum=1)},
)


# Orders whose counted purchase events fall in more than one scope (Google conversion action, Reddit channel).
# Grouped by scope first, so each order's few scopes are joined without a DISTINCT aggregate over its events
# (1.1-1.4 s against 1.9-2.2 s at 10M events).
_SPLIT_ORDERS = """
    SELECT platform, link_key, min(order_id) AS order_id, string_agg(scope, ' + ' ORDER BY scope) AS counted_in,
           sum(n) AS counted_events
    FROM (SELECT p.platform, p.link_key, p.scope, min(p.order_id) AS order_id, count(*) AS n
          FROM purchases p
          WHERE p.counts AND p.link_key IS NOT NULL AND p.platform IN (SELECT platform FROM rules WHERE scope_column IS NOT NULL)
          GROUP BY p.platform, p.link_key, p.scope)
    GROUP BY platform, link_key HAVING count(*) > 1
"""


def _find_split_orders(view: AuditView, options: dict):
    # The engine's metrics already counted split orders (METRICS_SQL `scopes`): skip the same heavy join when there are none.
    if not any(s.orders_in_several_scopes for s in view.metrics.values()):
        return
    rows = view.rows(f"""
        WITH s AS ({_SPLIT_ORDERS}),
        usual AS (  -- the most frequent split (ties: the first by name), the same on any engine
            SELECT platform, min_by(counted_in, (-n, counted_in)) AS usual
            FROM (SELECT platform, counted_in, count(*) AS n FROM s GROUP BY platform, counted_in) GROUP BY platform)
        SELECT platform, usual, count(*) AS orders,
               {first_examples("{'order_id': order_id, 'counted_in': counted_in, 'counted_events': counted_events}", "link_key")} AS examples
        FROM s JOIN usual USING (platform) GROUP BY platform, usual ORDER BY platform""")
    for r in rows:
        rules = view.rules[r["platform"]]
        scope = rules.dedup_scope
        assumed = (f" Events that name no {scope.label} are taken as '{scope.pixel_default}' (browser) and "
                   f"'{scope.capi_default}' (server).") if scope.pixel_default or scope.capi_default else ""
        yield Hit(
            r["platform"], "purchase", r["orders"],
            f"On {plural(r['orders'], 'order')} {rules.display_name} counts the purchase in more than one {scope.label} "
            f"(most often {r['usual']}). {rules.display_name} deduplicates an ID only within one {scope.label}, "
            f"so each of these purchases is counted once per {scope.label}.{assumed}",
            scope.fix or f"Report each purchase in one {scope.label} only.",
            list(r["examples"]),
            evidence=(f"SELECT {EVIDENCE_COLUMNS}, scope AS {scope.label.replace(' ', '_')} FROM purchases WHERE platform = $p "
                      f"AND link_key IN (SELECT link_key FROM ({_SPLIT_ORDERS}) WHERE platform = $p) ORDER BY link_key, file, row",
                      {"p": r["platform"]}),
        )


SEVERAL_ACTIONS = Check(
    code="DA119", name="order-counted-in-several-actions", severity="error", unit="orders",
    summary="Orders counted in more than one Google conversion action (or Reddit channel).",
    what="For platforms whose rule file has a `dedup_scope` (Google: the conversion action; Reddit: the channel), "
         "orders whose counted purchase events fall in more than one of them.",
    why="Google deduplicates a transaction ID only within one conversion action: a tag conversion and a "
        "click-conversion upload are different actions, so the same order counts twice when both are primary, "
        "whatever the IDs. Reddit deduplicates only within one channel.",
    example="gtag conversion AW-123/AbC with transaction_id 1001, and a click-conversion upload of order 1001 to "
            "customers/1/conversionActions/9: two purchases.",
    fix="Google: make one of the two actions secondary, or send the server events as an extra data source of the "
        "tag's own action (Data Manager multi-source conversions) with the same transaction ID. Reddit: send web "
        "purchases from the server with action_source WEBSITE.",
    find=_find_split_orders,
)

CHECKS = [SERVER_WITHOUT_ID, BROWSER_WITHOUT_ID, PLACEHOLDER_IDS, REUSED_IDS, MISMATCHED_IDS, NEAR_MISS_IDS, SEVERAL_ACTIONS]
