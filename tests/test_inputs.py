"""Each input format and compression reads to the same canonical rows; bad rows are rejected, never dropped."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import load_events, load_orders, order_key
from dedupaudit.inputs.files import expand_paths, read_table
from dedupaudit.inputs.timestamps import resolve_timezone

UTC = resolve_timezone("UTC")
KNOWN = {"meta", "tiktok", "snap", "google"}
ROWS = [
    {"platform": "meta", "event_name": "Purchase", "event_id": "00123", "event_time": "2026-01-05T10:00:00Z", "order_id": "#1001", "value": "20.5"},
    {"platform": "Meta ", "event_name": "Purchase", "event_id": "", "event_time": "1767607200", "order_id": "1002", "value": ""},
]


def _csv(rows, sep=","):
    cols = list(rows[0])
    return "\n".join([sep.join(cols)] + [sep.join(str(r[c]) for c in cols) for r in rows]) + "\n"


WRITERS = {
    "events.csv": lambda p: p.write_text(_csv(ROWS)),
    "events.tsv": lambda p: p.write_text(_csv(ROWS, "\t")),
    "events.jsonl": lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in ROWS)),
    "events.json": lambda p: p.write_text(json.dumps(ROWS)),
    "events.parquet": lambda p: pq.write_table(pa.Table.from_pylist(ROWS), p),
    "events.csv.gz": lambda p: p.write_bytes(gzip.compress(_csv(ROWS).encode())),
    "events.jsonl.zst": lambda p: p.write_bytes(zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in ROWS).encode())),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_gives_the_same_canonical_rows(tmp_path, name):
    path = tmp_path / name
    WRITERS[name](path)
    loaded = load_events([path], "pixel", UTC, None, KNOWN)
    frame = loaded.frame
    assert len(loaded.rejects) == 0
    assert frame["platform"].tolist() == ["meta", "meta"]
    assert frame["event_id"].tolist()[0] == "00123"  # IDs stay text: leading zeros kept
    assert pd.isna(frame["event_id"].tolist()[1])  # empty is missing
    assert frame["order_key"].tolist() == ["1001", "1002"]
    assert frame["event_time"].tolist() == [pd.Timestamp("2026-01-05T10:00:00"), pd.Timestamp("2026-01-05T10:00:00")]
    assert frame["event_time_unit"].tolist() == ["text", "seconds"]
    assert frame["value"].tolist()[0] == 20.5


def test_broken_csv_lines_are_rejected_with_their_line_number(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("platform,event_name,event_time\nmeta,Purchase,2026-01-05T10:00:00Z\nmeta,Purchase\nmeta,Purchase,2026-01-05T11:00:00Z\n")
    loaded = load_events([path], "pixel", UTC, None, KNOWN)
    assert len(loaded.frame) == 2 and loaded.frame["row"].tolist() == [2, 4]
    assert loaded.rejects[["row", "reason"]].values.tolist() == [[3, "line has 2 fields, the header has 3"]]
    assert loaded.rows == 3


def test_each_row_and_reject_names_its_own_file(tmp_path):
    """The loaded table keeps a file number per row; the name must come back right for every file of a side."""
    first, second = tmp_path / "a.csv", tmp_path / "it's b.csv"  # a quote in the name: it is an SQL literal
    first.write_text(_csv(ROWS))
    second.write_text("platform,event_name,event_time\nmeta,Purchase,2026-01-05T10:00:00Z\nmeta,,2026-01-05T11:00:00Z\n")
    loaded = load_events([first, second], "pixel", UTC, None, KNOWN)
    assert loaded.frame["file"].tolist() == [str(first), str(first), str(second)]
    assert loaded.rejects[["file", "row"]].values.tolist() == [[str(second), 3]]


def test_invalid_json_lines_are_rejected_with_their_line_number(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"platform": "meta", "event_name": "Purchase", "event_time": 1767607200}\n{not json\n["a list"]\n')
    loaded = load_events([path], "capi", UTC, None, KNOWN)
    assert len(loaded.frame) == 1
    assert sorted(loaded.rejects["row"].tolist()) == [2, 3]


def test_row_problems_each_have_a_reason(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "platform,event_name,event_time,value,received_time\n"
        ",Purchase,2026-01-05T10:00:00Z,,\n"
        "meta, ,2026-01-05T10:00:00Z,,\n"
        "meta,Purchase,,,\n"
        "meta,Purchase,yesterday,,\n"
        "meta,Purchase,2026-01-05T10:00:00Z,12 EUR,\n"
        "meta,Purchase,2026-01-05T10:00:00Z,,soon\n"
    )
    loaded = load_events([path], "pixel", UTC, None, KNOWN)
    assert loaded.frame.empty
    assert loaded.rejects["reason"].tolist() == [
        "platform is empty", "event_name is empty", "event_time is empty", "event_time is not a timestamp",
        "value is not a number", "received_time is not a timestamp",
    ]


def test_missing_required_column_names_file_and_column(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("platform,event_time\nmeta,2026-01-05T10:00:00Z\n")
    with pytest.raises(UserError, match=r"events\.csv: missing required column event_name"):
        load_events([path], "pixel", UTC, None, KNOWN)


def test_platform_option_fills_a_missing_platform_column(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_name,event_time\nPurchase,2026-01-05T10:00:00Z\n")
    assert load_events([path], "pixel", UTC, "tiktok", KNOWN).frame["platform"].tolist() == ["tiktok"]


def test_unknown_platform_names_file_and_row(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("platform,event_name,event_time\nmeta,Purchase,2026-01-05T10:00:00Z\nbing,Purchase,2026-01-05T10:00:00Z\n")
    with pytest.raises(UserError, match=r"events\.csv row 3: unknown platform 'bing'"):
        load_events([path], "pixel", UTC, None, KNOWN)


def test_orders_need_id_and_time(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,created_at,status\n1,2026-01-05 10:00:00 +0100,paid\n,2026-01-05T10:00:00Z,paid\n3,never,paid\n")
    loaded = load_orders([path], UTC)
    assert loaded.frame["created_at"].tolist() == [pd.Timestamp("2026-01-05T09:00:00")]
    assert loaded.rejects["reason"].tolist() == ["order_id is empty", "created_at is not a timestamp"]


def test_paths_folders_and_globs(tmp_path):
    (tmp_path / "logs").mkdir()
    for name in ("a.csv", "b.jsonl.gz", "notes.txt"):
        (tmp_path / "logs" / name).write_text("x")
    assert [p.name for p in expand_paths([str(tmp_path / "logs")], "--capi")] == ["a.csv", "b.jsonl.gz"]
    assert [p.name for p in expand_paths([str(tmp_path / "logs" / "*.csv")], "--capi")] == ["a.csv"]
    with pytest.raises(UserError, match="--capi .*nope.csv: no such file"):
        expand_paths([str(tmp_path / "nope.csv")], "--capi")
    with pytest.raises(UserError, match="no file matches"):
        expand_paths([str(tmp_path / "*.parquet")], "--capi")
    (tmp_path / "logs" / "orders[2026].csv").write_text("x")  # a file whose name holds glob characters is that file
    assert [p.name for p in expand_paths([str(tmp_path / "logs" / "orders[2026].csv")], "--orders")] == ["orders[2026].csv"]


def test_unreadable_file_is_a_user_error(tmp_path):
    path = tmp_path / "events.parquet"
    path.write_text("this is not parquet")
    with pytest.raises(UserError, match=r"events\.parquet: cannot read the file"):
        read_table(path)


@pytest.mark.parametrize("raw, key", [("#1001", "1001"), (" 1001 ", "1001"), ("# 1001", "1001"), ("A-1", "A-1"), ("", None), ("  ", None)])
def test_order_key(raw, key):
    got = order_key(pd.Series([raw])).tolist()[0]
    assert (pd.isna(got) and key is None) or got == key


ORDER_SPELLINGS = ["#1001", " 1001 ", "# 1001", "A-1", "##7", "\u00a0#42\u3000", "\t#9\u2028", "#", "x#1"]


def test_order_key_in_sql_is_order_key_in_python(tmp_path):
    """`inspect` and the loader write the same rule twice (pandas, SQL): they must agree."""
    from dedupaudit.inputs.canonical import load_orders

    path = tmp_path / "orders.csv"
    pd.DataFrame({"order_id": ORDER_SPELLINGS, "created_at": "2026-01-05T09:00:00Z"}).to_csv(path, index=False)
    loaded = load_orders([path], UTC)
    sql = dict(zip(loaded.frame["order_id"], loaded.frame["order_key"]))
    rejected = set(loaded.rejects["value"])
    for raw in ORDER_SPELLINGS:
        python = order_key(pd.Series([raw])).tolist()[0]
        if pd.isna(python):
            assert raw in rejected, raw
        else:
            assert sql[raw] == python, raw
