"""Turn the example shop's canonical tables into the files people actually have.

Northwind Coffee Co. (see ../README.md) again, the same two weeks, but as the raw material an analyst
gets instead of the canonical tables:

  pixel/checkout_capture.har       a HAR capture of a few test purchases (browser network log)
  pixel/meta_pixel_log.csv         the rest of the browser events, as flat pixel logs written with
  pixel/tiktok_pixel_log.jsonl       each platform's own browser field names (eventID,
  pixel/snap_pixel_log.csv           client_dedup_id, transaction_id, ...)
  pixel/google_ads_tag_log.csv
  capi/meta_capi_requests.jsonl    Meta Conversions API bodies, wrapped in log records with the send
                                   time and Meta's response; includes one refused batch and one batch
                                   Meta only partly received
  capi/tiktok_events_api.json      TikTok Events API 2.0 bodies, a JSON array of log records; includes
                                   one batch sent with a test event code
  capi/snap_capi.jsonl.gz          Snap Conversions API v3 bodies, wrapped, with a +0200 send time (gzipped)
  capi/google_ads_uploads.jsonl    Google Ads click-conversion uploads, bare request bodies (one per day)
  orders/woocommerce_orders.csv    the orders until the shop moved to Shopify (2026-10-12, Berlin time)
  orders/shopify_orders.csv        the orders from then on: Shopify's export, one row per line item
  pilot/                           a one-day pilot on Pinterest, Reddit and LinkedIn: their CAPI logs
                                   and a HAR of the pilot's pixel requests (shown with `dedupaudit
                                   inspect`; not part of the four-platform audit)

Every event and order of the canonical tables is in exactly one of these files, with the same name,
ID, times, value and order, so `dedupaudit check` on the native files gives the same per-platform
figures as on the canonical tables (tests/test_native_equivalence.py). What the native files add is
never counted by the audit, by design: the refused, partly received and test batches, and one
pixel request an ad blocker stopped in the HAR. Two more differences are format facts, not figures:
Google has no event names, so both its sides read as `conversion` instead of `purchase`; and the
WooCommerce export writes local (Berlin) time without an offset, so run with --timezone Europe/Berlin.

All data is fictional. The files carry the kind of user data real ones do (hashed emails, IP
addresses from the documentation range 203.0.113.0/24, an email address in a page URL), all made up,
so that the tests can check none of it reaches the audit.

Deterministic, standard library only: `python examples/native/generate_native.py` rewrites the files
next to it from ../canonical/ (`--canonical DIR --out DIR` to use others).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

HERE = Path(__file__).resolve().parent
SEED = 20261012
SHOP = "https://shop.northwind-coffee.example"
SHOPIFY_FROM = datetime(2026, 10, 11, 22, 0, tzinfo=timezone.utc)  # 2026-10-12 00:00 in Berlin
HAR_TEST_ORDERS = 3  # test purchases captured in the HAR (the shop's own staff, status "test")
HAR_PAID_ORDERS = 2  # ... and real purchases in the same session, so Google shows too

META_PIXEL = "100000000000001"
META_API = f"https://graph.facebook.com/v21.0/{META_PIXEL}/events"
TIKTOK_PIXEL = "CNWEXAMPLE00000000000"
SNAP_PIXEL = "5d8a4a0e-0000-4000-8000-00000000c0ff"
GOOGLE_TAG = "123456789"
GOOGLE_LABEL = "NwPurchase01"
GOOGLE_CUSTOMER = "1234567890"
GOOGLE_ACTION = f"customers/{GOOGLE_CUSTOMER}/conversionActions/987654321"
PRODUCTS = {  # the shop's products (generate_shop.py prices), for Shopify's line items
    9.90: "Espresso capsules (10)", 12.50: "Filter papers (100)", 14.90: "House blend 250 g",
    16.90: "Ethiopia Yirgacheffe 250 g", 19.90: "Decaf Colombia 500 g", 24.90: "Espresso Milano 1 kg",
    34.00: "Hand grinder", 49.00: "Pour-over kettle",
}
SHIPPING, FREE_SHIPPING_FROM = 4.90, 39.00
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36"


# --- helpers ------------------------------------------------------------------------------------
def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def readable(text: str) -> bool:
    try:
        parse_utc(text)
        return True
    except ValueError:
        return False


def parse_any(value) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000 if value >= 1e11 else value, tz=timezone.utc)
    if value.endswith("Z"):
        return parse_utc(value)
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def berlin(moment: datetime) -> datetime:
    """Europe/Berlin in October 2026: +02:00 until 2026-10-25 01:00 UTC, +01:00 after."""
    offset = 2 if moment < datetime(2026, 10, 25, 1, tzinfo=timezone.utc) else 1
    return moment.astimezone(timezone(timedelta(hours=offset)))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def customer(order_id: str) -> str:
    return f"customer-{order_id.lower()}@example.com"  # fictional; never leaves the files


def ip(order_id: str) -> str:
    return f"203.0.113.{int(sha256(order_id)[:2], 16) % 254 + 1}"  # documentation range


def number(value: str):
    return float(value) if value not in ("", None) else None


def write_json_lines(path: Path, records) -> None:
    text = "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
    if path.suffix == ".gz":  # compressed the way log rotation leaves it; mtime 0 keeps the bytes reproducible
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --- browser side ---------------------------------------------------------------------------------
def har_orders(orders: list[dict], pixel: list[dict]) -> list[str]:
    """The orders of the captured session: a few staff test purchases and a few paid ones, all with a
    readable pixel purchase event on every platform that reports them."""
    by_order: dict[str, list[dict]] = {}
    for row in pixel:
        by_order.setdefault(row["order_id"], []).append(row)

    def clean(oid: str, platforms: set) -> bool:
        rows = by_order.get(oid, [])
        return {r["platform"] for r in rows} >= platforms and all(readable(r["event_time"]) for r in rows)

    test = [o["order_id"] for o in orders if o["status"] == "test" and clean(o["order_id"], {"meta", "tiktok", "snap"})]
    paid = [o["order_id"] for o in orders if o["status"] == "paid" and clean(o["order_id"], {"meta", "tiktok", "snap", "google"})]
    return test[:HAR_TEST_ORDERS] + paid[len(paid) // 2: len(paid) // 2 + HAR_PAID_ORDERS]


def har_entry(moment: datetime, method: str, url: str, status: int = 200, body: str | None = None,
              mime: str | None = None, kind: str = "image/gif", error: str | None = None) -> dict:
    entry = {
        "startedDateTime": berlin(moment).isoformat(timespec="milliseconds"),
        "time": 41.2,
        "request": {"method": method, "url": url, "httpVersion": "h2",
                    "headers": [{"name": "user-agent", "value": UA}], "queryString": [], "cookies": [],
                    "headersSize": -1, "bodySize": len(body or "")},
        "response": {"status": status, "statusText": "" if status == 0 else "OK", "httpVersion": "h2",
                     "headers": [], "cookies": [], "content": {"size": 0 if status == 0 else 43, "mimeType": kind},
                     "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0.2, "wait": 38.0, "receive": 3.0},
    }
    if body is not None:
        entry["request"]["postData"] = {"mimeType": mime, "text": body}
    if error:
        entry["response"]["_error"] = error
    return entry


def pixel_request(row: dict, page: str, moment: datetime, n: int) -> dict:
    oid, eid, value, currency = row["order_id"], row["event_id"], row["value"], row["currency"]
    ms = str(int(moment.timestamp() * 1000))
    if row["platform"] == "meta":
        params = {"id": META_PIXEL, "ev": row["event_name"], "dl": page, "rl": f"{SHOP}/checkout", "if": "false",
                  "ts": ms, "cd[value]": value, "cd[currency]": currency, "cd[order_id]": oid,
                  "ud[em]": sha256(customer(oid)), "v": "2.9.170", "r": "stable"}
        if eid:
            params["eid"] = eid
        if n % 2 == 0:  # the pixel sends short hits as GET...
            return har_entry(moment, "GET", "https://www.facebook.com/tr/?" + urlencode(params))
        head = {k: params.pop(k) for k in ("id", "ev")}  # ...and long ones as a POSTed form
        return har_entry(moment, "POST", "https://www.facebook.com/tr/?" + urlencode(head),
                         body=urlencode(params), mime="application/x-www-form-urlencoded")
    if row["platform"] == "tiktok":
        body = {"event": row["event_name"], "message_id": f"messageId-{ms}-{n}",
                "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "context": {"pixel": {"code": TIKTOK_PIXEL}, "page": {"url": page},
                            "user": {"email": sha256(customer(oid))}, "user_agent": UA},
                "properties": {"value": number(value), "currency": currency, "order_id": oid}}
        if eid:
            body["event_id"] = eid
        return har_entry(moment, "POST", "https://analytics.tiktok.com/api/v2/pixel", body=json.dumps(body),
                         mime="text/plain;charset=UTF-8", kind="application/json")
    if row["platform"] == "snap":
        params = {"pid": SNAP_PIXEL, "ev": row["event_name"], "pl": page, "ts": ms, "v": "1.5",
                  "client_dedup_id": eid, "transaction_id": oid, "price": value, "currency": currency,
                  "u_hem": sha256(customer(oid))}
        return har_entry(moment, "POST", "https://tr.snapchat.com/p", body=urlencode(params),
                         mime="application/x-www-form-urlencoded")
    if row["platform"] == "google":
        params = {"random": ms, "cv": "11", "fst": ms, "label": GOOGLE_LABEL, "value": value,
                  "currency_code": currency, "oid": eid, "url": page, "guid": "ON", "rnd": str(n)}
        return har_entry(moment, "GET", f"https://www.googleadservices.com/pagead/conversion/{GOOGLE_TAG}/?" + urlencode(params))
    raise ValueError(row["platform"])


def make_har(orders_in_session: list[str], pixel: list[dict]) -> dict:
    rows = sorted((r for r in pixel if r["order_id"] in orders_in_session), key=lambda r: r["event_time"])
    entries = []
    first = parse_utc(rows[0]["event_time"])
    for offset, (url, kind) in enumerate([
            ("https://connect.facebook.net/en_US/fbevents.js", "application/javascript"),
            (f"https://analytics.tiktok.com/i18n/pixel/events.js?sdkid={TIKTOK_PIXEL}&lib=ttq", "application/javascript"),
            ("https://sc-static.net/scevent.min.js", "application/javascript"),
            (f"https://www.googletagmanager.com/gtag/js?id=AW-{GOOGLE_TAG}", "application/javascript")]):
        entries.append(har_entry(first - timedelta(seconds=30 - offset), "GET", url, kind=kind))
    shown_pages = set()
    for n, row in enumerate(rows):
        moment = parse_utc(row["event_time"])
        page = f"{SHOP}/checkout/thank-you?order={row['order_id']}&email={quote(customer(row['order_id']))}"
        if row["order_id"] not in shown_pages:
            shown_pages.add(row["order_id"])
            entries.append(har_entry(moment - timedelta(seconds=1), "GET", page, kind="text/html"))
            if len(shown_pages) == 1:  # an ad blocker stops one PageView: refused in the browser, never counted
                blocked = {"id": META_PIXEL, "ev": "PageView", "dl": page, "ts": str(int(moment.timestamp() * 1000))}
                entries.append(har_entry(moment - timedelta(milliseconds=500), "GET",
                                         "https://www.facebook.com/tr/?" + urlencode(blocked), status=0,
                                         error="net::ERR_BLOCKED_BY_CLIENT"))
        entries.append(pixel_request(row, page, moment, n))
    entries.sort(key=lambda e: e["startedDateTime"])
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [], "entries": entries}}


def pixel_logs(rows: list[dict]) -> dict[str, tuple[list[str], list[dict]]]:
    """The browser events outside the HAR, per platform, in the platform's own field names."""
    out: dict[str, list[dict]] = {"meta": [], "tiktok": [], "snap": [], "google": []}
    for r in rows:
        p = r["platform"]
        if p == "meta":
            out[p].append({"timestamp": r["event_time"], "event": r["event_name"], "eventID": r["event_id"],
                           "value": r["value"], "currency": r["currency"], "order_id": r["order_id"]})
        elif p == "tiktok":
            ts = int(parse_utc(r["event_time"]).timestamp() * 1000) if readable(r["event_time"]) else r["event_time"]
            out[p].append({"ts": ts, "event": r["event_name"],
                           "event_id": r["event_id"], "value": number(r["value"]), "currency": r["currency"],
                           "order_id": r["order_id"] or None})
        elif p == "snap":
            out[p].append({"timestamp": r["event_time"], "event": r["event_name"], "client_dedup_id": r["event_id"],
                           "transaction_id": r["order_id"], "price": r["value"], "currency": r["currency"]})
        elif p == "google":
            assert r["event_id"] == r["order_id"], "google's transaction_id is its order id"
            out[p].append({"timestamp": r["event_time"], "event": "conversion", "send_to": f"AW-{GOOGLE_TAG}/{GOOGLE_LABEL}",
                           "transaction_id": r["event_id"], "value": r["value"], "currency": r["currency"]})
    return {
        "meta": (["timestamp", "event", "eventID", "value", "currency", "order_id"], out["meta"]),
        "tiktok": ([], out["tiktok"]),
        "snap": (["timestamp", "event", "client_dedup_id", "transaction_id", "price", "currency"], out["snap"]),
        "google": (["timestamp", "event", "send_to", "transaction_id", "value", "currency"], out["google"]),
    }


