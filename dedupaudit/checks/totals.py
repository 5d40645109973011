"""Checks on the per-platform totals: inflation, under-reporting, coverage, purchases with no real order."""

from __future__ import annotations

from dedupaudit.checks.base import AuditView, Check, Hit, agree, first_examples, plural
from dedupaudit.options import Option

MIN_ORDERS = Option(30, "integer", "with fewer real orders than this a ratio is noise: the finding is at most a warning", minimum=0)


def _biggest_cause(summary) -> str:
    """Name the per-order failure that explains most of a platform's excess, for the fix hint."""
    if not summary.pixel_events or not summary.capi_events:
        only = "browser pixel" if summary.pixel_events else "server (CAPI)"
        return (f"Only the {only} reports purchases to {summary.display_name}, so nothing is counted twice across paths: "
                f"look for repeated events on that path (refires, retries) and for events without a real order.")
    causes = {
        "events without an event ID": summary.missing_event_id["pixel"] + summary.missing_event_id["capi"],
        "orders whose browser and server IDs never match": summary.mismatched_event_id,
        "orders with different event names on the two paths": summary.event_name_drift,
        "orders whose pair arrived outside the dedup window": summary.outside_window,
        "orders counted in more than one conversion action or channel": summary.orders_in_several_scopes or 0,
    }
    name, size = max(causes.items(), key=lambda item: item[1])
    return f"Start with the {size:,} {name}." if size else "Look for events without a real order (test or cancelled orders)."


def _range_note(s) -> str:
    """' (1.02x to 1.33x, depending on rules TikTok does not confirm)' where the range is not one value."""
    r = s.inflation_range
    if not r or r["low"] == r["high"]:
        return ""
    return f" Depending on rules {s.display_name} does not confirm, the ratio is between {r['low']:.2f}x and {r['high']:.2f}x."


def _purchase_summaries(view: AuditView):
    return [s for (p, e), s in sorted(view.metrics.items()) if e == "purchase" and s.inflation_ratio is not None]


def _small_sample(s, options: dict) -> str | None:
    """Below `min_orders` real orders a ratio is noise: the finding may warn, not fail."""
    return "warning" if s.orders < options["min_orders"] else None


def _worth(s) -> str:
    """', worth about 50,050 EUR in revenue': this platform's extra conversions priced per currency, never summed."""
    money = s.extra_revenue_by_currency or {}
    if not money:
        return ""
    return ", worth about " + " and ".join(f"{v:,.0f} {c}" for c, v in money.items()) + " in revenue never earned"


def _find_inflation(view: AuditView, options):
    for s in _purchase_summaries(view):
        ratio, opts = s.inflation_ratio, options.at(s.platform)
        level = "error" if ratio > opts["error_above"] else "warning" if ratio > opts["warning_above"] else None
        if level is None:
            continue
        yield Hit(
            s.platform, "purchase", s.extra_conversions,
            f"{s.display_name} would report {s.reported_conversions:,} purchases for {s.orders:,} real orders: "
            f"{ratio:.2f}x, {s.extra_conversions:,} purchases that did not happen{_worth(s)}. ROAS and CPA on "
            f"{s.display_name} look better than they are and its bidding learns from the inflated count.{_range_note(s)}",
            _biggest_cause(s),
            level=level,
            cap=_small_sample(s, opts),
        )


INFLATED_CONVERSIONS = Check(
    code="DA113", name="inflated-conversions", severity="error", unit="conversions",
    summary="The platform would report more purchases than there are real orders.",
    what="reported_conversions / orders above `warning_above` (warning) or `error_above` (error). The count is the "
         "number of extra conversions. With fewer than `min_orders` real orders the finding is at most a warning.",
    why="Every extra conversion flatters ROAS and CPA and trains the bidding model on purchases that did not happen.",
    example="A platform that would report 1,250 purchases for 1,000 real orders: 1.25x, 250 that did not happen. "
            "The finding's own text gives each platform's figures.",
    fix="Fix the ID, name and timing findings on that platform; they are the causes.",
    find=_find_inflation,
    options={"error_above": Option(1.05, "number", "an error above this inflation ratio (platform counts / real orders)", minimum=1),
             "warning_above": Option(1.02, "number", "a warning above this inflation ratio", minimum=1),
             "min_orders": MIN_ORDERS},
)


def _find_under(view: AuditView, options):
    for s in _purchase_summaries(view):
        opts = options.at(s.platform)
        if s.inflation_ratio >= opts["warning_below"]:
            continue
        missing = s.orders - s.reported_conversions
        yield Hit(
            s.platform, "purchase", missing,
            f"{s.display_name} would report only {s.reported_conversions:,} purchases for {s.orders:,} real orders "
            f"({s.inflation_ratio:.2f}x): {plural(missing, 'sale')} {agree(missing, 'is', 'are')} invisible to its bidding.{_range_note(s)}",
            "Look for reused or placeholder event IDs (they merge real purchases) and for orders neither path reports.",
            cap=_small_sample(s, opts),
        )


