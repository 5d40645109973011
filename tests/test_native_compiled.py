"""The compiled reading of CAPI request logs (inputs/native/compile.py) against the Python reader as the oracle:
for every body shape with a fixture and every log form the reader knows, the same rows (every column, in
order, with their line), the same integer-valued-float ID flags, the same rejects with reason and source_ref.
Forms the query does not express must say so (None) so that the Python reader reads them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from dedupaudit.connection import Connection
from dedupaudit.errors import UserError
from dedupaudit.inputs.detect import ReadContext, _decide, _read, scan_input
from dedupaudit.inputs.files import scan_frame
from dedupaudit.inputs.native.capi_logs import server_formats
from dedupaudit.inputs.native.compile import scan_capi_log
from tests.native_support import RULES, jsonl, write
from tests.test_native_capi import BODIES, GOOGLE, LINKEDIN, META, PINTEREST, REDDIT, SNAP, TIKTOK

REPO = Path(__file__).resolve().parents[1]
FIXTURES = sorted((REPO / "tests" / "fixtures" / "real").glob("*/*.jsonl")) + sorted((REPO / "examples" / "native" / "capi").glob("*"))
# fixtures the query leaves to the Python reader (compile.FALLBACK_SHAPES): none since the envelopes, form
# encoding, Cloud Logging payloads and gateway lines joined by TraceId are read in the query (envelope.py)
PYTHON_ONLY: set[str] = set()


def _rows(con, scan, columns, numeric) -> list[tuple]:
    cols = ", ".join(scan.quoted(c) for c in columns)
    flags = ", ".join(scan.numeric_flag(c) or "false" for c in numeric)
    return con.execute(f"SELECT s.__row, {cols}, {flags} FROM {scan.relation} s ORDER BY s.__seq").fetchall()


def compare(path: Path, fmt: str | None = None) -> int | None:
    """Assert the compiled scan equals the Python reader's; the number of rows, or None when compile declines."""
    forced = next(s for s in server_formats(RULES) if s.format == fmt) if fmt else None
    with Connection(threads=2) as connection:
        compiled = scan_capi_log(connection, path, RULES, forced)
        if compiled is None:
            return None
        _, _, found, records, mapping, _ = _decide(path, "capi", ReadContext(rules=RULES, formats={"capi": fmt} if fmt else {}))
        oracle = scan_frame(connection, _read(path, found, "capi", RULES, mapping, records).table)
        assert compiled.columns == oracle.columns
        con = connection.con
        got, want = (_rows(con, s, compiled.columns, ("event_id", "order_id")) for s in (compiled, oracle))
        assert got == want
        assert sorted(compiled.broken) == sorted(oracle.broken)
        return len(got)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_reads_the_same_compiled(path):
    n = compare(path)
    assert (n is None) == (path.name in PYTHON_ONLY)
    assert n is None or n > 0


@pytest.mark.parametrize("name", list(BODIES))
def test_each_platforms_body(tmp_path, name):
    assert compare(jsonl(tmp_path / "log.jsonl", [BODIES[name]])) == 1


