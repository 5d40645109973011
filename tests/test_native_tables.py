"""Table-shaped inputs: flat pixel logs, Shopify and WooCommerce exports, order ID normalisation, and
which detector claims which file (each with a positive case and a near miss)."""

from __future__ import annotations

import json

import pytest

from dedupaudit.engine.run import run_audit
from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import load_events, load_orders
from dedupaudit.inputs.detect import ReadContext
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.settings import Settings
from tests.native_support import RULES, har, jsonl, read, rows, values_of, write

UTC = resolve_timezone("UTC")
SHOPIFY_HEADER = ("Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Total,Created at,"
                  "Lineitem quantity,Lineitem name,Lineitem price,Cancelled at,Payment Method,Tags\n")


# ------------------------------------------------------------------------------------ pixel logs

@pytest.mark.parametrize("name, text, platform, event_id, order_id", [
    ("log.csv", "timestamp,event,eventID,value,currency,order_id\n2026-10-05T07:14:21Z,Purchase,NW-1,29.70,EUR,NW-1\n",
     "meta", "NW-1", "NW-1"),
    ("log.csv", "timestamp,event,client_dedup_id,transaction_id,price,currency\n2026-10-05T07:14:21Z,PURCHASE,u-1,NW-1,29.7,EUR\n",
     "snap", "u-1", "NW-1"),
    ("log.csv", "timestamp,event,send_to,transaction_id,value,currency\n2026-10-05T07:14:21Z,conversion,AW-1/x,NW-1,29.7,EUR\n",
     "google", "NW-1", "NW-1"),
    ("log.csv", "timestamp,event,conversionId,transactionId,value,currency\n2026-10-05T07:14:21Z,Purchase,NW-1,NW-1,29.7,EUR\n",
     "reddit", "NW-1", "NW-1"),
    ("log.csv", "timestamp,conversion_id,event_id\n2026-10-05T07:14:21Z,17000001,NW-1\n", "linkedin", "NW-1", None),
    ("tiktok_pixel.csv", "ts,event,event_id,value\n1791162861000,CompletePayment,NW-1,29.7\n", "tiktok", "NW-1", None),
    ("pixel.csv", "platform,timestamp,event,event_id\npinterest,2026-10-05T07:14:21Z,checkout,NW-1\n", "pinterest", "NW-1", None),
])
def test_flat_pixel_logs_by_platform(tmp_path, name, text, platform, event_id, order_id):
    path = write(tmp_path / name, text)
    result = read(path, "pixel")
    assert result.format == "pixel-log"
    [row] = rows(path, "pixel")
    assert (row["platform"], row["event_id"], row.get("order_id")) == (platform, event_id, order_id)
    assert row["event_name"] in {n for names in RULES[platform].events.values() for n in names}


def test_pixel_log_with_a_platform_column_uses_each_rows_platform(tmp_path):
    records = [{"platform": "meta", "timestamp": "2026-10-05T07:14:21Z", "event": "Purchase", "eventID": "m1"},
               {"platform": "Reddit", "timestamp": "2026-10-05T07:14:21Z", "event": "AddToCart", "conversionId": "r1"},
               {"platform": "tiktok", "timestamp": "2026-10-05T07:14:21Z", "event": "Purchase", "event_id": "t1"}]
    found = rows(jsonl(tmp_path / "mixed.jsonl", records), "pixel")
    assert [(r["platform"], r["event_name"], r["event_id"]) for r in found] == [
        ("meta", "Purchase", "m1"), ("Reddit", "ADD_TO_CART", "r1"), ("tiktok", "Purchase", "t1")]


def test_near_miss_pixel_log_without_a_platform_is_not_guessed(tmp_path):
    path = write(tmp_path / "events.csv", "timestamp,event,event_id\n2026-10-05T07:14:21Z,Purchase,NW-1\n")
    with pytest.raises(UserError, match="cannot tell what this file is .*--pixel-format"):
        read(path, "pixel")
    ambiguous = write(tmp_path / "tags.csv", "platform,time,event\n,2026-10-05T07:14:21Z,Foo\n")
    assert read(ambiguous, "pixel").format == "pixel-log"


# ------------------------------------------------------------------------------------ orders