# --- server side ----------------------------------------------------------------------------------
def meta_event(r: dict) -> dict:
    event = {"event_name": r["event_name"], "event_time": r["event_time"], "action_source": "website",
             "event_source_url": f"{SHOP}/checkout/thank-you",
             "user_data": {"em": [sha256(customer(r["order_id"]))], "client_ip_address": ip(r["order_id"])},
             "custom_data": {"value": r["value"], "currency": r["currency"], "order_id": r["order_id"]}}
    if r["event_id"] is not None:
        event["event_id"] = r["event_id"]
    return event


def meta_log(rows: list[dict], rng: random.Random) -> list[dict]:
    records = []
    for r in rows:
        records.append({"timestamp": r["received_time"], "url": META_API, "body": {"data": [meta_event(r)]},
                        "status": 200, "response": {"events_received": 1, "messages": [],
                                                    "fbtrace_id": f"A{rng.getrandbits(64):016x}"}})
    # A batch Meta refused: the shop's first attempt with three events (an expired token), retried one by
    # one a minute later; the retries are the events above.
    refused = rows[400:403]
    sent = parse_any(refused[0]["received_time"]) - timedelta(minutes=1)
    records.append({"timestamp": sent.strftime("%Y-%m-%dT%H:%M:%SZ"), "url": META_API,
                    "body": {"data": [meta_event(r) for r in refused]}, "status": 400,
                    "response": {"error": {"message": "Error validating access token: Session has expired.",
                                           "type": "OAuthException", "code": 190, "error_subcode": 463,
                                           "fbtrace_id": f"A{rng.getrandbits(64):016x}"}}})
    # A batch Meta only partly received (events_received lower than sent), resent the same way.
    partial = rows[1800:1802]
    sent = parse_any(partial[0]["received_time"]) - timedelta(minutes=2)
    records.append({"timestamp": sent.strftime("%Y-%m-%dT%H:%M:%SZ"), "url": META_API,
                    "body": {"data": [meta_event(r) for r in partial]}, "status": 200,
                    "response": {"events_received": 1, "messages": [], "fbtrace_id": f"A{rng.getrandbits(64):016x}"}})
    records.sort(key=lambda rec: parse_any(rec["timestamp"]))
    return records