def test_wrappers_arrays_compression_and_batches(tmp_path):
    records = [{"timestamp": "2026-10-05T09:32:27Z", "body": META, "response": {"events_received": 1}},
               {"sent_at": 1791192900000, "request": json.dumps(TIKTOK), "response": {"code": 0, "message": "OK"}},
               {"time": "2026-10-05 09:14:03 +0200", "payload": SNAP, "url": "https://tr.snapchat.com/v3/px/events"},
               {"timestamp": "2026-10-05T09:00:00Z", "body_": 1, "data": [dict(META["data"][0], event_id=f"NW-{i}") for i in range(3)]},
               {"elements": [LINKEDIN, dict(LINKEDIN, eventId="NW-2")]}]
    text = "".join(json.dumps(r) + "\n" + ("\n" if i == 1 else "") for i, r in enumerate(records))
    assert compare(write(tmp_path / "log.jsonl", text)) == 8
    assert compare(write(tmp_path / "log.json", json.dumps(records, indent=2))) == 8
    (tmp_path / "log.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    assert compare(tmp_path / "log.jsonl.gz") == 8
    (tmp_path / "log.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    assert compare(tmp_path / "log.jsonl.zst") == 8


def test_values_ids_and_user_data(tmp_path):
    event = META["data"][0]
    events = [dict(event, event_id=1001.0, custom_data={"value": 1e16, "currency": "EUR", "order_id": 77}),
              dict(event, event_id=12.5, custom_data={"value": 100000.0, "order_id": " "}),
              dict(event, event_id=True, custom_data={"value": 0.30000000000000004, "order_id": -0.0}),
              dict(event, event_id="", user_data={"em": ["jane@example.com"], "ph": "a" * 64}),
              dict(event, user_data={"Email": "b" * 64, "phone": " +49 170 "}),
              {k: v for k, v in event.items() if k != "event_id"}]
    assert compare(jsonl(tmp_path / "log.jsonl", [{"data": events}])) == 6


def test_test_marks_and_refusals(tmp_path):
    meta_error = {"error": {"message": "Invalid parameter", "error_user_msg": "The event time is  too far\nin the past."}}
    batch = {"data": [META["data"][0], dict(META["data"][0], event_id="NW-2")]}
    pinterest = {"data": [PINTEREST["data"][0], dict(PINTEREST["data"][0], event_id="NW-2")]}
    records = [dict(META, test_event_code="TEST123"), dict(TIKTOK, test_event_code="TEST9"),
               {"data": dict(REDDIT["data"], test_id="t2_abc")}, dict(GOOGLE, validateOnly=True), dict(GOOGLE, validateOnly=False),
               dict(META, test_event_code=0), dict(META, test_event_code="false"),
               {"time": "2026-10-05T09:00:00Z", "url": "https://tr.snapchat.com/v3/px/events/validate", "body": SNAP},
               {"timestamp": "2026-10-05T09:00:00Z", "body": META, "response": meta_error},
               {"timestamp": "2026-10-05T09:00:00Z", "body": batch, "response": {"events_received": 1}},
               {"timestamp": "2026-10-05T09:00:00Z", "body": batch, "response": {"events_received": "x"}},
               {"timestamp": "2026-10-05T09:00:00Z", "body": META, "status": 500, "response": "upstream timeout"},
               {"timestamp": "2026-10-05T09:00:00Z", "body": META, "status": "503", "response": json.dumps(meta_error)},
               {"timestamp": "2026-10-05T09:00:00Z", "body": TIKTOK, "response": {"code": 40002, "message": "Invalid event_time"}},
               {"timestamp": "2026-10-05T09:00:00Z", "body": SNAP, "response": {"status": "FAILED", "reason": "x" * 400}},
               {"timestamp": "2026-10-05T09:00:00Z", "body": pinterest, "response": {
                   "events": [{"status": "processed"}, {"status": "failed", "error_message": "event_time is in the future"}]}},
               {"timestamp": "2026-10-05T09:00:00Z", "body": {"elements": [LINKEDIN, LINKEDIN]},
                "response": {"elements": [{"status": 201}, {"status": 400}]}},
               {"time": "2026-10-05T09:00:00Z", "body": {"data": [dict(SNAP["data"][0], test_event_code="T")]}}]
    assert compare(jsonl(tmp_path / "log.jsonl", records)) == 22


def test_platform_decisions_and_rejects(tmp_path):
    bare = {"data": [{"event_name": "Purchase", "event_time": 1791192742, "event_id": "x"}]}
    as_snap = {"data": [{"event_name": "PURCHASE", "event_time": 1791192742, "event_id": "x"}]}
    ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742}]}
    lines = [json.dumps(META),
             json.dumps({"url": "https://graph.facebook.com/v21.0/1/events", "time": "2026-10-05T09:00:00Z", "body": SNAP}),
             json.dumps(bare), json.dumps(as_snap), json.dumps({"foo": 1}), "{not json", json.dumps(ambiguous),
             json.dumps({"data": "x", "event_source": "web"}), json.dumps([1, 2]), json.dumps({"body": [1]}),
             json.dumps({"body": "[1]", "time": 1}),
             json.dumps({"url": "https://oauth2.googleapis.com/token", "time": 1, "body": {"grant_type": "x"}}),
             json.dumps({"data": [META["data"][0], "not an event", 3, "{cut"]}),
             json.dumps({"data": json.dumps(META["data"])}), json.dumps({"data": [json.dumps(e) for e in META["data"]]}),
             json.dumps({"conversions": "nope", "partialFailure": True})]
    assert compare(write(tmp_path / "log.jsonl", "\n".join(lines) + "\n")) == 7
    assert compare(jsonl(tmp_path / "forced.jsonl", [ambiguous, META, {"data": []}]), "snap-capi") == 2


