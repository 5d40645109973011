"""HAR captures: each platform's pixel request, GET and POST, blocked requests, and nothing personal kept."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from dedupaudit.errors import UserError
from tests.native_support import entry, har, read, rows, values_of, write

EMAIL = "jane.doe@example.com"
EM = "b" * 64
PAGE = f"https://shop.example/thank-you?order=1001&email={EMAIL}"

REQUESTS = {
    "meta": entry("https://www.facebook.com/tr/?" + urlencode(
        {"id": "1", "ev": "Purchase", "eid": "1001", "dl": PAGE, "cd[value]": "29.70", "cd[currency]": "EUR",
         "cd[order_id]": "#1001", "ud[em]": EM})),
    "tiktok": entry("https://analytics.tiktok.com/api/v2/pixel", "POST", json.dumps(
        {"event": "CompletePayment", "event_id": "1001", "context": {"user": {"email": EM}, "page": {"url": PAGE}},
         "properties": {"value": 29.7, "currency": "EUR", "order_id": "1001"}}), "text/plain"),
    "snap": entry("https://tr.snapchat.com/p", "POST", urlencode(
        {"pid": "p", "ev": "PURCHASE", "client_dedup_id": "1001", "transaction_id": "1001", "price": "29.7",
         "currency": "EUR", "u_hem": EM, "pl": PAGE})),
    "google": entry("https://www.googleadservices.com/pagead/conversion/123/?" + urlencode(
        {"label": "abc", "value": "29.7", "currency_code": "EUR", "oid": "1001", "url": PAGE})),
    "pinterest": entry("https://ct.pinterest.com/v3/?" + urlencode(
        {"tid": "26", "event": "checkout", "pd": json.dumps({"em": EM}),
         "ed": json.dumps({"value": "29.7", "currency": "EUR", "order_id": "1001", "event_id": "1001"})})),
    "reddit": entry("https://alb.reddit.com/rp.gif?" + urlencode(
        {"id": "t2_x", "event": "Purchase", "m.value": "", "m.valueDecimal": "29.7", "m.currency": "EUR",
         "m.transactionId": "1001", "m.conversionId": "1001", "em": EMAIL})),
    "linkedin": entry("https://px.ads.linkedin.com/collect/?pid=1&conversionId=9&eventId=1001&fmt=gif"),
}
EXPECTED = {  # event_name, order_id, value
    "meta": ("Purchase", "#1001", "29.70"), "tiktok": ("CompletePayment", "1001", "29.7"),
    "snap": ("PURCHASE", "1001", "29.7"), "google": ("conversion", "1001", "29.7"),
    "pinterest": ("checkout", "1001", "29.7"), "reddit": ("PURCHASE", "1001", "29.7"),
    "linkedin": ("conversion", None, None),
}


@pytest.mark.parametrize("platform", list(REQUESTS))
def test_each_platforms_pixel_request(tmp_path, platform):
    path = har(tmp_path / "c.har", [entry("https://shop.example/checkout"), REQUESTS[platform]])
    result = read(path, "pixel")
    assert result.format == "har"
    [row] = rows(path, "pixel")
    assert (row["platform"], row["event_name"], row.get("order_id"), row.get("value")) == (platform, *EXPECTED[platform])
    assert row["event_id"] == "1001"
    assert row["event_time"] == row["received_time"] == "2026-10-05T09:14:22.120+02:00"
    assert result.table.row.tolist() == [2]  # the entry's number in the capture
    assert values_of(result.table.frame).count("example") == 0 and EM not in values_of(result.table.frame)


def test_get_query_and_post_body_are_merged(tmp_path):
    post = entry("https://www.facebook.com/tr/?id=1&ev=Purchase", "POST",
                 urlencode({"eid": "1002", "cd[value]": "10", "cd[currency]": "EUR"}))
    multipart = entry("https://www.facebook.com/tr/", "POST",
                      "--XyZ\r\nContent-Disposition: form-data; name=\"ev\"\r\n\r\nLead\r\n"
                      "--XyZ\r\nContent-Disposition: form-data; name=\"eid\"\r\n\r\nlead-1\r\n--XyZ--\r\n",
                      "multipart/form-data; boundary=XyZ")
    params = {"startedDateTime": "2026-10-05T09:14:22Z", "response": {"status": 200},
              "request": {"method": "POST", "url": "https://www.facebook.com/tr/?id=1&ev=AddToCart",
                          "postData": {"mimeType": "application/x-www-form-urlencoded",
                                       "params": [{"name": "eid", "value": "atc-1"}]}}}
    found = rows(har(tmp_path / "c.har", [post, multipart, params]), "pixel")
    assert [(r["event_name"], r["event_id"], r.get("value")) for r in found] == [
        ("Purchase", "1002", "10"), ("Lead", "lead-1", None), ("AddToCart", "atc-1", None)]


def test_tiktok_batch_body_gives_one_event_each(tmp_path):
    batch = entry("https://analytics.tiktok.com/api/v2/pixel/batch", "POST", json.dumps(
        {"batch": [{"event": "AddToCart", "event_id": "a"}, {"event": "CompletePayment", "event_id": "b"}]}), "application/json")
    table = read(har(tmp_path / "c.har", [batch]), "pixel").table
    assert table.frame["event_name"].tolist() == ["AddToCart", "CompletePayment"]
    assert table.frame["source_ref"].tolist() == ["entry 1 (analytics.tiktok.com/api/v2/pixel/batch), batch[0]",
                                                  "entry 1 (analytics.tiktok.com/api/v2/pixel/batch), batch[1]"]


def test_blocked_and_failed_requests_are_refused_not_dropped(tmp_path):
    blocked = entry("https://www.facebook.com/tr/?id=1&ev=Purchase&eid=1", status=0, error="net::ERR_BLOCKED_BY_CLIENT")
    failed = entry("https://tr.snapchat.com/p?ev=PURCHASE&client_dedup_id=2", status=503)
    found = rows(har(tmp_path / "c.har", [blocked, failed]), "pixel")
    assert [r["delivery"] for r in found] == ["refused", "refused"]
    assert "ERR_BLOCKED_BY_CLIENT" in found[0]["delivery_message"] and found[1]["delivery_message"] == "HTTP 503"


def test_requests_that_are_not_events_are_skipped(tmp_path):
    entries = [entry("https://px.ads.linkedin.com/collect/?pid=1&fmt=gif"),  # a LinkedIn page view
               entry("https://www.facebook.com/tr/?id=1"),  # no event
               entry("https://connect.facebook.net/en_US/fbevents.js"),
               entry("https://www.facebook.com/plugins/like.php?ev=Purchase"),  # near miss: not /tr
               entry("https://www.google.com/pagead/1p-conversion/123/?oid=1")]  # the companion hit
    result = read(har(tmp_path / "c.har", entries), "pixel")
    assert len(result.table.frame) == 0
    assert any("2 pixel requests without an event" in n for n in result.notes)


def test_near_miss_documents_are_not_har(tmp_path):
    not_har = write(tmp_path / "c.har", json.dumps({"log": {"entries": "none"}}))
    with pytest.raises(UserError, match="cannot tell what this file is"):
        read(not_har, "pixel")
    with pytest.raises(UserError, match="this is a HAR capture .*: give it with --pixel, not --capi"):
        read(har(tmp_path / "d.har", []), "capi")


def test_reddit_pixel_names_are_written_as_the_api_spells_them(tmp_path):
    custom = entry("https://alb.reddit.com/rp.gif?id=x&event=Custom&m.customEventName=Signup&m.conversionId=c1")
    atc = entry("https://alb.reddit.com/rp.gif?id=x&event=AddToCart&m.conversionId=c2")
    assert [r["event_name"] for r in rows(har(tmp_path / "c.har", [custom, atc]), "pixel")] == ["Signup", "ADD_TO_CART"]
