"""The derived tables of an audit, built in DuckDB from the canonical event and order tables.

Everything here is set-based SQL, so it can move to Spark SQL unchanged in spirit. Build order:

  rules, taxonomy        the platform rule files as tables
  events                 canonical events in the period the platform accepted, with name_key and event_type
  undelivered            events in the period sent as test traffic or refused by the platform (never counted)
  orders                 orders in the period, with `excluded` (test / cancelled / ...)
  keyed, dedup           per typed event with an ID: does the platform count it? (the dedup model)
  purchases              purchase events tied to an order (link_key, link_method)
  order_checks           per platform and order seen on both paths: ID mismatch, name drift, late pair
  pair_gaps              per platform and order seen on both paths: hours between the first events of each path

Checks and metrics only read these tables.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from dedupaudit.platforms.rules import PlatformRules
from dedupaudit.settings import Settings

# The window of a key is [first received_time, first + window], inclusive. One windowed pass gives
# each keyed event its group's first and last time and its rank (ties: browser first, then file
# order). A group whose events all fall in its first window counts once, at rank 1; only groups
# spanning more than one window (rare: late batches, reused IDs) go through the recursion, which
# finds each next window's opening event.
DEDUP_SQL = """
CREATE TEMP TABLE keyed AS
SELECT eid, received_time, source, file, row, window_us, platform, name_key, event_id, slot,
       min(received_time) OVER grp AS first_t,
       max(received_time) OVER grp AS last_t,
       row_number() OVER (grp ORDER BY received_time, source = 'pixel' DESC, file, row) AS rank_in_group
FROM (SELECT e.eid, e.received_time, e.source, e.file, e.row, r.window_us, e.platform, e.name_key, e.event_id, {slot} AS slot
      FROM events e JOIN rules r USING (platform)
      WHERE e.event_type IS NOT NULL AND e.event_id IS NOT NULL)
WINDOW grp AS (PARTITION BY platform, name_key, event_id, slot);

CREATE TEMP TABLE multi_window AS
SELECT eid, received_time, source, file, row, window_us, first_t,
       dense_rank() OVER (ORDER BY platform, name_key, event_id, slot) AS gid
FROM keyed WHERE window_us IS NOT NULL AND last_t > first_t + to_microseconds(window_us);

CREATE TEMP TABLE anchors AS
WITH RECURSIVE a(gid, t) AS (
    SELECT DISTINCT gid, first_t FROM multi_window
  UNION ALL
    SELECT m.gid, min(m.received_time)
    FROM a JOIN multi_window m ON m.gid = a.gid AND m.received_time > a.t + to_microseconds(m.window_us)
    GROUP BY m.gid
)
SELECT DISTINCT gid, t FROM a;

CREATE TEMP TABLE dedup AS
SELECT eid, rank_in_group = 1 AS counts FROM keyed
WHERE window_us IS NULL OR last_t <= first_t + to_microseconds(window_us)
UNION ALL
SELECT m.eid,
       a.t IS NOT NULL
       AND row_number() OVER (PARTITION BY m.gid, m.received_time ORDER BY m.source = 'pixel' DESC, m.file, m.row) = 1
