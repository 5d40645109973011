"""Random fictional shop in the canonical input format, for the model-equivalence test.

`generate_shop(seed, out_dir)` writes pixel files (out_dir/pixel/), CAPI files (out_dir/capi/) and
out_dir/orders.csv, and returns the rows as the reference model needs them (true datetimes,
rejected rows left out) plus the file lists and row/rejected counts.

Everything is drawn from random.Random(seed); the base date is fixed, so the same seed gives the
same bytes. All true times are whole seconds, so every timestamp form represents them exactly.

What a shop contains (per order and platform a scenario is drawn from SCENARIOS):
- platforms meta, tiktok, snap, google; platform column sometimes in other case / padded;
- clean pairs; missing IDs (null, "", "   ") on either or both sides; `undefined` placeholders
  (one side, or both sides so that many orders share one key); independently generated IDs;
  near-miss IDs (case, padding, prefix); Google transaction IDs that are order numbers, some
  zero-padded;
- name drift (TikTok CompletePayment vs Purchase, Google purchase vs conversion) and case variants
  outside the taxonomy (Meta `purchase`, Snap `Purchase`, `Purchase `);
- CAPI received 48 h + 1 min .. 5 days after the pixel; pairs at exactly 48 h and 48 h + 1 s (both
  orders of arrival); duplicate pixel fires (same second, minutes, ~48 h, exactly 48 h, 48 h + 1 s
  later); CAPI retries;
- events without order_id linkable through a shared event ID (also across two purchase names),
  or only by value (some with a +-0.004 jitter) and time (within, exactly at, and 1 s past
  15 minutes); twin orders with the same value minutes apart (value links become ambiguous);
  events of orders not in the export;
- orders: '#1001' / '1001' spellings, a few exported twice under two spellings, statuses paid,
  fulfilled, refunded, empty, test, Cancelled, ' VOIDED ', canceled; a few unparseable created_at;
- other event types (add to cart, checkout, lead, view content ...) and names outside the taxonomy;
- files: CSV (with an extra column), TSV, JSON Lines, JSON array, Parquet (string, int64 epoch,
  native timestamp with and without zone), gzip and zstd; timestamps as ISO-8601 with Z, with
  +05:30 / -07:00 offsets, naive (UTC), naive with fraction, 'YYYY-MM-DD HH:MM:SS +0200', epoch
  seconds (text and JSON numbers), epoch milliseconds (text, JSON numbers, int64); a few
  unparseable event_time values in the text-timestamp files.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

UTC = timezone.utc
BASE = datetime(2024, 5, 6, 0, 0, 0, tzinfo=UTC)
H48 = timedelta(hours=48)

PLATFORMS = ["meta", "tiktok", "snap", "google"]
ACTIVE = {"meta": 0.95, "tiktok": 0.7, "snap": 0.5, "google": 0.85}
PURCHASE = {"meta": ["Purchase"], "tiktok": ["CompletePayment", "Purchase", "PlaceAnOrder"],
            "snap": ["PURCHASE"], "google": ["purchase", "conversion"]}
# A name of another purchase name on the other side (drift), or a case variant (outside the taxonomy).
DRIFT = {"meta": ["purchase", "PURCHASE"], "tiktok": ["Purchase", "CompletePayment", "completepayment"],
         "snap": ["Purchase", "purchase"], "google": ["conversion", "Purchase"]}
OTHER = {"meta": ["AddToCart", "InitiateCheckout", "Lead", "ViewContent"],
         "tiktok": ["AddToCart", "InitiateCheckout", "SubmitForm"],
         "snap": ["ADD_CART", "START_CHECKOUT", "SIGN_UP"],
         "google": ["add_to_cart", "begin_checkout", "generate_lead"]}
OFF_TAXONOMY = {"meta": ["addtocart", "CustomPurchase", "Purchase "], "tiktok": ["addtocart", "Checkout_Done"],
                "snap": ["add_cart", "PURCHASE_V2"], "google": ["Add_To_Cart", "purchase_complete"]}
PLATFORM_SPELLINGS = {"meta": ["Meta", "META", " meta "], "tiktok": ["TikTok", " TIKTOK"],
                      "snap": ["Snap", "SNAP "], "google": ["Google", " google"]}

SCENARIOS = [  # (name, weight)
    ("clean", 30), ("capi_no_id", 8), ("pixel_no_id", 4), ("both_no_id", 2), ("undefined_pixel", 3),
    ("undefined_both", 2), ("independent", 8), ("near_miss", 3), ("name_drift", 6), ("late", 4),
    ("edge48", 2), ("edge48_plus1", 2), ("edge48_reverse", 1), ("pixel_dup", 5), ("capi_dup", 2),
    ("pixel_only", 5), ("capi_only", 4), ("pixel_no_order", 5), ("capi_no_order", 3),
    ("value_link", 5), ("value_link_edge", 1),
]
BAD_TIMES = ["not-a-date", "2024-02-30T10:00:00Z", "yesterday", "2024-13-01 10:00:00 +0200", "12/31/2024 25:61"]

TZ_P530 = timezone(timedelta(hours=5, minutes=30))
TZ_M0700 = timezone(timedelta(hours=-7))
TZ_P0200 = timezone(timedelta(hours=2))
TZ_M0500 = timezone(timedelta(hours=-5))
TZ_M0400 = timezone(timedelta(hours=-4))


# ---------------------------------------------------------------- timestamp forms

def iso_z(t): return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
def iso_naive(t): return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
def naive_space_frac(t): return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.000")
def iso_offset(tz): return lambda t: t.astimezone(tz).isoformat()
def space_offset(tz): return lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z")
def epoch_s(t): return int(t.timestamp())
def epoch_ms(t): return int(t.timestamp()) * 1000
def native(t): return t
def native_naive(t): return t.astimezone(UTC).replace(tzinfo=None)  # Parquet timestamp without zone = UTC


# file name -> (format, event_time form, received_time form or None = no column, garbage allowed)
PIXEL_FILES = {
    "pixel_web_a.csv": ("csv", iso_z, None, True),
    "pixel_web_b.tsv": ("tsv", iso_naive, naive_space_frac, True),
    "pixel_web_c.jsonl": ("jsonl", epoch_ms, epoch_ms, False),
    "pixel_web_d.json": ("json", iso_offset(TZ_P530), iso_offset(TZ_M0700), True),
    "pixel_web_e.csv.gz": ("csv", space_offset(TZ_P0200), None, True),
    "pixel_web_f.csv.zst": ("csv", epoch_ms, epoch_ms, True),
}
CAPI_FILES = {
    "capi_server_a.csv": ("csv", epoch_s, epoch_s, True),
    "capi_server_b.parquet": ("parquet", native, native, False),
    "capi_server_c.jsonl.gz": ("jsonl", space_offset(TZ_M0500), space_offset(TZ_M0500), True),
    "capi_server_d.parquet": ("parquet", epoch_ms, iso_z, False),
    "capi_server_e.json": ("json", epoch_s, iso_offset(UTC), False),
    "capi_server_f.parquet": ("parquet", native_naive, native_naive, False),
}
EVENT_COLUMNS = ["platform", "event_name", "event_id", "event_time", "received_time", "order_id", "value", "currency",
                 "fbp", "external_id", "ttp", "conversion_action", "action_source"]
IDENTITY_COLUMNS = EVENT_COLUMNS[8:]


class _Shop:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.pixel, self.capi = [], []
        # Browser cookies, customer IDs and Google conversion actions are drawn from a stream of their own,
        # so the scenarios above draw exactly what they drew before these columns existed.
        self.ids = random.Random(rng.random())
        self.buyer = None  # the order's browser and customer, while its events are emitted

    def new_buyer(self, number):
        """A browser (Meta _fbp, TikTok _ttp) and a customer ID; 1 in 10 buyers used the browser of the last order."""
        if self.buyer is None or self.ids.random() >= 0.1:
            cookie = f"{number}.{self.ids.randint(10**8, 10**9)}"
            self.buyer = {"fbp": f"fb.1.{cookie}", "ttp": f"ttp_{cookie}", "external_id": f"cust-{number}"}
        return self.buyer

    def identity(self, side, platform):
        """What a purchase event carries besides its ID: sometimes the cookie, sometimes another one, sometimes none."""
        r, b = self.ids.random(), self.buyer or {}
        if platform == "meta":
            fbp = b.get("fbp") if r < (0.9 if side == "pixel" else 0.6) else ("fb.1.other" if r < 0.7 else None)
            external = b.get("external_id") if self.ids.random() < (0.2 if side == "pixel" else 0.3) else None
            return {"fbp": fbp, "external_id": external, "action_source": "website" if side == "capi" else None}
        if platform == "tiktok":
            return {"ttp": b.get("ttp") if r < (0.8 if side == "pixel" else 0.4) else None}
        if platform == "google":  # the tag's action, an upload action, or not said
            if side == "pixel":
                return {"conversion_action": "AW-1/buy" if r < 0.5 else None}
            return {"conversion_action": "customers/1/conversionActions/7" if r < 0.35 else "AW-1/buy" if r < 0.7 else None}
        return {}

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def secs(self, a, b):
        return timedelta(seconds=self.rng.randint(a, b))

    def platform_value(self, platform):
        return self.rng.choice(PLATFORM_SPELLINGS[platform]) if self.rng.random() < 0.06 else platform

    def emit(self, side, platform, name, eid, et, rt=None, oid=None, value=None):
        row = {"platform": self.platform_value(platform), "event_name": name, "event_id": eid,
               "event_time": et, "received_time": rt, "order_id": oid, "value": value,
               "currency": "USD" if value is not None else None,
               **dict.fromkeys(IDENTITY_COLUMNS), **self.identity(side, platform)}
        (self.pixel if side == "pixel" else self.capi).append(row)
        return row


def _order_ref(rng, number):
    """How an event spells order #number."""
    return rng.choices([str(number), f"#{number}", f" {number} ", f"# {number}"], [6, 3, 1, 1])[0]