def test_shopify_multi_row_orders_count_once_with_their_status(tmp_path):
    path = write(tmp_path / "orders_export.csv", SHOPIFY_HEADER + "\n".join([
        "#1001,a@example.com,paid,,EUR,40.00,5.00,45.00,2024-03-01 10:15:00 -0500,1,Beans,20.00,,Shopify Payments,",
        "#1001,,,,,,,,,1,Mug,20.00,,,",
        "#1001,,,,,,,,,2,Filters,0.00,,,",
        "#1002,b@example.com,paid,,EUR,10,0,10.00,2024-03-01 11:00:00 -0500,1,Beans,10,,bogus,",
        "#1003,,voided,,EUR,10,0,10.00,2024-03-01 12:00:00 -0500,1,Beans,10,,Shopify Payments,",
        "#1004,,refunded,,EUR,10,0,10.00,2024-03-01 13:00:00 -0500,1,Beans,10,2024-03-02 09:00:00 -0500,Shopify Payments,",
        "#1005,,paid,,EUR,10,0,10.00,2024-03-01 14:00:00 -0500,1,Beans,10,,Shopify Payments,\"vip, test\"",
        ",,,,,,,,,1,Orphan line,1,,,",
    ]) + "\n")
    result = read(path, "orders")
    assert result.format == "shopify-orders"
    assert result.table.row.tolist() == [2, 5, 6, 7, 8]
    assert result.table.broken == [(9, "row without an order Name")]
    found = rows(path, "orders")
    assert [(r["order_id"], r["status"], r["value"]) for r in found] == [
        ("#1001", "paid", "45.00"), ("#1002", "test", "10.00"), ("#1003", "voided", "10.00"),
        ("#1004", "cancelled", "10.00"), ("#1005", "test", "10.00")]
    assert found[0]["source_ref"] == "lines 2-4 (3 rows)"
    assert "example.com" not in values_of(result.table.frame)
    loaded = load_orders([path], UTC)
    assert len(loaded.frame) == 5 and len(loaded.rejects) == 1
    assert loaded.frame["created_at"].astype(str).tolist()[0] == "2024-03-01 15:15:00"


def test_near_miss_shopify_export_is_not_shopify(tmp_path):
    path = write(tmp_path / "orders.csv", "Name,Created at,Total\n#1001,2024-03-01 10:15:00 -0500,45.00\n")
    with pytest.raises(UserError, match="cannot tell what this file is"):
        read(path, "orders")
    with pytest.raises(UserError, match="not a Shopify orders export"):
        read(path, "orders", formats={"orders": "shopify-orders"})


def test_woocommerce_export(tmp_path):
    path = write(tmp_path / "woo.csv", "Order ID,Order Number,Order Date,Order Status,Order Currency,Order Total,Billing Email\n"
                 "48211,NW-100001,2026-10-05 03:03:59,wc-completed,EUR,17.40,a@example.com\n"
                 "48212,,2026-10-05 04:35:52,wc-cancelled,EUR,82.20,b@example.com\n"
                 "48213,NW-100003,2026-10-05 05:15:36,wc-refunded,EUR,42.30,c@example.com\n")
    result = read(path, "orders")
    assert result.format == "woocommerce-orders"
    assert [(r["order_id"], r["status"]) for r in rows(path, "orders")] == [
        ("NW-100001", "completed"), ("48212", "cancelled"), ("NW-100003", "refunded")]
    assert "example.com" not in values_of(result.table.frame)
    webtoffee = write(tmp_path / "wt.csv", "order_id,order_number,order_date,status,order_total\n1,1,2026-10-05 03:03:59,wc-failed,1\n")
    assert rows(webtoffee, "orders")[0]["status"] == "failed"


def test_near_miss_woocommerce_without_a_date_is_not_woocommerce(tmp_path):
    path = write(tmp_path / "woo.csv", "Order ID,Order Status,Order Total\n1,wc-completed,10\n")
    with pytest.raises(UserError, match="cannot tell what this file is"):
        read(path, "orders")