FROM multi_window m LEFT JOIN anchors a ON a.gid = m.gid AND a.t = m.received_time;
"""
# When a rule file says same-source duplicates are not deduplicated, the k-th browser event of a key
# pairs only with the k-th server event: the slot is that k. Otherwise every event of a key shares slot 0.
SLOT_SQL = ("CASE WHEN r.same_source_dedup THEN 0 ELSE row_number() OVER "
            "(PARTITION BY e.platform, e.name_key, e.event_id, e.source ORDER BY e.received_time, e.eid) END")

# An event's order: its own order_id; else the order of other events with the same ID (when they
# agree on one order); else the single non-excluded order with the same value created within the
# tolerance of the event. Orders are put in time buckets so the value join stays small.
LINK_SQL = """
CREATE TEMP TABLE purchases AS
WITH p AS (
    SELECT * FROM events WHERE event_type = 'purchase'
), needs_link AS (
    SELECT DISTINCT platform, event_id FROM p WHERE order_key IS NULL AND event_id IS NOT NULL
), by_id AS (
    SELECT platform, event_id, min(order_key) AS key FROM p SEMI JOIN needs_link USING (platform, event_id)
    WHERE order_key IS NOT NULL
    GROUP BY platform, event_id HAVING count(DISTINCT order_key) = 1
), unlinked AS (
    SELECT p.eid, p.value, p.event_time FROM p LEFT JOIN by_id i USING (platform, event_id)
    WHERE p.order_key IS NULL AND i.key IS NULL AND p.value IS NOT NULL
), order_buckets AS (
    SELECT order_key, created_at, round(value, 2) AS value, b.bucket
    FROM (SELECT DISTINCT order_key, created_at, value FROM orders WHERE NOT excluded AND value IS NOT NULL) o,
         (SELECT unnest([-1, 0, 1]) AS d) s,
         LATERAL (SELECT floor(epoch(o.created_at) / $tolerance_s) + s.d AS bucket) b
), by_value_time AS (
    SELECT u.eid, min(o.order_key) AS key
    FROM unlinked u JOIN order_buckets o
      ON o.value = round(u.value, 2) AND o.bucket = floor(epoch(u.event_time) / $tolerance_s)
     AND abs(epoch(o.created_at) - epoch(u.event_time)) <= $tolerance_s
    GROUP BY u.eid HAVING count(DISTINCT o.order_key) = 1
)
SELECT p.*,
       coalesce(p.order_key, i.key, v.key) AS link_key,
       CASE WHEN p.order_key IS NOT NULL THEN 'order_id'
            WHEN i.key IS NOT NULL THEN 'event_id'
            WHEN v.key IS NOT NULL THEN 'value_time'
            ELSE 'unlinked' END AS link_method
FROM p LEFT JOIN by_id i ON p.order_key IS NULL AND i.platform = p.platform AND i.event_id = p.event_id
LEFT JOIN by_value_time v USING (eid);
"""

# One pass per (order, name, ID) gives everything: an ID both sides sent, the widest time between a
# browser and a server event with that name and ID (latest of one side minus earliest of the other),
# and which names each side used. No self-join, so it stays linear in the number of events.
ORDER_CHECKS_SQL = """
CREATE TEMP TABLE order_checks AS
WITH keys AS (
    SELECT platform, link_key, name_key, event_id,
           count(*) FILTER (WHERE source = 'pixel') AS n_pixel,
           count(*) FILTER (WHERE source = 'capi') AS n_capi,
           greatest(max(epoch_us(received_time)) FILTER (WHERE source = 'pixel') - min(epoch_us(received_time)) FILTER (WHERE source = 'capi'),
                    max(epoch_us(received_time)) FILTER (WHERE source = 'capi') - min(epoch_us(received_time)) FILTER (WHERE source = 'pixel'))
               AS widest_us
    FROM purchases WHERE link_key IS NOT NULL
    GROUP BY platform, link_key, name_key, event_id
), per_order AS (
    SELECT k.platform, k.link_key,
           sum(k.n_pixel) AS pixel_events, sum(k.n_capi) AS capi_events,
           coalesce(sum(k.n_pixel) FILTER (WHERE k.event_id IS NOT NULL), 0) AS pixel_ids,
           coalesce(sum(k.n_capi) FILTER (WHERE k.event_id IS NOT NULL), 0) AS capi_ids,
           coalesce(bool_or(k.event_id IS NOT NULL AND r.window_us IS NOT NULL AND k.widest_us > r.window_us), false) AS outside_window
    FROM keys k JOIN rules r USING (platform)
    GROUP BY k.platform, k.link_key
    HAVING sum(k.n_pixel) > 0 AND sum(k.n_capi) > 0
), same_names AS (  -- equal name sets: every name used is used on both sides
    SELECT platform, link_key, bool_and(on_pixel AND on_capi) AS same
    FROM (SELECT platform, link_key, name_key, sum(n_pixel) > 0 AS on_pixel, sum(n_capi) > 0 AS on_capi
          FROM keys GROUP BY platform, link_key, name_key)
    GROUP BY platform, link_key
), shared_ids AS (  -- an ID both sides sent, whatever the names
    SELECT DISTINCT platform, link_key
    FROM (SELECT platform, link_key, event_id FROM keys WHERE event_id IS NOT NULL
          GROUP BY platform, link_key, event_id HAVING sum(n_pixel) > 0 AND sum(n_capi) > 0)
)
SELECT o.*,
       o.pixel_ids > 0 AND o.capi_ids > 0 AND i.link_key IS NULL AS mismatched_event_id,
       NOT n.same AS event_name_drift