def _missing(rng):
    return rng.choice([None, "", "   "])


def _dedup_id(shop, platform, number):
    r = shop.rng.random()
    if platform == "google":  # transaction_id: usually the order number, sometimes zero-padded
        return str(number) if r < 0.5 else (f"{number:08d}" if r < 0.7 else f"T-{number}")
    return shop.uid() if r < 0.6 else f"{platform[:2]}_{number}_{shop.rng.randint(100, 999)}"


def _purchase(shop, platform, order, scenario):
    rng = shop.rng
    number, c, v = order["number"], order["created_at"], order["value"]
    shop.new_buyer(number)
    name = rng.choice(PURCHASE[platform])
    pname = cname = name
    pid = cid = _dedup_id(shop, platform, number)
    pt = c + shop.secs(5, 180)
    prt = pt + shop.secs(0, 3) if rng.random() < 0.5 else None
    ct = c + shop.secs(0, 60)
    crt = ct + shop.secs(1, 600) if rng.random() < 0.9 else None
    poid, coid = _order_ref(rng, number), _order_ref(rng, number)
    pval = v if rng.random() < 0.9 else None
    cval = v
    send_pixel = send_capi = True
    extra = []  # (side, name, id, et, rt, oid, value)

    if scenario == "capi_no_id":
        cid = _missing(rng)
    elif scenario == "pixel_no_id":
        pid = _missing(rng)
    elif scenario == "both_no_id":
        pid, cid = _missing(rng), _missing(rng)
    elif scenario == "undefined_pixel":
        pid = "undefined"
    elif scenario == "undefined_both":
        pid = cid = "undefined"
        if rng.random() < 0.5:
            poid = None  # cannot be linked by ID (many orders share it); value+time may link it
    elif scenario == "independent":
        cid = _dedup_id(shop, platform, number) if platform == "google" and rng.random() < 0.5 else shop.uid()
    elif scenario == "near_miss":
        cid = rng.choice([pid.upper() if pid.upper() != pid else "X" + pid, " " + pid, pid + " ", "evt_" + pid, "#" + pid])
    elif scenario == "name_drift":
        cname = rng.choice([n for n in DRIFT[platform] if n != pname] or DRIFT[platform])
        if rng.random() < 0.3:
            poid = None  # linked through the CAPI event that has the same ID under another name
    elif scenario in ("late", "edge48", "edge48_plus1"):
        p_recv = prt or pt
        crt = p_recv + {"late": H48 + shop.secs(60, 72 * 3600), "edge48": H48,
                        "edge48_plus1": H48 + timedelta(seconds=1)}[scenario]
        ct = min(ct, crt)
    elif scenario == "edge48_reverse":  # the server event first, the pixel received 48 h (+0/1 s) later
        c_recv = crt or ct
        prt = c_recv + H48 + timedelta(seconds=rng.choice([0, 1]))
    elif scenario == "pixel_dup":
        gap = rng.choice([shop.secs(1, 600), shop.secs(40 * 3600, 56 * 3600), H48, H48 + timedelta(seconds=1)])
        extra.append(("pixel", pname, pid, pt + gap, None, poid if rng.random() < 0.7 else None, pval))
    elif scenario == "capi_dup":
        r = crt or ct
        extra.append(("capi", cname, cid, ct, r + shop.secs(1, 3600), coid, cval))
    elif scenario == "pixel_only":
        send_capi = False
    elif scenario == "capi_only":
        send_pixel = False
    elif scenario == "pixel_no_order":
        poid = None
        if rng.random() < 0.3:
            pval = None  # then only the shared event ID can link it
    elif scenario == "capi_no_order":
        coid = None
    elif scenario in ("value_link", "value_link_edge"):
        poid = coid = None
        pval, cval = v, round(v + rng.choice([0, 0, 0.004, -0.004]), 3)  # compared rounded to 2 decimals
        if rng.random() < 0.5:
            cid = shop.uid()  # nothing shared: only value and time can link them
        if scenario == "value_link":
            pt = c + shop.secs(0, 14 * 60)
            ct = c - shop.secs(0, 14 * 60)
        else:  # exactly 15 min (links) or 15 min + 1 s (does not)
            pt = c + timedelta(minutes=15, seconds=rng.choice([0, 1]))
            ct = c - timedelta(minutes=15, seconds=rng.choice([0, 1]))
        prt = None
        crt = ct + shop.secs(1, 30)

    if rng.random() < 0.05:  # the test order page fires the pixel twice in the same second
        extra.append(("pixel", pname, pid, pt, prt, poid, pval))
    if send_pixel:
        shop.emit("pixel", platform, pname, pid, pt, prt, poid, pval)
    if send_capi:
        shop.emit("capi", platform, cname, cid, ct, crt, coid, cval)
    for side, *rest in extra:
        if (side == "pixel" and send_pixel) or (side == "capi" and send_capi):
            shop.emit(side, platform, *rest)


