"""The generated shop, one chunk of orders at a time: numpy draws, Arrow columns, no row loops.

Each order gets, per platform, a purchase from the pixel and from the server (CAPI) with the failures
of rates.py drawn independently. The events of two orders never share a dedup key (event ID, fbp,
external_id, _ttp, order ID), except the placeholder ID `undefined`: truth.py relies on that to run
the model a chunk of orders at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ORDERS = 100_000  # fixed, not an option: the chunk's index seeds its draws, so the bytes depend on --seed alone
START = int(np.datetime64("2026-10-01T00:00:00", "s").astype(np.int64))
DAYS = 28
PIXEL_ID_STEP = 7_919_993  # odd, not a multiple of 5: n -> n * step mod 10**12 never repeats, so pixel IDs are unique
HOUR = 3600


class Names(NamedTuple):
    purchase: str
    drift_side: str  # the path that sends the drifted name
    drift: str
    other: str       # the add-to-cart event


PLATFORMS = {
    "meta": Names("Purchase", "capi", "purchase", "AddToCart"),
    "tiktok": Names("Purchase", "pixel", "CompletePayment", "AddToCart"),
    "snap": Names("PURCHASE", "capi", "Purchase", "ADD_CART"),
    "google": Names("purchase", "capi", "conversion", "add_to_cart"),
}
FALLBACK_KEYS = {"meta": ("fbp", "external_id"), "tiktok": ("ttp",)}  # the platforms' documented or possible fallback keys

TIME = pa.timestamp("s", tz="UTC")
EVENT_SCHEMA = pa.schema([("platform", pa.string()), ("event_name", pa.string()), ("event_id", pa.string()),
                          ("event_time", TIME), ("received_time", TIME), ("order_id", pa.string()),
                          ("value", pa.float64()), ("currency", pa.string()),
                          ("fbp", pa.string()), ("external_id", pa.string()), ("ttp", pa.string())])
ORDER_SCHEMA = pa.schema([("order_id", pa.string()), ("created_at", TIME), ("value", pa.float64()),
                          ("currency", pa.string()), ("status", pa.string())])


@dataclass
class Chunk:
    """One chunk's tables; each has an extra `order` column (the order's index in the shop, not written)."""

    pixel: pa.Table
    capi: pa.Table
    orders: pa.Table
    placeholder_orders: np.ndarray  # indexes of the orders with a placeholder ID on any platform


def chunks(n_orders: int, seed: int, rates: dict, platforms: list[str]) -> Iterator[Chunk]:
    for lo in range(0, n_orders, CHUNK_ORDERS):
        yield make_chunk(lo, min(lo + CHUNK_ORDERS, n_orders), n_orders, seed, rates, platforms)


def text(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def where(mask: np.ndarray, yes, no) -> pa.Array:
    return pc.if_else(pa.array(mask), yes, no)


def make_chunk(lo: int, hi: int, n_orders: int, seed: int, rates: dict, platforms: list[str]) -> Chunk:
    rng = np.random.default_rng([seed, lo // CHUNK_ORDERS])
    index = np.arange(lo, hi)
    n = len(index)
    number = 100_001 + index
    created = START + index * (DAYS * 86_400) // n_orders + rng.integers(0, 60, n)
    order_id = text("NW-", number)
    value = pa.array(rng.integers(900, 25_000, n) / 100)
    cancelled = rng.random(n) < rates["cancelled_orders"]
    test = ~cancelled & (rng.random(n) < rates["test_orders"])
    status = pa.array(np.where(cancelled, "cancelled", np.where(test, "test", "paid")))
    orders = pa.table({"order_id": order_id, "created_at": pa.array(created, TIME), "value": value,
                       "currency": pa.repeat("EUR", n), "status": status, "order": index})

    sides = {"pixel": [], "capi": []}
    placeholder = np.zeros(n, bool)
    none = pa.nulls(n, pa.string())
    for platform in platforms:
        names = PLATFORMS[platform]
        hit = {k: rng.random(n) < rates[k] for k in ("pixel_loss", "capi_loss", "pixel_missing_id", "capi_missing_id",
                                                    "independent_ids", "refires", "placeholder_ids", "name_drift",
                                                    "late_batches", "fallback_keys", "other_events")}
        fallback = hit["fallback_keys"] if platform in FALLBACK_KEYS else np.zeros(n, bool)
        placeholder |= hit["placeholder_ids"]

        pixel_id = where(hit["independent_ids"], text("px-", number * PIXEL_ID_STEP % 10**12), order_id)
        pixel_id = where(hit["pixel_missing_id"], none, pixel_id)
        capi_id = where(hit["capi_missing_id"] | fallback, none, order_id)
        pixel_id, capi_id = (where(hit["placeholder_ids"], "undefined", ids) for ids in (pixel_id, capi_id))
        drifted = where(hit["name_drift"], names.drift, names.purchase)
        name = {side: drifted if side == names.drift_side else pa.repeat(names.purchase, n) for side in sides}
        offered = {"fbp": pc.binary_join_element_wise(text("fb.1.", created * 1000), text(".", number), ""), "external_id": text("cust-", number),
                   "ttp": text("ttp-", number)}
        keys = {k: where(fallback, offered[k], none) if k in FALLBACK_KEYS.get(platform, ()) else none
                for k in ("fbp", "external_id", "ttp")}

        pixel_time = created + rng.integers(0, 60, n)
        capi_time = created + rng.integers(0, 120, n)
        capi_received = np.where(hit["late_batches"], capi_time + 49 * HOUR + rng.integers(0, 12 * HOUR, n),
                                 capi_time + rng.integers(1, 900, n))
        refire_time = pixel_time + rng.integers(1, 600, n)
        cart_time = created - rng.integers(60, HOUR, n)
        cart_id = text("atc-", number)

        def events(keep, event_name, event_id, t, received, fallback_keys=True):
            cols = {"platform": pa.repeat(platform, n), "event_name": event_name, "event_id": event_id,
                    "event_time": pa.array(t, TIME), "received_time": pa.nulls(n, TIME) if received is None else pa.array(received, TIME),
                    "order_id": order_id, "value": value, "currency": pa.repeat("EUR", n),
                    **(keys if fallback_keys else {k: none for k in keys}), "order": index}
            return pa.table(cols).filter(pa.array(keep))

        sides["pixel"] += [events(~hit["pixel_loss"], name["pixel"], pixel_id, pixel_time, None),
                           events(~hit["pixel_loss"] & hit["refires"], name["pixel"], pixel_id, refire_time, None),
                           events(hit["other_events"], pa.repeat(names.other, n), cart_id, cart_time, None, False)]
        sides["capi"] += [events(~hit["capi_loss"], name["capi"], capi_id, capi_time, capi_received),
                          events(hit["other_events"], pa.repeat(names.other, n), cart_id, cart_time, cart_time + 30, False)]
    pixel, capi = (pa.concat_tables(tables) for tables in sides.values())
    return Chunk(pixel, capi, orders, index[placeholder])