def tiktok_event(r: dict) -> dict:
    event = {"event": r["event_name"], "event_time": r["event_time"],
             "user": {"email": sha256(customer(r["order_id"])), "ip": ip(r["order_id"])},
             "properties": {"value": r["value"], "currency": r["currency"], "order_id": r["order_id"]}}
    if r["event_id"] is not None:
        event["event_id"] = r["event_id"]
    return event


def tiktok_log(rows: list[dict], rng: random.Random) -> list[dict]:
    records = []
    for r in rows:
        sent = parse_any(r["received_time"])
        records.append({"sent_at": int(sent.timestamp() * 1000),
                        "request": {"event_source": "web", "event_source_id": TIKTOK_PIXEL, "data": [tiktok_event(r)]},
                        "response": {"code": 0, "message": "OK", "request_id": f"{rng.getrandbits(80):020x}", "data": {}}})
    # QA checked the integration on the first afternoon with the Test Events tool: four purchases sent with
    # a test event code. TikTok never counts them.
    qa = datetime(2026, 10, 5, 13, 5, tzinfo=timezone.utc)
    test_events = [{"platform": "tiktok", "event_name": "Purchase", "event_id": f"qa-test-{i}", "order_id": f"QA-{i}",
                    "event_time": int((qa + timedelta(minutes=i)).timestamp()), "value": 19.9, "currency": "EUR"}
                   for i in range(1, 5)]
    records.append({"sent_at": int((qa + timedelta(minutes=5)).timestamp() * 1000),
                    "request": {"event_source": "web", "event_source_id": TIKTOK_PIXEL, "test_event_code": "TEST24817",
                                "data": [tiktok_event(r) for r in test_events]},
                    "response": {"code": 0, "message": "OK", "request_id": f"{rng.getrandbits(80):020x}", "data": {}}})
    records.sort(key=lambda rec: rec["sent_at"])
    return records


