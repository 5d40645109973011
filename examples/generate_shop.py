"""Generate the example shop for dedupaudit: Northwind Coffee Co.

Northwind Coffee Co. is a fictional online coffee roaster in Berlin. It sells beans, capsules and
brewing gear to customers across Europe, in EUR, and advertises on Meta, TikTok, Snap and Google.
Each platform gets every purchase twice: once from the browser pixel on the order-confirmation page,
and once from the shop's server through the platform's Conversions API (CAPI). The platform is meant
to deduplicate the two copies and count the purchase once.

This script writes two weeks of that traffic (2026-10-05 to 2026-10-18, about 3,000 orders) to
examples/canonical/:

  orders.csv          the shop's backend orders: the truth the platforms' counts are measured against
  pixel_events.csv    what the browser pixels sent
  capi_events.jsonl   what the shop's server sent to each platform's Conversions API

Every platform except Google has its integration broken in its own way (see the PLANTED constants
below and examples/README.md); Google is the clean control. The data is fictional and carries no
personal data: no emails, phone numbers, IP addresses or user agents.

Deterministic (fixed seeds), standard library only. Run `python examples/generate_shop.py`: it
overwrites the files next to itself and prints what it planted.
"""

from __future__ import annotations

import csv
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20261005
OUT_DIR = Path(__file__).resolve().parent / "canonical"

# --- the shop ---------------------------------------------------------------------------------
START = datetime(2026, 10, 5, tzinfo=timezone.utc)  # first instant of the period (UTC)
DAYS = 14
N_ORDERS = 3000
FIRST_ORDER_NUMBER = 100001  # order ids are NW-100001, NW-100002, ...
TEST_RATE = 0.01  # orders placed by the shop's own staff, status "test"
CANCEL_RATE = 0.02  # cancelled orders; the status is spelled several ways
CANCEL_SPELLINGS = {"cancelled": 0.55, "canceled": 0.10, "Voided": 0.15, "CANCELED": 0.20}
# Orders per local (Europe/Berlin) hour of the day: quiet nights, lunch and evening peaks.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 12, 12, 10, 9, 9, 10, 12, 14, 15, 13, 8, 4]
PRODUCTS = [9.90, 12.50, 14.90, 16.90, 19.90, 24.90, 34.00, 49.00]  # EUR
SHIPPING, FREE_SHIPPING_FROM = 4.90, 39.00

# --- normal behaviour, all platforms -------------------------------------------------------------
PIXEL_DELAY_S = (2, 40)  # the confirmation page loads a few seconds after the order
CAPI_DELAY_S = (1, 240)  # the order webhook fires the server event within minutes
CAPI_SEND_DELAY_S = (0, 20)  # the server event reaches the platform (received_time)
BROWSE_RATE = {"add_to_cart": 0.40, "initiate_checkout": 0.60}  # meta and tiktok pixels only
ABANDONED_CARTS = 700  # browsing sessions that add to cart but never order (meta and tiktok)
ABANDONED_CHECKOUT_RATE = 0.35

# --- PLANTED failures, per platform ----------------------------------------------------------------
# meta: IDs are the order id on both sides ("NW-100123"), names "Purchase". Per order at most one of:
META_PIXEL_LOST = 0.05  # ad blockers
META_PIXEL_NO_ID = 0.03  # browser-events-without-id: the pixel wrapper drops eventID
META_CAPI_NO_ID = 0.12  # server-events-without-id: event_id empty (and now and then null)
META_CASE_VARIANT_ID = 0.04  # near-miss / mismatched IDs: pixel "nw-100123", CAPI "NW-100123"
META_LATE_BATCH = 40  # pairs-outside-window: CAPI events resent in one nightly batch ~3 days late
META_LATE_BATCH_OLD = 20  # events-too-old: ... plus events more than 7 days old in the same batch
META_LATE_BATCH_AT = datetime(2026, 10, 14, 1, 30, tzinfo=timezone.utc)  # 03:30 in Berlin
META_MILLISECONDS = 30  # wrong-time-unit: CAPI event_time in epoch milliseconds
META_LOWERCASE_NAME = 40  # case-only-name-drift: CAPI event_name "purchase"

