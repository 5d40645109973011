"""Checks on the order export itself: one order written on several rows that disagree."""

from __future__ import annotations

from dedupaudit.checks.base import AuditView, Check, Hit, agree, first_examples, plural

# The orders whose rows give more than one status are found first with min and max (cheap per order), and only they
# have their statuses listed (listing them for each of 977,000 orders took 0.50-0.57 s at 10M events, this 0.11-0.12 s).
_CONFLICTS = """
    SELECT order_key, string_agg(DISTINCT coalesce(status, '(none)'), ', ' ORDER BY coalesce(status, '(none)')) AS statuses,
           count(*) AS order_rows, bool_and(NOT excluded) AS all_real, bool_or(NOT excluded) AS any_real
    FROM orders SEMI JOIN (SELECT order_key FROM orders GROUP BY order_key HAVING min(coalesce(status, '')) <> max(coalesce(status, '')))
         USING (order_key)
    GROUP BY order_key"""


def _find_conflicts(view: AuditView, options: dict):
    r = view.rows(f"""
        SELECT count(*) AS n, count(*) FILTER (WHERE any_real AND NOT all_real) AS counted,
               {first_examples("{'order_id': order_key, 'statuses': statuses, 'rows': order_rows}", "order_key")} AS examples
        FROM ({_CONFLICTS})""")[0]
    if not r["n"]:
        return
    yield Hit(
        None, None, r["n"],
        f"{plural(r['n'], 'order')} {agree(r['n'], 'appears', 'appear')} on several rows with different statuses (e.g. {r['examples'][0]['statuses']}). "
        f"An order counts as a real sale when any of its rows has a status that is not excluded; {r['counted']:,} of them "
        "have both an excluded and a counted status, so whether they are real sales depends on which row is right.",
        "Export one row per order with its final status, or check these orders in the shop.",
        list(r["examples"]),
        evidence=(f"SELECT file, row, order_id, created_at, status, value, currency FROM orders "
                  f"WHERE order_key IN (SELECT order_key FROM ({_CONFLICTS})) ORDER BY order_key, file, row", {}),
    )


CONFLICTING_ORDER_STATUSES = Check(
    code="DA131", name="conflicting-order-statuses", severity="warning", unit="orders",
    summary="Orders written on several rows whose statuses disagree.",
    what="Counts order IDs (compared as order keys) that appear on rows with different statuses, e.g. paid and cancelled.",
    why="Real orders are the baseline of every inflation figure. An order both paid and cancelled is counted as real, "
        "which may be wrong, and the export probably holds stale rows.",
    example="order 1001 on one row as paid and on another as cancelled.",
    fix="Export each order once with its final status.",
    find=_find_conflicts,
)

CHECKS = [CONFLICTING_ORDER_STATUSES]