def snap_log(rows: list[dict]) -> list[dict]:
    records = []
    for r in rows:
        sent = berlin(parse_any(r["received_time"]))
        event = {"event_name": r["event_name"], "event_time": r["event_time"], "event_id": r["event_id"],
                 "action_source": "WEB", "event_source_url": f"{SHOP}/checkout/thank-you",
                 "user_data": {"em": [sha256(customer(r["order_id"]))], "client_ip_address": ip(r["order_id"])},
                 "custom_data": {"currency": r["currency"], "value": r["value"], "order_id": r["order_id"]}}
        records.append({"time": sent.strftime("%Y-%m-%d %H:%M:%S %z"),
                        "url": f"https://tr.snapchat.com/v3/{SNAP_PIXEL}/events",
                        "payload": {"data": [event]}, "response": {"status": "SUCCESS", "reason": "All records processed"}})
    return records


def google_uploads(rows: list[dict]) -> list[dict]:
    """One upload per (Berlin) day, as a nightly job sends them: bare request bodies, no response logged."""
    days: dict[str, list[dict]] = {}
    for r in rows:
        moment = berlin(parse_any(r["event_time"]))
        offset = moment.strftime("%z")
        days.setdefault(moment.date().isoformat(), []).append({
            "conversionAction": GOOGLE_ACTION,
            "conversionDateTime": moment.strftime("%Y-%m-%d %H:%M:%S") + f"{offset[:3]}:{offset[3:]}",
            "conversionValue": r["value"], "currencyCode": r["currency"], "orderId": r["event_id"]})
    return [{"customerId": GOOGLE_CUSTOMER, "conversions": conversions, "partialFailure": True}
            for _, conversions in sorted(days.items())]


