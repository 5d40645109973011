"""The figures of an audit beside its findings: per platform metrics, order value and money, ROAS, the
daily series and the pair gaps. Split from run.py (which runs the checks); every function reads the
derived tables of engine/tables.py and fills the PlatformSummary objects or returns plain rows."""

from __future__ import annotations

import duckdb
import pandas as pd
from dateutil import tz as dateutil_tz

from dedupaudit.engine.readings import ranges
from dedupaudit.errors import UserError
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import PlatformRules
from dedupaudit.result import PlatformSummary

METRICS_SQL = """
WITH typed AS (
    SELECT platform, event_type,
           count(*) FILTER (WHERE source = 'pixel') AS pixel_events,
           count(*) FILTER (WHERE source = 'capi') AS capi_events,
           count(*) FILTER (WHERE counts) AS reported_conversions,
           count(*) FILTER (WHERE source = 'pixel' AND event_id IS NULL) AS missing_pixel,
           count(*) FILTER (WHERE source = 'capi' AND event_id IS NULL) AS missing_capi,
           count(*) FILTER (WHERE merged_by = 'event_id') AS merged_by_event_id,
           count(*) FILTER (WHERE merged_by = 'fallback') AS merged_by_fallback
    FROM audit_events WHERE event_type IS NOT NULL GROUP BY platform, event_type
), order_flags AS (
    SELECT platform,
           count(*) FILTER (WHERE mismatched_event_id) AS mismatched_event_id,
           count(*) FILTER (WHERE event_name_drift) AS event_name_drift,
           count(*) FILTER (WHERE outside_window) AS outside_window
    FROM order_checks GROUP BY platform
), per_order AS (  -- each linked order: which paths reported it, and in how many scopes it counted
    SELECT p.platform, p.link_key, bool_or(p.source = 'pixel') AS on_pixel, bool_or(p.source = 'capi') AS on_capi,
           min(p.scope) FILTER (WHERE p.counts) <> max(p.scope) FILTER (WHERE p.counts) AS split
    FROM purchases p WHERE p.link_key IS NOT NULL
    GROUP BY p.platform, p.link_key
), coverage AS (  -- of the real orders
    SELECT platform,
           count(*) FILTER (WHERE on_pixel) AS pixel_orders,
           count(*) FILTER (WHERE on_capi) AS capi_orders,
           count(*) AS any_orders
    FROM per_order p SEMI JOIN (SELECT order_key FROM orders WHERE NOT excluded) o ON o.order_key = p.link_key
    GROUP BY platform
), links AS (
    SELECT platform,
           count(*) FILTER (WHERE link_method = 'order_id') AS by_order_id,
           count(*) FILTER (WHERE link_method = 'event_id') AS by_event_id,
           count(*) FILTER (WHERE link_method = 'value_time') AS by_value_time,
           count(*) FILTER (WHERE link_method = 'unlinked') AS unlinked
    FROM purchases GROUP BY platform
), scopes AS (  -- orders counted in more than one conversion action (Google) or channel (Reddit)
    SELECT platform, count(*) AS split_orders FROM per_order WHERE split GROUP BY platform
)
SELECT t.*, r.scope_column IS NOT NULL AS scoped, coalesce(s.split_orders, 0) AS split_orders, coalesce(o.mismatched_event_id, 0) AS mismatched_event_id, coalesce(o.event_name_drift, 0) AS event_name_drift,
       coalesce(o.outside_window, 0) AS outside_window,
       coalesce(c.pixel_orders, 0) AS pixel_orders, coalesce(c.capi_orders, 0) AS capi_orders, coalesce(c.any_orders, 0) AS any_orders,
       l.by_order_id, l.by_event_id, l.by_value_time, l.unlinked
FROM typed t
LEFT JOIN order_flags o ON o.platform = t.platform AND t.event_type = 'purchase'
LEFT JOIN coverage c ON c.platform = t.platform AND t.event_type = 'purchase'
LEFT JOIN links l ON l.platform = t.platform AND t.event_type = 'purchase'
LEFT JOIN scopes s ON s.platform = t.platform AND t.event_type = 'purchase'
JOIN rules r ON r.platform = t.platform
ORDER BY t.platform, t.event_type <> 'purchase', t.event_type
"""


