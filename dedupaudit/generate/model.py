"""Reference model of the `dedupaudit check` per-platform figures: the spec in plain Python.

This is an independent oracle for the engine in `dedupaudit/` (written without reading it): the
model-equivalence tests compare the engine with it, and `dedupaudit generate` computes truth.json
with it. It is deliberately slow and simple: loops over lists of dicts, stdlib + PyYAML only.
Over 350 lines on purpose: it is one specification, read top to bottom; splitting it would scatter the
definitions the engine is checked against.

Every figure is built from counts that add up over sets of orders sharing no dedup key
(`figure_counts`, `add_counts`), so truth.json can be computed a chunk of orders at a time; one
chunk of everything is `reference_report`.

Inputs are already-parsed rows (rejected rows removed):
  event row: {platform, event_name, event_id, event_time (aware datetime),
              received_time (aware datetime or None), order_id, value (float or None),
              optional fbp, external_id, ttp, action_source, conversion_action}
  order row: {order_id, created_at (aware datetime), value (float or None), status}

`reference_report(...)` returns the `platforms` list of the JSON contract. Keys whose meaning the
spec leaves open (the per-order metrics of non-purchase types) are left out, so a comparison
only checks what the spec defines. `reference_series(...)` gives the figures beside it: `daily`,
`pair_gaps`, the average order value per currency and the inputs' `outside_period` and
`normalised_order_ids`.

Over 350 lines on purpose: it is one specification, read top to bottom beside docs/json-schema.md,
and every figure leans on the same few definitions (order_key, counted_flags, link_events).
"""
from __future__ import annotations

import copy
from collections import defaultdict
from itertools import combinations
from datetime import timedelta
from pathlib import Path

import yaml

EXCLUDED_STATUSES = {"test", "cancelled", "canceled", "voided"}
LINK_TOLERANCE = timedelta(minutes=15)

# Used only for a platform that has no rule file in the rules directory.
DEFAULT_RULES = {
    "meta": {"window_hours": 48, "case_sensitive": True, "same_source_dedup": True,
             "events": {"purchase": ["Purchase"], "add_to_cart": ["AddToCart"],
                        "initiate_checkout": ["InitiateCheckout"], "lead": ["Lead"]}},
    "tiktok": {"window_hours": 48, "case_sensitive": True, "same_source_dedup": True,
               "events": {"purchase": ["Purchase", "CompletePayment", "PlaceAnOrder"],
                          "add_to_cart": ["AddToCart"], "initiate_checkout": ["InitiateCheckout"],
                          "lead": ["Lead", "SubmitForm"]}},
    "snap": {"window_hours": 48, "case_sensitive": True, "same_source_dedup": True,
             "events": {"purchase": ["PURCHASE"], "add_to_cart": ["ADD_CART"],
                        "initiate_checkout": ["START_CHECKOUT"]}},
    "google": {"window_hours": None, "case_sensitive": True, "same_source_dedup": True,
               "events": {"purchase": ["purchase", "conversion"], "add_to_cart": ["add_to_cart"],
                          "initiate_checkout": ["begin_checkout"], "lead": ["generate_lead"]}},
}


def rule_from_yaml(d: dict) -> dict:
    return {"window_hours": d["dedup_window_hours"],
            "case_sensitive": d["names_case_sensitive"],
            "same_source_dedup": d["same_source_dedup"],
            "events": d["events"],
            "scope": d.get("dedup_scope"),
            "fallback": d.get("fallback"),
            "merged_names": d.get("merged_names") or {},
            "offline_after_hours": d.get("offline_after_hours"),
            "facts": d.get("facts", {}),
            "yaml": d}


def load_rules(rules_dir) -> dict:
    """Rule files in rules_dir (*.yaml); the defaults above for platforms without a file."""
    files = sorted(Path(rules_dir).glob("*.yaml")) + sorted(Path(rules_dir).glob("*.yml")) if rules_dir else []
    rules = {p: dict(r, scope=None, fallback=None, merged_names={}, offline_after_hours=None, facts={}, yaml=None)
             for p, r in DEFAULT_RULES.items()}
    for f in files:
        d = yaml.safe_load(f.read_text())
        rules[d["platform"]] = rule_from_yaml(d)
    return rules