def _browse(shop, platform, t):
    """Non-purchase events (add to cart, checkout, lead, ...), some outside the taxonomy."""
    rng = shop.rng
    name = rng.choice(OFF_TAXONOMY[platform]) if rng.random() < 0.1 else rng.choice(OTHER[platform])
    eid = rng.choice([shop.uid(), shop.uid(), _missing(rng), "undefined"])
    shop.emit("pixel", platform, name, eid, t, t + shop.secs(0, 2) if rng.random() < 0.4 else None)
    if rng.random() < 0.6:
        cid = eid if rng.random() < 0.7 else shop.uid()
        shop.emit("capi", platform, name, cid, t + shop.secs(0, 30), t + shop.secs(31, 4000))
    if rng.random() < 0.15:
        shop.emit("pixel", platform, name, eid, t + rng.choice([shop.secs(1, 3000), H48, H48 + timedelta(seconds=1)]))


def _orders(rng, n_orders):
    orders = []
    for i in range(n_orders):
        number = 1001 + i
        created = BASE + timedelta(seconds=rng.randint(0, 14 * 86400))
        value = round(rng.randint(900, 40000) / 100, 2)
        if orders and rng.random() < 0.04:  # twin: same value a few minutes from another order
            other = rng.choice(orders)
            value, created = other["value"], other["created_at"] + timedelta(seconds=rng.randint(-300, 300))
        status = rng.choices(["paid", "fulfilled", "refunded", "test", "Cancelled", " VOIDED ", "canceled", None],
                             [60, 20, 3, 3, 3, 1, 1, 9])[0]
        orders.append({"number": number, "created_at": created, "value": value, "status": status,
                       "exported": rng.random() > 0.02, "order_id": rng.choice([f"#{number}"] * 4 + [str(number)])})
    return orders