def test_events_that_are_not_objects_are_rejected(tmp_path):
    """Each one a reject with its source_ref, in a body the URL, the shape or --capi-format decides (the record's
    own reason column once shadowed the event's, and such events became rows without values)."""
    body = {"data": [META["data"][0], "not an event", 3, None, ["x"]]}
    records = [{"timestamp": T, "url": URL, "body": body}, body, {"timestamp": T, "body": json.dumps(body)}]
    assert compare(jsonl(tmp_path / "log.jsonl", records)) == 3
    assert compare(write(tmp_path / "log.json", json.dumps(records, indent=1))) == 3
    assert compare(jsonl(tmp_path / "forced.jsonl", records), "meta-capi") == 3
    with Connection(threads=2) as connection:
        assert len(scan_capi_log(connection, tmp_path / "log.jsonl", RULES).broken) == 12


def test_forms_left_to_the_python_reader(tmp_path):
    ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742}]}
    assert compare(jsonl(tmp_path / "a.jsonl", [ambiguous, ambiguous])) is None  # the Python reader raises, naming them
    assert compare(jsonl(tmp_path / "b.jsonl", [{"body": "data=%5B%5D&access_token=x"}])) == 0  # a form: read in the query
    assert compare(jsonl(tmp_path / "c.jsonl", [dict(META, data=[dict(META["data"][0], event_id=["a", "b"])])])) is None
    odd_break = json.dumps(dict(META, note="a\u2028b"), ensure_ascii=False)  # a line break to Python, not to DuckDB
    assert compare(write(tmp_path / "d.jsonl", json.dumps(META) + "\n" + odd_break + "\n")) is None
    assert compare(write(tmp_path / "d1.jsonl", odd_break + "\n")) == 1  # no whole first line: one document to Python
    assert compare(write(tmp_path / "cr.jsonl", json.dumps(META) + "\r" + json.dumps(META) + "\r\n")) == 2
    assert compare(write(tmp_path / "e.json", json.dumps(META, indent=2))) == 1  # one document: read in the query (tablelog.py)
    assert compare(jsonl(tmp_path / "f.jsonl", [dict(META, test_event_code={"x": 1})])) is None  # a test code that is an object


def test_check_reads_capi_logs_through_the_compiled_query(tmp_path):
    log = jsonl(tmp_path / "log.jsonl", [META])
    with Connection() as connection:
        found = scan_input(connection, log, "capi", ReadContext(rules=RULES))
        assert found.relation.startswith("native_scan")
        found.drop()
        with pytest.raises(UserError, match="could be meta-capi or pinterest-capi or snap-capi"):
            ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742}]}
            scan_input(connection, jsonl(tmp_path / "amb.jsonl", [ambiguous]), "capi", ReadContext(rules=RULES))


def test_detection_samples_the_head_of_a_large_array(tmp_path):
    from dedupaudit.inputs.native.jsonio import sniff_records

    bodies = [dict(META, data=[dict(META["data"][0], event_id=f"NW-{i}")]) for i in range(5000)]
    path = write(tmp_path / "log.json", json.dumps(bodies))
    assert path.stat().st_size > 1 << 20
    head = sniff_records(path)
    assert head.layout == "array" and head.partial and [pos for pos, _ in head.items] == list(range(1, 51))
    assert head.items[49][1] == bodies[49]
    assert compare(path) == 5000


def test_generate_native_writes_a_log_the_audit_reads_as_the_canonical_table(tmp_path):
    from typer.testing import CliRunner

    from dedupaudit.cli.main import app

    figures = {}
    for native in (False, True):
        folder = tmp_path / str(native)
        args = ["generate", str(folder), "--orders", "400", "--seed", "3", "--platforms", "meta,tiktok,snap", "--no-truth"]
        assert CliRunner().invoke(app, args + (["--native"] if native else [])).exit_code == 0
        capi = folder / ("capi.native.jsonl" if native else "capi.csv")
        if native:
            first = json.loads(capi.read_text().splitlines()[0])
            assert set(first) == {"timestamp", "url", "body"} and "data" in first["body"]
        run = CliRunner().invoke(app, ["check", "--pixel", str(folder / "pixel.csv"), "--capi", str(capi), "--orders",
                                       str(folder / "orders.csv"), "--format", "json", "--fail-on", "never"])
        assert run.exit_code == 0, run.output
        report = json.loads(run.stdout)
        figures[native] = (sorted(report["platforms"], key=lambda p: (p["platform"], p["event"])), report["inputs"]["capi"]["rows"])
    assert figures[True] == figures[False] and figures[True][1] > 400