def test_order_ids_link_however_the_shop_writes_them(tmp_path):
    """'#1001' (Shopify), '1001' (the pixel) and ' 1001 ' (the server) are one order."""
    orders = write(tmp_path / "shop.csv", SHOPIFY_HEADER +
                   "#1001,,paid,,EUR,45,0,45.00,2024-03-01 10:15:00 -0500,1,Beans,45,,Shopify Payments,\n")
    pixel = har(tmp_path / "c.har", [{"startedDateTime": "2024-03-01T15:16:00Z", "response": {"status": 200},
                                      "request": {"method": "GET", "url": "https://www.facebook.com/tr/?ev=Purchase&eid=p-1&cd[order_id]=1001"}}])
    capi = jsonl(tmp_path / "capi.jsonl", [{"data": [{"event_name": "Purchase", "event_time": 1709306200, "event_id": "s-1",
                                                      "action_source": "website", "custom_data": {"order_id": " 1001 "}}]}])
    result = run_audit(load_events([pixel], "pixel", UTC, None, set(RULES)), load_events([capi], "capi", UTC, None, set(RULES)),
                       load_orders([orders], UTC), RULES, Settings())
    meta = next(p for p in result.platforms if p.platform == "meta" and p.event == "purchase")
    assert meta.orders == 1
    assert meta.mismatched_event_id == 1  # linked through the order id: the two IDs differ
    assert meta.coverage == {"pixel": 1.0, "capi": 1.0, "any": 1.0}


# ------------------------------------------------------------------------------------ detection

@pytest.mark.parametrize("name, text, side, expected", [
    ("e.csv", "platform,event_name,event_id,event_time\nmeta,Purchase,1,2026-10-05T07:14:21Z\n", "pixel", "canonical"),
    ("o.csv", "order_id,created_at\n1,2026-10-05T07:14:21Z\n", "orders", "canonical"),
    ("e.jsonl", json.dumps({"platform": "meta", "event_name": "Purchase", "event_time": 1}) + "\n", "capi", "canonical"),
    ("e.tsv", "event_name\tevent_time\nPurchase\t1\n", "capi", "canonical"),
])
def test_canonical_tables_stay_canonical(tmp_path, name, text, side, expected):
    assert read(write(tmp_path / name, text), side).format == expected


def test_near_miss_canonical_header_names_what_is_missing(tmp_path):
    from dedupaudit.inputs.canonical import load_events

    path = write(tmp_path / "e.csv", "platform,event,event_time\nmeta,Purchase,1\n")
    assert read(path, "capi").format == "canonical"
    with pytest.raises(UserError, match=r"e.csv: missing required column event_name \(found: platform, event, event_time\)"):
        load_events([path], "capi", UTC, None, set(RULES))
    nothing = write(tmp_path / "n.csv", "platform,event,when\nmeta,Purchase,1\n")
    with pytest.raises(UserError) as error:
        read(nothing, "capi")
    assert "columns: platform, event, when" in str(error.value) and "--capi-format" in str(error.value)


def test_formats_must_match_their_side(tmp_path):
    log = jsonl(tmp_path / "log.jsonl", [{"data": [{"event_name": "Purchase", "event_time": 1, "action_source": "website"}]}])
    with pytest.raises(UserError, match="give it with --capi, not --pixel"):
        read(log, "pixel")
    shop = write(tmp_path / "s.csv", SHOPIFY_HEADER + "#1,,paid,,EUR,1,0,1,2024-03-01 10:15:00 -0500,1,B,1,,x,\n")
    with pytest.raises(UserError, match="give it with --orders, not --pixel"):
        read(shop, "pixel")


def test_unknown_file_types(tmp_path):
    with pytest.raises(UserError, match="unknown file type"):
        read(write(tmp_path / "notes.txt", "hello"), "pixel")
    assert read(write(tmp_path / "server.log", json.dumps({"time": "2026-10-05T00:00:00Z", "body": {
        "data": [{"event_name": "Purchase", "event_time": 1, "action_source": "website"}]}}) + "\n"), "capi").format == "capi-log"


def test_read_input_with_no_rules_in_the_context_uses_the_bundled_ones(tmp_path):
    from dedupaudit.inputs.detect import read_input

    path = jsonl(tmp_path / "log.jsonl", [{"data": [{"event_name": "Purchase", "event_time": 1, "action_source": "website"}]}])
    assert read_input(path, "capi", ReadContext()).frame["platform"].tolist() == ["meta"]
