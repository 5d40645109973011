"""Issue 14: the Python native readers (HAR captures, flat pixel logs) hand the engine Arrow tables, not pandas rows."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pyarrow as pa
import pytest

from dedupaudit.inputs import files
from dedupaudit.inputs.canonical import load_events
from dedupaudit.inputs.native import Rows
from tests.native_support import RULES, entry, har, jsonl, read

REAL = Path(__file__).parent / "fixtures" / "real"

TIKTOK_BODY = {"event": "CompletePayment", "event_id": 1001.0,  # an ID written as a float by the page's script
               "properties": {"value": 29.7, "currency": "EUR", "order_id": 77}}


def _tiktok_har(tmp_path):
    return har(tmp_path / "c.har", [entry("https://analytics.tiktok.com/api/v2/pixel", "POST", json.dumps(TIKTOK_BODY),
                                          "text/plain", at="2026-10-05T09:14:22.120+02:00")])


def _assert_arrow_text(table):
    assert isinstance(table.arrow, pa.Table)
    assert {f.name: f.type for f in table.arrow.schema if f.type != pa.string()} == {}
    assert table.rows.type == pa.int64()


def test_har_reader_returns_arrow_with_float_ids_written_as_integers(tmp_path):
    table = read(_tiktok_har(tmp_path), "pixel").table
    _assert_arrow_text(table)
    assert table.arrow.column("event_id").to_pylist() == ["1001"]
    assert table.arrow.column("order_id").to_pylist() == ["77"]
    assert table.numeric["event_id"].to_pylist() == [True]  # counted by the loader as before
    assert table.numeric["order_id"].to_pylist() == [False]  # an integer never was a float
    assert table.arrow.column("source_ref").to_pylist() == ["entry 1 (analytics.tiktok.com/api/v2/pixel)"]
    assert table.rows.to_pylist() == [1]


@pytest.mark.parametrize("kind", ["har", "gateway log"])
def test_python_reader_rows_reach_the_engine_without_pandas(tmp_path, monkeypatch, kind):
    """The audit path registers the reader's Arrow table as it is: no pandas conversion, no pandas view."""
    def refuse(*args, **kwargs):
        raise AssertionError("pandas round-trip on a Python reader's path")

    built = []
    table = Rows.table
    monkeypatch.setattr(Rows, "table", lambda self, path: built.append(path) or table(self, path))
    monkeypatch.setattr(files, "arrow_table", refuse)
    monkeypatch.setattr(files.ArrowTable, "frame", property(refuse))
    monkeypatch.setattr(files.ArrowTable, "row", property(refuse))
    if kind == "har":
        loaded = load_events([_tiktok_har(tmp_path)], "pixel", UTC, None, set(RULES))
        assert loaded.frame["event_id"].tolist() == ["1001"] and loaded.frame["order_id"].tolist() == ["77"]
        assert loaded.numeric_ids == 1
    else:  # a Segment delivery record as one JSON document with a key twice: the compiled query leaves it to the Python reader
        record = json.loads((REAL / "gateways/segment_delivery.jsonl").read_text().splitlines()[0])
        document = tmp_path / "delivery.json"
        document.write_text('{"note": "first", ' + json.dumps(record, indent=2)[1:-1] + ', "note": "last"}')
        loaded = load_events([document], "capi", UTC, None, set(RULES))
        assert len(loaded.frame) > 0
    assert len(built) == 1


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_pixel_log_reader_returns_arrow(tmp_path, suffix):
    records = [{"timestamp": "2026-10-05T09:14:22Z", "event": "Purchase", "eventID": 1001.0, "order_id": "A-1", "value": 29.7},
               {"timestamp": "2026-10-05T09:15:22Z", "event": "Purchase", "eventID": 1002.5, "order_id": "", "value": 10}]
    if suffix == "jsonl":
        path = jsonl(tmp_path / "meta_pixel.jsonl", records)
    else:
        path = tmp_path / "meta_pixel.csv"
        path.write_text("timestamp,event,eventID,order_id,value\n" + "".join(
            f"{r['timestamp']},{r['event']},{r['eventID']},{r['order_id']},{r['value']}\n" for r in records))
    result = read(path, "pixel")
    assert result.format == "pixel-log"
    _assert_arrow_text(result.table)
    arrow = result.table.arrow
    assert arrow.column("platform").to_pylist() == ["meta", "meta"]
    assert arrow.column("order_id").to_pylist() == ["A-1", None]  # blank is missing
    assert arrow.column("source_ref").to_pylist() == [f"line {n}" for n in result.table.rows.to_pylist()]
    if suffix == "jsonl":  # a JSON float ID is the integer's text and flagged; 1002.5 keeps its text
        assert arrow.column("event_id").to_pylist() == ["1001", "1002.5"]
        assert result.table.numeric["event_id"].to_pylist() == [True, False]
    else:  # CSV is text already: nothing to flag
        assert arrow.column("event_id").to_pylist() == ["1001.0", "1002.5"]
        assert result.table.numeric["event_id"].to_pylist() == [False, False]
    loaded = load_events([path], "pixel", UTC, None, set(RULES))
    assert loaded.numeric_ids == (1 if suffix == "jsonl" else 0)
