"""Server request logs: each platform's body, the log record forms, test traffic and refusals."""

from __future__ import annotations

import json

import pytest

from dedupaudit.errors import UserError
from tests.native_support import jsonl, read, rows, values_of, write

EM = "a" * 64  # a hashed email
IP = "203.0.113.7"

META = {"data": [{"event_name": "Purchase", "event_time": 1791192742, "event_id": "NW-1", "action_source": "website",
                  "user_data": {"em": [EM], "client_ip_address": IP, "client_user_agent": "Mozilla/5.0"},
                  "custom_data": {"value": 29.7, "currency": "EUR", "order_id": "NW-1"}}]}
TIKTOK = {"event_source": "web", "event_source_id": "C1", "data": [
    {"event": "CompletePayment", "event_time": 1791192742, "event_id": "NW-1",
     "user": {"email": EM, "ip": IP}, "properties": {"value": 29.7, "currency": "EUR", "order_id": "NW-1"},
     "page": {"url": "https://shop.example/thanks"}}]}
TIKTOK_LEGACY = {"pixel_code": "C1", "event": "Purchase", "event_id": "NW-1", "timestamp": "2026-10-05T07:14:03Z",
                 "context": {"user": {"email": EM}}, "properties": {"value": 29.7, "currency": "EUR"}}
SNAP = {"data": [{"event_name": "PURCHASE", "event_time": 1791192742, "event_id": "NW-1", "action_source": "WEB",
                  "user_data": {"em": [EM], "client_ip_address": IP},
                  "custom_data": {"value": "29.7", "currency": "EUR", "order_id": "NW-1"}}]}
PINTEREST = {"data": [{"event_name": "checkout", "event_time": 1791192742, "event_id": "NW-1", "action_source": "web",
                       "user_data": {"em": [EM]}, "custom_data": {"value": "29.7", "currency": "EUR", "order_id": "#NW-1"}}]}
REDDIT = {"data": {"events": [{"event_at": 1791192742000, "action_source": "WEBSITE", "type": {"tracking_type": "PURCHASE"},
                               "user": {"email": EM, "ip_address": IP},
                               "metadata": {"conversion_id": "NW-1", "value": 29.7, "currency": "EUR", "item_count": 1}}]}}
LINKEDIN = {"conversion": "urn:lla:llaPartnerConversion:1", "conversionHappenedAt": 1791192742000,
            "conversionValue": {"currencyCode": "EUR", "amount": "29.7"},
            "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": EM}]}, "eventId": "NW-1"}
GOOGLE = {"customerId": "1", "partialFailure": True, "conversions": [
    {"gclid": "Cj0KCQ-example", "conversionAction": "customers/1/conversionActions/2",
     "conversionDateTime": "2026-10-05 09:14:03+02:00", "conversionValue": 29.7, "currencyCode": "EUR", "orderId": "NW-1"}]}
GOOGLE_SNAKE = {"conversions": [{"conversion_action": "customers/1/conversionActions/2", "conversion_date_time":
                                 "2026-10-05 09:14:03+02:00", "conversion_value": 29.7, "currency_code": "EUR", "order_id": "NW-1"}]}

EXPECTED = {
    "meta": ("Purchase", "1791192742", "NW-1", "29.7"),
    "tiktok": ("CompletePayment", "1791192742", "NW-1", "29.7"),
    "tiktok-legacy": ("Purchase", "2026-10-05T07:14:03Z", None, "29.7"),
    "snap": ("PURCHASE", "1791192742", "NW-1", "29.7"),
    "pinterest": ("checkout", "1791192742", "#NW-1", "29.7"),
    "reddit": ("PURCHASE", "1791192742000", None, "29.7"),
    "linkedin": ("conversion", "1791192742000", None, "29.7"),
    "google": ("conversion", "2026-10-05 09:14:03+02:00", "NW-1", "29.7"),
    "google-snake": ("conversion", "2026-10-05 09:14:03+02:00", "NW-1", "29.7"),
}
BODIES = {"meta": META, "tiktok": TIKTOK, "tiktok-legacy": TIKTOK_LEGACY, "snap": SNAP, "pinterest": PINTEREST,
          "reddit": REDDIT, "linkedin": LINKEDIN, "google": GOOGLE, "google-snake": GOOGLE_SNAKE}