# ---------------------------------------------------------------- writers

def _file_rows(events, form_et, form_rt):
    """The rows as written: timestamps in the file's forms, an unparseable event_time where planted."""
    out = []
    for e in events:
        row = {c: e.get(c) for c in EVENT_COLUMNS}
        row["event_time"] = e["_bad_time"] if "_bad_time" in e else form_et(e["event_time"])
        if form_rt is None:
            del row["received_time"]
        elif e["received_time"] is not None:
            row["received_time"] = form_rt(e["received_time"])
        out.append(row)
    return out


def _write_delimited(path: Path, rows, delimiter, columns):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in columns])
    _write_bytes(path, buf.getvalue().encode())


def _write_bytes(path: Path, data: bytes):
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def _write(path: Path, fmt, rows, columns, ts_native=(), ts_zone="UTC"):
    if fmt in ("csv", "tsv"):
        _write_delimited(path, rows, "," if fmt == "csv" else "\t", columns)
    elif fmt == "jsonl":
        _write_bytes(path, "".join(json.dumps({c: r.get(c) for c in columns}) + "\n" for r in rows).encode())
    elif fmt == "json":
        _write_bytes(path, json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=1).encode())
    elif fmt == "parquet":
        types = {"value": pa.float64()}
        for c in columns:
            sample = next((r[c] for r in rows if r.get(c) is not None), "")
            if c in ts_native:
                types[c] = pa.timestamp("us", tz=ts_zone)
            elif isinstance(sample, int):
                types[c] = pa.int64()
            types.setdefault(c, pa.string())
        table = pa.table({c: pa.array([r.get(c) for r in rows], type=types[c]) for c in columns})
        pq.write_table(table, path)