def other_reading(rule: dict, facts: list) -> dict:
    """The rule under the other reading of each fact in `facts` (a dotted path and its `alternative` value)."""
    d = copy.deepcopy(rule["yaml"])
    for key in facts:
        *path, last = key.split(".")
        target = d
        for part in path:
            target = target[part]
        target[last] = rule["facts"][key]["alternative"]
    return rule_from_yaml(d)


# ---------------------------------------------------------------- small definitions

def id_missing(event_id) -> bool:
    return event_id is None or str(event_id).strip() == ""


def order_key(order_id):
    """'#1001', '1001', ' 1001 ', '# 1001' -> '1001'; None/blank -> None."""
    if order_id is None:
        return None
    s = str(order_id).strip()
    if s.startswith("#"):
        s = s[1:].strip()
    return s or None


def name_key(name: str, rule: dict) -> str:
    """The name the platform compares: case folded where names are not case-sensitive, legacy names merged."""
    fold = (lambda n: n) if rule["case_sensitive"] else str.lower
    merged = {fold(a): fold(b) for a, b in rule["merged_names"].items()}
    return merged.get(fold(name), fold(name))


def event_type(name: str, rule: dict):
    key = name_key(name, rule)
    for etype, names in rule["events"].items():
        if key in {name_key(n, rule) for n in names}:
            return etype
    return None


def memoised(f):
    """f(name, rule), remembered per rule: a shop repeats a handful of names millions of times."""
    def cached(name, rule):
        memo = rule.setdefault("memo", {})
        if (f, name) not in memo:
            memo[(f, name)] = f(name, rule)
        return memo[(f, name)]
    return cached


name_key, event_type = memoised(name_key), memoised(event_type)


def scope(e, rule) -> str:
    """What must match besides name and ID: Google's conversion action, Reddit's channel ('' elsewhere)."""
    sc = rule["scope"]
    if not sc:
        return ""
    value = e.get(sc["column"])
    if value is None or str(value).strip() == "":
        value = sc.get("pixel_default") if e["side"] == "pixel" else sc.get("capi_default")
    return str(value or "").strip().lower()


def offline(e, rule) -> bool:
    hours = rule["offline_after_hours"]
    return hours is not None and e["side"] == "capi" and received(e) - e["event_time"] > timedelta(hours=hours)


def received(e):
    return e["received_time"] if e.get("received_time") is not None else e["event_time"]


def is_excluded(order) -> bool:
    return (order.get("status") or "").strip().lower() in EXCLUDED_STATUSES


# ---------------------------------------------------------------- the dedup model

def counted_flags(events, rule) -> list:
    """Per event: 'counts', 'event_id' (merged by the ID key) or 'fallback' (merged by a fallback key).

    1. The ID key is (name, scope, ID), an offline event alone; without same-source dedup the k-th
       browser event of a key pairs only with the k-th server event. Within a key a window opens at
       the first event and covers [t, t + window]; the next event after it opens the next window.
       At one time the browser event comes first, then list order.
    2. The fallback: an event still counted (without an ID, unless the rule applies to all) is merged
       when an earlier event (same name and scope, same fallback value) was received at most the
       fallback window before it, from the side the rule allows.
    """
    window = None if rule["window_hours"] is None else timedelta(hours=rule["window_hours"])
    order = sorted(range(len(events)), key=lambda i: (received(events[i]), events[i]["side"] != "pixel", i))
    flags = ["counts"] * len(events)
    groups = defaultdict(list)
    for i in order:
        e = events[i]
        if not id_missing(e["event_id"]):
            groups[(name_key(e["event_name"], rule), scope(e, rule), e["event_id"], i if offline(e, rule) else -1)].append(i)
    for members in groups.values():
        slots = [members] if rule["same_source_dedup"] else _slots(members, events)
        for slot in slots:
            window_end = None
            for i in slot:
                t = received(events[i])
                if window_end is None or (window is not None and t > window_end):
                    window_end = t + window if window is not None else t
                else:
                    flags[i] = "event_id"
    fb = rule["fallback"]
    if fb:
        fb_window = None if fb["window_hours"] is None else timedelta(hours=fb["window_hours"])
        types = fb.get("event_types") or None
        earlier = defaultdict(list)  # (name, scope, fallback key, value) -> events received before, in order
        for i in order:
            c = events[i]
            keys = [(name_key(c["event_name"], rule), scope(c, rule), k, v) for k, v in fallback_values(c, fb)]
            if (flags[i] == "counts" and (fb["applies_to"] == "all" or id_missing(c["event_id"]))
                    and (not types or event_type(c["event_name"], rule) in types)
                    and any(_fallback_merges(events[j], c, fb, fb_window) for key in keys for j in earlier[key])):
                flags[i] = "fallback"
            for key in keys:
                earlier[key].append(i)
    return flags