@pytest.mark.parametrize("name", list(BODIES))
def test_each_platforms_body_gives_its_fields(tmp_path, name):
    result = read(jsonl(tmp_path / "log.jsonl", [BODIES[name]]), "capi")
    assert result.format == "capi-log"
    [row] = rows(tmp_path / "log.jsonl", "capi")
    platform = name.split("-")[0]
    name_, time, order, value = EXPECTED[name]
    assert (row["platform"], row["event_name"], row["event_time"], row.get("order_id"), row["value"]) == \
        (platform, name_, time, order, value)
    assert row["event_id"] == "NW-1" and row["currency"] == "EUR"
    assert "delivery" not in row and "received_time" not in row  # a bare body: no send time, delivered
    text = values_of(result.table.frame)
    assert EM not in text and IP not in text and "Mozilla" not in text and "Cj0KCQ" not in text


def test_wrapped_records_keep_send_time_and_every_wrapper_form(tmp_path):
    records = [
        {"timestamp": "2026-10-05T09:32:27Z", "body": META, "response": {"events_received": 1}},
        {"sent_at": 1791192900000, "request": json.dumps(TIKTOK), "response": {"code": 0, "message": "OK"}},
        {"time": "2026-10-05 09:14:03 +0200", "payload": SNAP, "url": "https://tr.snapchat.com/v3/px/events"},
        {"time": "2026-10-05 09:15:00 +0200", "request": {"method": "POST", "url": "https://api.pinterest.com/v5/ad_accounts/1/events",
                                                         "body": PINTEREST}},
    ]
    found = rows(jsonl(tmp_path / "log.jsonl", records), "capi")
    assert [(r["platform"], r["received_time"]) for r in found] == [
        ("meta", "2026-10-05T09:32:27Z"), ("tiktok", "1791192900000"), ("snap", "2026-10-05 09:14:03 +0200"),
        ("pinterest", "2026-10-05 09:15:00 +0200")]
    table = read(tmp_path / "log.jsonl", "capi").table
    assert table.row.tolist() == [1, 2, 3, 4]
    assert table.frame["source_ref"].tolist() == ["line 1, data[0]", "line 2, data[0]", "line 3, data[0]", "line 4, data[0]"]


def test_json_array_and_single_document_logs(tmp_path):
    array = write(tmp_path / "log.json", json.dumps([{"timestamp": "2026-10-05T09:00:00Z", "body": META},
                                                     {"timestamp": "2026-10-05T09:01:00Z", "body": GOOGLE}], indent=2))
    table = read(array, "capi").table
    assert table.row.tolist() == [1, 2]
    assert table.frame["source_ref"].tolist() == ["record 1, data[0]", "record 2, conversions[0]"]
    document = write(tmp_path / "one.json", json.dumps(REDDIT, indent=2))
    assert [r["platform"] for r in rows(document, "capi")] == ["reddit"]


def test_batches_number_each_event(tmp_path):
    batch = {"data": [dict(META["data"][0], event_id=f"NW-{i}") for i in range(3)]}
    table = read(jsonl(tmp_path / "log.jsonl", [batch]), "capi").table
    assert table.frame["event_id"].tolist() == ["NW-0", "NW-1", "NW-2"]
    assert table.frame["source_ref"].tolist() == ["line 1, data[0]", "line 1, data[1]", "line 1, data[2]"]
    linkedin = {"elements": [LINKEDIN, dict(LINKEDIN, eventId="NW-2")]}
    assert [r["event_id"] for r in rows(jsonl(tmp_path / "li.jsonl", [linkedin]), "capi")] == ["NW-1", "NW-2"]