# --- orders ---------------------------------------------------------------------------------------------
def line_items(value: float) -> list[tuple[str, float]]:
    """Products that add up to the order's value (less shipping below the free-shipping threshold)."""
    prices = sorted(PRODUCTS)
    for target in ([round(value - SHIPPING, 2)] if value - SHIPPING < FREE_SHIPPING_FROM else []) + [round(value, 2)]:
        found = _combination(prices, target, 4)
        if found:
            return [(PRODUCTS[p], p) for p in found]
    return [("Gift card", value)]


def _combination(prices: list[float], target: float, k: int) -> list[float] | None:
    if abs(target) < 0.005:
        return []
    if k == 0 or target < 0:
        return None
    for p in prices:
        rest = _combination([q for q in prices if q >= p], round(target - p, 2), k - 1)
        if rest is not None:
            return [p] + rest
    return None


def shopify_rows(orders: list[dict]) -> list[dict]:
    rows = []
    for n, o in enumerate(orders):
        created = datetime.fromisoformat(o["created_at"])
        value = float(o["value"])
        items = line_items(value)
        subtotal = round(sum(p for _, p in items), 2)
        status = o["status"].lower()
        cancelled = status in ("cancelled", "canceled")
        for i, (name, price) in enumerate(items):
            row = {"Name": "#" + o["order_id"], "Lineitem quantity": "1", "Lineitem name": name, "Lineitem price": f"{price:.2f}"}
            if i == 0:
                row.update({
                    "Email": customer(o["order_id"]),
                    "Financial Status": "voided" if status in ("voided", "cancelled", "canceled") else "paid",
                    "Paid at": created.strftime("%Y-%m-%d %H:%M:%S %z"),
                    "Fulfillment Status": "unfulfilled" if status != "paid" else "fulfilled",
                    "Currency": o["currency"], "Subtotal": f"{subtotal:.2f}", "Shipping": f"{value - subtotal:.2f}",
                    "Taxes": f"{value * 0.19 / 1.19:.2f}", "Total": f"{value:.2f}",
                    "Created at": created.strftime("%Y-%m-%d %H:%M:%S %z"),
                    "Cancelled at": (created + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S %z") if cancelled else "",
                    "Payment Method": "bogus" if status == "test" else "Shopify Payments",
                    "Tags": "test" if status == "test" else "",
                    "Id": str(6100000000000 + n),
                })
            rows.append(row)
    return rows


SHOPIFY_COLUMNS = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Currency", "Subtotal",
                   "Shipping", "Taxes", "Total", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
                   "Cancelled at", "Payment Method", "Id", "Tags"]


