"""`dedupaudit inspect` and `dedupaudit formats` as a contract: output, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dedupaudit.cli.main import app
from tests.native_support import jsonl, write

REPO = Path(__file__).resolve().parents[1]
NATIVE = REPO / "examples" / "native"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_inspect_says_what_each_file_is_and_where_columns_come_from():
    result = invoke("inspect", NATIVE / "capi" / "meta_capi_requests.jsonl", NATIVE / "orders" / "shopify_orders.csv",
                    NATIVE / "pixel" / "checkout_capture.har", "--rows", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "format    capi-log: CAPI request log (meta-capi)" in out
    assert "meta      3,005 events (5 refused)" in out
    assert "event_id         <- meta-capi: event_id of each event in data[]" in out
    assert "received_time    <- the log record's timestamp/sent_at/time" in out
    assert "format    shopify-orders: Shopify orders export" in out
    assert "line-item rows folded into their order" in out
    assert "order IDs 1,479 of 1,479 compared normalised (e.g. '#NW-" in out
    assert "format    har: HAR capture (browser network log)" in out
    assert "first rows" in out and "@" not in out  # no email from the captured page URLs


def test_inspect_json_counts_per_platform_and_rejects():
    result = invoke("inspect", NATIVE / "capi" / "tiktok_events_api.json", NATIVE / "pixel" / "meta_pixel_log.csv",
                    "--format", "json", "--rows", "1")
    assert result.exit_code == 0, result.output
    tiktok, meta = json.loads(result.output)
    assert tiktok["format"] == "capi-log" and tiktok["side"] == "capi"
    assert tiktok["platforms"]["tiktok"]["test"] == 4 and tiktok["platforms"]["tiktok"]["events"] == 3004
    assert meta["format"] == "pixel-log" and meta["rejected"] == 1
    assert meta["rejected_reasons"] == {"event_time is not a timestamp": 1}
    assert meta["sources"]["event_id"] == "meta: eventID" and "from its columns (eventID)" in meta["sources"]["platform"]
    assert meta["first_rows_at"] == [2]


def test_inspect_exits_2_with_the_reason_when_it_cannot_tell(tmp_path):
    unknown = write(tmp_path / "mystery.csv", "a,b\n1,2\n")
    known = jsonl(tmp_path / "log.jsonl", [{"data": [{"event_name": "Purchase", "event_time": 1, "action_source": "website"}]}])
    result = runner.invoke(app, ["inspect", str(unknown), str(known)])
    assert result.exit_code == 2
    assert "dedupaudit: error: " in result.stderr and "mystery.csv: cannot tell what this file is (columns: a, b)" in result.stderr
    assert "capi-log" in result.stdout  # the other file is still shown
    assert "Traceback" not in result.output


def test_inspect_options(tmp_path):
    log = write(tmp_path / "events.csv", "timestamp,event,event_id\n2026-10-05T07:14:21Z,CompletePayment,1\n")
    unknown = invoke("inspect", log)
    assert unknown.exit_code == 2 and "events.csv: cannot tell what this file is (columns: timestamp, event, event_id)" in unknown.stderr
    mapping = write(tmp_path / "m.yaml", "files:\n  events.csv:\n    format: pixel-log\n    constants: {platform: tiktok}\n")
    result = invoke("inspect", log, "--mapping", mapping, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["platforms"]["tiktok"]["events"] == 1
    for option, message in ((["--read-as", "nope"], "--read-as: 'nope' is not a known format (valid: canonical, capi-log"),
                            (["--side", "sideways"], "--side: 'sideways' is not one of auto, pixel, capi, orders")):
        bad = invoke("inspect", log, *option)
        assert bad.exit_code == 2 and bad.stderr.startswith(f"dedupaudit: error: {message}"), bad.output


def test_formats_lists_every_format_and_what_is_not_confirmed():
    result = invoke("formats")
    assert result.exit_code == 0, result.output
    for name in ("canonical", "capi-log", "har", "pixel-log", "shopify-orders", "woocommerce-orders", "mapped",
                 "meta-capi", "tiktok-events-api", "tiktok-pixel-track", "snap-capi", "pinterest-capi", "reddit-capi",
                 "linkedin-capi", "google-ads-upload", "meta-pixel", "tiktok-pixel", "snap-pixel", "google-ads-tag",
                 "pinterest-tag", "reddit-pixel", "linkedin-pixel"):
        assert f"\n{name} " in "\n" + result.output, name
    assert "not documented: event_id (observed in public captures and parsers" in result.output
    assert "gtag's transaction_id travels as oid" in result.output
    listing = json.loads(invoke("formats", "--format", "json").output)
    google = next(f for f in listing["platform"] if f["format"] == "google-ads-tag")
    assert google["columns"]["event_id"] == "oid" and "event_id" in google["unconfirmed"]
    bad = invoke("formats", "--format", "xml")
    assert bad.exit_code == 2 and bad.stderr == "dedupaudit: error: --format: 'xml' is not one of text, json\n"


def test_inspect_canonical_tables():
    canonical = REPO / "examples" / "canonical"
    result = invoke("inspect", canonical / "capi_events.jsonl", canonical / "orders.csv", "--format", "json", "--rows", "0")
    assert result.exit_code == 0, result.output
    events, orders = json.loads(result.output)
    assert (events["format"], events["side"], events["usable"]) == ("canonical", "events (pixel or capi)", 11899)
    assert events["platforms"]["meta"]["names"] == {"Purchase": 2960, "purchase": 40}
    assert (orders["side"], orders["statuses"]["paid"]) == ("orders", 2899)