def platform_metrics(con, rules: dict[str, PlatformRules], order_count: int | None) -> dict[tuple[str, str], PlatformSummary]:
    cursor = con.execute(METRICS_SQL)
    names = [d[0] for d in cursor.description]
    out = {}
    for values in cursor.fetchall():
        r = dict(zip(names, values))
        purchase = r["event_type"] == "purchase"
        has_orders = purchase and bool(order_count)
        ratio = round(r["reported_conversions"] / order_count, 6) if has_orders else None
        out[(r["platform"], r["event_type"])] = PlatformSummary(
            platform=r["platform"],
            display_name=rules[r["platform"]].display_name,
            event=r["event_type"],
            orders=order_count if purchase else None,
            pixel_events=r["pixel_events"],
            capi_events=r["capi_events"],
            reported_conversions=r["reported_conversions"],
            inflation_ratio=ratio,
            extra_conversions=r["reported_conversions"] - order_count if purchase and order_count is not None else None,
            missing_event_id={"pixel": r["missing_pixel"], "capi": r["missing_capi"]},
            mismatched_event_id=r["mismatched_event_id"],
            event_name_drift=r["event_name_drift"],
            outside_window=r["outside_window"],
            coverage={side: round(r[f"{side}_orders"] / order_count, 6) if has_orders else None for side in ("pixel", "capi", "any")}
            if purchase else None,
            links={"order_id": r["by_order_id"], "event_id": r["by_event_id"], "value_time": r["by_value_time"], "unlinked": r["unlinked"]}
            if purchase else None,
            assumptions=rules[r["platform"]].assumptions,
            window_hours=rules[r["platform"]].dedup_window_hours,
            deduplicated={"event_id": r["merged_by_event_id"], "fallback": r["merged_by_fallback"]},
            orders_in_several_scopes=r["split_orders"] if purchase and r["scoped"] else None,
        )
    return out


def no_coverage_without_input(metrics: dict, inputs: dict) -> None:
    """The coverage of a path whose input was not given is unknown (null), not 0%: check input-missing says why."""
    for s in metrics.values():
        for side in ("pixel", "capi"):
            if s.coverage and not inputs[side].files:
                s.coverage[side] = None


def add_ranges(con, rules: dict[str, PlatformRules], metrics: dict) -> None:
    """The count under every reading of the rules the platforms do not confirm (engine/readings.py)."""
    found = ranges(con, rules, {key: s.reported_conversions for key, s in metrics.items()})
    for key, s in metrics.items():
        r = found.get(key)
        low, high = (r.low, r.high) if r else (s.reported_conversions, s.reported_conversions)
        s.reported_range = {"low": low, "high": high}
        s.inflation_range = {"low": round(low / s.orders, 6), "high": round(high / s.orders, 6)} if s.inflation_ratio is not None else None
        s.unconfirmed_rules = r.unconfirmed if r else []


def add_platform_reported(platform_reported: pd.DataFrame | None, metrics: dict, daily: list[dict]) -> None:
    """What the platforms' own dashboards show, beside the simulation (--platform-reported)."""
    for row in daily:
        row["platform_reported"] = row["model_gap"] = None
    if platform_reported is None:
        return
    totals = platform_reported.groupby(["platform", "event"])["conversions"].sum().to_dict()
    for key, s in metrics.items():
        if key in totals:
            s.platform_reported = int(totals[key])
            s.model_gap = round(s.reported_conversions / s.platform_reported - 1, 6) if s.platform_reported else None
    dated = platform_reported[platform_reported["date"].notna() & (platform_reported["event"] == "purchase")]
    by_day = dated.groupby(["platform", "date"])["conversions"].sum().to_dict()
    for row in daily:
        reported = by_day.get((row["platform"], row["date"]))
        row["platform_reported"] = None if reported is None else int(reported)
        row["model_gap"] = round(row["reported_conversions"] / reported - 1, 6) if reported else None


