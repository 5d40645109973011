-- Purchases per platform after deduplication, as an analyst would write it straight from the files.
-- run.py replaces {pixel}, {capi} and {orders} with read_csv(...) or read_parquet(...) of the generated files.
--
-- The rules it knows (rules/*.yaml): a purchase counts once per platform, name and event ID within 48 hours
-- of the first one (Google: no window, and the tag and the server upload are two conversion actions);
-- events without an ID count each, except Meta server events whose fbp or external_id matches a browser
-- event of the same name received at most 48 hours before. It does not chain windows across orders, so
-- it equals the audit only on shops without placeholder IDs (the benchmark generates none).

WITH events AS (
    SELECT 'pixel' AS side, platform, event_name, event_id, fbp, external_id,
           coalesce(received_time::TIMESTAMPTZ, event_time::TIMESTAMPTZ) AS received
    FROM {pixel}
    UNION ALL
    SELECT 'capi', platform, event_name, event_id, fbp, external_id,
           coalesce(received_time::TIMESTAMPTZ, event_time::TIMESTAMPTZ)
    FROM {capi}
),
purchases AS (
    SELECT *, CASE WHEN platform = 'google' THEN side ELSE '' END AS conversion_action
    FROM events
    WHERE (platform = 'meta' AND event_name = 'Purchase')
       OR (platform = 'tiktok' AND event_name IN ('Purchase', 'CompletePayment', 'PlaceAnOrder'))
       OR (platform = 'snap' AND event_name = 'PURCHASE')
       OR (platform = 'google' AND event_name IN ('purchase', 'conversion'))
),
with_id AS (
    SELECT *, min(received) OVER (PARTITION BY platform, event_name, conversion_action, event_id) AS first_received
    FROM purchases
    WHERE event_id IS NOT NULL
),
counted_with_id AS (       -- the first event of each ID, and any received after its 48 h window
    SELECT platform, count(DISTINCT (event_name, conversion_action, event_id))
                     + count(*) FILTER (WHERE platform <> 'google' AND received > first_received + INTERVAL 48 HOUR) AS n
    FROM with_id
    GROUP BY platform
),
meta_browser AS (
    SELECT * FROM purchases WHERE platform = 'meta' AND side = 'pixel'
),
counted_without_id AS (    -- each counts, unless Meta matches it to an earlier browser event by fbp or external_id
    SELECT platform, count(*) AS n
    FROM purchases c
    WHERE event_id IS NULL
      AND NOT (platform = 'meta' AND side = 'capi' AND (
          EXISTS (SELECT 1 FROM meta_browser p WHERE p.event_name = c.event_name AND p.fbp = c.fbp
                  AND p.received <= c.received AND c.received <= p.received + INTERVAL 48 HOUR)
          OR EXISTS (SELECT 1 FROM meta_browser p WHERE p.event_name = c.event_name AND p.external_id = c.external_id
                     AND p.received <= c.received AND c.received <= p.received + INTERVAL 48 HOUR)))
    GROUP BY platform
),
real_orders AS (
    SELECT count(DISTINCT order_id) AS n
    FROM {orders}
    WHERE lower(trim(status)) NOT IN ('test', 'cancelled', 'canceled', 'voided', 'failed')
)
SELECT platform,
       coalesce(w.n, 0) + coalesce(o.n, 0) AS purchase_conversions,
       real_orders.n AS orders,
       round((coalesce(w.n, 0) + coalesce(o.n, 0)) / real_orders.n, 6) AS inflation
FROM counted_with_id w FULL JOIN counted_without_id o USING (platform), real_orders
ORDER BY platform;
