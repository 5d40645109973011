"""Column mappings: schema and errors, per-file overrides, nested paths, constants and timestamps."""

from __future__ import annotations

import json

import pytest

from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import load_events
from dedupaudit.inputs.detect import ReadContext
from dedupaudit.inputs.mapping import load_mapping_file, parse_mapping
from dedupaudit.inputs.timestamps import resolve_timezone
from tests.native_support import RULES, jsonl, read, rows, write


def test_columns_paths_and_constants(tmp_path):
    export = jsonl(tmp_path / "export.jsonl", [
        {"ev": "Purchase", "props": {"id": "E-1", "ts": 1791162861, "order": {"number": "#1001"}}, "amount": 12.5},
        {"ev": "Purchase", "props": {"id": "E-2", "ts": 1791162862, "order": {"number": "1002"}}, "amount": "7"},
    ])
    mapping = parse_mapping({"columns": {"event_name": "ev", "event_id": "props.id", "event_time": "props.ts",
                                         "order_id": "props.order.number", "value": "amount"},
                             "constants": {"platform": "meta", "currency": "EUR"}}, "test: mapping")
    result = read(export, "pixel", mapping=mapping)
    assert result.format == "mapped"
    found = rows(export, "pixel", mapping=mapping)
    assert [(r["platform"], r["event_name"], r["event_id"], r["order_id"], r["currency"]) for r in found] == [
        ("meta", "Purchase", "E-1", "#1001", "EUR"), ("meta", "Purchase", "E-2", "1002", "EUR")]
    assert result.sources["event_id"] == "props.id" and "constant 'meta'" in result.sources["platform"]
    loaded = load_events([export], "pixel", resolve_timezone("UTC"), None, set(RULES), ReadContext(rules=RULES, mapping=mapping))
    assert len(loaded.frame) == 2 and loaded.frame["value"].tolist() == [12.5, 7.0]


def test_per_file_overrides_and_alternatives(tmp_path):
    meta = write(tmp_path / "meta_export.csv", "when,name,id\n2026-10-05T07:14:21Z,Purchase,1\n")
    snap = write(tmp_path / "snap_export.csv", "when,name,dedup\n2026-10-05T07:14:21Z,PURCHASE,2\n")
    mapping = parse_mapping({
        "columns": {"event_time": "when", "event_name": "name", "event_id": ["id", "dedup"]},
        "files": {"meta_*.csv": {"constants": {"platform": "meta"}},
                  "*/snap_*.csv": {"constants": {"platform": "snap"}}},
    }, "test: mapping")
    assert rows(meta, "capi", mapping=mapping)[0]["platform"] == "meta"
    assert [(r["platform"], r["event_id"]) for r in rows(snap, "capi", mapping=mapping)] == [("snap", "2")]


def test_a_file_pattern_can_force_a_native_format_and_add_constants(tmp_path):
    log = write(tmp_path / "events.csv", "timestamp,event,event_id\n2026-10-05T07:14:21Z,CompletePayment,1\n")
    with pytest.raises(UserError, match="cannot tell what this file is"):
        read(log, "pixel")
    mapping = parse_mapping({"files": {"events.csv": {"format": "pixel-log", "constants": {"platform": "tiktok"}}}}, "m")
    [row] = rows(log, "pixel", mapping=mapping)
    assert (row["platform"], row["event_name"], row["event_id"]) == ("tiktok", "CompletePayment", "1")


def test_timestamp_format_and_zone(tmp_path):
    export = write(tmp_path / "orders_de.csv", "Bestellnummer,Datum\n1001,05.10.2026 09:14\n1002,31.10.2026 23:30\n1003,kaputt\n")
    mapping = parse_mapping({"columns": {"order_id": "Bestellnummer", "created_at": "Datum"},
                             "timestamp_format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"}, "m")
    found = rows(export, "orders", mapping=mapping)
    assert [r["created_at"] for r in found] == ["2026-10-05T07:14:00.000000Z", "2026-10-31T22:30:00.000000Z", "kaputt"]
    zone_only = parse_mapping({"columns": {"order_id": "Bestellnummer", "created_at": "Datum"}, "timezone": "Europe/Berlin"}, "m")
    plain = write(tmp_path / "orders_iso.csv", "Bestellnummer,Datum\n1001,2026-10-05 09:14:00\n1002,1791162861\n")
    assert [r["created_at"] for r in rows(plain, "orders", mapping=zone_only)] == ["2026-10-05T07:14:00.000000Z", "1791162861"]


