"""The derived tables of an audit, built in DuckDB from the canonical event and order tables.

Everything here is set-based SQL, so it can move to Spark SQL unchanged in spirit. Build order:

  events_in, orders_in   views of the loaded inputs' used rows (inputs/canonical.py); dropped with the inputs
                         while audit_events is written, when the caller releases them (engine/run.py)
  outside_period         per input, the used rows outside --since/--until
  undelivered            events in the period sent as test traffic or refused by the platform (never counted)
  unhashed_events        events that sent an email or phone number unhashed (the names of the fields only)
  orders                 orders in the period, with `excluded` (test / cancelled / ...)
  rules, taxonomy, merges  the platform rule files as tables (simulate)
  events                 events in the period the platform accepted (identifiers hashed), with name_key,
                         event_type, scope and offline (simulate); events_base is the same rows untyped
  by_id, by_fallback     the typed events the event ID's key merged, and those the fallback's did (simulate;
                         COUNTS and MERGED_BY read them into audit_events)
  purchases              purchase events tied to an order (link_key, link_method), with counts: a view of
                         audit_events, the one wide table (events, counts, merged_by and the links)
  event_names, busy_events  (engine/readings.py, while the other readings run) each event name's key and type, and
                         the events of the IDs another naming or same-source rule can group otherwise (BUSY_EVENTS_SQL)
  order_checks           (build_order_checks) per platform and order seen on both paths: ID mismatch, name drift, late pair, and
                         the hours between the first events of each path (pair_gaps, a view of it)

Checks and metrics only read these tables.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from dedupaudit.inputs.canonical import IDENTIFIER_COLUMNS
from dedupaudit.platforms.rules import PlatformRules
from dedupaudit.settings import LINK_TOLERANCE, Settings

# The dedup model, run once for the rule files' reading and once per other reading of an unconfirmed
# rule (engine/readings.py). `{p}` prefixes the tables of one run; `{p}rules` and `{p}taxonomy` hold
# that reading's rules.
#
# 1. typed: each event's name key (case folding, merged legacy names), event type and scope (what must
#    match besides name and ID: Google's conversion action, Reddit's channel). A server event the rules
#    call offline (received too long after it happened) never deduplicates: it gets a key of its own.
TYPED_SELECT = """
WITH named AS (
    SELECT e.*, CASE WHEN r.names_case_sensitive THEN e.event_name ELSE lower(e.event_name) END AS raw_key,
           r.scope_column IS NOT NULL AS scoped,
           coalesce(CASE r.scope_column WHEN 'conversion_action' THEN e.conversion_action WHEN 'action_source' THEN e.action_source END,
                    CASE e.source WHEN 'pixel' THEN r.scope_pixel ELSE r.scope_capi END, '') AS scope_value,
           coalesce(e.source = 'capi' AND epoch_us(e.received_time) - epoch_us(e.event_time) > r.offline_after_us, false) AS offline
    FROM {base} e JOIN {p}rules r USING (platform)
)
SELECT n.* EXCLUDE (raw_key, scoped, scope_value), coalesce(m.into_key, n.raw_key) AS name_key, t.event_type,
       CASE WHEN n.scoped THEN lower(trim(n.scope_value)) ELSE '' END AS scope
FROM named n
LEFT JOIN {p}merges m ON m.platform = n.platform AND m.from_key = n.raw_key
LEFT JOIN {p}taxonomy t ON t.platform = n.platform AND t.name_key = coalesce(m.into_key, n.raw_key)
"""
# The table keeps what the model reads after typing: the name, action and channel have given name_key and scope
# (48 bytes an event less while the model runs, when the loaded inputs are still in memory beside it).
TYPED_SQL = "CREATE TABLE {typed} AS SELECT * EXCLUDE (event_name, action_source, conversion_action) FROM (" + TYPED_SELECT + ")"

# 2. The event-ID key. The window of a key is [first received_time, first + window], inclusive. One
#    aggregate per key gives its first and last time and its winner (the earliest event; ties: browser
#    first, then input order, which is the order of eid: build_tables). A key whose events all fall in its
#    first window counts once, at its winner; only keys spanning more than one window (rare: late batches,
#    reused IDs) go through the steps of NEXT_WINDOW_SQL, which find each next window's opening event.
DEDUP_SQL = """
CREATE {keyed_kind} {p}keyed AS {keyed};

CREATE TABLE {p}groups AS
SELECT platform, name_key, event_id, scope, lone, slot, window_us, min(received_time) AS first_t,
       window_us IS NOT NULL AND epoch_us(max(received_time)) - epoch_us(min(received_time)) > window_us AS multi,
       earliest_eid(received_time, eid) AS winner
FROM {p}keyed GROUP BY platform, name_key, event_id, scope, lone, slot, window_us;