# tiktok: IDs are the order id on both sides.
TIKTOK_PIXEL_LOST = 0.15  # low-coverage on the pixel path
TIKTOK_NAME_DRIFT = 0.35  # event-name-drift: pixel "CompletePayment", CAPI "Purchase"
TIKTOK_UNDEFINED_ID_ORDERS = 40  # placeholder / reused IDs: event_id "undefined" on both sides
TIKTOK_CHECKOUT_EVENTS = 25  # unknown-event-names: an old tag also fires "Checkout" on the pixel

# snap: CAPI event_id is the order id; names "PURCHASE" on both sides.
SNAP_PIXEL_LOST = 0.05
SNAP_PIXEL_RANDOM_ID = 0.60  # mismatched-event-ids: the pixel's client_dedup_id is a fresh UUID
SNAP_PIXEL_PREFIXED_ID = 0.05  # near-miss-event-ids: the pixel sends "snap_NW-100123"

# google: the clean control. transaction_id is the order id on both sides, names "purchase",
# no events for test or cancelled orders.
GOOGLE_PIXEL_LOST = 0.04

# meta, tiktok and snap also get events for test and cancelled orders (google does not).
# Exactly two pixel rows get an unreadable event_time, so the rejected-rows report shows.
MALFORMED_EVENT_TIMES = ["not-a-date", "2026-13-45T99:00:00Z"]

EXCLUDED_STATUSES = {"test", "cancelled", "canceled", "voided"}  # compared in lower case


# --- time helpers -------------------------------------------------------------------------------------
def berlin_offset(moment: datetime) -> timedelta:
    """Europe/Berlin's UTC offset: +02:00 from the last Sunday of March to the last Sunday of
    October (switching at 01:00 UTC), +01:00 otherwise."""

    def last_sunday(year: int, month: int) -> datetime:
        day = datetime(year, month + 1, 1, 1, tzinfo=timezone.utc) - timedelta(days=1)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    summer = last_sunday(moment.year, 3) <= moment < last_sunday(moment.year, 10)
    return timedelta(hours=2 if summer else 1)


def iso_berlin(moment: datetime) -> str:
    """'2026-10-05T09:14:03+02:00'"""
    return moment.astimezone(timezone(berlin_offset(moment))).isoformat(timespec="seconds")


def iso_utc(moment: datetime) -> str:
    """'2026-10-05T07:14:03Z'"""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def seconds(rng: random.Random, bounds: tuple[int, int]) -> timedelta:
    return timedelta(seconds=rng.randint(*bounds))


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- event rows ------------------------------------------------------------------------------------------
def pixel_event(platform, name, event_id, moment, order=None, value=None) -> dict:
    return {
        "platform": platform,
        "event_name": name,
        "event_id": event_id or "",
        "event_time": iso_utc(moment),
        "order_id": order["order_id"] if order else "",
        "value": f"{value if value is not None else order['value']:.2f}",
        "currency": "EUR",
        "_sort": moment,
    }


def capi_event(platform, name, event_id, moment, received, order, time_unit="seconds") -> dict:
    event_time = epoch_seconds(moment)
    if time_unit == "milliseconds":
        event_time *= 1000
    return {
        "platform": platform,
        "event_name": name,
        "event_id": event_id,
        "event_time": event_time,
        "received_time": iso_utc(received),
        "order_id": order["order_id"],
        "value": order["value"],
        "currency": "EUR",
        "_sort": received,
    }


def purchase_times(rng: random.Random, order: dict) -> tuple[datetime, datetime, datetime]:
    """(pixel event time, CAPI event time, CAPI received time) for one order."""
    created = order["_created"]
    capi_time = created + seconds(rng, CAPI_DELAY_S)
    return created + seconds(rng, PIXEL_DELAY_S), capi_time, capi_time + seconds(rng, CAPI_SEND_DELAY_S)