def fallback_values(e, fb) -> set:
    """The (key, value) pairs an event offers the fallback: its fbp, external_id, ttp or order key, when set."""
    value = {"order_id": lambda e: order_key(e.get("order_id"))}
    pairs = {(k, value.get(k, lambda e, k=k: e.get(k))(e)) for k in fb["keys"]}
    return {(k, v) for k, v in pairs if v is not None}


def _fallback_merges(f, c, fb, fb_window) -> bool:
    """Whether the earlier event f (same name, scope and a fallback value) absorbs c."""
    if fb["order"] == "browser_first" and not (f["side"] == "pixel" and c["side"] == "capi"):
        return False
    if not fb["same_source"] and f["side"] == c["side"]:
        return False
    return fb_window is None or received(c) - received(f) <= fb_window


def _slots(members, events):
    """The k-th browser event of a key with the k-th server event (same-source duplicates are not merged)."""
    by_side = {"pixel": [i for i in members if events[i]["side"] == "pixel"],
               "capi": [i for i in members if events[i]["side"] == "capi"]}
    slots = [[i for side in ("pixel", "capi") for i in by_side[side][k:k + 1]]
             for k in range(max(len(v) for v in by_side.values()))]
    return [sorted(slot, key=members.index) for slot in slots]


def reported_conversions(events, rule) -> int:
    return sum(1 for f in counted_flags(events, rule) if f == "counts")


# ---------------------------------------------------------------- linking events to orders

def link_events(purchases, orders):
    """Return [(event, order key or None, how)] for one platform's purchase events."""
    own_key = [order_key(e.get("order_id")) for e in purchases]
    keys_by_id = defaultdict(set)
    for e, k in zip(purchases, own_key):
        if k is not None and not id_missing(e["event_id"]):
            keys_by_id[e["event_id"]].add(k)
    links = []
    for e, k in zip(purchases, own_key):
        how = "order_id" if k is not None else None
        if k is None and not id_missing(e["event_id"]) and len(keys_by_id[e["event_id"]]) == 1:
            k, how = next(iter(keys_by_id[e["event_id"]])), "event_id"
        if k is None and e.get("value") is not None:
            candidates = {order_key(o["order_id"]) for o in orders
                          if o.get("value") is not None
                          and round(o["value"], 2) == round(e["value"], 2)
                          and abs(o["created_at"] - e["event_time"]) <= LINK_TOLERANCE}
            if len(candidates) == 1:
                k, how = candidates.pop(), "value_time"
        links.append((e, k, how))
    return links


def purchase_metrics(purchases, counted_orders, rule) -> dict:
    """Per-order figures of one platform's purchases; `covered` counts the real orders each path reported."""
    window = None if rule["window_hours"] is None else timedelta(hours=rule["window_hours"])
    order_keys = {order_key(o["order_id"]) for o in counted_orders} - {None}
    by_order = defaultdict(lambda: {"pixel": [], "capi": []})
    for e, k, _ in link_events(purchases, counted_orders):
        if k is not None:
            by_order[k][e["side"]].append(e)

    mismatched = drift = outside = 0
    for sides in by_order.values():
        px, cx = sides["pixel"], sides["capi"]
        if not px or not cx:
            continue
        pixel_ids = {e["event_id"] for e in px if not id_missing(e["event_id"])}
        capi_ids = {e["event_id"] for e in cx if not id_missing(e["event_id"])}
        if pixel_ids and capi_ids and not pixel_ids & capi_ids:
            mismatched += 1
        if {name_key(e["event_name"], rule) for e in px} != {name_key(e["event_name"], rule) for e in cx}:
            drift += 1
        if window is not None and any(
                name_key(p["event_name"], rule) == name_key(c["event_name"], rule)
                and not id_missing(p["event_id"]) and p["event_id"] == c["event_id"]
                and abs(received(p) - received(c)) > window
                for p in px for c in cx):
            outside += 1

    def covered(side):
        return sum(1 for k in order_keys if k in by_order and side(by_order[k]))

    return {"mismatched_event_id": mismatched, "event_name_drift": drift, "outside_window": outside,
            "covered": {"pixel": covered(lambda s: s["pixel"]), "capi": covered(lambda s: s["capi"]),
                        "any": covered(lambda s: s["pixel"] or s["capi"])}}