def add_order_value(con, metrics: dict) -> None:
    """Average order value per currency of the real orders, and the revenue each platform's extra conversions
    stand for. Never summed across currencies: with orders in two, the single figures are null."""
    per_currency = con.execute("""
        SELECT currency, count(*), avg(value)
        FROM (SELECT order_key, any_value(value) AS value, any_value(currency) AS currency
              FROM orders WHERE NOT excluded GROUP BY order_key)
        GROUP BY currency ORDER BY currency NULLS LAST""").fetchall()
    total = sum(n for _, n, _ in per_currency)
    named = [(c, n, a) for c, n, a in per_currency if c is not None]
    average = con.execute("""
        SELECT avg(value) FROM (SELECT any_value(value) AS value FROM orders WHERE NOT excluded GROUP BY order_key)""").fetchall()[0][0]
    single = len(named) <= 1  # one currency (orders without one taken as in it), or none given
    for s in metrics.values():
        if s.event != "purchase" or s.orders is None:
            continue
        s.currency = named[0][0] if len(named) == 1 else None
        s.average_order_value = _money(average) if single else None
        s.average_order_value_by_currency = {c: _money(a) for c, _, a in named if a is not None}
        if s.extra_conversions is None or not total:
            continue
        s.extra_revenue = _money(s.extra_conversions * average) if single and average is not None else None
        # Extra conversions shared out by each currency's share of the real orders, priced at that currency's average.
        s.extra_revenue_by_currency = {c: _money(s.extra_conversions * n / total * a) for c, n, a in named if a is not None}


def _money(value) -> float | None:
    return None if value is None else round(float(value), 2)


# Per platform and currency: the value of the purchase events the platform counts, and of the distinct real
# orders its purchase events were linked to (each order once, at the orders file's value and currency). An
# event without a currency takes its order's; a value with no currency at all cannot be priced and is left out.
ROAS_VALUES_SQL = """
WITH real AS (
    SELECT order_key, any_value(value) AS value, any_value(nullif(currency, '')) AS currency
    FROM orders WHERE NOT excluded GROUP BY order_key
), reported AS (
    SELECT a.platform, coalesce(nullif(a.currency, ''), o.currency) AS currency, sum(a.value) AS value
    FROM audit_events a LEFT JOIN real o ON o.order_key = a.link_key
    WHERE a.event_type = 'purchase' AND a.counts AND a.value IS NOT NULL
    GROUP BY ALL
), deduplicated AS (
    SELECT l.platform, o.currency, sum(o.value) AS value
    FROM (SELECT DISTINCT platform, link_key FROM purchases WHERE link_key IS NOT NULL) l
    JOIN real o ON o.order_key = l.link_key
    WHERE o.value IS NOT NULL
    GROUP BY ALL
)
SELECT platform, currency, 'reported' AS kind, value FROM reported WHERE currency IS NOT NULL
UNION ALL
SELECT platform, currency, 'deduplicated', value FROM deduplicated WHERE currency IS NOT NULL
"""


def add_roas(con, metrics: dict, spend: pd.DataFrame | None, rates: pd.DataFrame | None, period: dict, zone) -> None:
    """ROAS as the platform reports it and as the real orders support it, per currency (--spend).

    Currencies are never added together. A value in a currency the platform has no spend in is converted
    into the spend's currency only with a rate the user gave (exactly one spend currency must have one);
    otherwise it keeps its own entry, with no ROAS. Dated spend counts only on the days of the period.
    """
    if spend is None:
        return
    values: dict[tuple[str, str, str], float] = {(p, c, k): v for p, c, k, v in con.execute(ROAS_VALUES_SQL).fetchall()}
    first, last = (_local_day(period.get(end), zone) for end in ("start", "end"))
    inside = spend["date"].isna() | spend["date"].fillna("").between(first or "", last or "9999-12-31")
    rate_of = {} if rates is None else {(f, t): float(r) for f, t, r in rates[["from", "to", "rate"]].itertuples(index=False)}
    for (platform, event), s in metrics.items():
        if event != "purchase":
            continue
        mine = spend["platform"] == platform
        spent = {c: 0.0 for c in spend.loc[mine, "currency"]}  # 0 when every day of it lies outside the period
        spent.update(spend[mine & inside].groupby("currency")["spend"].sum().to_dict())
        entries = {c: {"spend": float(v), "reported": 0.0, "deduplicated": 0.0, "rates": []} for c, v in spent.items()}
        for currency in sorted({c for p, c, _ in values if p == platform}):
            targets = [t for t in spent if (currency, t) in rate_of] if currency not in spent else []
            into, rate = (targets[0], rate_of[(currency, targets[0])]) if len(targets) == 1 else (currency, 1.0)
            entry = entries.setdefault(into, {"spend": None, "reported": 0.0, "deduplicated": 0.0, "rates": []})
            if into != currency:
                entry["rates"].append({"from": currency, "to": into, "rate": rate})
            for kind in ("reported", "deduplicated"):
                entry[kind] += values.get((platform, currency, kind), 0.0) * rate
        s.roas = {}
        for currency in sorted(entries):
            e = entries[currency]
            days = spend[mine & (spend["currency"] == currency) & spend["date"].notna()]
            s.roas[currency] = {
                "spend": None if e["spend"] is None else round(e["spend"], 2),
                "conversion_value_reported": round(e["reported"], 2),
                "conversion_value_deduplicated": round(e["deduplicated"], 2),
                "roas_reported": round(e["reported"] / e["spend"], 6) if e["spend"] else None,
                "roas_deduplicated": round(e["deduplicated"] / e["spend"], 6) if e["spend"] else None,
                "exchange_rates": e["rates"],
                "spend_period": {"first_day": first, "last_day": last, "days_left_out": int((~inside[days.index]).sum())}
                if len(days) else None,
            }