CREATE TABLE {p}multi_window AS
SELECT k.eid, k.received_time, k.source, k.window_us, g.first_t, g.gid
FROM {p}keyed k
JOIN (SELECT *, winner AS gid FROM {p}groups WHERE multi) g USING (platform, name_key, event_id, scope, lone, slot);

CREATE TABLE {p}anchors AS SELECT DISTINCT gid, first_t AS t, 0 AS step FROM {p}multi_window;
"""
# Each next window of a key opens at its first event after the current window closed. One statement per
# step, repeated until no key has another window (as many steps as the most windows any one key spans):
# neither engine needs recursion, and the tables stay small (only keys spanning more than one window).
NEXT_WINDOW_SQL = """
INSERT INTO {p}anchors
SELECT m.gid, min(m.received_time), $step
FROM {p}anchors a JOIN {p}multi_window m ON m.gid = a.gid AND epoch_us(m.received_time) - epoch_us(a.t) > m.window_us
WHERE a.step = $step - 1
GROUP BY m.gid
"""
# {kept}: a run's by_id holds only the events the ID key merged (a third of the keyed events in the benchmark
# shop; every reader takes an event without a row as counted); a reading's rerun holds every event it ran,
# since its rows replace the first run's (DELTA_SQL).
BY_ID_SQL = """

CREATE TABLE {by_id} AS
SELECT * FROM (
    SELECT k.eid, w.winner IS NOT NULL AS counts
    FROM {p}keyed k LEFT JOIN (SELECT winner FROM {p}groups WHERE NOT multi) w ON w.winner = k.eid
    ANTI JOIN {p}multi_window m ON m.eid = k.eid
    UNION ALL
    SELECT m.eid,
           a.t IS NOT NULL
           AND row_number() OVER (PARTITION BY m.gid, m.received_time ORDER BY m.source = 'pixel' DESC, m.eid) = 1
    FROM {p}multi_window m LEFT JOIN {p}anchors a ON a.gid = m.gid AND a.t = m.received_time
) WHERE {kept};
"""
# The events a key holds, one SELECT per kind of platform ({same}: the platforms whose rules deduplicate
# same-source events, or the others), so the slot's window function runs only over the platforms that need it.
# {only}: a reading that types the events as the rule files do runs only the IDs it can change (simulate); {ids}
# is then the typed events of the IDs it may change ({typed} restricted to busy_events), else {typed}.
KEYED_SQL = """
SELECT e.eid, e.received_time, e.source, r.window_us, e.platform, e.name_key, e.event_id, e.scope,
       CASE WHEN e.offline THEN e.eid ELSE -1 END AS lone, {slot} AS slot
FROM {ids} e JOIN {p}rules r USING (platform){only}
WHERE e.event_type IS NOT NULL AND e.event_id IS NOT NULL AND {same}
"""
# When a rule file says same-source duplicates are not deduplicated, the k-th browser event of a key
# pairs only with the k-th server event: the slot is that k. Otherwise every event of a key shares slot 0.
SLOT_SQL = ("row_number() OVER (PARTITION BY e.platform, e.name_key, e.event_id, e.scope, "
            "CASE WHEN e.offline THEN e.eid ELSE -1 END, e.source ORDER BY e.received_time, e.eid)")
# The IDs whose events another reading can count otherwise, when it types the events as the rule files do up
# to the naming ({typed} carries both: audit_key and audit_type are the rule files'). Of a key whose events all
# come one per path, the first counts under any same-source rule, so only IDs with a repeated path, or (another
# window) with more than one event, run again; {renamed}: an ID whose events the other naming types otherwise,
# or whose typed events do not share one key under both namings (only then can the namings group them otherwise).
CHANGED_IDS_SQL = """
CREATE TABLE {p}changed_ids AS
SELECT platform, event_id
FROM {ids} JOIN {p}rules r USING (platform) JOIN rules b USING (platform)
WHERE event_id IS NOT NULL AND (event_type IS NOT NULL OR audit_type IS NOT NULL)
GROUP BY platform, event_id, r.window_us, b.window_us
HAVING count(*) FILTER (WHERE event_type IS NOT NULL AND source = 'pixel') > 1
    OR count(*) FILTER (WHERE event_type IS NOT NULL AND source = 'capi') > 1
    OR (count(*) FILTER (WHERE event_type IS NOT NULL) > 1 AND r.window_us IS DISTINCT FROM b.window_us){renamed}