# ---------------------------------------------------------------- the report

def alternatives(rule) -> list:
    """The unconfirmed facts of a rule file that have another reading."""
    return [k for k, f in rule["facts"].items() if isinstance(f, dict) and "alternative" in f]


def readings(rule) -> dict:
    """The rule under every combination of the other readings of its unconfirmed facts ({} = the rule file's)."""
    alts = alternatives(rule) if rule["yaml"] is not None else []
    return {frozenset(moved): other_reading(rule, list(moved)) if moved else rule
            for n in range(len(alts) + 1) for moved in combinations(alts, n)}


def count_under(of_platform, rule, etype) -> int:
    """Reported conversions of one event type of one platform's events under `rule`."""
    return reported_conversions([e for e in of_platform if event_type(e["event_name"], rule) == etype], rule)


def unconfirmed(counts: dict, rule) -> dict:
    """The range under the other reading of every unconfirmed fact, and the readings that change the count.

    `counts` is the count under every combination of readings (see `readings`). The low end moves every
    reading that lowers the count alone, together; the high end every one that raises it.
    """
    base, alts = counts[frozenset()], alternatives(rule)
    alone = {k: counts[frozenset([k])] for k in alts}
    ends = [base]
    for moved in ([k for k in alts if alone[k] < base], [k for k in alts if alone[k] > base]):
        if moved:
            ends.append(counts[frozenset(moved)])
    return {"reported_range": {"low": min(ends), "high": max(ends)},
            "unconfirmed_counts": {k: [base, alone[k]] for k in alts if alone[k] != base}}


def figure_counts(pixel_rows, capi_rows, order_rows, rules, since=None, until=None) -> dict:
    """The counts behind every figure: {"orders": n, "entries": {(platform, event type): counts}}.

    The counts add up (`add_counts`) over sets of orders whose events share no dedup key, so a shop
    can be computed a chunk of orders at a time. Entries are made for every type some reading gives.
    """
    def in_period(t):
        return (since is None or t >= since) and (until is None or t <= until)

    events = [dict(r, side=side, platform=str(r["platform"]).strip().lower())
              for side, rows in (("pixel", pixel_rows), ("capi", capi_rows))
              for r in rows if in_period(r["event_time"])]
    counted_orders = [o for o in order_rows
                      if in_period(o["created_at"]) and not is_excluded(o)
                      and order_key(o["order_id"]) is not None]

    entries = {}
    for platform in sorted({e["platform"] for e in events}):
        rule = rules[platform]
        of_platform = [e for e in events if e["platform"] == platform]
        under = readings(rule)
        names = {e["event_name"] for e in of_platform}
        for etype in sorted({event_type(n, r) for n in names for r in under.values()} - {None}):
            typed = [e for e in of_platform if event_type(e["event_name"], rule) == etype]
            flags = counted_flags(typed, rule)
            entry = {
                "pixel_events": sum(1 for e in typed if e["side"] == "pixel"),
                "capi_events": sum(1 for e in typed if e["side"] == "capi"),
                "reported_conversions": flags.count("counts"),
                "missing_event_id": {side: sum(1 for e in typed if e["side"] == side and id_missing(e["event_id"]))
                                     for side in ("pixel", "capi")},
                "deduplicated": {"event_id": flags.count("event_id"), "fallback": flags.count("fallback")},
                "readings": {moved: count_under(of_platform, r, etype) for moved, r in under.items()},
            }
            if etype == "purchase":
                entry.update(purchase_metrics(typed, counted_orders, rule))
                if rule["scope"]:
                    entry["orders_in_several_scopes"] = several_scopes(typed, flags, counted_orders, rule)
            entries[(platform, etype)] = entry
    return {"orders": len({order_key(o["order_id"]) for o in counted_orders}), "entries": entries}


