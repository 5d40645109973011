"""Reference model of the `dedupaudit check` per-platform figures: the spec in plain Python.

This is an independent oracle for the engine in `dedupaudit/` (written without reading it).
It is deliberately slow and simple: loops over lists of dicts, stdlib + PyYAML only.

Inputs are already-parsed rows (rejected rows removed):
  event row: {platform, event_name, event_id, event_time (aware datetime),
              received_time (aware datetime or None), order_id, value (float or None)}
  order row: {order_id, created_at (aware datetime), value (float or None), status}

`reference_report(...)` returns the `platforms` list of the JSON contract. Keys whose meaning the
spec leaves open (the per-order metrics of non-purchase types) are left out, so a comparison
only checks what the spec defines.
"""
from __future__ import annotations

from collections import defaultdict
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


def load_rules(rules_dir) -> dict:
    """Rule files in rules_dir (*.yaml); the defaults above for platforms without a file."""
    files = sorted(Path(rules_dir).glob("*.yaml")) + sorted(Path(rules_dir).glob("*.yml")) if rules_dir else []
    rules = dict(DEFAULT_RULES)
    for f in files:
        d = yaml.safe_load(f.read_text())
        rules[d["platform"]] = {"window_hours": d["dedup_window_hours"],
                                "case_sensitive": d["names_case_sensitive"],
                                "same_source_dedup": d["same_source_dedup"],
                                "events": d["events"]}
    return rules


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
    return name if rule["case_sensitive"] else name.lower()


def event_type(name: str, rule: dict):
    key = name_key(name, rule)
    for etype, names in rule["events"].items():
        if key in {name_key(n, rule) for n in names}:
            return etype
    return None


def received(e):
    return e["received_time"] if e.get("received_time") is not None else e["event_time"]


def is_excluded(order) -> bool:
    return (order.get("status") or "").strip().lower() in EXCLUDED_STATUSES


# ---------------------------------------------------------------- the dedup model

def reported_conversions(events, rule) -> int:
    """Missing IDs count one each; per (name key, ID) a count opens a window [t, t + window]."""
    assert rule["same_source_dedup"], "same_source_dedup: false is not specified for the oracle"
    window = None if rule["window_hours"] is None else timedelta(hours=rule["window_hours"])
    count = sum(1 for e in events if id_missing(e["event_id"]))
    groups = defaultdict(list)
    for e in events:
        if not id_missing(e["event_id"]):
            groups[(name_key(e["event_name"], rule), e["event_id"])].append(received(e))
    for times in groups.values():
        window_end = None
        for t in sorted(times):
            if window_end is None or (window is not None and t > window_end):
                count += 1
                window_end = t + window if window is not None else t
    return count


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

    def share(side):
        if not order_keys:
            return None
        return sum(1 for k in order_keys if k in by_order and side(by_order[k])) / len(order_keys)

    return {"orders": len(order_keys), "mismatched_event_id": mismatched,
            "event_name_drift": drift, "outside_window": outside,
            "coverage": {"pixel": share(lambda s: s["pixel"]), "capi": share(lambda s: s["capi"]),
                         "any": share(lambda s: s["pixel"] or s["capi"])}}


# ---------------------------------------------------------------- the report

def reference_report(pixel_rows, capi_rows, order_rows, rules_dir, since=None, until=None) -> list:
    rules = load_rules(rules_dir)

    def in_period(t):
        return (since is None or t >= since) and (until is None or t <= until)

    events = [dict(r, side=side, platform=str(r["platform"]).strip().lower())
              for side, rows in (("pixel", pixel_rows), ("capi", capi_rows))
              for r in rows if in_period(r["event_time"])]
    counted_orders = [o for o in order_rows
                      if in_period(o["created_at"]) and not is_excluded(o)
                      and order_key(o["order_id"]) is not None]

    report = []
    for platform in sorted({e["platform"] for e in events}):
        rule = rules[platform]
        of_platform = [e for e in events if e["platform"] == platform]
        types = sorted({event_type(e["event_name"], rule) for e in of_platform} - {None})
        for etype in types:
            typed = [e for e in of_platform if event_type(e["event_name"], rule) == etype]
            entry = {
                "platform": platform, "event": etype,
                "pixel_events": sum(1 for e in typed if e["side"] == "pixel"),
                "capi_events": sum(1 for e in typed if e["side"] == "capi"),
                "reported_conversions": reported_conversions(typed, rule),
                "missing_event_id": {side: sum(1 for e in typed if e["side"] == side and id_missing(e["event_id"]))
                                     for side in ("pixel", "capi")},
            }
            if etype == "purchase":
                entry.update(purchase_metrics(typed, counted_orders, rule))
                entry["inflation_ratio"] = (entry["reported_conversions"] / entry["orders"]
                                            if entry["orders"] else None)
            else:
                entry.update({"orders": None, "inflation_ratio": None, "coverage": None})
            report.append(entry)
    return report


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