FROM per_order o JOIN same_names n USING (platform, link_key) LEFT JOIN shared_ids i USING (platform, link_key);
"""

# How far apart the two paths report the same order: the first pixel vs the first server event.
PAIR_GAPS_SQL = """
CREATE TEMP TABLE pair_gaps AS
SELECT platform, link_key,
       abs(epoch(min(received_time) FILTER (WHERE source = 'pixel')) - epoch(min(received_time) FILTER (WHERE source = 'capi'))) / 3600.0 AS gap_hours
FROM purchases WHERE link_key IS NOT NULL
GROUP BY platform, link_key
HAVING count(*) FILTER (WHERE source = 'pixel') > 0 AND count(*) FILTER (WHERE source = 'capi') > 0;
"""


def build_tables(con: duckdb.DuckDBPyConnection, events: pd.DataFrame, orders: pd.DataFrame,
                 rules: dict[str, PlatformRules], settings: Settings, since, until) -> None:
    """Create every derived table on `con`."""
    con.register("rules_in", _rules_frame(rules))
    con.register("taxonomy_in", _taxonomy_frame(rules))
    con.register("events_in", pa.Table.from_pandas(events.assign(eid=np.arange(len(events), dtype="int64")), preserve_index=False))
    con.register("orders_in", pa.Table.from_pandas(orders, preserve_index=False))
    con.execute("CREATE TEMP TABLE rules AS SELECT * FROM rules_in")
    con.execute("CREATE TEMP TABLE taxonomy AS SELECT * FROM taxonomy_in")
    period = "($since::TIMESTAMP IS NULL OR {col} >= $since) AND ($until::TIMESTAMP IS NULL OR {col} <= $until)"
    bounds = {"since": since, "until": until}
    in_period = period.format(col="e.event_time")
    con.execute(f"""
        CREATE TEMP TABLE events AS
        SELECT e.*,
               CASE WHEN r.names_case_sensitive THEN e.event_name ELSE lower(e.event_name) END AS name_key,
               t.event_type
        FROM events_in e
        JOIN rules r USING (platform)
        LEFT JOIN taxonomy t ON t.platform = e.platform
             AND t.name_key = CASE WHEN r.names_case_sensitive THEN e.event_name ELSE lower(e.event_name) END
        WHERE e.delivery IS NULL AND {in_period}""", bounds)
    con.execute(f"CREATE TEMP TABLE undelivered AS SELECT * FROM events_in e WHERE e.delivery IS NOT NULL AND {in_period}", bounds)
    con.execute(f"""
        CREATE TEMP TABLE orders AS
        SELECT *, coalesce(list_contains($excluded, status), false) AS excluded
        FROM orders_in WHERE {period.format(col='created_at')}""",
        {**bounds, "excluded": [s.lower() for s in settings.excluded_statuses]})
    every_rule_dedups_same_source = all(r.same_source_dedup for r in rules.values())
    con.execute(DEDUP_SQL.replace("{slot}", "0" if every_rule_dedups_same_source else f"({SLOT_SQL})"))
    con.execute(LINK_SQL.replace("$tolerance_s", str(float(settings.link_tolerance_minutes) * 60)))
    con.execute(ORDER_CHECKS_SQL)
    con.execute(PAIR_GAPS_SQL)
    con.execute("""
        CREATE TEMP TABLE audit_events AS
        SELECT e.*, coalesce(d.counts, e.event_type IS NOT NULL) AS counts
        FROM events e LEFT JOIN dedup d USING (eid)""")


def _rules_frame(rules: dict[str, PlatformRules]) -> pd.DataFrame:
    return pd.DataFrame([{
        "platform": r.platform,
        "window_us": None if r.dedup_window_hours is None else int(r.dedup_window_hours * 3_600_000_000),
        "names_case_sensitive": r.names_case_sensitive,
        "same_source_dedup": r.same_source_dedup,
        "server_time_unit": r.server_time_unit,
        "max_age_us": None if r.max_event_age_days is None else int(r.max_event_age_days * 86_400_000_000),
    } for r in rules.values()]).astype({"window_us": "Int64", "max_age_us": "Int64"})


def _taxonomy_frame(rules: dict[str, PlatformRules]) -> pd.DataFrame:
    rows = [
        {"platform": r.platform, "event_type": event_type, "name": name,
         "name_key": name if r.names_case_sensitive else name.lower()}
        for r in rules.values() for event_type, names in r.events.items() for name in names
    ]
    return pd.DataFrame(rows, columns=["platform", "event_type", "name", "name_key"])