def add_counts(a: dict, b: dict) -> dict:
    """The counts of two sets of orders together (numbers add, nested dicts add key by key)."""
    if isinstance(a, dict):
        return {k: add_counts(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in a | b}
    return a + b


def figures(counts: dict, rules) -> list:
    """The `platforms` list of the JSON contract from the counts: one entry per type with events."""
    report = []
    for (platform, etype), c in sorted(counts["entries"].items()):
        if c["pixel_events"] + c["capi_events"] == 0:
            continue
        rule = rules[platform]
        entry = {"platform": platform, "event": etype,
                 **{k: c[k] for k in ("pixel_events", "capi_events", "reported_conversions", "missing_event_id",
                                      "deduplicated")}}
        if etype == "purchase":
            orders = counts["orders"]
            entry.update({k: c[k] for k in ("mismatched_event_id", "event_name_drift", "outside_window")})
            entry["orders"] = orders
            entry["coverage"] = {side: n / orders if orders else None for side, n in c["covered"].items()}
            entry["inflation_ratio"] = entry["reported_conversions"] / orders if orders else None
            entry["orders_in_several_scopes"] = c.get("orders_in_several_scopes") if rule["scope"] else None
        else:
            entry.update({"orders": None, "inflation_ratio": None, "coverage": None})
        if rule["yaml"] is not None:
            entry.update(unconfirmed(c["readings"], rule))
        report.append(entry)
    return report


def reference_report(pixel_rows, capi_rows, order_rows, rules_dir, since=None, until=None) -> list:
    rules = load_rules(rules_dir)
    return figures(figure_counts(pixel_rows, capi_rows, order_rows, rules, since, until), rules)


def several_scopes(purchases, flags, orders, rule) -> int:
    """Orders whose counted purchase events fall in more than one scope (conversion action, channel)."""
    scopes = defaultdict(set)
    for (e, k, _), flag in zip(link_events(purchases, orders), flags):
        if k is not None and flag == "counts":
            scopes[k].add(scope(e, rule))
    return sum(1 for s in scopes.values() if len(s) > 1)


def link_counts(pixel_rows, capi_rows, order_rows, rules_dir, since=None, until=None) -> dict:
    """How many purchase events were linked by each means, per platform (for the generator's self-check)."""
    rules = load_rules(rules_dir)
    in_period = lambda t: (since is None or t >= since) and (until is None or t <= until)  # noqa: E731
    counted = [o for o in order_rows if in_period(o["created_at"]) and not is_excluded(o)]
    out = {}
    for platform, rule in rules.items():
        purchases = [dict(r, side=side) for side, rows in (("pixel", pixel_rows), ("capi", capi_rows))
                     for r in rows if str(r["platform"]).strip().lower() == platform
                     and in_period(r["event_time"]) and event_type(r["event_name"], rule) == "purchase"]
        tally = defaultdict(int)
        for _, _, how in link_events(purchases, counted):
            tally[how] += 1
        out[platform] = dict(tally)
    return out


# ---------------------------------------------------------------- series and input counts

# The pair-gap buckets of the JSON contract: (upper bound in hours, label); a gap equal to a bound is in the next
# bucket ("under 1 minute" excludes 1 minute). Copied from the engine's bucket edges, the only thing shared with it.
GAP_BUCKETS = [(1 / 60, "under 1 minute"), (1, "1-60 minutes"), (6, "1-6 hours"), (24, "6-24 hours"),
               (48, "24-48 hours"), (168, "2-7 days"), (None, "over 7 days")]


def reference_series(pixel_rows, capi_rows, order_rows, rules_dir, since=None, until=None, zone="UTC") -> dict:
    """The figures beside `platforms`: {"daily", "pair_gaps", "average_order_value", "inputs"}.

    daily: per platform with purchase events and per day of `zone` with a purchase event (of any platform) or a
      real order, the purchases it counts (flag 'counts', by event time) and the real orders created that day.
    pair_gaps: per platform, the orders both paths reported (as linked) by the time apart of the first browser
      and the first server purchase received, in GAP_BUCKETS, every bucket listed.
    average_order_value: {"by_currency", "average_order_value", "currency"} of the real orders, one value per
      order key; by currency leaves out orders naming none; with one currency named, the mean of every real
      order and that currency; with several, None for both.
    extra_revenue: per platform, {"extra_revenue", "extra_revenue_by_currency"}: its extra conversions (counted
      purchases - real orders) x the average order value, and shared out by each currency's share of the real
      orders at that currency's average (unrounded averages; money rounded to the cent).
    inputs: per side, `outside_period` (rows left out by since/until) and `normalised_order_ids` (readable rows,
      in the period or not, whose order ID is compared in another spelling: an account of the files, as `rows`).
    """
    from zoneinfo import ZoneInfo

    rules, tz = load_rules(rules_dir), ZoneInfo(zone)
    in_period = lambda t: (since is None or t >= since) and (until is None or t <= until)  # noqa: E731
    sides = {"pixel": pixel_rows, "capi": capi_rows, "orders": order_rows}
    time_of = {"pixel": "event_time", "capi": "event_time", "orders": "created_at"}
    inputs = {}
    for side, rows in sides.items():
        kept = [r for r in rows if in_period(r[time_of[side]])]
        renamed = sum(1 for r in rows if r.get("order_id") is not None and order_key(r["order_id"]) is not None
                      and order_key(r["order_id"]) != r["order_id"])
        inputs[side] = {"outside_period": len(rows) - len(kept), "normalised_order_ids": renamed}

    real = {}  # order key -> the first row of that order (an order exported twice is one order)
    for o in order_rows:
        if in_period(o["created_at"]) and not is_excluded(o) and order_key(o["order_id"]) is not None:
            real.setdefault(order_key(o["order_id"]), o)
    orders_per_day = defaultdict(int)
    for o in real.values():
        orders_per_day[o["created_at"].astimezone(tz).date()] += 1

    events = [dict(r, side=side, platform=str(r["platform"]).strip().lower())
              for side, rows in (("pixel", pixel_rows), ("capi", capi_rows)) for r in rows if in_period(r["event_time"])]
    daily, gaps, extra = [], [], {}
    days = set(orders_per_day) | {e["event_time"].astimezone(tz).date() for e in events
                                  if event_type(e["event_name"], rules[e["platform"]]) == "purchase"}
    for platform in sorted({e["platform"] for e in events}):
        rule = rules[platform]
        purchases = [e for e in events if e["platform"] == platform and event_type(e["event_name"], rule) == "purchase"]
        if not purchases:
            continue
        counted = defaultdict(int)
        for e, flag in zip(purchases, counted_flags(purchases, rule)):
            if flag == "counts":
                counted[e["event_time"].astimezone(tz).date()] += 1
        extra[platform] = sum(counted.values()) - len(real)
        daily += [{"platform": platform, "date": day.isoformat(), "reported_conversions": counted.get(day, 0),
                   "orders": orders_per_day.get(day, 0)} for day in sorted(days)]
        first = defaultdict(dict)  # order key -> side -> first received time
        for e, k, _ in link_events(purchases, list(real.values())):
            if k is not None:
                first[k][e["side"]] = min(first[k].get(e["side"], received(e)), received(e))
        pairs = defaultdict(int)
        for times in first.values():
            if len(times) == 2:
                hours = abs(times["capi"] - times["pixel"]).total_seconds() / 3600
                pairs[next(label for upper, label in GAP_BUCKETS if upper is None or hours < upper)] += 1
        gaps += [{"platform": platform, "bucket": label, "upper_hours": upper, "pairs": pairs.get(label, 0)}
                 for upper, label in GAP_BUCKETS]

    values, every = defaultdict(list), [o["value"] for o in real.values() if o.get("value") is not None]
    orders_in = defaultdict(int)  # currency -> real orders naming it (with a value or not): its share of the orders
    for o in real.values():
        currency = (o.get("currency") or "").strip().upper()
        if currency:
            orders_in[currency] += 1
            if o.get("value") is not None:
                values[currency].append(o["value"])
    mean = {c: sum(v) / len(v) for c, v in sorted(values.items())}
    one = len(orders_in) <= 1
    overall = sum(every) / len(every) if one and every else None
    revenue = {p: {"extra_revenue": None if overall is None else round(n * overall, 2),
                   "extra_revenue_by_currency": {c: round(n * orders_in[c] / len(real) * m, 2) for c, m in mean.items()}}
               for p, n in extra.items() if real}
    return {"daily": daily, "pair_gaps": gaps, "inputs": inputs, "extra_revenue": revenue,
            "average_order_value": {"by_currency": {c: round(m, 2) for c, m in mean.items()},
                                    "currency": next(iter(orders_in)) if len(orders_in) == 1 else None,
                                    "average_order_value": None if overall is None else round(overall, 2)}}
