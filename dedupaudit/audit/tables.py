"""The derived tables of an audit, built in DuckDB from the canonical event and order tables.

Everything here is set-based SQL, so it can move to Spark SQL unchanged in spirit. Build order:

  rules, taxonomy        the platform rule files as tables
  events                 canonical events in the period the platform accepted, with name_key and event_type
  undelivered            events in the period sent as test traffic or refused by the platform (never counted)
  orders                 orders in the period, with `excluded` (test / cancelled / ...)
  dedup                  per typed event: does the platform count it? (the dedup model)
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

# The window of a key is [first received_time, first + window], inclusive. Only groups whose events
# span more than one window need the recursion; the rest count once.
DEDUP_SQL = """
CREATE TEMP TABLE keyed AS
SELECT e.eid, e.platform, e.event_type, e.name_key, e.event_id, e.source, e.received_time, e.file, e.row,
       r.window_us,
       CASE WHEN r.same_source_dedup THEN 0
            ELSE row_number() OVER (PARTITION BY e.platform, e.name_key, e.event_id, e.source
                                    ORDER BY e.received_time, e.eid) END AS slot
FROM events e JOIN rules r USING (platform)
WHERE e.event_type IS NOT NULL AND e.event_id IS NOT NULL;

CREATE TEMP TABLE dedup_groups AS
SELECT row_number() OVER (ORDER BY platform, name_key, event_id, slot) AS gid, *
FROM (SELECT platform, name_key, event_id, slot, any_value(window_us) AS window_us,
             min(received_time) AS first_t, max(received_time) AS last_t
      FROM keyed GROUP BY platform, name_key, event_id, slot);

CREATE TEMP TABLE keyed_g AS
SELECT k.*, g.gid FROM keyed k JOIN dedup_groups g USING (platform, name_key, event_id, slot);

CREATE TEMP TABLE multi_window AS
SELECT k.gid, k.received_time, g.window_us FROM keyed_g k JOIN dedup_groups g USING (gid)
WHERE g.window_us IS NOT NULL AND g.last_t > g.first_t + to_microseconds(g.window_us);

CREATE TEMP TABLE anchors AS
WITH RECURSIVE a(gid, t) AS (
    SELECT gid, first_t FROM dedup_groups
  UNION ALL
    SELECT m.gid, min(m.received_time)
    FROM a JOIN multi_window m ON m.gid = a.gid AND m.received_time > a.t + to_microseconds(m.window_us)
    GROUP BY m.gid
)
SELECT DISTINCT gid, t FROM a;

CREATE TEMP TABLE dedup AS
SELECT k.eid,
       a.t IS NOT NULL
       AND row_number() OVER (PARTITION BY k.gid, k.received_time ORDER BY k.source = 'pixel' DESC, k.file, k.row) = 1
       AS counts
FROM keyed_g k LEFT JOIN anchors a ON a.gid = k.gid AND a.t = k.received_time;
"""

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

# Name sets are compared by counting: equal sets have as many names each as they share.
ORDER_CHECKS_SQL = """
CREATE TEMP TABLE order_checks AS
WITH sides AS (
    SELECT platform, link_key,
           count(*) FILTER (WHERE source = 'pixel') AS pixel_events,
           count(*) FILTER (WHERE source = 'capi') AS capi_events,
           count(event_id) FILTER (WHERE source = 'pixel') AS pixel_ids,
           count(event_id) FILTER (WHERE source = 'capi') AS capi_ids
    FROM purchases WHERE link_key IS NOT NULL
    GROUP BY platform, link_key
    HAVING count(*) FILTER (WHERE source = 'pixel') > 0 AND count(*) FILTER (WHERE source = 'capi') > 0
), names AS (
    SELECT platform, link_key, name_key, bool_or(source = 'pixel') AS on_pixel, bool_or(source = 'capi') AS on_capi
    FROM purchases SEMI JOIN sides USING (platform, link_key)
    GROUP BY platform, link_key, name_key
), name_sets AS (
    SELECT platform, link_key, bool_and(on_pixel AND on_capi) AS same_names FROM names GROUP BY platform, link_key
), id_pairs AS (
    SELECT p.platform, p.link_key,
           bool_or(p.name_key = c.name_key AND r.window_us IS NOT NULL
                   AND abs(epoch_us(p.received_time) - epoch_us(c.received_time)) > r.window_us) AS outside_window
    FROM purchases p
    JOIN purchases c ON c.platform = p.platform AND c.link_key = p.link_key AND c.event_id = p.event_id
    JOIN rules r ON r.platform = p.platform
    WHERE p.source = 'pixel' AND c.source = 'capi'
    GROUP BY p.platform, p.link_key
)
SELECT s.*,
       s.pixel_ids > 0 AND s.capi_ids > 0 AND i.link_key IS NULL AS mismatched_event_id,
       NOT n.same_names AS event_name_drift,
       coalesce(i.outside_window, false) AS outside_window
FROM sides s JOIN name_sets n USING (platform, link_key) LEFT JOIN id_pairs i USING (platform, link_key);
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
    con.execute(DEDUP_SQL)
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