def test_missing_and_empty_ids_stay_missing(tmp_path):
    events = [dict(META["data"][0], event_id=""), {k: v for k, v in META["data"][0].items() if k != "event_id"}]
    found = rows(jsonl(tmp_path / "log.jsonl", [{"data": events}]), "capi")
    assert all("event_id" not in r for r in found)


def test_test_codes_mark_test_traffic(tmp_path):
    records = [dict(META, test_event_code="TEST123"), dict(TIKTOK, test_event_code="TEST9"),
               {"data": dict(REDDIT["data"], test_id="t2_abc")}, dict(GOOGLE, validateOnly=True),
               dict(GOOGLE, validateOnly=False),
               {"time": "2026-10-05T09:00:00Z", "url": "https://tr.snapchat.com/v3/px/events/validate", "body": SNAP}]
    found = rows(jsonl(tmp_path / "log.jsonl", records), "capi")
    assert [r.get("delivery") for r in found] == ["test", "test", "test", "test", None, "test"]
    assert found[0]["delivery_message"] == "test_event_code TEST123"


def test_refusals_carry_the_platforms_message(tmp_path):
    meta_error = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                            "error_user_msg": "The event time is too far in the past."}}
    batch = {"data": [META["data"][0], dict(META["data"][0], event_id="NW-2")]}
    records = [
        {"timestamp": "2026-10-05T09:00:00Z", "body": META, "response": meta_error},
        {"timestamp": "2026-10-05T09:00:00Z", "body": batch, "response": {"events_received": 1}},
        {"timestamp": "2026-10-05T09:00:00Z", "body": META, "status": 500, "response": "upstream timeout"},
        {"timestamp": "2026-10-05T09:00:00Z", "body": TIKTOK, "response": {"code": 40002, "message": "Invalid event_time"}},
        {"timestamp": "2026-10-05T09:00:00Z", "body": SNAP, "response": {"status": "FAILED", "reason": "Invalid pixel"}},
        {"timestamp": "2026-10-05T09:00:00Z", "body": META, "response": {"events_received": 1}},
    ]
    found = rows(jsonl(tmp_path / "log.jsonl", records), "capi")
    deliveries = [(r.get("delivery"), r.get("delivery_message")) for r in found]
    assert deliveries[0] == ("refused", "The event time is too far in the past.")
    assert deliveries[1][0] == deliveries[2][0] == "refused" and "received 1 of 2" in deliveries[1][1]
    assert deliveries[3] == ("refused", "HTTP 500")
    assert deliveries[4] == ("refused", "code 40002: Invalid event_time")
    assert deliveries[5] == ("refused", "status FAILED: Invalid pixel")
    assert deliveries[6] == (None, None)


def test_per_event_statuses_and_partial_failures_refuse_only_those_events(tmp_path):
    pinterest = {"data": [PINTEREST["data"][0], dict(PINTEREST["data"][0], event_id="NW-2")]}
    google = {"conversions": [GOOGLE["conversions"][0], dict(GOOGLE["conversions"][0], orderId="NW-2")]}
    failure = {"code": 3, "message": "Some conversions failed", "details": [{"errors": [
        {"message": "This order ID was already used.", "location": {"fieldPathElements": [
            {"fieldName": "conversions", "index": 1}, {"fieldName": "order_id"}]}}]}]}
    linkedin = {"elements": [LINKEDIN, dict(LINKEDIN, eventId="NW-2")]}
    records = [
        {"timestamp": "2026-10-05T09:00:00Z", "body": pinterest, "response": {
            "num_events_received": 2, "num_events_processed": 1,
            "events": [{"status": "processed"}, {"status": "failed", "error_message": "event_time is in the future"}]}},
        {"timestamp": "2026-10-05T09:00:00Z", "body": google, "response": {"partialFailureError": failure, "results": [{}, {}]}},
        {"timestamp": "2026-10-05T09:00:00Z", "body": linkedin, "response": {"elements": [{"status": 201}, {"status": 400}]}},
    ]
    found = rows(jsonl(tmp_path / "log.jsonl", records), "capi")
    assert [(r["platform"], r.get("delivery"), r.get("delivery_message")) for r in found] == [
        ("pinterest", None, None), ("pinterest", "refused", "event_time is in the future"),
        ("google", None, None), ("google", "refused", "This order ID was already used."),
        ("linkedin", None, None), ("linkedin", "refused", "status 400")]