def is_excluded(order: dict) -> bool:
    return order["status"].lower() in EXCLUDED_STATUSES


# --- the shop's orders -------------------------------------------------------------------------------
def make_orders(rng: random.Random) -> list[dict]:
    end = START + timedelta(days=DAYS)
    first_local_day = (START + berlin_offset(START)).date()
    times = []
    while len(times) < N_ORDERS:
        day = first_local_day + timedelta(days=rng.randrange(DAYS + 1))
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))
        utc = (local - berlin_offset(local.replace(tzinfo=timezone.utc))).replace(tzinfo=timezone.utc)
        if START <= utc < end:
            times.append(utc)
    times.sort()

    orders = []
    for number, created in enumerate(times, start=FIRST_ORDER_NUMBER):
        items = rng.choices(PRODUCTS, k=rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0])
        value = round(sum(items), 2)
        if value < FREE_SHIPPING_FROM:
            value = round(value + SHIPPING, 2)
        draw = rng.random()
        if draw < TEST_RATE:
            status = "test"
        elif draw < TEST_RATE + CANCEL_RATE:
            status = rng.choices(list(CANCEL_SPELLINGS), weights=list(CANCEL_SPELLINGS.values()))[0]
        else:
            status = "paid"
        orders.append({"order_id": f"NW-{number}", "_created": created, "value": value, "status": status})
    return orders


# --- one function per platform's behaviour ------------------------------------------------------------
def meta_events(rng: random.Random, orders: list[dict], planted: dict) -> tuple[list, list]:
    """Meta: eventID / event_id should both be the order id, names 'Purchase' on both sides."""
    paid = [o for o in orders if not is_excluded(o)]

    # The nightly batch: a stuck queue resent at META_LATE_BATCH_AT, holding events ~3 days old
    # and a handful more than 7 days old.
    def created_between(days_before: int) -> list[dict]:
        hi = META_LATE_BATCH_AT - timedelta(days=days_before)
        return [o for o in paid if hi - timedelta(hours=12) <= o["_created"] < hi]

    late = rng.sample(created_between(3), META_LATE_BATCH) + rng.sample(created_between(8), META_LATE_BATCH_OLD)
    late.sort(key=lambda o: o["_created"])
    late_ids = {o["order_id"]: i for i, o in enumerate(late)}

    kind = {}
    for order in orders:
        if order["order_id"] in late_ids:
            kind[order["order_id"]] = "late_batch"
            continue
        draw, edge = rng.random(), 0.0
        kind[order["order_id"]] = "clean"
        for name, rate in [("pixel_lost", META_PIXEL_LOST), ("pixel_no_id", META_PIXEL_NO_ID),
                           ("capi_no_id", META_CAPI_NO_ID), ("case_variant", META_CASE_VARIANT_ID)]:
            edge += rate
            if draw < edge:
                kind[order["order_id"]] = name
                break
    clean_paid = [o for o in paid if kind[o["order_id"]] == "clean"]
    chosen = rng.sample(clean_paid, META_MILLISECONDS + META_LOWERCASE_NAME)
    for order in chosen[:META_MILLISECONDS]:
        kind[order["order_id"]] = "milliseconds"
    for order in chosen[META_MILLISECONDS:]:
        kind[order["order_id"]] = "lowercase_name"

    pixel, capi = [], []
    for order in orders:
        oid, k = order["order_id"], kind[order["order_id"]]
        pixel_time, capi_time, received = purchase_times(rng, order)
        if k == "late_batch":
            received = META_LATE_BATCH_AT + timedelta(seconds=late_ids[oid])
        if k != "pixel_lost":
            pixel_id = {"pixel_no_id": "", "case_variant": oid.lower()}.get(k, oid)
            pixel.append(pixel_event("meta", "Purchase", pixel_id, pixel_time, order))
        capi_id = oid
        if k == "capi_no_id":
            capi_id = None if rng.random() < 0.25 else ""  # mostly "", sometimes null
        name = "purchase" if k == "lowercase_name" else "Purchase"
        unit = "milliseconds" if k == "milliseconds" else "seconds"
        capi.append(capi_event("meta", name, capi_id, capi_time, received, order, unit))
        planted[f"meta {k}"] = planted.get(f"meta {k}", 0) + 1
    return pixel, capi