# ---------------------------------------------------------------- envelopes, forms, payloads and gateway lines (envelope.py)

URL = "https://graph.facebook.com/v21.0/1/events"
T = "2026-10-05T09:00:00Z"
FORM = "data=" + __import__("urllib.parse").parse.quote(json.dumps(META["data"])) + "&access_token=x"


def _segment(body, url=URL, response=None, **extra):
    request = {"method": "POST", "url": url, "headers": {"content-type": "application/json"}, "body": body}
    return {"timestamp": T, "request": request, "response": response or {"status": 200, "body": "{}"}, **extra}


def _write_all(tmp_path, name: str, records: list, extra_lines: tuple = ()) -> list[Path]:
    """The records as JSON Lines (with `extra_lines` appended), .gz, .zst and a JSON array."""
    text = "".join(json.dumps(r) + "\n" for r in records) + "".join(line + "\n" for line in extra_lines)
    paths = [write(tmp_path / f"{name}.jsonl", text)]
    (tmp_path / f"{name}.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / f"{name}.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    paths += [tmp_path / f"{name}.jsonl.gz", tmp_path / f"{name}.jsonl.zst"]
    if not extra_lines:
        paths.append(write(tmp_path / f"{name}.json", json.dumps(records, indent=1)))
    return paths


def test_segment_envelopes_compiled(tmp_path):
    meta_error = json.dumps({"error": {"message": "Invalid parameter", "error_user_msg": "too old"}})
    records = [_segment(json.dumps(META)), _segment(META), _segment(FORM), _segment(json.dumps(TIKTOK), url="https://business-api.tiktok.com/open_api/v1.3/event/track/"),
               _segment("{cut", ), _segment(None), _segment(3), _segment("  "), _segment("123"), _segment("hello"),
               _segment(json.dumps(META), response={"status": 400, "body": meta_error}),
               _segment(json.dumps(META), response={"status": 200, "body": "{broken"}),
               _segment(json.dumps(META), response={"status": "200", "body": {"events_received": 0}}),
               _segment(json.dumps(META), response={"statusCode": 503, "body": None}),
               _segment(json.dumps(META), response="not json at all"),
               {"timestamp": T, "url": "", "request": {"url": URL, "json": META}},
               {"timestamp": T, "request": {"method": "POST", "payload": json.dumps({"JSON": META, "XML": {}})}},
               {"timestamp": T, "request": {"url": URL, "headers": {}}},
               {"timestamp": T, "request": {"method": "POST", "url": "https://oauth2.googleapis.com/token", "body": "grant_type=x&y=1"}},
               {"timestamp": T, "request": {"url": None, "data": [1]}},
               _segment(json.dumps(SNAP), url="https://tr.snapchat.com/v3/px/events")]
    for path in _write_all(tmp_path, "segment", records):
        assert compare(path) == 11, path.name


def test_rudderstack_envelopes_compiled(tmp_path):
    form = {"data": [json.dumps(e) for e in META["data"]]}
    records = [{"endpoint": URL, "body": {"JSON": {}, "XML": {}, "JSON_ARRAY": {}, "FORM": form}},
               {"endpoint": URL, "body": {"JSON": META, "XML": {}, "JSON_ARRAY": {}, "FORM": {}}},
               {"endpoint": URL, "body": {"JSON": {}, "XML": {}, "JSON_ARRAY": {}, "FORM": {}}},
               {"endpoint": URL, "body": {"JSON": "x", "FORM": {"data": "[{\"event_name\": \"Purchase\"}]"}}},
               {"endpoint": URL, "body": {"XML": {"a": 1}}},
               {"JSON": META, "XML": {}},
               {"JSON": {}, "FORM": {}},
               {"type": "REST", "endpoint": URL, "body": {"JSON": {"data": json.dumps(META["data"])}, "other": 1}}]
    for path in _write_all(tmp_path, "rudder", records):
        assert compare(path) == 4, path.name


def test_form_encoded_bodies_compiled(tmp_path):
    event = dict(META["data"][0], event_id="ü €/+&=", custom_data={"value": 1.5, "currency": "EUR", "order_id": "a b"})
    quoted = __import__("urllib.parse").parse.quote_plus(json.dumps([event]))
    bodies = [FORM, "data=" + quoted + "&access_token=x&access_token=y", "  access_token=x&data=" + quoted + "  ",
              "data=%5B%5D", "data=%E2%82&x=1", "data=%zz&x", "data", "=", "&&", "a=1;b=2", "data=" + quoted.replace("%22", "%2", 1)]
    records = [{"timestamp": T, "url": URL, "body": b} for b in bodies]
    records.append({"timestamp": T, "request": FORM})
    for path in _write_all(tmp_path, "form", records):
        assert compare(path) == 4, path.name


def test_cloud_logging_and_gateway_lines_compiled(tmp_path):
    snap_url = "https://tr.snapchat.com/v3/PIXEL/events?access_token=x"

    def request(trace, name="Snapchat", event="PURCHASE", body=SNAP, **extra):
        return {"Name": name, "Type": "Request", "TraceId": trace, "EventName": event, "RequestMethod": "POST",
                "RequestUrl": snap_url, "RequestBody": body, **extra}

    def response(trace, name="Snapchat", event="PURCHASE", status=200, body="{\"status\":\"VALID\"}", **extra):
        return {"Name": name, "Type": "Response", "TraceId": trace, "EventName": event, "ResponseStatusCode": status,
                "ResponseBody": body, **extra}

    failed = json.dumps({"status": "FAILED", "reason": "bad pixel"})
    records = [{"timestamp": T, "jsonPayload": request("t1")}, {"timestamp": T, "jsonPayload": response("t1", status=400, body=failed)},
               response("t0"),  # an orphan: no request before it
               request("t2"), request("t2"), response("t2", body=failed), response("t2"), response("t2"),
               {"timestamp": T, "textPayload": json.dumps(request("t3"))}, {"timestamp": T, "textPayload": json.dumps(response("t3", status=500))},
               {"timestamp": T, "textPayload": "{not json", "body": SNAP},
               {"timestamp": T, "jsonPayload": "  " + json.dumps(request(7))}, response(7, body=None),
               request("t4", name=None), response("t4", name=None, status="503"),
               request("t5", event="X"), response("t5", event="Y", status=500),
               {"severity": "INFO", "jsonPayload": {"Type": "Response", "TraceId": "t9", "RequestBody": SNAP}},
               {"timestamp": T, "insertId": "a", "jsonPayload": {"timestamp": "2026-10-05T10:00:00Z", "body": META, "response": None}},
               {"timestamp": T, "jsonPayload": {"Name": "GA4", "Type": "Request", "TraceId": "g", "RequestUrl": "https://www.google-analytics.com/g/collect",
                                                "RequestBody": {"client_id": "1"}}},
               {"timestamp": T, "jsonPayload": {}}]
    for path in _write_all(tmp_path, "gateway", records):
        assert compare(path) == 10, path.name


def test_envelope_forms_still_left_to_the_python_reader(tmp_path):
    duplicate = '{"timestamp": "2026-10-05T09:00:00Z", "jsonPayload": {"body": {}, "body": ' + json.dumps(META) + "}}"
    assert compare(write(tmp_path / "dup.jsonl", duplicate + "\n")) is None  # a map cannot hold both keys
    nested = {"timestamp": T, "jsonPayload": {"jsonPayload": {"body": META}}}
    assert compare(jsonl(tmp_path / "nested.jsonl", [nested])) is None
    mixed = [{"Type": "Request", "TraceId": 1, "RequestBody": META, "RequestUrl": URL}, {"Type": "Response", "TraceId": True}]
    assert compare(jsonl(tmp_path / "mixed.jsonl", mixed)) is None  # True == 1 to Python
    surrogate = {"timestamp": T, "body": '{"data": "\\ud800"}'}  # a lone surrogate: Python parses it, DuckDB does not
    assert compare(jsonl(tmp_path / "surrogate.jsonl", [surrogate])) is None
    assert compare(jsonl(tmp_path / "payload.jsonl", [{"timestamp": T, "textPayload": surrogate["body"]}])) is None


def test_google_partial_failures_compiled(tmp_path):
    google = {"conversions": [dict(GOOGLE["conversions"][0], orderId=f"NW-{i}") for i in range(3)]}

    def error(index, message="This order ID was already used.", snake=False, name="conversions"):
        key, field = ("field_path_elements", "field_name") if snake else ("fieldPathElements", "fieldName")
        out = {"location": {key: [{field: name, "index": index}, {field: "order_id"}]}}
        return dict(out, message=message) if message is not None else out

    def failure(*errors, message="Some conversions failed", details=None):
        out = {"code": 3, "details": details if details is not None else [{"errors": list(errors)}]}
        return dict(out, message=message) if message is not None else out

    responses = [{"partialFailureError": failure(error(1))},
                 {"partial_failure_error": failure(error(0, "first"), error(0, "second"), error(2, snake=True))},
                 {"partialFailureError": failure(error(7))},  # no event of the body: all are refused
                 {"partialFailureError": failure(message=None, details=[])},
                 {"partialFailureError": failure(error(1.0), error(2, message=None), error(1, name="other"))},
                 {"partialFailureError": failure(error(1, message=""), message="")},
                 {"partialFailureError": failure(details=[{"errors": []}, "x", {"errors": None}, {}])},
                 {"partialFailureError": {"code": 3, "message": "flat", "details": "text"}},
                 {"partialFailureError": "not an object", "results": [{}, {}, {}]},
                 {"partialFailureError": {}, "results": [{}]},
                 {"partialFailureError": failure({"location": {"fieldPathElements": [], "field_path_elements": [
                     {"fieldName": "", "field_name": "conversions", "index": 2}]}, "message": "  spaced\nout  "})},
                 {"partialFailureError": failure({"location": None, "message": "nowhere"})}]
    records = [{"timestamp": T, "body": google, "response": r} for r in responses]
    assert compare(jsonl(tmp_path / "log.jsonl", records)) == 3 * len(records)
    negative = [{"timestamp": T, "body": google, "response": {"partialFailureError": failure(error(-1), error(2, "again"))}}]
    assert compare(jsonl(tmp_path / "negative.jsonl", negative)) == 3  # index -1: Python refuses the last event
    stops = [{"timestamp": T, "body": google, "response": {"partialFailureError": failure(details=[{"errors": "x"}])}}]
    with Connection(threads=2) as connection:  # the Python reader stops on it (str has no .get): left to it, as before
        assert scan_capi_log(connection, jsonl(tmp_path / "stops.jsonl", stops), RULES) is None


# ---------------------------------------------------------------- request tables and single documents (tablelog.py)

def _python_reading(path: Path):
    """The Python reader's reading of a file the query declines (asserted): what it does there instead."""
    with Connection(threads=2) as connection:
        assert scan_capi_log(connection, path, RULES) is None
    _, _, found, records, mapping, _ = _decide(path, "capi", ReadContext(rules=RULES))
    return _read(path, found, "capi", RULES, mapping, records).table


def _bigquery() -> list[dict]:
    """Stape's BigQuery export (tests/fixtures/real/gateways), with rows for the edge cases of a table's cells."""
    records = [json.loads(line) for line in (REPO / "tests/fixtures/real/gateways/stape_bigquery.jsonl").read_text().splitlines()]
    row = dict(records[0])
    return records + [dict(row, request_body=json.dumps(dict(META, data=[dict(META["data"][0], event_id="NW-ml")]), indent=2)),
                      dict(row, request_body=""), dict(row, request_body="{cut"), dict(row, request_body=FORM),
                      dict(row, request_body=json.dumps(META), response_status_code="500", response_body="{broken"),
                      dict(row, request_url="https://oauth2.googleapis.com/token", request_body="grant_type=x"),
                      dict(row, timestamp="", request_body=json.dumps(TIKTOK), request_url="")]


def _table(path: Path, records: list[dict], delimiter: str = ",") -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]), delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return path


