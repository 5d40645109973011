"""Mapped files through SQL (inputs.mapsql) and through pandas (mapping.read_mapped): the same loaded rows.

Each case loads its files twice, once as `check` does (the SQL path where it applies) and once with the
SQL path switched off, and compares the whole loaded table (every canonical column, row, seq, reason,
the rejected value, numeric-ID counts), the unreadable lines, and the error when there is one. Each case
also says whether the SQL path took its files or declined them (pandas then reads them).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dedupaudit.errors import UserError
from dedupaudit.inputs import detect, files, mapsql
from dedupaudit.inputs.canonical import load_events, load_orders
from dedupaudit.inputs.detect import ReadContext
from dedupaudit.inputs.mapping import parse_mapping
from dedupaudit.inputs.timestamps import resolve_timezone
from tests.native_support import RULES

M = {"event_name": "Name", "event_id": "Id", "event_time": "When"}
META = {"platform": "meta"}
EV = "Name,Id,When\n"


def _write(folder: Path, name: str, content) -> Path:
    path = folder / name
    if isinstance(content, (pa.Table, pd.DataFrame)):
        table = content if isinstance(content, pa.Table) else pa.Table.from_pandas(content)
        if name.endswith(".gz"):
            with pa.output_stream(str(path), compression="gzip") as out:
                pq.write_table(table, out)
        else:
            pq.write_table(table, path)
        return path
    data = content.encode("utf-8") if isinstance(content, str) else content
    if name.endswith(".gz"):
        data = gzip.compress(data)
    if name.endswith(".zst"):
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
        return path
    path.write_bytes(data)
    return path


def _outcome(paths, side: str, mapping, zone: str, context: dict):
    context = ReadContext(rules=RULES, mapping=mapping, **context)
    try:
        if side == "orders":
            loaded = load_orders(paths, resolve_timezone(zone), context)
        else:
            loaded = load_events(paths, side, resolve_timezone(zone), None, set(RULES), context)
    except UserError as error:
        return ("error", str(error))
    table = loaded.con.execute(f"SELECT * FROM {loaded.table} ORDER BY file_no, seq").df()
    broken = loaded.con.execute(f"SELECT * EXCLUDE (file) FROM {loaded.broken} ORDER BY file_no, row").df()
    loaded.connection.close()
    return table, broken


def both(monkeypatch, tmp_path: Path, contents: dict, side: str, mapping: dict, zone: str = "UTC", **context):
    """Load the files through the SQL path and through pandas; they must agree. Returns (which files the SQL
    path took, the SQL path's outcome)."""
    paths = [_write(tmp_path, name, content) for name, content in contents.items()]
    parsed = parse_mapping(mapping, "test: mapping")
    taken, real = [], detect.scan_mapped

    def spy(*args, **kwargs):
        found = real(*args, **kwargs)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(detect, "scan_mapped", spy)
    sql = _outcome(paths, side, parsed, zone, context)
    monkeypatch.setattr(detect, "scan_mapped", lambda *a, **k: None)
    pandas = _outcome(paths, side, parsed, zone, context)
    monkeypatch.setattr(detect, "scan_mapped", real)
    if isinstance(pandas[0], str) or isinstance(sql[0], str):
        assert sql == pandas
    else:
        for mine, theirs in zip(sql, pandas):
            pd.testing.assert_frame_equal(mine, theirs)
    return taken, sql


BERLIN_DST = EV + "Purchase,a,2026-10-25 02:30\nPurchase,b,2026-03-29 02:30\nPurchase,c,2026-10-25 01:59:59\n"
# name: (files, side, mapping, zone, SQL path takes them)
CASES = {
    "rename and constant": ({"e.csv": EV + "Purchase,E-1,2026-10-05T07:14:21Z\nLead,E-2,1791162861\n"}, "pixel",
                            {"columns": M, "constants": META}, "UTC", True),
    "blank and whitespace ids (tab, nbsp, ideographic space)": (
        {"e.csv": EV + "Purchase,,1791162861\nPurchase,\t,1791162861\nPurchase,\u00a0 \u3000,1791162861\nPurchase, x ,1791162861\n"},
        "capi", {"columns": M, "constants": META}, "UTC", True),
    "alternatives for the id": ({"e.csv": "Name,A,B,When\nPurchase,,b1,1791162861\nPurchase,a2,b2,1791162861\nPurchase, ,,1791162861\n"
                                          "Purchase,\u2028,b4,1791162861\n"},
                                "capi", {"columns": {**M, "event_id": ["A", "B"]}, "constants": META}, "UTC", True),
    "alternatives for the time, one of them missing from the file": (
        {"e.csv": "Name,Id,T1,T2\nPurchase,1,,1791162861\nPurchase,2, ,\nPurchase,3,2026-10-05 09:00,x\n"},
        "pixel", {"columns": {**M, "event_time": ["T1", "T0", "T2"]}, "constants": META}, "UTC", True),
    "a single time column keeps blanks as they are": ({"e.csv": EV + "Purchase,1,\nPurchase,2,  \nPurchase,3,nonsense\n"},
                                                      "pixel", {"columns": M, "constants": META}, "UTC", True),
    "timestamp_format, naive": ({"e.csv": EV + "Purchase,1,05/10/2026 09:14\nPurchase,2,31/10/2026 23:30\nPurchase,3,kaputt\n"
                                              "Purchase,4,\nPurchase,5,2026-10-05T09:14:00Z\nPurchase,6, 05/10/2026 09:14 \n"},
                                "pixel", {"columns": M, "constants": META, "timestamp_format": "%d/%m/%Y %H:%M"}, "UTC", True),
    "timestamp_format with its zone": ({"e.csv": EV + "Purchase,1,05/10/2026 09:14 +0200\nPurchase,2,05/10/2026 09:14\n"
                                                     "Purchase,3,05/10/2026 09:14 -0530\n"},
                                       "pixel", {"columns": M, "constants": META, "timestamp_format": "%d/%m/%Y %H:%M %z"}, "UTC", True),
    "timestamp_format and timezone": ({"e.csv": EV + "Purchase,1,05.10.2026 09:14\nPurchase,2,31.10.2026 23:30\nPurchase,3,bad\n"},
                                      "pixel", {"columns": M, "constants": META, "timestamp_format": "%d.%m.%Y %H:%M",
                                                "timezone": "Europe/Berlin"}, "UTC", True),
    "timezone only: naive, aware, epochs, garbage, blank": (
        {"e.csv": EV + "Purchase,1,2026-10-05 09:14:00\nPurchase,2,2026-10-05T09:14:00+05:00\nPurchase,3,1791162861\n"
                       "Purchase,4,1791162861000\nPurchase,5,garbage\nPurchase,6,\nPurchase,7,2026-10-05 09:14:00 UTC\n"},
        "capi", {"columns": M, "constants": META, "timezone": "America/New_York"}, "UTC", True),
    "timezone on clock changes": ({"e.csv": BERLIN_DST}, "capi",
                                  {"columns": M, "constants": META, "timezone": "Europe/Berlin"}, "Asia/Tokyo", True),
    "timezone: the SQL forms and their edges": (
        {"e.csv": EV + "".join(f"Purchase,{i},{t}\n" for i, t in enumerate([
            "2026-10-05 09:14", "2026-10-05T09:14:07", "2026-10-05 09:14:07.1", "2026-10-05 09:14:07.123456",
            "2026-10-05 09:14:07.1234567", "2026-02-30 10:00:00", "2026-02-28 24:00:00", "1600-01-01 10:00:00",
            "2300-01-01 10:00:00", "1999-12-31 23:59:59", " 2026-10-05 09:14:00", "2026-10-05 09:14:00 ", "2026-10-05",
            "2026-03-29 02:30:00", "2026-03-29 01:59:59.999999", "2026-03-29 03:00:00", "2026-10-25 02:00:00",
            "2026-10-25 02:59:59.999999", "2026-10-25 03:00:00", "２０２６-10-05 09:14:00", "2026-10-05 09:14:00Z",
            "2026-10-05 9:14:00", "2026-10-05T09:14:00.000000", "2026-12-31 23:30:00", "2027-06-01 12:00:00"]))},
        "capi", {"columns": M, "constants": META, "timezone": "Europe/Berlin"}, "UTC", True),
    "timezone: a zone with a half-hour offset and UTC": (
        {"a_x.csv": EV + "Purchase,1,2026-10-05 09:14\nPurchase,2,2026-04-05 02:15:00\n",
         "u_x.csv": EV + "Purchase,1,2026-10-05 09:14\n"},
        "capi", {"columns": M, "constants": META, "files": {"a_*": {"timezone": "Australia/Adelaide"}, "u_*": {"timezone": "UTC"}}},
        "UTC", True),
    "received_time mapped, with a zone": ({"e.csv": "Name,Id,When,Got\nPurchase,1,1791162861,2026-10-05 09:14\nPurchase,2,1791162861,\n"},
                                          "capi", {"columns": {**M, "received_time": "Got"}, "constants": META,
                                                   "timezone": "Europe/Berlin"}, "UTC", True),
    "the run's zone for naive times": ({"e.csv": BERLIN_DST}, "pixel", {"columns": M, "constants": META}, "Europe/Berlin", True),
    "a mapped column missing": ({"e.csv": EV + "Purchase,1,1791162861\n"}, "pixel",
                                {"columns": {**M, "order_id": ["Order", "OrderNo"]}, "constants": META}, "UTC", True),
    "a mapped column missing in Parquet": ({"e.parquet": pa.table({"Name": ["Purchase"], "n": [1.5]})}, "pixel",
                                           {"columns": M, "constants": META}, "UTC", True),
    "header names matched ignoring case and spaces": ({"e.csv": " NAME ,id,WHEN\nPurchase,1,1791162861\n"}, "pixel",
                                                      {"columns": M, "constants": META}, "UTC", True),
    "same-named canonical columns": ({"e.csv": "Name,When,event_id,Order_ID,value,currency,platform\n"
                                               "Purchase,1791162861,E1,#1001,12.5,eur,facebook\nPurchase,1791162861,,,,,meta\n"},
                                     "pixel", {"columns": {"event_name": "Name", "event_time": "When"}}, "UTC", True),
    "constant ids are flagged as pandas flags them": ({"e.csv": "Name,When\nPurchase,1791162861\n"}, "pixel",
                                                      {"columns": {"event_name": "Name", "event_time": "When"},
                                                       "constants": {**META, "event_id": "1001", "order_id": 1001}}, "UTC", True),
    "a constant time, placed in a zone": ({"e.csv": "Name,Id\nPurchase,1\nLead,2\n"}, "pixel",
                                          {"columns": {"event_name": "Name", "event_id": "Id"},
                                           "constants": {**META, "event_time": "2026-10-05 09:00"}, "timezone": "Europe/Berlin"},
                                          "UTC", True),
    "values with commas in an event file are not numbers": ({"e.csv": "Name,Id,When,Amt\nPurchase,1,1791162861,\"12,50\"\n"
                                                                      "Purchase,2,1791162861,12.5\nPurchase,3,1791162861,\n"},
                                                            "pixel", {"columns": {**M, "value": "Amt"}, "constants": META}, "UTC", True),
    "unknown platform is the same error": ({"e.csv": EV + "Purchase,1,1791162861\n"}, "pixel",
                                           {"columns": M, "constants": {"platform": "myspace"}}, "UTC", True),
    "platform from a column, blank and aliased": ({"e.csv": "Name,Id,When,Net\nPurchase,1,1791162861,FB\nPurchase,2,1791162861, \n"},
                                                  "pixel", {"columns": {**M, "platform": "Net"}}, "UTC", True),
    "gzip": ({"e.csv.gz": EV + "Purchase,1,1791162861\nPurchase,2,\n"}, "pixel", {"columns": M, "constants": META}, "UTC", True),
    "zstd": ({"e.csv.zst": EV + "Purchase,1,1791162861\nPurchase,2,x\n"}, "pixel", {"columns": M, "constants": META}, "UTC", True),
    "tsv": ({"e.tsv": "Name\tId\tWhen\nPurchase\t1\t1791162861\nPurchase\t\"2\"\t\n"}, "pixel", {"columns": M, "constants": META},
            "UTC", True),
    "tsv.gz": ({"e.tsv.gz": "Name\tId\tWhen\nPurchase\t1\t1791162861\n"}, "pixel", {"columns": M, "constants": META}, "UTC", True),
    "semicolons: decimal commas": ({"e.csv": "Name;Id;When;Amt\nPurchase;1;1791162861;12,50\nPurchase;2;1791162861;1.234,50\n"},
                                   "pixel", {"columns": {**M, "value": "Amt"}, "constants": META}, "UTC", True),
    "cp1252 text": ({"e.csv": (EV + "Käufe,é1,1791162861\nPurchase,2,1791162861\n").encode("cp1252")}, "pixel",
                    {"columns": M, "constants": META}, "UTC", True),
    "utf-8 with BOM and CRLF": ({"e.csv": "\ufeff" + (EV + "Purchase,1,1791162861\nPurchase,2,1791162861\n").replace("\n", "\r\n")},
                                "pixel", {"columns": M, "constants": META}, "UTC", True),
    "quoted values and unicode": ({"e.csv": EV + "\"Pur,chase\",\"1\"\"x\",1791162861\n🛒,ü,1791162861\n"}, "pixel",
                                  {"columns": M, "constants": META}, "UTC", True),
    "header only": ({"e.csv": EV}, "pixel", {"columns": M, "constants": META, "timezone": "Europe/Berlin"}, "UTC", True),
    "several files, per-file constants": ({"meta_x.csv": EV + "Purchase,1,1791162861\n", "snap_x.csv": EV + "PURCHASE,2,1791162861\n"},
                                          "capi", {"columns": M, "files": {"meta_*": {"constants": {"platform": "meta"}},
                                                                            "snap_*": {"constants": {"platform": "snap"},
                                                                                       "timezone": "Europe/Berlin"}}},
                                          "UTC", True),
    "top-level mapping over an unrecognised table": ({"e.csv": "ev,ts,id\nPurchase,1791162861,1\n"}, "pixel",
                                                     {"columns": {"event_name": "ev", "event_time": "ts", "event_id": "id"},
                                                      "constants": META}, "UTC", True),
    "top-level mapping over a canonical table": ({"e.csv": "event_name,event_time,platform,event_id\nPurchase,1791162861,meta, 7 \n"},
                                                 "pixel", {"constants": {"currency": "EUR"}}, "UTC", True),
    "parquet text columns with nulls": ({"e.parquet": pa.table({"Name": ["Purchase", None, "Lead"], "Id": [None, "2", " "],
                                                                "When": ["1791162861", "2026-10-05 09:00", None]})},
                                        "pixel", {"columns": M, "constants": META, "timezone": "Europe/Berlin"}, "UTC", True),
    "parquet with a typed column it does not use": ({"e.parquet": pa.table({"Name": ["Purchase"], "Id": ["1"], "When": ["1791162861"],
                                                                            "Amount": [12.5]})},
                                                    "pixel", {"columns": M, "constants": META}, "UTC", True),
    "parquet typed times, totals and ids passed on as they are": (
        {"e.parquet": pa.table({"Name": ["Purchase"] * 3, "When": pa.array([1791162861000, None, 946684700000], pa.timestamp("ms", "UTC")),
                                "value": [12.5, None, float("nan")], "event_id": [1001.0, None, 7.5],
                                "Got": pa.array([1791162861000000000, None, 1], pa.timestamp("ns"))})},
        "capi", {"columns": {"event_name": "Name", "event_time": "When", "received_time": ["Got"]}, "constants": META}, "UTC", True),
    "parquet typed epochs": ({"e.parquet": pa.table({"Name": ["Purchase"] * 2, "When": pa.array([1791162861, 1791162861000], pa.int64())})},
                             "capi", {"columns": {"event_name": "Name", "event_time": "When"}, "constants": META}, "UTC", True),
    "a header naming a column twice is the same error": ({"e.csv": "Name,Id,Name,When\nPurchase,1,x,1791162861\n"}, "pixel",
                                                         {"columns": M, "constants": META}, "UTC", True),
    "an empty file is the same error": ({"e.csv": ""}, "pixel", {"columns": M, "constants": META}, "UTC", True),
    "a stray quote inside a value": ({"e.csv": EV + 'Purchase,a"b,1791162861\nPurchase,2,1791162861\n'}, "pixel",
                                     {"columns": M, "constants": META}, "UTC", True),
    "quoted spaces and an empty quoted value": ({"e.csv": EV + '" Purchase ","",1791162861\n"Purchase"," 3 ","  "\n'}, "pixel",
                                                {"columns": {**M, "event_id": ["Id", "When"]}, "constants": META}, "UTC", True),
    # declined: pandas reads these
    "parquet typed time alternatives": ({"e.parquet": pa.table({"Name": ["Purchase"], "A": pa.array([None], pa.timestamp("ms")),
                                                                "B": pa.array([1791162861000], pa.timestamp("ms"))})},
                                        "capi", {"columns": {"event_name": "Name", "event_time": ["A", "B"]}, "constants": META},
                                        "UTC", False),
    "parquet typed id mapped by another name": ({"e.parquet": pa.table({"Name": ["Purchase"], "When": ["1791162861"], "Id": [1001.0]})},
                                                "capi", {"columns": M, "constants": META}, "UTC", False),
    "parquet typed columns used": ({"e.parquet": pa.table({"Name": ["Purchase", "Purchase"], "Id": [1001.0, None],
                                                           "When": pa.array([1791162861, 1791162862], pa.int64())})},
                                   "pixel", {"columns": M, "constants": META}, "UTC", False),
    "parquet typed timestamps with a zone": ({"e.parquet": pa.table({"Name": ["Purchase"], "Id": ["1"],
                                                                     "When": pa.array([pd.Timestamp("2026-10-05 09:00")])})},
                                             "pixel", {"columns": M, "constants": META, "timezone": "Europe/Berlin"}, "UTC", False),
    "parquet with a pandas index": ({"e.parquet": pd.DataFrame({"Name": ["Purchase"], "Id": ["1"], "When": ["1791162861"]},
                                                               index=pd.Index(["r1"], name="Id2"))},
                                    "pixel", {"columns": M, "constants": META}, "UTC", False),
    "compressed parquet": ({"e.parquet.gz": pa.table({"Name": ["Purchase"], "Id": ["1"], "When": ["1791162861"]})}, "pixel",
                           {"columns": M, "constants": META}, "UTC", False),
    "json lines": ({"e.jsonl": json.dumps({"Name": "Purchase", "Id": 1001.0, "When": 1791162861}) + "\n"}, "pixel",
                   {"columns": M, "constants": META}, "UTC", False),
    "a dotted path": ({"e.csv": "Name,props,When\nPurchase,x,1791162861\n"}, "pixel",
                      {"columns": {**M, "event_id": "props.id"}, "constants": META}, "UTC", False),
    "a quoted newline": ({"e.csv": EV + "\"Pur\nchase\",1,1791162861\nPurchase,2,1791162861\n"}, "pixel",
                         {"columns": M, "constants": META}, "UTC", False),
    "a broken line": ({"e.csv": EV + "Purchase,1,1791162861,extra\nPurchase,2,1791162861\n"}, "pixel",
                      {"columns": M, "constants": META}, "UTC", False),
    "blank lines": ({"e.csv": EV + "Purchase,1,1791162861\n\nPurchase,2,1791162861\n"}, "pixel",
                    {"columns": M, "constants": META}, "UTC", False),
    "case-only twin headers": ({"e.csv": "Name,Id,id,When\nPurchase,1,2,1791162861\n"}, "pixel",
                               {"columns": M, "constants": META}, "UTC", False),
    "a header named like the scan's row column": ({"e.csv": "Name,Id,When,__row\nPurchase,1,1791162861,9\n"}, "pixel",
                                                  {"columns": M, "constants": META}, "UTC", False),
    # order exports: the shop's locale (native.locale) on distinct values
    "orders: decimal commas, day-first dates, unreadable totals": (
        {"o.csv": 'Numero,Data,Totale\n"A-1","31/10/2026 14:03","57,10"\n"A-2","01/11/2026 09:15","n.d."\nA-3,,\nA-4,05/11/2026,"1.234,50 €"\n'},
        "orders", {"columns": {"order_id": "Numero", "created_at": "Data", "value": "Totale"}}, "Europe/Rome", True),
    "orders: month first": ({"o.csv": "No,Date,Total\n1001,10/31/2026,\"1,234.50\"\n1002,11/01/26,12\n"}, "orders",
                            {"columns": {"order_id": "No", "created_at": "Date", "value": "Total"}}, "UTC", True),
    "orders: dates nobody can tell": ({"o.csv": "No,Date\n1001,01/02/2026\n1002,03/04/2026\n1003,\n"}, "orders",
                                      {"columns": {"order_id": "No", "created_at": "Date"}}, "UTC", True),
    "orders: both decimal forms": ({"o.csv": "No,Date,Total\n1,2026-10-05,\"57,10\"\n2,2026-10-05,57.10\n3,2026-10-05,abc\n4,2026-10-05, \n"},
                                   "orders", {"columns": {"order_id": "No", "created_at": "Date", "value": "Total"}}, "UTC", True),
    "orders: timestamp_format wins over day-first detection": (
        {"o.csv": "Bestellnummer,Datum\n1001,05.10.2026 09:14\n1002,31.10.2026 23:30\n1003,kaputt\n#1004,\n"},
        "orders", {"columns": {"order_id": "Bestellnummer", "created_at": "Datum"}, "timestamp_format": "%d.%m.%Y %H:%M",
                   "timezone": "Europe/Berlin"}, "UTC", True),
    "orders: timezone then day-first dates": ({"o.csv": "No,Date\n1,31/10/2026 14:03\n2,2026-10-05 09:00\n3,1791162861\n"},
                                              "orders", {"columns": {"order_id": "No", "created_at": "Date"},
                                                         "timezone": "Europe/Berlin"}, "UTC", True),
    "orders: alternatives and constants": ({"o.csv": "No,Alt,Date,St\n,A1,2026-10-05,Paid\n#1002,,2026-10-05,\n , ,2026-10-05,x\n"},
                                           "orders", {"columns": {"order_id": ["No", "Alt"], "created_at": "Date", "status": "St"},
                                                      "constants": {"currency": "eur", "value": "10,5"}}, "UTC", True),
    "orders: parquet with nulls": ({"o.parquet": pa.table({"No": ["1", "2", None], "Date": [None, "31/10/2026", "01/11/2026"],
                                                           "Total": ["57,10", None, "x"]})},
                                   "orders", {"columns": {"order_id": "No", "created_at": "Date", "value": "Total"}}, "UTC", True),
    "orders: typed parquet total": ({"o.parquet": pa.table({"No": ["1"], "Date": ["2026-10-05"], "Total": [57.1]})}, "orders",
                                    {"columns": {"order_id": "No", "created_at": "Date", "value": "Total"}}, "UTC", False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_sql_path_gives_what_pandas_gives(monkeypatch, tmp_path, name):
    contents, side, mapping, zone, expected = CASES[name]
    taken, outcome = both(monkeypatch, tmp_path, contents, side, mapping, zone)
    if isinstance(outcome[0], str):
        return  # an error raised before any file was mapped, or by the mapping itself: the same text either way
    assert taken and all(t == expected for t in taken), f"SQL path took {taken}, expected {expected}"


def test_the_cases_are_not_vacuous(monkeypatch, tmp_path):
    """The comparison sees rows, rejects and errors: a case with a wrong value in one path fails."""
    taken, (table, _) = both(monkeypatch, tmp_path, CASES["timezone only: naive, aware, epochs, garbage, blank"][0], "capi",
                             {"columns": M, "constants": META, "timezone": "America/New_York"})
    assert len(table) == 7 and table["reason"].tolist().count("event_time is not a timestamp") == 1
    assert table["reason"].tolist().count("event_time is empty") == 1
    (tmp_path / "err").mkdir()
    (tmp_path / "again").mkdir()
    _, (err, message) = both(monkeypatch, tmp_path / "err", {"x.csv": EV + "Purchase,1,1\n"}, "pixel",
                             {"columns": {**M, "order_id": "Nope"}, "constants": META})
    assert err == "error" and "test: mapping.columns.order_id: no column or path Nope in this file (columns: Name, Id, When)" in message
    real = mapsql._convert
    monkeypatch.setattr(mapsql, "_convert", lambda *a: [v if v is None else v + "!" for v in real(*a)])
    with pytest.raises(AssertionError):
        both(monkeypatch, tmp_path / "again", {"e.csv": EV + "Purchase,1,2026-10-05T09:14:00+02:00\n"}, "pixel",
             {"columns": M, "constants": META, "timezone": "Europe/Berlin"})
    monkeypatch.setattr(mapsql, "_convert", real)
    monkeypatch.setattr(mapsql, "_UTC_TEXT", "%Y-%m-%d %H:%M:%S")  # the SQL zone path's text, one way off
    (tmp_path / "fast").mkdir()
    with pytest.raises(AssertionError):
        both(monkeypatch, tmp_path / "fast", {"e.csv": EV + "Purchase,1,2026-10-05 09:14:00.5\n"}, "pixel",
             {"columns": M, "constants": META, "timezone": "Europe/Berlin"})


def test_the_fixtures_of_the_mapping_tests_too(monkeypatch, tmp_path):
    """The exports of tests/test_native_mapping.py and test_native_real.py (mapped CSV), loaded both ways."""
    taken, _ = both(monkeypatch, tmp_path, {"orders_de.csv": "Bestellnummer,Datum\n1001,05.10.2026 09:14\n1002,31.10.2026 23:30\n1003,kaputt\n"},
                    "orders", {"columns": {"order_id": "Bestellnummer", "created_at": "Datum"},
                               "timestamp_format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"})
    assert taken == [True]
    taken, _ = both(monkeypatch, tmp_path, {"orders_iso.csv": "Bestellnummer,Datum\n1001,2026-10-05 09:14:00\n1002,1791162861\n"},
                    "orders", {"columns": {"order_id": "Bestellnummer", "created_at": "Datum"}, "timezone": "Europe/Berlin"})
    assert taken == [True]
    taken, _ = both(monkeypatch, tmp_path, {"meta_export.csv": "when,name,id\n2026-10-05T07:14:21Z,Purchase,1\n",
                                            "snap_export.csv": "when,name,dedup\n2026-10-05T07:14:21Z,PURCHASE,2\n"},
                    "capi", {"columns": {"event_time": "when", "event_name": "name", "event_id": ["id", "dedup"]},
                             "files": {"meta_*.csv": {"constants": {"platform": "meta"}},
                                       "*/snap_*.csv": {"constants": {"platform": "snap"}}}})
    assert taken == [True, True]
    taken, _ = both(monkeypatch, tmp_path, {"x.csv": "event_name,event_time,eventid\nPurchase,1,abc\n"}, "capi",
                    {"columns": {"event_id": "eventId"}, "constants": {"platform": "meta"}})
    assert taken == [True]
    taken, _ = both(monkeypatch, tmp_path, {"ordini.csv": 'Numero,Data,Totale\n"A-1","31/10/2026 14:03","57,10"\n"A-2","01/11/2026 09:15","n.d."\n'},
                    "orders", {"columns": {"order_id": "Numero", "created_at": "Data", "value": "Totale"}}, "Europe/Rome")
    assert taken == [True]
    export = "".join(json.dumps(r) + "\n" for r in [
        {"ev": "Purchase", "props": {"id": "E-1", "ts": 1791162861, "order": {"number": "#1001"}}, "amount": 12.5},
        {"ev": "Purchase", "props": {"id": "E-2", "ts": 1791162862, "order": {"number": "1002"}}, "amount": "7"}])
    taken, _ = both(monkeypatch, tmp_path, {"export.jsonl": export}, "pixel",
                    {"columns": {"event_name": "ev", "event_id": "props.id", "event_time": "props.ts",
                                 "order_id": "props.order.number", "value": "amount"}, "constants": {"platform": "meta", "currency": "EUR"}})
    assert taken == [False]  # JSON with nested paths: declined, read by pandas


EVENT_LAYOUT = {"platform": "Network", "event_name": "Event", "event_id": "EventID", "event_time": "Time",
                "received_time": "Received", "order_id": "Order", "value": "Amount"}
ORDER_LAYOUT = {"order_id": "Number", "created_at": "Date", "value": "Total", "status": "State"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_generated_shop_renamed_into_a_mapped_layout(monkeypatch, tmp_path, fmt):
    """Realistic exports (dedupaudit generate: planted failures, blanks, several platforms), their columns
    renamed into a layout of their own, read through a mapping both ways."""
    import pyarrow.csv as pa_csv

    from dedupaudit.generate.rates import DEFAULTS
    from dedupaudit.generate.run import write_shop

    shop = tmp_path / "shop"
    write_shop(shop, 400, 7, fmt, ["meta", "tiktok", "snap", "google"], DEFAULTS, truth=False)
    for side, layout in (("pixel", EVENT_LAYOUT), ("capi", EVENT_LAYOUT), ("orders", ORDER_LAYOUT)):
        if fmt == "csv":
            table = pa_csv.read_csv(shop / f"{side}.csv", convert_options=pa_csv.ConvertOptions(strings_can_be_null=False,
                                                                                              column_types={}))
            table = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
        else:
            table = pq.read_table(shop / f"{side}.parquet")
            layout = {k: v for k, v in layout.items() if k != "value"}  # a typed total mapped by name is text in pandas: declined
        renamed = table.rename_columns([layout.get(n, n) for n in table.column_names])
        mapping = {"columns": {k: v for k, v in layout.items()}}
        if side != "orders":
            mapping["columns"]["event_id"] = [layout["event_id"], "Missing"]
        out = tmp_path / side
        out.mkdir()
        if fmt == "csv":
            pa_csv.write_csv(renamed, out / "export.csv")
        else:
            pq.write_table(renamed, out / "export.parquet")
        contents = {f"export.{fmt}": (out / f"export.{fmt}").read_bytes() if fmt == "csv" else renamed}
        taken, (table, _) = both(monkeypatch, out, contents, side, mapping, "Europe/Berlin")
        assert len(table) >= 400 and table["reason"].notna().sum() < len(table)
        assert taken == [not (fmt == "parquet" and side == "orders")], side  # typed created_at: localise writes its text


def test_blank_is_what_pandas_strip_removes():
    chars = [chr(i) for i in range(0x3100)]
    blank = pd.Series(chars).astype("string").str.strip() == ""
    assert {c for c, b in zip(chars, blank) if b} == set(mapsql.WHITESPACE)


def test_a_plain_mapped_csv_never_goes_through_pandas(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("read_table was called")

    monkeypatch.setattr(files, "read_table", refuse)
    monkeypatch.setattr(detect, "read_table", refuse)
    path = _write(tmp_path, "e.csv.gz", EV + "Purchase,1,05/10/2026 09:14\nPurchase,2,\n")
    mapping = parse_mapping({"columns": M, "constants": META, "timestamp_format": "%d/%m/%Y %H:%M", "timezone": "Europe/Berlin"}, "m")
    loaded = load_events([path], "pixel", resolve_timezone("UTC"), None, set(RULES), ReadContext(rules=RULES, mapping=mapping))
    assert loaded.frame["event_time"].astype(str).tolist() == ["2026-10-05 07:14:00"]
    assert loaded.rejects["reason"].tolist() == ["event_time is empty"]
    declined = _write(tmp_path, "d.csv", EV + "\"Pur\nchase\",1,1791162861\n")
    with pytest.raises(AssertionError, match="read_table was called"):
        load_events([declined], "pixel", resolve_timezone("UTC"), None, set(RULES), ReadContext(rules=RULES, mapping=mapping))