"""
RENAMED_IDS = """
    OR bool_or(event_type IS DISTINCT FROM audit_type)
    OR min(name_key) FILTER (WHERE event_type IS NOT NULL) <> max(name_key) FILTER (WHERE event_type IS NOT NULL)
    OR min(audit_key) FILTER (WHERE event_type IS NOT NULL) <> max(audit_key) FILTER (WHERE event_type IS NOT NULL)"""
# The events of the IDs a reading that changes only the naming or the same-source rule can group otherwise: those
# with a repeated path, more than one name, or more than one event and one the rule files leave untyped. The other IDs
# (at most one event per path, all under one name, typed when there are two) keep their one key under any such
# reading, renamed at most; a changed type moves their counted event (DELTA_SQL: the retyped events). So
# CHANGED_IDS_SQL and the rerun read these rows (the 10M benchmark shop: 495,447 of 10M events over its four platforms,
# 371,095 over the three whose readings read them), not every event.
# Built for the platforms ($platforms) of the readings that read it (engine/readings.py: {verb} creates the table,
# or adds the platforms a later reading needs), not when the readings change a window.
BUSY_EVENTS_SQL = """
{verb}
SELECT eid, platform, source, event_name, received_time, event_id, scope, offline, name_key, event_type
FROM events SEMI JOIN (
    SELECT platform, event_id FROM events WHERE event_id IS NOT NULL AND list_contains($platforms, platform)
    GROUP BY platform, event_id
    HAVING count(*) FILTER (WHERE source = 'pixel') > 1 OR count(*) FILTER (WHERE source = 'capi') > 1
        OR min(event_name) <> max(event_name) OR (count(*) > 1 AND bool_or(event_type IS NULL))
) b USING (platform, event_id)
WHERE list_contains($platforms, platform)
"""
# Each distinct event name with its key and type under the rule files: what the namings are compared on.
EVENT_NAMES_SQL = "CREATE TABLE event_names AS SELECT DISTINCT platform, event_name, name_key, event_type FROM events"
# Another naming of the events (letter case, merged legacy names, the event lists) with the rest of the typing
# as the rule files say: each distinct name's key and type under it (TYPED_SELECT over the names alone), beside
# the rule files'. The events then take their key and type from this handful of rows instead of being typed again.
NAMES_SQL = """
CREATE TABLE {p}names AS
SELECT a.platform, a.event_name, a.audit_key, a.audit_type, n.name_key, n.event_type
FROM (SELECT platform, event_name, name_key AS audit_key, event_type AS audit_type
      FROM event_names WHERE platform IN (SELECT platform FROM {p}rules)) a
JOIN ({names_typed}) n USING (platform, event_name)
"""
NAMES_BASE = ("(SELECT platform, event_name, NULL::VARCHAR AS source, NULL::TIMESTAMP AS event_time, "
              "NULL::TIMESTAMP AS received_time, NULL::VARCHAR AS conversion_action, NULL::VARCHAR AS action_source "
              "FROM event_names WHERE platform IN (SELECT platform FROM {p}rules))")

# 3. The fallback key (Meta's fbp / external_id): an event the ID did not merge is dropped when an
#    earlier event (ties: browser first, then input order) with the same name, scope and fallback value
#    was received at most the fallback window before it; the rules say which sides and which events.
#    The keys the rules use are unpivoted ({branches}: one SELECT per key) so that any one of them
#    matching is enough, with one equi-join.
FALLBACK_KEYS_SQL = """
CREATE TABLE {p}fallback_keys AS
SELECT * FROM ({branches}) k WHERE EXISTS (
    SELECT 1 FROM {p}rules r WHERE r.platform = k.platform AND list_contains(r.fb_keys, k.key)
    AND (array_length(r.fb_types) = 0 OR list_contains(r.fb_types, k.event_type)))
"""
FALLBACK_SQL = """

CREATE TABLE {p}by_fallback AS
SELECT DISTINCT c.eid
FROM {p}fallback_keys c
JOIN {p}rules r USING (platform)
JOIN {p}fallback_keys f ON f.platform = c.platform AND f.name_key = c.name_key AND f.scope = c.scope
                       AND f.key = c.key AND f.value = c.value AND f.eid <> c.eid
WHERE (r.fb_applies_to = 'all' OR c.event_id IS NULL)
  AND (r.fb_order = 'any' OR (c.source = 'capi' AND f.source = 'pixel'))
  AND (r.fb_same_source OR f.source <> c.source)
  AND (r.fb_window_us IS NULL OR epoch_us(c.received_time) - epoch_us(f.received_time) <= r.fb_window_us)
  AND (f.received_time < c.received_time OR (f.received_time = c.received_time AND (
           (f.source = 'pixel' AND c.source = 'capi') OR (f.source = c.source AND f.eid < c.eid))))
  AND c.eid NOT IN (SELECT i.eid FROM {p}by_id i SEMI JOIN {p}fallback_keys k ON k.eid = i.eid WHERE NOT i.counts);