UNDER_REPORTED = Check(
    code="DA115", name="under-reported-conversions", severity="warning", unit="conversions",
    summary="The platform would report fewer purchases than there are real orders.",
    what="reported_conversions / orders below `warning_below`. The count is the number of missing conversions.",
    why="Under-counting makes campaigns look worse than they are and starves the bidding model of real buyers.",
    example="A constant event ID merges 500 purchases into a handful.",
    fix="Make IDs unique per purchase and make sure both paths fire on every order.",
    find=_find_under,
    options={"warning_below": Option(0.95, "number", "a warning below this ratio of platform counts to real orders", minimum=0, maximum=1),
             "min_orders": MIN_ORDERS},
)


# Real orders with no purchase event from one path ($side) of one platform ($p).
_ORDERS_WITHOUT_PATH = """
    FROM orders o WHERE NOT excluded AND NOT EXISTS (
        SELECT 1 FROM purchases p WHERE p.platform = $p AND p.source = $side AND p.link_key = o.order_key)
"""


def _find_coverage(view: AuditView, options):
    for s in _purchase_summaries(view):
        opts = options.at(s.platform)
        for side, words in (("pixel", "browser pixel"), ("capi", "server (CAPI)")):
            share = s.coverage[side]
            # A side whose input was not given is unknown, not 0% (input-missing says so once).
            if share is None or share >= opts["warning_below"] or not view.inputs[side].files:
                continue
            params = {"p": s.platform, "side": side}
            missing = view.rows(f"SELECT count(DISTINCT order_key) AS n {_ORDERS_WITHOUT_PATH}", params)[0]["n"]
            yield Hit(
                s.platform, "purchase", missing,
                f"Only {share:.0%} of real orders have a {words} purchase event on {s.display_name} "
                f"({missing:,} of {plural(s.orders, 'order')} {agree(missing, 'has', 'have')} none).",
                ("Ad blockers and consent banners drop pixel events; the server path should cover them. Check the tag "
                 "fires on every order confirmation." if side == "pixel" else
                 "Make the server send a purchase for every order, including those paid later or outside the checkout."),
                cap=_small_sample(s, opts),
                evidence=(f"SELECT 'orders' AS side, file, row, order_id, created_at, value, currency, status "
                          f"{_ORDERS_WITHOUT_PATH} ORDER BY file, row", params),
            )


LOW_COVERAGE = Check(
    code="DA114", name="low-coverage", severity="warning", unit="orders",
    summary="Too few real orders are reported by the pixel or by the server.",
    what="The share of counted orders with at least one purchase event from the pixel (or from the server) on the "
         "platform, below `warning_below`. The count is the number of orders without one.",
    why="A path that misses orders cannot be deduplicated against and hides how much the other path double counts; "
        "a weak server path leaves the platform blind to ad-blocked buyers.",
    example="The TikTok pixel reports 86% of orders.",
    fix="Make both paths fire on every order; link the server event to the order ID.",
    find=_find_coverage,
    options={"warning_below": Option(0.90, "number", "a warning below this share of real orders a path reported", minimum=0, maximum=1),
             "min_orders": MIN_ORDERS},
)


# Each order's status and whether every row of it is excluded, joined to the purchases by DA116's counts and evidence.
_ORDER_STATUS = "(SELECT order_key, any_value(status) AS status, bool_and(excluded) AS excluded FROM orders GROUP BY order_key)"