def _distribute(shop, rng, side, files, out_dir: Path):
    """Assign events to files, add unparseable rows, write. Returns (paths, accepted rows, total, rejected)."""
    events = shop.pixel if side == "pixel" else shop.capi
    names = list(files)
    buckets = {n: [] for n in names}
    for e in events:
        allowed = [n for n in names if files[n][2] is not None or e["received_time"] is None]
        buckets[rng.choice(allowed)].append(e)
    rejected = 0
    for n in names:
        if files[n][3]:
            for _ in range(rng.randint(1, 3)):
                bad = dict(rng.choice(events), _bad_time=rng.choice(BAD_TIMES))
                if files[n][2] is None:
                    bad["received_time"] = None
                buckets[n].append(bad)
                rejected += 1
    paths = []
    for n in names:
        fmt, form_et, form_rt, _ = files[n]
        rows = buckets[n]
        rng.shuffle(rows)
        columns = [c for c in EVENT_COLUMNS if c != "received_time" or form_rt is not None]
        file_rows = _file_rows(rows, form_et, form_rt)
        if n == "pixel_web_a.csv":  # an extra column the tool must ignore
            columns = ["page_url"] + columns
            for fr in file_rows:
                fr["page_url"] = "https://shop.example/thank-you"
        native_cols = [c for c, f in (("event_time", form_et), ("received_time", form_rt)) if f in (native, native_naive)]
        path = out_dir / n
        _write(path, fmt, file_rows, columns, native_cols, None if form_et is native_naive else "UTC")
        paths.append(path)
    accepted = [{k: e[k] for k in EVENT_COLUMNS} for n in names for e in buckets[n] if "_bad_time" not in e]
    total = sum(len(b) for b in buckets.values())
    return paths, accepted, total, rejected