def test_platform_by_url_hints_and_names(tmp_path):
    bare = {"data": [{"event_name": "Purchase", "event_time": 1791192742, "event_id": "x"}]}  # no action_source
    as_snap = {"data": [{"event_name": "PURCHASE", "event_time": 1791192742, "event_id": "x"}]}
    records = [
        {"url": "https://graph.facebook.com/v21.0/1/events", "time": "2026-10-05T09:00:00Z",
         "body": {"data": [dict(SNAP["data"][0])]}},  # the URL wins over the body's look
        bare, as_snap,
    ]
    assert [r["platform"] for r in rows(jsonl(tmp_path / "log.jsonl", records), "capi")] == ["meta", "meta", "snap"]


def test_near_misses_become_rejects_with_reasons(tmp_path):
    ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742}]}  # Meta, Snap or Pinterest?
    log = write(tmp_path / "log.jsonl", "\n".join([json.dumps(META), json.dumps({"foo": 1}), "{not json",
                                                   json.dumps(ambiguous), json.dumps({"data": "x", "event_source": "web"}),
                                                   json.dumps({"body": "not json", "time": 1})]) + "\n")
    table = read(log, "capi").table
    assert table.frame["platform"].tolist() == ["meta", "meta"]  # the file's other body is Meta's: so is line 4
    reasons = {b[0]: b[1] for b in table.broken}
    assert "no rule file's native.server shape matches" in reasons[2]
    assert reasons[3].startswith("invalid JSON")
    assert "not JSON" in reasons[6]
    assert all("line" not in reason for reason in reasons.values())  # the line is the row, not part of the reason


def test_a_file_nothing_tells_apart_is_an_error_naming_the_candidates(tmp_path):
    ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742}]}
    with pytest.raises(UserError, match="could be meta-capi or pinterest-capi or snap-capi.*--capi-format meta-capi"):
        read(jsonl(tmp_path / "log.jsonl", [ambiguous, ambiguous]), "capi")


def test_forcing_a_platform_format(tmp_path):
    ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742, "event_id": "x"}]}
    log = jsonl(tmp_path / "log.jsonl", [ambiguous])
    [row] = rows(log, "capi", formats={"capi": "snap-capi"})
    assert row["platform"] == "snap"
    with pytest.raises(UserError, match="--capi-format: 'snap' is not a known format"):
        read(log, "capi", formats={"capi": "snap"})
    with pytest.raises(UserError, match="'snap-capi' is a format of capi files, not pixel files"):
        read(log, "pixel", formats={"pixel": "snap-capi"})


def test_engine_counts_neither_test_nor_refused_events(tmp_path):
    from dedupaudit.inputs.canonical import load_events
    from dedupaudit.inputs.timestamps import resolve_timezone
    from tests.native_support import RULES

    records = [{"timestamp": "2026-10-05T09:00:00Z", "body": META},
               {"timestamp": "2026-10-05T09:00:00Z", "body": dict(META, test_event_code="T1")},
               {"timestamp": "2026-10-05T09:00:00Z", "body": META, "response": {"error": {"message": "bad"}}}]
    loaded = load_events([jsonl(tmp_path / "log.jsonl", records)], "capi", resolve_timezone("UTC"), None, set(RULES))
    assert loaded.frame["delivery"].fillna("").tolist() == ["", "test", "refused"]
    assert loaded.frame["received_time"].astype(str).tolist() == ["2026-10-05 09:00:00"] * 3
    assert len(loaded.rejects) == 0