@pytest.mark.parametrize("data, message", [
    ({"colums": {}}, "test: mapping.colums: unknown key; did you mean 'columns'? (valid: columns, constants, files, format, timestamp_format, timezone)"),
    ({"columns": {"event_nam": "x"}}, "test: mapping.columns.event_nam: unknown canonical column (valid: "),
    ({"constants": {"platfrom": "meta"}}, "test: mapping.constants.platfrom: unknown canonical column"),
    ({"columns": {"event_id": 3}}, "test: mapping.columns.event_id: 3 is not a column name (valid: a column name, a dotted JSON path, or a list of them)"),
    ({"columns": {"platform": "p"}, "constants": {"platform": "meta"}}, "platform is both mapped to a column and given as a constant"),
    ({"files": {"*.csv": {"files": {}}}}, "test: mapping.files['*.csv'].files: unknown key (valid: columns, constants, format, timestamp_format, timezone)"),
    ({"files": ["*.csv"]}, "test: mapping.files: ['*.csv'] is not a mapping (valid: glob patterns, each with its own mapping)"),
    ({"format": "shopify"}, "test: mapping.format: 'shopify' is not a valid value (valid: one of "),
    ({"timestamp_format": "DD.MM.YYYY"}, "test: mapping.timestamp_format: has no % directive (valid: a strptime format such as '%d/%m/%Y %H:%M')"),
    ({"timezone": "Mars/Olympus"}, "test: mapping.timezone: unknown time zone 'Mars/Olympus'"),
    ("columns", "test: mapping: 'columns' is not a mapping (valid: a mapping with columns, constants, files, format, timestamp_format, timezone)"),
])
def test_mapping_errors_name_the_key_and_the_valid_ones(data, message):
    with pytest.raises(UserError) as error:
        parse_mapping(data, "test: mapping")
    assert message in str(error.value)


def test_mapping_file_and_missing_columns(tmp_path):
    file = write(tmp_path / "mapping.yaml", "mapping:\n  columns:\n    event_id: eventId\n  constants:\n    platform: meta\n")
    mapping = load_mapping_file(file)
    export = write(tmp_path / "x.csv", "event_name,event_time,eventid\nPurchase,1,abc\n")
    assert rows(export, "capi", mapping=mapping)[0]["event_id"] == "abc"  # column names match ignoring case
    bare = load_mapping_file(write(tmp_path / "bare.yaml", "columns:\n  event_id: missing_column\n"))
    with pytest.raises(UserError, match=r"x.csv: .*bare.yaml.columns.event_id: no column or path missing_column"):
        read(export, "capi", mapping=bare)
    with pytest.raises(UserError, match="not a readable YAML file"):
        load_mapping_file(write(tmp_path / "broken.yaml", "columns: [unclosed\n"))
    with pytest.raises(UserError, match=r"broken2.yaml: mapping.files: 3 is not a mapping \(valid: glob patterns"):
        load_mapping_file(write(tmp_path / "broken2.yaml", json.dumps({"mapping": {"files": 3}})))


def test_top_level_mapping_leaves_native_formats_alone(tmp_path):
    log = jsonl(tmp_path / "log.jsonl", [{"data": [{"event_name": "Purchase", "event_time": 1, "action_source": "website"}]}])
    mapping = parse_mapping({"constants": {"platform": "tiktok"}}, "m")
    assert rows(log, "capi", mapping=mapping)[0]["platform"] == "meta"


def test_a_blank_time_through_a_mapping_is_empty_not_the_text_of_a_pandas_na(tmp_path):
    """pandas' NA (a blank the mapping's alternatives left empty, a null in Parquet) once reached the engine as
    the text '<NA>', so an empty time was rejected as 'not a timestamp' with the value '<NA>'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dedupaudit.inputs.canonical import load_orders

    export = write(tmp_path / "x.csv", "n,t1,t2\nPurchase,,\nPurchase,2026-10-05 09:00,\n")
    mapping = parse_mapping({"columns": {"event_name": "n", "event_time": ["t1", "t2"]}, "constants": {"platform": "meta"},
                             "timezone": "Europe/Berlin"}, "m")
    loaded = load_events([export], "pixel", resolve_timezone("UTC"), None, set(RULES), ReadContext(rules=RULES, mapping=mapping))
    assert loaded.rejects[["row", "reason"]].values.tolist() == [[2, "event_time is empty"]]
    assert loaded.rejects["value"].isna().all() and len(loaded.frame) == 1
    table = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": ["1", "2"], "d": [None, "2026-10-05 09:00"]}), table)
    mapping = parse_mapping({"columns": {"order_id": "id", "created_at": "d"}}, "m")
    loaded = load_orders([table], resolve_timezone("UTC"), ReadContext(rules=RULES, mapping=mapping))
    assert loaded.rejects[["row", "reason"]].values.tolist() == [[1, "created_at is empty"]]