def tiktok_events(rng: random.Random, orders: list[dict], planted: dict) -> tuple[list, list]:
    """TikTok: event_id should be the order id on both sides, names 'Purchase' (or another
    purchase name, but the same one on both sides)."""
    lost = {o["order_id"] for o in orders if rng.random() < TIKTOK_PIXEL_LOST}
    drift = {o["order_id"] for o in orders if rng.random() < TIKTOK_NAME_DRIFT}
    paid = [o for o in orders if not is_excluded(o)]
    undefined = {o["order_id"] for o in rng.sample(
        [o for o in paid if o["order_id"] not in lost | drift], TIKTOK_UNDEFINED_ID_ORDERS)}
    checkout = {o["order_id"] for o in rng.sample(
        [o for o in paid if o["order_id"] not in lost], TIKTOK_CHECKOUT_EVENTS)}

    pixel, capi = [], []
    for order in orders:
        oid = order["order_id"]
        pixel_time, capi_time, received = purchase_times(rng, order)
        event_id = "undefined" if oid in undefined else oid
        if oid not in lost:
            name = "CompletePayment" if oid in drift else "Purchase"
            pixel.append(pixel_event("tiktok", name, event_id, pixel_time, order))
            if oid in checkout:
                pixel.append(pixel_event("tiktok", "Checkout", oid, pixel_time + timedelta(seconds=1), order))
        capi.append(capi_event("tiktok", "Purchase", event_id, capi_time, received, order))
    planted.update({"tiktok pixel_lost": len(lost), "tiktok name_drift (all orders)": len(drift),
                    "tiktok name_drift (pixel sent)": len(drift - lost),
                    "tiktok undefined_id orders": len(undefined), "tiktok Checkout events": len(checkout)})
    return pixel, capi


def snap_events(rng: random.Random, orders: list[dict], planted: dict) -> tuple[list, list]:
    """Snap: client_dedup_id (pixel) should equal event_id (CAPI), the order id; names 'PURCHASE'."""
    pixel, capi = [], []
    for order in orders:
        oid = order["order_id"]
        pixel_time, capi_time, received = purchase_times(rng, order)
        if rng.random() >= SNAP_PIXEL_LOST:
            draw = rng.random()
            if draw < SNAP_PIXEL_RANDOM_ID:
                pixel_id, k = random_uuid(rng), "random_id"
            elif draw < SNAP_PIXEL_RANDOM_ID + SNAP_PIXEL_PREFIXED_ID:
                pixel_id, k = f"snap_{oid}", "prefixed_id"
            else:
                pixel_id, k = oid, "clean"
            pixel.append(pixel_event("snap", "PURCHASE", pixel_id, pixel_time, order))
        else:
            k = "pixel_lost"
        capi.append(capi_event("snap", "PURCHASE", oid, capi_time, received, order))
        planted[f"snap {k}"] = planted.get(f"snap {k}", 0) + 1
    return pixel, capi


def google_events(rng: random.Random, orders: list[dict], planted: dict) -> tuple[list, list]:
    """Google: the clean control. transaction_id is the order id on both sides, name 'purchase',
    only real (paid) orders are reported."""
    pixel, capi = [], []
    for order in orders:
        if is_excluded(order):
            continue
        oid = order["order_id"]
        pixel_time, capi_time, received = purchase_times(rng, order)
        if rng.random() >= GOOGLE_PIXEL_LOST:
            pixel.append(pixel_event("google", "purchase", oid, pixel_time, order))
        else:
            planted["google pixel_lost"] = planted.get("google pixel_lost", 0) + 1
        capi.append(capi_event("google", "purchase", oid, capi_time, received, order))
    return pixel, capi