# ---------------------------------------------------------------- entry point

def generate_shop(seed: int, out_dir: Path, n_orders: int = 600) -> dict:
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    (out_dir / "pixel").mkdir(parents=True, exist_ok=True)
    (out_dir / "capi").mkdir(parents=True, exist_ok=True)
    shop = _Shop(rng)
    orders = _orders(rng, n_orders)
    names, weights = zip(*SCENARIOS)

    for order in orders:
        for platform in PLATFORMS:
            if rng.random() < ACTIVE[platform]:
                _purchase(shop, platform, order, rng.choices(names, weights)[0])
                if rng.random() < 0.4:
                    _browse(shop, platform, order["created_at"] - shop.secs(300, 7200))
    for _ in range(n_orders // 2):  # sessions that did not buy
        _browse(shop, rng.choice(PLATFORMS), BASE + timedelta(seconds=rng.randint(0, 14 * 86400)))

    pixel_paths, pixel_rows, pixel_total, pixel_rej = _distribute(shop, rng, "pixel", PIXEL_FILES, out_dir / "pixel")
    capi_paths, capi_rows, capi_total, capi_rej = _distribute(shop, rng, "capi", CAPI_FILES, out_dir / "capi")

    # orders.csv: Shopify-like 'YYYY-MM-DD HH:MM:SS -0400', a few unparseable created_at values.
    order_rows, file_rows = [], []
    to_local = space_offset(TZ_M0400)
    for o in orders:
        if not o["exported"]:
            continue
        # 1 in 100 orders is exported twice, spelled differently ('#1001' and '1001 '): still one order.
        for oid in [o["order_id"]] + ([f"{o['number']} "] if rng.random() < 0.01 else []):
            file_rows.append({"order_id": oid, "created_at": to_local(o["created_at"]), "value": o["value"],
                              "currency": "USD", "status": o["status"]})
            order_rows.append({"order_id": oid, "created_at": o["created_at"], "value": o["value"],
                               "status": o["status"]})
    orders_rej = 0
    for i in range(rng.randint(2, 4)):
        file_rows.append({"order_id": f"#{900 + i}", "created_at": rng.choice(BAD_TIMES), "value": 10.0,
                          "currency": "USD", "status": "paid"})
        orders_rej += 1
    rng.shuffle(file_rows)
    orders_path = out_dir / "orders.csv"
    _write_delimited(orders_path, file_rows, ",", ["order_id", "created_at", "value", "currency", "status"])

    return {
        "pixel_files": [str(p) for p in pixel_paths], "capi_files": [str(p) for p in capi_paths],
        "orders_files": [str(orders_path)],
        "pixel_dir": str(out_dir / "pixel"), "capi_dir": str(out_dir / "capi"),
        "pixel_rows": pixel_rows, "capi_rows": capi_rows, "order_rows": order_rows,
        "rows": {"pixel": pixel_total, "capi": capi_total, "orders": len(file_rows)},
        "rejected": {"pixel": pixel_rej, "capi": capi_rej, "orders": orders_rej},
    }