def test_request_tables_compiled(tmp_path):
    records = _bigquery()
    csv_path = _table(tmp_path / "export.csv", records)
    assert compare(csv_path) == 6
    assert compare(_table(tmp_path / "export.tsv", records, "\t")) == 6
    (tmp_path / "export.csv.gz").write_bytes(gzip.compress(csv_path.read_bytes()))
    assert compare(tmp_path / "export.csv.gz") == 6
    (tmp_path / "crlf.csv").write_bytes(csv_path.read_bytes().replace(b"\n", b"\r\n"))
    assert compare(tmp_path / "crlf.csv") == 6
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    assert compare(tmp_path / "bom.csv") == 6
    assert compare(write(tmp_path / "header.csv", "timestamp,request_url,request_body\n")) == 0
    with Connection(threads=2) as connection:  # the multi-line body's row, and the rows after it, keep their lines
        scan = scan_capi_log(connection, csv_path, RULES)
        rows = connection.con.execute(f"SELECT __row, event_id FROM {scan.relation} ORDER BY __seq").fetchall()
        spanned = records[2]["request_body"].count("\n") + 1
        assert spanned > 10 and (4, "NW-ml") in rows and scan.broken[0][0] == 4 + spanned  # the empty body's reject


def test_typed_request_tables_compiled(tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame(_bigquery()).assign(
        timestamp=lambda f: pd.to_datetime(f["timestamp"].str.replace(" UTC", "Z"), utc=True, errors="coerce"),
        response_status_code=lambda f: pd.to_numeric(f["response_status_code"]).astype("Int64"))
    frame.loc[1, "response_body"] = None  # a null cell is no key in the Python reader's record
    frame.to_parquet(tmp_path / "export.parquet")
    assert compare(tmp_path / "export.parquet") == 6
    table = pq.read_table(tmp_path / "export.parquet")
    naive = table.set_column(0, "timestamp", table["timestamp"].cast(pa.timestamp("ms"))).replace_schema_metadata(None)
    n = len(table)
    pq.write_table(naive.append_column("ok", pa.array([True, None] * n)[:n]).append_column("score", pa.array([0.1, 1e16] * n)[:n]),
                   tmp_path / "naive.parquet")
    assert compare(tmp_path / "naive.parquet") == 6
    # values whose text or type only the Python reader's pandas gives: declined
    for name, column in {"nested": pa.array([{"a": 1}] * n), "nan": pa.array([float("nan")] * n),
                         "zone": table["timestamp"].cast(pa.timestamp("ms", tz="Europe/Berlin")),
                         "nanoseconds": table["timestamp"].cast(pa.timestamp("ns", tz="UTC")),
                         "float32": pa.array([0.1] * n, pa.float32())}.items():
        pq.write_table(table.append_column("x", column), tmp_path / f"{name}.parquet")
        assert _python_reading(tmp_path / f"{name}.parquet").arrow.num_rows == 6, name


def test_request_tables_the_python_reader_reads_otherwise(tmp_path):
    records = _bigquery()
    text = _table(tmp_path / "export.csv", records).read_text()
    first, rest = text.split("\n", 1)
    blank = write(tmp_path / "blank.csv", first + "\n\n" + rest)  # a blank line: not a row, but a line
    assert _python_reading(blank).arrow.num_rows == 6
    short = write(tmp_path / "short.csv", text + "only,two\n")
    assert _python_reading(short).broken[-1][1] == "line has 2 fields, the header has 5"
    row_like = dict(records[0], request_body='{"data":\n1,2,3,4,5\n}')  # an inner line the Python reader takes for a row
    assert "unbalanced quote" in _python_reading(_table(tmp_path / "swallow.csv", [row_like] + records)).broken[0][1]


def test_single_documents_compiled(tmp_path):
    meta = json.loads((REPO / "tests/fixtures/real/meta/capi_json.jsonl").read_text().splitlines()[0])
    wrapped = {"timestamp": T, "url": URL, "body": meta, "response": {"events_received": 1, "messages": []}}
    assert compare(write(tmp_path / "meta.json", json.dumps(meta, indent=2))) == 1
    assert compare(write(tmp_path / "wrapped.json", "\n\n" + json.dumps(wrapped, indent=4) + "\n")) == 1
    (tmp_path / "wrapped.json.gz").write_bytes(gzip.compress(json.dumps(wrapped, indent=1).encode()))
    assert compare(tmp_path / "wrapped.json.gz") == 1
    rejects = {"timestamp": T, "url": URL, "body": {"data": [META["data"][0], "not an event", "{cut"]}}
    assert compare(write(tmp_path / "rejects.json", json.dumps(rejects, indent=1))) == 1
    twice = json.dumps(meta, indent=1).replace('"data"', '"data": [],\n "data"', 1)  # Python keeps the last, a JSON path the first
    assert _python_reading(write(tmp_path / "twice.json", twice)).arrow.num_rows == 1


def test_wrapper_keys_no_record_has_are_left_out_of_the_query_and_only_those(tmp_path):
    """The record stage compiles a wrapper key no record has as NULL (compile._absent_keys). Every record counts,
    not the head the format is decided on: a key only a late record uses (here the 61st: its body as JSON text,
    a status and a refusal) is read as the Python reader reads it."""
    from dedupaudit.inputs.native.compile import WRAPPER_KEYS, _absent_keys

    plain = [{"timestamp": T, "url": URL, "body": dict(META, data=[dict(META["data"][0], event_id=f"NW-{i}")])} for i in range(60)]
    late = {"sent_at": 1791192900000, "request": json.dumps(META), "status": 500, "response": "upstream timeout"}
    assert compare(jsonl(tmp_path / "plain.jsonl", plain)) == 60
    assert compare(jsonl(tmp_path / "late.jsonl", [*plain, late])) == 61
    with Connection(threads=2) as connection:
        con = connection.con
        con.execute("CREATE TABLE lines AS SELECT * FROM (VALUES (1, ?), (2, ?), (3, '[1]'), (4, '\"text\"')) t(pos, j)",
                    [json.dumps(plain[0]), json.dumps(late)])
        absent = _absent_keys(con, "lines", gateway=False)
        assert absent == WRAPPER_KEYS - {"timestamp", "url", "body", "sent_at", "request", "status", "response"}
        assert _absent_keys(con, "lines", gateway=True) == frozenset()  # a response line joined to its request adds keys
        con.execute("INSERT INTO lines VALUES (5, ?)", [json.dumps({"timestamp": T, "jsonPayload": {"body": META}})])
        assert _absent_keys(con, "lines", gateway=False) == frozenset()  # a payload's keys are merged into its record


def test_event_lists_only_under_names_some_record_writes_are_decoded(tmp_path):
    """The record stage decodes events given as JSON text only under the list keys some record's text names
    (compile._scan_text). A name spelled with a JSON \\u escape, or a form key with a % escape, is seen only once
    decoded: then every key is kept, and the compiled reading still equals the Python reader's."""
    from dedupaudit.inputs.native.compile import _scan_text

    as_text = dict(GOOGLE, conversions=json.dumps(GOOGLE["conversions"]))
    escaped = json.dumps({"timestamp": T, "body": as_text}).replace('"conversions"', '"conver\\u0073ions"')
    assert "conversions" not in escaped
    assert compare(write(tmp_path / "escaped.jsonl", escaped + "\n")) == 1
    event = {k: v for k, v in META["data"][0].items() if "data" not in k}  # no other key that holds `data`
    form = "%64ata=" + __import__("urllib.parse").parse.quote(json.dumps([event])) + "&access_token=x"
    assert "data" not in form
    assert compare(jsonl(tmp_path / "form.jsonl", [{"timestamp": T, "url": URL, "body": form}])) == 1
    with Connection(threads=2) as connection:
        con = connection.con
        keys = {"batch", "conversions", "data", "elements", "events"}
        con.execute("CREATE TABLE lines AS SELECT * FROM (VALUES (1, ?), (2, ?)) t(pos, j)",
                    [json.dumps({"timestamp": T, "body": GOOGLE}), json.dumps({"elements": [LINKEDIN]})])
        assert _scan_text(con, "lines", keys) == (False, {"conversions", "elements"})
        con.execute("INSERT INTO lines VALUES (3, ?)", [escaped])
        assert _scan_text(con, "lines", keys) == (True, keys)  # \u: also a gateway line's possible escape
        con.execute("DELETE FROM lines WHERE pos = 3; INSERT INTO lines VALUES (3, ?)", [json.dumps({"body": form})])
        assert _scan_text(con, "lines", keys) == (False, keys)