def _local_day(stamp: str | None, zone) -> str | None:
    """The day (YYYY-MM-DD, in the audit's time zone) of a period bound from the result."""
    if not stamp:
        return None
    t = pd.Timestamp(stamp)
    return (t.tz_localize("UTC") if t.tzinfo is None else t).tz_convert(zone).date().isoformat()

# Days in the report's zone ($zone, an IANA name DuckDB's ICU knows): times are UTC inside, converted here at the edge.
DAILY_SQL = """
WITH purchase AS (SELECT platform, {event_day} AS day, counts FROM audit_events WHERE event_type = 'purchase'),
real_orders AS (SELECT order_key, {order_day} AS day FROM orders WHERE NOT excluded),
days AS (SELECT DISTINCT day FROM (SELECT day FROM purchase UNION ALL SELECT day FROM real_orders)),
reported AS (SELECT platform, day, count(*) FILTER (WHERE counts) AS n FROM purchase GROUP BY ALL),
real AS (SELECT day, count(DISTINCT order_key) AS n FROM real_orders GROUP BY ALL)
SELECT p.platform, d.day, coalesce(r.n, 0) AS reported_conversions, coalesce(o.n, 0) AS orders
FROM (SELECT DISTINCT platform FROM purchase) p CROSS JOIN days d
LEFT JOIN reported r ON r.platform = p.platform AND r.day = d.day
LEFT JOIN real o ON o.day = d.day
ORDER BY p.platform, d.day
"""

# Upper bounds in hours; the last bucket is open-ended.
GAP_BUCKETS = [(1 / 60, "under 1 minute"), (1, "1-60 minutes"), (6, "1-6 hours"), (24, "6-24 hours"),
               (48, "24-48 hours"), (168, "2-7 days"), (None, "over 7 days")]


def _day(column: str, utc: bool) -> str:
    """The day of a UTC time in $zone; in UTC itself, its date (ICU's conversion took 0.47 s of the series' 0.68 s
    at 10M events)."""
    return f"CAST({column} AS DATE)" if utc else f"timezone($zone, {column}::TIMESTAMPTZ)::DATE"


def daily_series(con, zone: str | None) -> list[dict]:
    """Per platform and day of the report's zone (--timezone): purchases the platform would count, real orders."""
    try:
        utc = resolve_timezone(zone) is dateutil_tz.UTC
        sql = DAILY_SQL.format(event_day=_day("event_time", utc), order_day=_day("created_at", utc))
        rows = con.execute(sql, {} if utc else {"zone": zone}).fetchall()
    except duckdb.Error as exc:
        raise UserError(f"--timezone {zone}: not a time zone the day boundaries can use ({str(exc).splitlines()[0]})") from exc
    return [{"platform": p, "date": d.isoformat(), "reported_conversions": r, "orders": o} for p, d, r, o in rows]


def pair_gaps(con) -> list[dict]:
    cases = " ".join(f"WHEN gap_hours < {upper} THEN {i}" for i, (upper, _) in enumerate(GAP_BUCKETS) if upper is not None)
    counts = dict(((p, b), n) for p, b, n in con.execute(
        f"SELECT platform, CASE {cases} ELSE {len(GAP_BUCKETS) - 1} END AS b, count(*) FROM pair_gaps GROUP BY ALL").fetchall())
    platforms = sorted({p for p, _ in counts})
    return [{"platform": p, "bucket": label, "upper_hours": upper, "pairs": counts.get((p, i), 0)}
            for p in platforms for i, (upper, label) in enumerate(GAP_BUCKETS)]