def _find_unreal_orders(view: AuditView, options: dict):
    # One pass over the counted purchases joined to their orders gives the counts and the first examples.
    example = ("{'side': p.source, 'event_name': p.event_name, 'event_id': p.event_id, 'order_id': p.order_id, "
               "'order_status': coalesce(o.status, '(not in orders)'), 'file': p.file, 'row': p.row}")
    rows = view.rows(f"""
        SELECT p.platform,
               count(*) FILTER (WHERE o.excluded) AS excluded_events,
               count(*) FILTER (WHERE o.order_key IS NULL) AS unknown_events,
               count(DISTINCT p.link_key) AS orders,
               {first_examples(example, "(p.link_key, p.file, p.row)")} AS examples
        FROM (SELECT platform, link_key, source, event_name, event_id, order_id, file, row FROM purchases
              WHERE counts AND link_key IS NOT NULL) p
        LEFT JOIN {_ORDER_STATUS} o ON o.order_key = p.link_key
        WHERE (o.excluded OR o.order_key IS NULL) AND EXISTS (SELECT 1 FROM orders)
        GROUP BY p.platform ORDER BY p.platform""")
    for r in rows:
        count = r["excluded_events"] + r["unknown_events"]
        yield Hit(
            r["platform"], "purchase", count,
            f"{plural(count, 'counted purchase event')} {agree(count, 'belongs', 'belong')} to {plural(r['orders'], 'order')} "
            f"that {agree(r['orders'], 'is not a real sale', 'are not real sales')}: "
            f"{r['excluded_events']:,} for test or cancelled orders, {r['unknown_events']:,} for order IDs missing from the orders file.",
            "Suppress tracking for test orders; if order IDs are missing, check the orders export covers the same period and shop.",
            list(r["examples"]),
            evidence=(f"""SELECT p.source AS side, p.file, p.row, p.platform, p.event_name, p.event_id, p.order_id,
                                p.event_time, p.received_time, p.value, p.currency, coalesce(o.status, '(not in orders)') AS order_status
                         FROM purchases p
                         LEFT JOIN {_ORDER_STATUS} o ON o.order_key = p.link_key
                         WHERE p.counts AND p.platform = $p AND p.link_key IS NOT NULL AND (o.excluded OR o.order_key IS NULL)
                         ORDER BY p.file, p.row""",
                      {"p": r["platform"]}),
        )


PURCHASES_WITHOUT_REAL_ORDER = Check(
    code="DA116", name="purchases-without-real-order", severity="info", unit="events",
    summary="Counted purchase events for test or cancelled orders, or for order IDs not in the orders file.",
    what="Purchase events the platform would count whose order is excluded (test, cancelled, voided) or absent from the orders export.",
    why="They add to the platform's count but not to revenue. Order IDs absent from the export may also mean the "
        "export and the event logs cover different periods.",
    example="A QA team's test orders tracked by the live pixel.",
    fix="Exclude test traffic from tracking; export orders for the same period as the events.",
    find=_find_unreal_orders,
)

def _find_model_gap(view: AuditView, options):
    for (platform, event), s in sorted(view.metrics.items()):
        opts = options.at(platform)
        if s.model_gap is None or abs(s.model_gap) <= opts["tolerance"]:
            continue
        more = s.model_gap > 0
        matching = [u for u in s.unconfirmed_rules
                    if s.platform_reported and abs(u["reported_if_false"] / s.platform_reported - 1) <= opts["tolerance"]]
        matches = (f" The dashboard agrees with another reading of an unconfirmed rule: if {matching[0]['alternative']}, "
                   f"the simulation gives {matching[0]['reported_if_false']:,}." if matching else "")
        yield Hit(
            platform, event, abs(s.reported_conversions - s.platform_reported),
            f"The simulation gives {plural(s.reported_conversions, event + ' conversion')} on {s.display_name}, but its dashboard "
            f"shows {s.platform_reported:,} ({s.model_gap:+.1%}), more than the {opts['tolerance']:.0%} tolerance.{matches}",
            ("Usual causes: " + ("the platform drops events this simulation counts (events too old, refused batches, "
                                 "consent mode), or " if more else "the exports miss events the platform received (a "
                                 "pixel log that misses ad-blocked or cached pages, a server log of one server only), or ")
             + "the dashboard figure uses an attribution window (it counts attributed conversions, not received events), "
               "or a platform rule differs from the rule file: compare the range of unconfirmed rules."),
        )


MODEL_DIFFERS_FROM_PLATFORM = Check(
    code="DA120", name="model-differs-from-platform", severity="warning", unit="conversions",
    summary="The simulated count differs from what the platform's dashboard shows (--platform-reported).",
    what="For each platform and event type in the --platform-reported file: |simulated / platform-reported - 1| above "
         "`tolerance`. The count is the difference in conversions.",
    why="The simulation is only as good as its inputs and rules. Comparing it with the platform's own figure for the "
        "same period proves it on your account, or shows what is missing.",
    example="Meta Ads Manager shows 3,100 purchases for the week; the simulation gives 3,615 (+16.6%).",
    fix="Check that the exports cover the same period and every server; use the platform's 'all conversions' "
        "(not attributed) figure where it has one; see whether a rule's other reading (reported_range) explains it.",
    find=_find_model_gap,
    options={"tolerance": Option(0.05, "number", "the share (0.05 = 5%) the simulated count may differ from the dashboard's", minimum=0)},
)

CHECKS = [INFLATED_CONVERSIONS, LOW_COVERAGE, UNDER_REPORTED, PURCHASES_WITHOUT_REAL_ORDER, MODEL_DIFFERS_FROM_PLATFORM]