def browsing_events(rng: random.Random, orders: list[dict], planted: dict) -> list:
    """AddToCart and InitiateCheckout from the meta and tiktok pixels, with per-event IDs and no
    order id (the order does not exist yet), so other event types than purchase appear."""
    sessions = [(o["_created"], o["value"]) for o in orders]
    end = START + timedelta(days=DAYS)
    for _ in range(ABANDONED_CARTS):
        sessions.append((START + timedelta(seconds=rng.randrange(int((end - START).total_seconds()))), None))
    rows = []
    for platform in ("meta", "tiktok"):
        for moment, value in sessions:
            cart_value = value if value is not None else rng.choice(PRODUCTS)
            ordered = value is not None
            if (not ordered) or rng.random() < BROWSE_RATE["add_to_cart"]:
                at = moment - timedelta(seconds=rng.randint(300, 1800)) if ordered else moment
                event_id = f"atc-{rng.getrandbits(48):012x}"
                rows.append(pixel_event(platform, "AddToCart", event_id, at, value=cart_value))
            checkout_rate = BROWSE_RATE["initiate_checkout"] if ordered else ABANDONED_CHECKOUT_RATE
            if rng.random() < checkout_rate:
                if ordered:
                    at = moment - timedelta(seconds=rng.randint(60, 290))
                else:
                    at = moment + timedelta(seconds=rng.randint(30, 600))
                event_id = f"ic-{rng.getrandbits(48):012x}"
                rows.append(pixel_event(platform, "InitiateCheckout", event_id, at, value=cart_value))
    planted["browsing events (meta+tiktok)"] = len(rows)
    return rows


def break_two_pixel_rows(rng: random.Random, pixel: list[dict], planted: dict) -> None:
    """Give two purchase rows (one meta, one snap) an event_time no parser can read."""
    for platform, bad_time in zip(("meta", "snap"), MALFORMED_EVENT_TIMES):
        candidates = [r for r in pixel
                      if r["platform"] == platform and r["order_id"] and r["event_id"] == r["order_id"]]
        row = rng.choice(candidates)
        row["event_time"] = bad_time
        planted[f"malformed pixel row ({platform} {row['order_id']})"] = bad_time


# --- writing ---------------------------------------------------------------------------------------------
def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")


def main() -> None:
    planted: dict = {}
    orders = make_orders(random.Random(f"{SEED}-orders"))
    pixel, capi = [], []
    for platform, behaviour in [("meta", meta_events), ("tiktok", tiktok_events),
                                ("snap", snap_events), ("google", google_events)]:
        p, c = behaviour(random.Random(f"{SEED}-{platform}"), orders, planted)
        pixel += p
        capi += c
    pixel += browsing_events(random.Random(f"{SEED}-browsing"), orders, planted)
    pixel.sort(key=lambda r: r["_sort"])  # a pixel export is in event order
    capi.sort(key=lambda r: r["_sort"])  # a server log is in send order
    break_two_pixel_rows(random.Random(f"{SEED}-malformed"), pixel, planted)

    for order in orders:
        order["created_at"] = iso_berlin(order["_created"])
        order["value"] = f"{order['value']:.2f}"
        order["currency"] = "EUR"

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_csv(OUT_DIR / "orders.csv", orders, ["order_id", "created_at", "value", "currency", "status"])
    write_csv(OUT_DIR / "pixel_events.csv", pixel,
              ["platform", "event_name", "event_id", "event_time", "order_id", "value", "currency"])
    write_jsonl(OUT_DIR / "capi_events.jsonl", capi,
                ["platform", "event_name", "event_id", "event_time", "received_time", "order_id", "value", "currency"])

    statuses: dict = {}
    for order in orders:
        statuses[order["status"]] = statuses.get(order["status"], 0) + 1
    print(f"wrote {OUT_DIR}: {len(orders)} orders, {len(pixel)} pixel events, {len(capi)} CAPI events")
    print("order statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
    for key, value in planted.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
