-- The figures of a native CAPI request log, as an analyst would write them with DuckDB's JSON reader:
-- per platform, the server events, the purchase events and the purchases left after deduplication
-- (one per event ID within 48 hours of the first, each event without an ID). run.py puts the file's path in `{log}`.
-- The generated log (`dedupaudit generate --native`) holds Meta bodies wrapped as
-- {timestamp, url, body: {data: [event]}}; this query knows that shape only.
WITH events AS (
    SELECT 'meta' AS platform, e.event_name, e.event_id,
           coalesce(try_cast(timestamp AS TIMESTAMPTZ), to_timestamp(try_cast(e.event_time AS DOUBLE))) AS received
    FROM (SELECT timestamp, unnest(body.data) AS e FROM read_json('{log}', format = 'newline_delimited'))
),
purchases AS (
    SELECT *, min(received) OVER (PARTITION BY platform, event_name, event_id) AS first_received
    FROM events WHERE event_name = 'Purchase'
)
SELECT platform,
       (SELECT count(*) FROM events e WHERE e.platform = p.platform) AS events,
       count(*) AS purchase_events,
       count(DISTINCT event_id) + count(*) FILTER (WHERE event_id IS NOT NULL AND received > first_received + INTERVAL 48 HOUR)
           + count(*) FILTER (WHERE event_id IS NULL) AS reported
FROM purchases p GROUP BY platform ORDER BY platform;