"""
# What the model reads of an event (TYPED_SQL, DEDUP_SQL, the fallback keys): another reading of the
# rules types only these, not the whole row.
MODEL_COLUMNS = ("eid", "platform", "source", "event_name", "event_time", "received_time", "event_id", "order_key",
                 "action_source", "conversion_action", "fbp", "external_id", "ttp")
# Canonical column behind each fallback key name (rule files say `order_id`; orders are compared by their key).
FALLBACK_COLUMNS = {"fbp": "fbp", "external_id": "external_id", "ttp": "ttp", "order_id": "order_key"}

# 4. Per typed event (e): does the platform count it, and if not, which key merged it (i: its by_id row, f: its
#    by_fallback row; an event without a type is in neither).
COUNTS = "e.event_type IS NOT NULL AND coalesce(i.counts, true) AND f.eid IS NULL"
MERGED_BY = "CASE WHEN NOT i.counts THEN 'event_id' WHEN f.eid IS NOT NULL THEN 'fallback' END"
COUNTS_SQL = f"""
CREATE VIEW {{into}} AS
SELECT e.eid, e.platform, e.event_type, {COUNTS} AS counts, {MERGED_BY} AS merged_by
FROM {{typed}} e LEFT JOIN {{p}}by_id i USING (eid) LEFT JOIN {{p}}by_fallback f USING (eid)
WHERE e.event_type IS NOT NULL
"""


def simulate(con: duckdb.DuckDBPyConnection, rules: dict[str, PlatformRules], prefix: str, typed: str, into: str | None,
             reuse: tuple[str, ...] = (), base: str = "events_base", base_params: dict | None = None, busy: bool = False) -> None:
    """Run the dedup model for `rules` over events_base: `typed` gets the events of these platforms with
    their name key, type and scope; {prefix}by_id and {prefix}by_fallback which key merged which event; `into`
    (unless None) gets (eid, platform, event_type, counts, merged_by) per typed event.

    `reuse` names stages whose inputs are the same as the rule files' reading, taken from the tables the
    first run kept: "typed" (the `events` table) and "by_id" (the `by_id` table); "renamed": the `events` table
    with each name's key and type under this reading's naming (NAMES_SQL), its scope and offline as they are.
    Without "by_id", only the IDs the other naming, window or same-source rule can change (CHANGED_IDS_SQL) run
    the ID key again: their events' rows are {prefix}by_id_rerun, and {prefix}by_id is a view of them and the
    first run's other rows. `busy`: the busy_events table exists (BUSY_EVENTS_SQL) and this reading keeps every
    window, so those IDs are looked for among its rows alone.
    `base_params` are the values `base` binds (values are never pasted into SQL text). `into` is a view, read
    once (by a reading's counts): the caller drops it and the tables it reads ({prefix}fallback_keys, {prefix}by_fallback)."""
    con.register("rules_in", rules_table(rules))
    con.execute(f"CREATE OR REPLACE TABLE {prefix}rules AS SELECT * FROM rules_in")
    con.register("taxonomy_in", _taxonomy_frame(rules))
    con.execute(f"CREATE OR REPLACE TABLE {prefix}taxonomy AS SELECT * FROM taxonomy_in")
    con.register("merges_in", _merges_frame(rules))
    con.execute(f"CREATE OR REPLACE TABLE {prefix}merges AS SELECT * FROM merges_in")
    for name in ("rules_in", "taxonomy_in", "merges_in"):
        con.unregister(name)
    rerun = ("typed" in reuse or "renamed" in reuse) and "by_id" not in reuse  # only the IDs the reading can change
    ids = f"{typed}_busy" if busy and rerun else typed
    names = {"p": prefix, "typed": typed, "into": into, "base": base, "ids": ids}
    if "typed" in reuse or "renamed" in reuse:
        if "renamed" in reuse:
            con.execute(NAMES_SQL.format(names_typed=TYPED_SELECT.format(p=prefix, base=NAMES_BASE.format(p=prefix)), **names))
        # The typed events are a view of `events` (and the busy IDs' of busy_events), renamed or as they are.
        select = (f"SELECT e.* EXCLUDE (name_key, event_type), n.name_key, n.event_type, e.name_key AS audit_key, "
                  f"e.event_type AS audit_type FROM {{source}} e JOIN {prefix}names n USING (platform, event_name)"
                  if "renamed" in reuse else
                  f"SELECT *, name_key AS audit_key, event_type AS audit_type FROM {{source}} "
                  f"WHERE platform IN (SELECT platform FROM {prefix}rules)")
        for view, source in [(typed, "events"), *([(ids, "busy_events")] if ids != typed else [])]:
            con.execute(f"CREATE OR REPLACE VIEW {view} AS " + select.format(source=source))
    else:
        con.execute(TYPED_SQL.format(**names), base_params or {})
    if "by_id" in reuse:
        con.execute(f"CREATE OR REPLACE VIEW {prefix}by_id AS SELECT * FROM by_id")
    else:
        only = ""
        if "typed" in reuse or "renamed" in reuse:
            con.execute(CHANGED_IDS_SQL.format(renamed=RENAMED_IDS if "renamed" in reuse else "", **names))
            only = f" SEMI JOIN {prefix}changed_ids c USING (platform, event_id)"
        slots = not all(r.same_source_dedup for r in rules.values())  # some platform needs the slot's window function
        keyed = " UNION ALL ".join(KEYED_SQL.format(slot=slot, same=same, only=only, **names) for slot, same, wanted in (
            ("0", "r.same_source_dedup", any(r.same_source_dedup for r in rules.values())),
            (SLOT_SQL, "NOT coalesce(r.same_source_dedup, false)", slots)) if wanted)
        # Without the slot's window function, keyed is a filter of the typed events: a view, read three times,
        # costs less than writing it.
        con.execute(DEDUP_SQL.format(keyed=keyed, keyed_kind="TABLE" if slots else "VIEW", **names))
        step = 1  # an INSERT answers with the number of rows it added: none, and every key's last window is found
        while con.execute(NEXT_WINDOW_SQL.format(**names), {"step": step}).fetchall()[0][0]:
            step += 1
        con.execute(BY_ID_SQL.format(by_id=f"{prefix}by_id_rerun" if only else f"{prefix}by_id", kept="true" if only else "NOT counts",
                                     **names))
        if only:  # the other IDs count as in the first run
            con.execute(f"CREATE VIEW {prefix}by_id AS SELECT * FROM {prefix}by_id_rerun "
                        f"UNION ALL SELECT * FROM by_id ANTI JOIN {prefix}by_id_rerun USING (eid)")
            con.execute(f"DROP TABLE {prefix}changed_ids")
        con.execute(f"DROP TABLE {prefix}multi_window; DROP TABLE {prefix}anchors; DROP TABLE {prefix}groups; "
                    f"DROP {'TABLE' if slots else 'VIEW'} {prefix}keyed")
        if ids != typed:
            con.execute(f"DROP VIEW {ids}")
    # Each key's branch reads only the platforms whose rules use it (order_id, set on nearly every event, would
    # otherwise bring every platform's events to the rules' filter).
    users = {key: sorted(p for p, r in rules.items() if r.fallback and key in r.fallback.keys)
             for r in rules.values() if r.fallback for key in r.fallback.keys}
    keys = sorted(users)
    branches = " UNION ALL ".join(
        f"SELECT eid, platform, name_key, scope, source, received_time, event_id, event_type, $key_{i}::VARCHAR AS key, "
        f"{FALLBACK_COLUMNS[key]} AS value FROM {typed} WHERE event_type IS NOT NULL AND {FALLBACK_COLUMNS[key]} IS NOT NULL "
        f"AND list_contains($users_{i}, platform)"
        for i, key in enumerate(keys)) or (f"SELECT eid, platform, name_key, scope, source, received_time, event_id, event_type, "
                             f"NULL::VARCHAR AS key, NULL::VARCHAR AS value FROM {typed} WHERE false")
    con.execute(FALLBACK_KEYS_SQL.format(branches=branches, **names),
                {**{f"key_{i}": key for i, key in enumerate(keys)}, **{f"users_{i}": users[key] for i, key in enumerate(keys)}})
    con.execute(FALLBACK_SQL.format(**names))
    if into is not None:
        con.execute(COUNTS_SQL.format(**names))


# An event's order: its own order_id; else the order of other events with the same ID (when they
# agree on one order); else the single non-excluded order with the same value created within the
# tolerance of the event. Orders are put in time buckets so the value join stays small. A tolerance
# of 0 turns value+time linking off (no buckets, so no division by zero either). Computed on the model's
# narrow rows (typed_events) and written into audit_events, so purchases is a view, not a second wide copy.
# `links` holds only the purchases without an order_id of their own (none in the benchmark shop, against 7.6M
# purchase rows at 10M events before): the wide table takes an event's own order_id where it writes it (LINKED).
LINK_SQL = """
CREATE TABLE links AS
WITH p AS (
    SELECT eid, platform, event_id, order_key, value, event_time FROM typed_events WHERE event_type = 'purchase'
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
    SELECT order_key, created_at, round(value, 2) AS value, floor(epoch(o.created_at) / $tolerance_s) + s.d AS bucket
    FROM (SELECT DISTINCT order_key, created_at, value FROM orders
          WHERE NOT excluded AND value IS NOT NULL AND $tolerance_s > 0) o,  -- a tolerance of 0: no value+time linking
         (SELECT -1 AS d UNION ALL SELECT 0 UNION ALL SELECT 1) s
), by_value_time AS (
    SELECT u.eid, min(o.order_key) AS key
    FROM unlinked u JOIN order_buckets o
      ON o.value = round(u.value, 2) AND o.bucket = floor(epoch(u.event_time) / $tolerance_s)
     AND abs(epoch(o.created_at) - epoch(u.event_time)) <= $tolerance_s
    GROUP BY u.eid HAVING count(DISTINCT o.order_key) = 1
)
SELECT p.eid,
       coalesce(i.key, v.key) AS link_key,
       CASE WHEN i.key IS NOT NULL THEN 'event_id' WHEN v.key IS NOT NULL THEN 'value_time' ELSE 'unlinked' END AS link_method
FROM p LEFT JOIN by_id i ON i.platform = p.platform AND i.event_id = p.event_id
LEFT JOIN by_value_time v USING (eid)
WHERE p.order_key IS NULL;
"""
# A purchase's link in the wide table (e: its row, l: its links row, if it has no order_id of its own).
LINKED = ("CASE WHEN e.event_type = 'purchase' THEN coalesce(e.order_key, l.link_key) END AS link_key, "
          "CASE WHEN e.event_type = 'purchase' THEN CASE WHEN e.order_key IS NOT NULL THEN 'order_id' "
          "ELSE coalesce(l.link_method, 'unlinked') END END AS link_method")

# One pass per (order, name, ID), then one per order, gives everything: an ID both sides sent, the widest
# time between a browser and a server event with that name and ID (latest of one side minus earliest of
# the other), which names each side used, and how far apart the two paths first reported the order
# (gap_hours: the first browser vs the first server event). No self-join, so it stays linear in the
# number of events. An order with one event name (nearly all) has the same names on both sides, and an ID
# both sides sent is one key with events on both; only orders with several names (multi_name) are looked at
# again: by name, and by ID across names. Per-source times are CASE over microseconds rather than FILTERed
# timestamp aggregates (one pass over one column): on a snapshot of the 10M tables, median 2.0 s against 2.5 s.
ORDER_CHECKS_SQL = """
CREATE TABLE order_keys AS
WITH p AS (
    SELECT platform, link_key, name_key, event_id, source = 'pixel' AS on_pixel, epoch_us(received_time) AS us
    FROM purchases WHERE link_key IS NOT NULL
)
SELECT platform, link_key, name_key, event_id,
       count(*) FILTER (WHERE on_pixel) AS n_pixel,
       count(*) FILTER (WHERE NOT on_pixel) AS n_capi,
       min(CASE WHEN on_pixel THEN us END) AS first_pixel_us,
       min(CASE WHEN NOT on_pixel THEN us END) AS first_capi_us,
       greatest(max(CASE WHEN on_pixel THEN us END) - min(CASE WHEN NOT on_pixel THEN us END),
                max(CASE WHEN NOT on_pixel THEN us END) - min(CASE WHEN on_pixel THEN us END)) AS widest_us
FROM p
GROUP BY platform, link_key, name_key, event_id;

CREATE TABLE order_checks AS
WITH per_order AS (
    SELECT k.platform, k.link_key,
           sum(k.n_pixel) AS pixel_events, sum(k.n_capi) AS capi_events,
           coalesce(sum(k.n_pixel) FILTER (WHERE k.event_id IS NOT NULL), 0) AS pixel_ids,
           coalesce(sum(k.n_capi) FILTER (WHERE k.event_id IS NOT NULL), 0) AS capi_ids,
           coalesce(bool_or(k.event_id IS NOT NULL AND r.window_us IS NOT NULL AND k.widest_us > r.window_us), false) AS outside_window,
           coalesce(bool_or(k.event_id IS NOT NULL AND k.n_pixel > 0 AND k.n_capi > 0), false) AS shared_key,
           min(k.name_key) <> max(k.name_key) AS multi_name,
           abs(min(k.first_pixel_us) / 1e6 - min(k.first_capi_us) / 1e6) / 3600.0 AS gap_hours
    FROM order_keys k JOIN rules r USING (platform)
    GROUP BY k.platform, k.link_key
    HAVING sum(k.n_pixel) > 0 AND sum(k.n_capi) > 0
), multi AS (
    SELECT * FROM order_keys SEMI JOIN (SELECT platform, link_key FROM per_order WHERE multi_name) m USING (platform, link_key)
), same_names AS (  -- equal name sets: every name used is used on both sides
    SELECT platform, link_key, bool_and(on_pixel AND on_capi) AS same
    FROM (SELECT platform, link_key, name_key, sum(n_pixel) > 0 AS on_pixel, sum(n_capi) > 0 AS on_capi
          FROM multi GROUP BY platform, link_key, name_key)
    GROUP BY platform, link_key
), shared_ids AS (  -- an ID both sides sent, whatever the names
    SELECT DISTINCT platform, link_key
    FROM (SELECT platform, link_key, event_id FROM multi WHERE event_id IS NOT NULL
          GROUP BY platform, link_key, event_id HAVING sum(n_pixel) > 0 AND sum(n_capi) > 0)
)
SELECT o.platform, o.link_key, o.pixel_events, o.capi_events, o.pixel_ids, o.capi_ids, o.outside_window, o.gap_hours,
       o.pixel_ids > 0 AND o.capi_ids > 0 AND NOT (o.shared_key OR i.link_key IS NOT NULL) AS mismatched_event_id,
       coalesce(NOT n.same, false) AS event_name_drift
FROM per_order o LEFT JOIN same_names n USING (platform, link_key) LEFT JOIN shared_ids i USING (platform, link_key);

DROP TABLE order_keys;

CREATE VIEW pair_gaps AS SELECT platform, link_key, gap_hours FROM order_checks;
"""


def build_tables(con: duckdb.DuckDBPyConnection, pixel, capi, orders, rules: dict[str, PlatformRules], settings: Settings,
                 since, until, release: bool = False) -> None:
    """Create every derived table on `con` from the loaded inputs (inputs.canonical.Loaded: tables on `con`),
    but order_checks (build_order_checks), which reads none of the inputs.

    `eid` is each event's place in the input, browser events first: ties in the dedup model go by it.
    `release`: the caller has taken what it reads of the inputs (engine/run.py), so each side's loaded table is
    dropped as soon as audit_events holds its rows: the browser's before the server's part is written."""
    used = lambda loaded, offset: (f"SELECT {offset} + (file_no::BIGINT << 40) + seq AS eid, {loaded.select_list} "  # noqa: E731
                                   f"FROM {loaded.table} WHERE reason IS NULL")
    con.execute(f"CREATE VIEW events_in AS {used(pixel, 0)} UNION ALL {used(capi, 1 << 62)}")
    con.execute(f"CREATE VIEW orders_in AS SELECT {orders.select_list} FROM {orders.table} WHERE reason IS NULL")
    period = "($since::TIMESTAMP IS NULL OR {col} >= $since) AND ($until::TIMESTAMP IS NULL OR {col} <= $until)"
    bounds = {"since": since, "until": until}
    in_period = period.format(col="e.event_time")
    # Identifiers are compared as sent but kept only as hashes, so no table of the audit holds them.
    hashed = lambda columns: ", ".join(f"sha256({c}) AS {c}" if c in IDENTIFIER_COLUMNS else c for c in columns)  # noqa: E731
    base = f"(SELECT {hashed((*MODEL_COLUMNS, 'value'))} FROM events_in e WHERE e.delivery IS NULL AND {in_period})"  # value: the links
    con.execute(f"CREATE TABLE undelivered AS SELECT * EXCLUDE ({', '.join(IDENTIFIER_COLUMNS)}) FROM events_in e "
                f"WHERE e.delivery IS NOT NULL AND {in_period}", bounds)
    # What the privacy check shows of the rows that sent personal data unhashed (every used row, in the period or not).
    con.execute("CREATE TABLE unhashed_events AS SELECT platform, source, event_name, event_id, unhashed_user_data, file, row, "
                "source_ref FROM events_in WHERE unhashed_user_data IS NOT NULL")
    # Rows left out by --since/--until (the input summaries): every used row not in the period.
    con.execute(f"CREATE TABLE outside_period AS SELECT source, count(*) FILTER (WHERE NOT coalesce({in_period}, false)) AS n "
                f"FROM events_in e GROUP BY source UNION ALL SELECT 'orders', count(*) FILTER (WHERE NOT coalesce("
                f"{period.format(col='created_at')}, false)) FROM orders_in", bounds)
    con.execute(f"""
        CREATE TABLE orders AS
        SELECT *, coalesce(list_contains($excluded, status), false) AS excluded
        FROM orders_in WHERE {period.format(col='created_at')}""",
        {**bounds, "excluded": [s.lower() for s in settings.excluded_statuses]})
    # The model runs over the columns it reads (typed_events), the links too; the events' one wide table is
    # written once, after them, from the inputs typed again (a few expressions and joins with the small rule
    # tables per row, cheaper than joining the wide rows to typed_events on eid), with the model's results
    # joined by eid. The identifiers are hashed again rather than carried through a join.
    simulate(con, rules, "", typed="typed_events", into=None, base=base, base_params=bounds)
    tolerance = LINK_TOLERANCE.check(settings.link_tolerance_minutes, "settings", "link_tolerance_minutes")
    con.execute(LINK_SQL, {"tolerance_s": float(tolerance) * 60})
    for table in ("typed_events", "fallback_keys"):  # freed before the wide table is written: its memory is the peak's
        con.execute(f"DROP TABLE {table}")
    # Not carried: what only the inputs' accounting, undelivered and unhashed_events read (each would cost 16 bytes
    # an event, NULL or not).
    kept = [c for c in pixel.columns if c not in ("delivery", "delivery_message", "numeric_ids", "unhashed_user_data")]
    # Released inputs: one side at a time (eid ranges apart: browser below 2^62), so each side's table goes before
    # the next is read. Kept inputs (and Spark, whose optimizer fails on the per-side statement): one statement.
    if release:
        con.execute(f"DROP VIEW events_in; DROP VIEW orders_in; DROP TABLE {orders.table}; DROP TABLE {orders.broken}")
    for i, (side, offset) in enumerate(((pixel, 0), (capi, 1 << 62)) if release else ((None, None),)):
        source = "events_in" if side is None else f"({used(side, offset)})"
        only = lambda table: table if side is None else f"(SELECT * FROM {table} WHERE eid {'<' if offset == 0 else '>='} {1 << 62})"  # noqa: E731
        wide = f"(SELECT {hashed(('eid', *kept))} FROM {source} e WHERE e.delivery IS NULL AND {in_period})"
        con.execute(f"""
            {'CREATE TABLE audit_events AS' if i == 0 else 'INSERT INTO audit_events'}
            SELECT e.*, {COUNTS} AS counts, {MERGED_BY} AS merged_by, {LINKED}
            FROM ({TYPED_SELECT.format(p='', base=wide)}) e
            LEFT JOIN {only('by_id')} i USING (eid) LEFT JOIN {only('by_fallback')} f USING (eid) LEFT JOIN {only('links')} l USING (eid)""",
            bounds)
        if release:
            con.execute(f"DROP TABLE {side.table}; DROP TABLE {side.broken}")
    for table in ("links", "by_fallback"):
        con.execute(f"DROP TABLE {table}")
    # `events`, `purchases` and (for the other readings) `events_base`, the columns the model reads untyped, are views of it.
    con.execute("CREATE VIEW events AS SELECT * EXCLUDE (counts, merged_by, link_key, link_method) FROM audit_events")
    con.execute("CREATE VIEW purchases AS SELECT * FROM audit_events WHERE event_type = 'purchase'")
    con.execute(f"CREATE VIEW events_base AS SELECT {', '.join(MODEL_COLUMNS)} FROM events")


def build_order_checks(con: duckdb.DuckDBPyConnection) -> None:
    """order_checks and pair_gaps, from audit_events alone: apart from build_tables so that inputs the caller
    releases (engine/run.py) are gone before this large aggregation runs."""
    con.execute(ORDER_CHECKS_SQL)


def rules_table(rules: dict[str, PlatformRules]) -> pa.Table:
    """One row per platform: every rule value the SQL reads (durations in microseconds)."""
    us = lambda hours: None if hours is None else int(hours * 3_600_000_000)  # noqa: E731
    rows = []
    for r in rules.values():
        fb, scope = r.fallback, r.dedup_scope
        rows.append({
            "platform": r.platform,
            "window_us": us(r.dedup_window_hours),
            "names_case_sensitive": r.names_case_sensitive,
            "same_source_dedup": r.same_source_dedup,
            "server_time_unit": r.server_time_unit,
            "server_time_units": list(r.server_time_units),
            "max_age_us": None if r.max_event_age_days is None else int(r.max_event_age_days * 86_400_000_000),
            "scope_column": scope.column if scope else None,
            "scope_pixel": scope.pixel_default if scope else None,
            "scope_capi": scope.capi_default if scope else None,
            "offline_after_us": us(r.offline_after_hours),
            "fb_keys": list(fb.keys) if fb else [],
            "fb_order": fb.order if fb else None,
            "fb_window_us": us(fb.window_hours) if fb else None,
            "fb_same_source": fb.same_source if fb else None,
            "fb_applies_to": fb.applies_to if fb else None,
            "fb_types": list(fb.event_types) if fb else [],
        })
    schema = pa.schema([("platform", pa.string()), ("window_us", pa.int64()), ("names_case_sensitive", pa.bool_()),
                        ("same_source_dedup", pa.bool_()), ("server_time_unit", pa.string()),
                        ("server_time_units", pa.list_(pa.string())), ("max_age_us", pa.int64()),
                        ("scope_column", pa.string()), ("scope_pixel", pa.string()), ("scope_capi", pa.string()),
                        ("offline_after_us", pa.int64()), ("fb_keys", pa.list_(pa.string())), ("fb_order", pa.string()),
                        ("fb_window_us", pa.int64()), ("fb_same_source", pa.bool_()), ("fb_applies_to", pa.string()),
                        ("fb_types", pa.list_(pa.string()))])
    return pa.Table.from_pylist(rows, schema=schema)


def _merges_frame(rules: dict[str, PlatformRules]) -> pa.Table:
    fold = lambda r, name: name if r.names_case_sensitive else name.lower()  # noqa: E731
    rows = [{"platform": r.platform, "from_key": fold(r, old), "into_key": fold(r, new)}
            for r in rules.values() for old, new in r.merged_names.items()]
    return pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in ("platform", "from_key", "into_key")]))


def _taxonomy_frame(rules: dict[str, PlatformRules]) -> pa.Table:
    rows = [
        {"platform": r.platform, "event_type": event_type, "name": name,
         "name_key": name if r.names_case_sensitive else name.lower()}
        for r in rules.values() for event_type, names in r.events.items() for name in names
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in ("platform", "event_type", "name", "name_key")]))