def woocommerce_rows(orders: list[dict]) -> list[dict]:
    status = {"paid": "wc-completed", "test": "wc-cancelled", "cancelled": "wc-cancelled", "canceled": "wc-cancelled",
              "voided": "wc-cancelled"}
    return [{"Order ID": str(48211 + n), "Order Number": o["order_id"],
             "Order Date": datetime.fromisoformat(o["created_at"]).strftime("%Y-%m-%d %H:%M:%S"),  # shop-local, no offset
             "Order Status": status[o["status"].lower()], "Order Currency": o["currency"], "Order Total": o["value"],
             "Payment Method Title": "Test order" if o["status"] == "test" else "Credit card",
             "Billing Email": customer(o["order_id"])}
            for n, o in enumerate(orders)]


# --- the pilot: Pinterest, Reddit, LinkedIn for one day --------------------------------------------
def pilot(orders: list[dict], rng: random.Random) -> dict[str, object]:
    day = [o for o in orders if o["status"] == "paid" and o["created_at"].startswith("2026-10-18")][:12]
    entries, pinterest, reddit, linkedin = [], [], [], []
    for n, o in enumerate(day):
        created = datetime.fromisoformat(o["created_at"]).astimezone(timezone.utc)
        browser = created + timedelta(seconds=5 + n)
        server = created + timedelta(seconds=60 + 7 * n)
        oid, value = o["order_id"], o["value"]
        ed = {"value": value, "currency": "EUR", "order_id": oid, "event_id": oid}
        entries.append(har_entry(browser, "GET", "https://ct.pinterest.com/v3/?" + urlencode(
            {"tid": "2612000000001", "event": "checkout", "ed": json.dumps(ed, separators=(",", ":")),
             "pd": json.dumps({"em": sha256(customer(oid))}), "noscript": "0"})))
        reddit_id = oid if n % 4 else ""  # every 4th: the pixel wrapper drops conversionId
        entries.append(har_entry(browser + timedelta(seconds=1), "GET", "https://alb.reddit.com/rp.gif?" + urlencode(
            {"ts": str(int(browser.timestamp() * 1000)), "id": "t2_nwexample", "event": "Purchase", "m.itemCount": "1",
             "m.value": "", "m.valueDecimal": value, "m.currency": "EUR", "m.transactionId": oid,
             "m.conversionId": reddit_id, "em": customer(oid)})))
        entries.append(har_entry(browser + timedelta(seconds=2), "GET", "https://px.ads.linkedin.com/collect/?" + urlencode(
            {"pid": "5550001", "conversionId": "17000001", "eventId": oid, "fmt": "gif"})))
        pinterest.append({"event_name": "checkout", "action_source": "web", "event_time": int(server.timestamp()),
                          "event_id": oid, "event_source_url": f"{SHOP}/checkout/thank-you",
                          "user_data": {"em": [sha256(customer(oid))]},
                          "custom_data": {"currency": "EUR", "value": value, "order_id": oid}})
        reddit.append({"sent_at": berlin(server).isoformat(), "request": {"data": {"events": [{
            "event_at": int(server.timestamp() * 1000), "action_source": "WEBSITE", "type": {"tracking_type": "PURCHASE"},
            "user": {"email": sha256(customer(oid)), "ip_address": ip(oid)},
            "metadata": {"conversion_id": oid, "value": float(value), "currency": "EUR", "item_count": 1}}]}},
            "response": {"data": {"message": "Successfully processed 1 conversion events."}}})
        linkedin.append({"conversion": "urn:lla:llaPartnerConversion:17000002", "conversionHappenedAt": int(server.timestamp() * 1000),
                         "conversionValue": {"currencyCode": "EUR", "amount": value},
                         "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256(customer(oid))}]},
                         "eventId": oid})
    # Pinterest: the day's events in one batch after the last order; Pinterest failed one of them (per-event status).
    statuses = [{"status": "processed"} for _ in pinterest]
    statuses[3] = {"status": "failed", "error_message": "event_time is too far in the past"}
    pinterest_log = [{"timestamp": berlin(datetime.fromtimestamp(pinterest[-1]["event_time"], timezone.utc) + timedelta(minutes=5)).isoformat(),
                      "url": "https://api.pinterest.com/v5/ad_accounts/549700000001/events",
                      "body": {"data": pinterest},
                      "response": {"num_events_received": len(pinterest), "num_events_processed": len(pinterest) - 1,
                                   "events": statuses}}]
    linkedin_log = [{"elements": linkedin[:6]}, {"elements": linkedin[6:]}]
    entries.sort(key=lambda e: e["startedDateTime"])
    har = {"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "131.0"}, "pages": [], "entries": entries}}
    return {"pilot_checkout.har": har, "pinterest_capi.jsonl": pinterest_log, "reddit_capi.json": reddit,
            "linkedin_capi.jsonl": linkedin_log}


# --- main -------------------------------------------------------------------------------------------------
def generate(canonical: Path, out: Path) -> dict:
    rng = random.Random(SEED)
    orders = list(csv.DictReader((canonical / "orders.csv").open(encoding="utf-8")))
    pixel = list(csv.DictReader((canonical / "pixel_events.csv").open(encoding="utf-8")))
    capi = [json.loads(line) for line in (canonical / "capi_events.jsonl").open(encoding="utf-8") if line.strip()]
    for folder in ("pixel", "capi", "orders", "pilot"):
        (out / folder).mkdir(parents=True, exist_ok=True)

    session = har_orders(orders, pixel)
    har = make_har(session, pixel)
    (out / "pixel" / "checkout_capture.har").write_text(json.dumps(har, indent=1) + "\n", encoding="utf-8")
    rest = [r for r in pixel if r["order_id"] not in session]
    logs = pixel_logs(rest)
    write_csv(out / "pixel" / "meta_pixel_log.csv", logs["meta"][1], logs["meta"][0])
    write_json_lines(out / "pixel" / "tiktok_pixel_log.jsonl", logs["tiktok"][1])
    write_csv(out / "pixel" / "snap_pixel_log.csv", logs["snap"][1], logs["snap"][0])
    write_csv(out / "pixel" / "google_ads_tag_log.csv", logs["google"][1], logs["google"][0])

    side = {p: [r for r in capi if r["platform"] == p] for p in ("meta", "tiktok", "snap", "google")}
    write_json_lines(out / "capi" / "meta_capi_requests.jsonl", meta_log(side["meta"], rng))
    (out / "capi" / "tiktok_events_api.json").write_text(
        "[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in tiktok_log(side["tiktok"], rng)) + "\n]\n",
        encoding="utf-8")
    write_json_lines(out / "capi" / "snap_capi.jsonl.gz", snap_log(side["snap"]))
    write_json_lines(out / "capi" / "google_ads_uploads.jsonl", google_uploads(side["google"]))

    shopify = [o for o in orders if datetime.fromisoformat(o["created_at"]) >= SHOPIFY_FROM]
    woo = [o for o in orders if datetime.fromisoformat(o["created_at"]) < SHOPIFY_FROM]
    write_csv(out / "orders" / "shopify_orders.csv", shopify_rows(shopify), SHOPIFY_COLUMNS)
    write_csv(out / "orders" / "woocommerce_orders.csv", woocommerce_rows(woo),
              ["Order ID", "Order Number", "Order Date", "Order Status", "Order Currency", "Order Total",
               "Payment Method Title", "Billing Email"])

    for name, content in pilot(orders, rng).items():
        path = out / "pilot" / name
        if name.endswith(".jsonl"):
            write_json_lines(path, content)
        else:
            path.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
    return {"har orders": session, "har entries": len(har["log"]["entries"]), "pixel log rows": len(rest),
            "shopify orders": len(shopify), "woocommerce orders": len(woo)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canonical", type=Path, default=HERE.parent / "canonical", help="folder of the canonical example shop")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the native files")
    args = parser.parse_args()
    summary = generate(args.canonical, args.out)
    for key, value in summary.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
