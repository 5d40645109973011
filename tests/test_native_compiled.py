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
# the gateway envelopes and form encoding the query leaves to the Python reader (compile.FALLBACK_SHAPES)
PYTHON_ONLY = {"rudderstack_facebook_conversions.jsonl", "segment_delivery.jsonl", "capi_form.jsonl", "capi_v3_stape_log.jsonl",
               "stape_log.jsonl"}


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


def test_forms_left_to_the_python_reader(tmp_path):
    ambiguous = {"data": [{"event_name": "Foo", "event_time": 1791192742}]}
    assert compare(jsonl(tmp_path / "a.jsonl", [ambiguous, ambiguous])) is None  # the Python reader raises, naming them
    assert compare(jsonl(tmp_path / "b.jsonl", [{"body": "data=%5B%5D&access_token=x"}])) is None
    assert compare(jsonl(tmp_path / "c.jsonl", [dict(META, data=[dict(META["data"][0], event_id=["a", "b"])])])) is None
    odd_break = json.dumps(dict(META, note="a\u2028b"), ensure_ascii=False)  # a line break to Python, not to DuckDB
    assert compare(write(tmp_path / "d.jsonl", odd_break + "\n")) is None
    assert compare(write(tmp_path / "cr.jsonl", json.dumps(META) + "\r" + json.dumps(META) + "\r\n")) == 2
    assert compare(write(tmp_path / "e.json", json.dumps(META, indent=2))) is None  # one document


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
