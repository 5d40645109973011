"""Canonical JSON Lines scanned by DuckDB (inputs/jsonl_scan.py) give exactly the Python reader's Scan.

The oracle is the Python path, `scan_frame(connection, read_table(path))`: the same columns in the same
order, the same DuckDB types, the same values and row numbers (in scan order), the same unreadable lines
and numeric-ID flags. A file the DuckDB path cannot reproduce must be declined (and then `files.scan`
falls back to the Python reader), never read differently.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
import zstandard

from dedupaudit.connection import Connection
from dedupaudit.errors import UserError
from dedupaudit.inputs import files
from dedupaudit.inputs.files import file_format, read_table, scan, scan_frame
from dedupaudit.inputs.jsonl_scan import scan_jsonl
from dedupaudit.inputs.textfile import opened

REPO = Path(__file__).resolve().parents[1]
SAME, DECLINED = "same", "declined"


def _snapshot(connection: Connection, found) -> dict:
    columns = ", ".join(['"' + c.replace('"', '""') + '"' for c in found.columns] + ["__row"])
    flags = {c: connection.con.execute(f"SELECT list({found.numeric_flag(c)} ORDER BY s.__seq) FROM {found.relation} s").fetchall()[0][0]
             for c in found.numeric}
    return {"columns": list(found.columns), "types": dict(found.types),
            "rows": connection.con.execute(f"SELECT {columns} FROM {found.relation} ORDER BY __seq").fetchall(),
            "broken": list(found.broken), "numeric": flags}


def _oracle(connection: Connection, path: Path):
    """The Python reader's Scan, or the error it stops with (keys differing only by case crash scan_frame)."""
    try:
        return _snapshot(connection, scan_frame(connection, read_table(path)))
    except (UserError, KeyError, duckdb.Error) as exc:  # not UTF-8 (unless transcoded first): Arrow keeps invalid text
        return f"error: {exc}"


def _tables(connection: Connection) -> set:
    return {r[0] for r in connection.con.execute("SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() "
                                                  "WHERE NOT internal").fetchall()}


def _compare(path: Path) -> tuple[str, object, object]:
    """(same | declined, the oracle, what the DuckDB path gave); a declined file leaves nothing behind."""
    connection = Connection()
    oracle = _oracle(connection, path)
    before = _tables(connection)
    found = scan_jsonl(connection, path)
    if found is None:
        assert _tables(connection) == before, "a declined file leaves no relation behind"
        return DECLINED, oracle, None
    got = _snapshot(connection, found)
    found.drop()
    assert _tables(connection) == before, "Scan.cleanup drops every relation the scan made"
    return SAME, oracle, got


def _repo_json_files() -> list[Path]:
    found = []
    for folder in ("tests/fixtures", "tests/cases", "tests/hostile", "examples"):
        found += [p for p in sorted((REPO / folder).rglob("*")) if p.is_file() and file_format(p, strict=False) in ("json", "jsonl")]
    return found


# Repository files the DuckDB path reads; every other JSON file there is declined (nested values, invalid lines,
# a pretty-printed document) and read by the Python reader as before.
REPO_SCANNED = {"examples/canonical/capi_events.jsonl", "examples/native/pixel/tiktok_pixel_log.jsonl",
                "tests/fixtures/real/gateways/stape_bigquery.jsonl", "tests/hostile/control_characters.jsonl",
                "tests/hostile/float_id_record.jsonl"}


def test_the_repository_holds_json_files_of_both_kinds():
    names = {str(p.relative_to(REPO)) for p in _repo_json_files()}
    assert REPO_SCANNED <= names and len(names - REPO_SCANNED) >= 10


@pytest.mark.parametrize("path", _repo_json_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_repository_json_file_reads_as_the_python_reader_reads_it(path):
    outcome, oracle, got = _compare(path)
    name = str(path.relative_to(REPO))
    assert outcome == (SAME if name in REPO_SCANNED else DECLINED)
    if outcome == SAME:
        assert got == oracle
    else:  # the fallback of files.scan is the Python reader itself
        connection = Connection()
        try:
            assert _snapshot(connection, scan(connection, path)) == oracle
        except UserError as exc:
            assert oracle == f"error: {exc}"


def _lines(*objects) -> bytes:
    return "".join((o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)) + "\n" for o in objects).encode()


EVENT = {"platform": "meta", "event_name": "Purchase", "event_id": "00123", "event_time": "2026-10-05T10:00:00Z"}
LATE_KEYS = [{"a": i, "p": "x" * 30} for i in range(60_000)] + [{"b": "late", "a": 1.5}]  # past Arrow's 1 MB blocks: a new key, a double

CASES = {  # name: (file name, bytes, expected outcome)
    "canonical events": ("e.jsonl", _lines(EVENT, {**EVENT, "event_id": "00124", "value": 20.5}), SAME),
    "ids stay text": ("e.jsonl", _lines({"event_id": "00123", "order_id": "#1001"}, {"event_id": "1e3", "order_id": " 7 "}), SAME),
    "integer ids stay integers": ("e.jsonl", _lines({"event_id": 1001, "order_id": 7}, {"event_id": 1002, "order_id": None}), SAME),
    "float ids": ("e.jsonl", _lines({"event_id": 1001.0, "order_id": 1.5}, {"event_id": 1002, "order_id": None}), SAME),
    "number forms": ("e.jsonl", b'{"v": 1.0}\n{"v": 1e20}\n{"v": 1E-7}\n{"v": -0.0}\n{"v": 0.30000000000000004}\n'
                     b'{"v": 2.2250738585072011e-308}\n{"v": 1.7976931348623157e308}\n{"v": 5e-324}\n{"v": 0e0}\n{"v": 1E+2}\n', SAME),
    "hard roundings": ("e.jsonl", b'{"v": 9007199254740993.0}\n{"v": 0.1000000000000000055511151231257827}\n'
                       b'{"v": 2.4703282292062327e-324}\n{"v": 123456789012345678901234567890}\n', SAME),
    "integers with floats": ("e.jsonl", _lines({"v": 1}, {"v": 2.5}, {"v": -3}), SAME),
    "minus zero integer": ("e.jsonl", b'{"v": 1}\n{"v": -0}\n', SAME),
    "int64 bounds": ("e.jsonl", b'{"v": 9223372036854775807}\n{"v": -9223372036854775808}\n', SAME),
    "huge integer alone": ("e.jsonl", b'{"v": 1}\n{"v": 9223372036854775808}\n', DECLINED),
    "huge integer with floats": ("e.jsonl", b'{"v": 1.5}\n{"v": 18446744073709551615}\n{"v": 99999999999999999999999}\n', SAME),
    "number beyond double": ("e.jsonl", b'{"v": 1}\n{"v": 1e400}\n', DECLINED),
    "NaN": ("e.jsonl", b'{"v": 1.5}\n{"v": NaN}\n', DECLINED),
    "Infinity": ("e.jsonl", b'{"v": 1.5}\n{"v": -Infinity}\n', DECLINED),
    "booleans": ("e.jsonl", _lines({"b": True}, {"b": False}, {"b": None}, {}), SAME),
    "all null column": ("e.jsonl", _lines({"a": 1, "n": None}, {"a": 2, "n": None}), SAME),
    "empty string vs null": ("e.jsonl", _lines({"s": ""}, {"s": None}, {"t": "x"}, {"s": " "}), SAME),
    "missing keys and key order": ("e.jsonl", _lines({"b": 1, "a": "x"}, {"c": True}, {"a": "y", "d": 2.5, "b": 3}), SAME),
    "empty objects among rows": ("e.jsonl", _lines({}, {"a": "x"}, {}), SAME),
    "only empty objects": ("e.jsonl", _lines({}, {}), DECLINED),
    "blank lines": ("e.jsonl", b'\n{"a": 1}\n\n\n{"a": 2}\n   \n\t\n{"a": 3}\n\n', SAME),
    "CRLF": ("e.jsonl", b'{"a": "x"}\r\n{"a": "y"}\r\n\r\n{"a": "z"}\r\n', SAME),
    "trailing whitespace": ("e.jsonl", b'  {"a": "x"}  \t\n{"a" : "y" }\n', SAME),
    "no final newline": ("e.jsonl", b'{"a": "x"}\n{"a": "y"}', SAME),
    "unicode": ("e.jsonl", _lines({"s": "caf\u00e9"}, {"s": "\U0001f600 \u4e2d\u6587 \u05e2\u05d1\u05e8\u05d9\u05ea"}, {"s": "\u2028\u2029\x85"}), SAME),
    "escapes": ("e.jsonl", b'{"s": "a\\nb\\tc\\"d\\\\e\\/f"}\n{"s": "\\u00e9\\ud83d\\ude00\\u0000\\u0001\\b\\f\\r"}\n', SAME),
    "unicode and odd keys": ("e.jsonl", _lines({"caf\u00e9": 1, "a.b": "x", "with space": True, "x-y": None}), SAME),
    "timestamps only": ("e.jsonl", _lines({"t": "2026-10-05T10:00:00Z"}, {"t": "2026-10-05 10:00:00"}, {"t": "2026-10-05"}), SAME),
    "timestamps and text": ("e.jsonl", _lines({"t": "2026-10-05T10:00:00+02:00"}, {"t": "yesterday"}, {"t": "1767607200"}), SAME),
    "epoch numbers": ("e.jsonl", _lines({**EVENT, "event_time": 1767607200}, {**EVENT, "event_time": 1767607200123}), SAME),
    "long value": ("e.jsonl", _lines({"s": "x" * 1_000_000}, {"s": "y"}), SAME),
    "brackets in strings past the nesting limit": ("e.jsonl", _lines({"n": 1, "s": "[" * 60}, {"s": "{" * 60}, {"n": None}), DECLINED),
    "brackets in strings": ("e.jsonl", _lines({"n": 1, "s": "[x]"}, {"s": "{" * 40}, {"n": None, "s": "}" * 40}), SAME),
    "line longer than Arrow's block": ("e.jsonl", _lines({"n": 1}, {"s": "x" * 3_000_000}, {"n": None}), DECLINED),
    "past the first block": ("e.jsonl", _lines(*LATE_KEYS), SAME),
    "BOM": ("e.jsonl", b'\xef\xbb\xbf{"a": "x"}\n{"a": "y"}\n', SAME),
    "json file of lines": ("e.json", _lines(EVENT, EVENT), SAME),
    "ndjson": ("e.ndjson", _lines(EVENT, EVENT), SAME),
    "nested object": ("e.jsonl", _lines({"a": {"b": 1}}, {"a": None}), DECLINED),
    "nested array": ("e.jsonl", _lines({"a": [1, 2]}), DECLINED),
    "invalid line": ("e.jsonl", _lines(EVENT, "{not json", EVENT), DECLINED),
    "truncated last line": ("e.jsonl", _lines(EVENT) + b'{"a": ', DECLINED),
    "array line": ("e.jsonl", _lines(EVENT, [1, 2]), DECLINED),
    "number line": ("e.jsonl", _lines(EVENT, "3"), DECLINED),
    "null line": ("e.jsonl", _lines(EVENT, "null"), DECLINED),
    "string line": ("e.jsonl", _lines(EVENT, '"x"'), DECLINED),
    "duplicate keys": ("e.jsonl", b'{"a": 1, "a": 2}\n', DECLINED),
    "keys differing by case": ("e.jsonl", _lines({"a": 1, "A": 2}), DECLINED),
    "case across lines": ("e.jsonl", _lines({"Event_ID": "1"}, {"event_id": "2"}), DECLINED),
    "empty key": ("e.jsonl", _lines({"": 1}), DECLINED),
    "key with a quote": ("e.jsonl", _lines({'a"b': 1}), DECLINED),
    "a key named __row": ("e.jsonl", _lines({"__row": 1}), DECLINED),
    "mixed number and text": ("e.jsonl", _lines({"order_id": 1001}, {"order_id": "A-7"}), DECLINED),
    "mixed boolean and number": ("e.jsonl", _lines({"v": True}, {"v": 1}), DECLINED),
    "trailing comma": ("e.jsonl", b'{"a": 1,}\n', DECLINED),
    "NaN inside a string (declined to be safe)": ("e.jsonl", _lines({"s": "NaN"}), DECLINED),
    "BOM in the middle": ("e.jsonl", b'{"a": 1}\n\xef\xbb\xbf{"a": 2}\n', DECLINED),
    "form feed": ("e.jsonl", b'{"a": 1}\x0c\n{"a": 2}\n', DECLINED),
    "vertical tab": ("e.jsonl", b'\x0b{"a": 1}\n', DECLINED),
    "form feed line": ("e.jsonl", b'{"a": 1}\n\x0c\n{"a": 2}\n', DECLINED),
    "NUL byte after an object": ("e.jsonl", b'{"a": 1}\x00\n{"a": 2}\n', DECLINED),
    "DEL byte in a string": ("e.jsonl", b'{"a": "x\x7fy"}\n', SAME),
    "CR-only line ends": ("e.jsonl", b'{"a": 1}\r{"a": 2}\r', DECLINED),
    "two objects on a line": ("e.jsonl", b'{"a": 1} {"a": 2}\n', DECLINED),
    "pretty-printed object": ("e.jsonl", b'{\n  "a": 1\n}\n', DECLINED),
    "JSON array": ("e.json", json.dumps([EVENT, EVENT]).encode(), DECLINED),
    "JSON array after blanks": ("e.json", b'\n  ' + json.dumps([EVENT]).encode(), DECLINED),
    "empty file": ("e.jsonl", b"", DECLINED),
    "whitespace only": ("e.jsonl", b"\n \n", DECLINED),
    "not UTF-8": ("e.jsonl", '{"s": "caf\u00e9"}\n'.encode("latin-1"), DECLINED),
    "lone surrogate": ("e.jsonl", b'{"s": "\\ud800"}\n', DECLINED),
}


def _write(folder: Path, name: str, data: bytes, compression: str | None = None) -> Path:
    if compression == "gz":
        name, data = name + ".gz", gzip.compress(data)
    elif compression == "zst":
        name, data = name + ".zst", zstandard.ZstdCompressor().compress(data)
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", CASES, ids=str)
def test_tricky_file_reads_as_the_python_reader_reads_it_or_is_declined(tmp_path, case):
    name, data, expected = CASES[case]
    outcome, oracle, got = _compare(_write(tmp_path, name, data))
    assert outcome == expected
    if outcome == SAME:
        assert got == oracle


@pytest.mark.parametrize("compression", ["gz", "zst"])
@pytest.mark.parametrize("case", ["canonical events", "number forms", "blank lines", "unicode", "past the first block", "invalid line"])
def test_compressed_files_read_alike(tmp_path, case, compression):
    name, data, expected = CASES[case]
    outcome, oracle, got = _compare(_write(tmp_path, name, data, compression))
    assert outcome == expected
    if outcome == SAME:
        assert got == oracle


def test_the_late_case_spans_several_arrow_blocks():
    assert len(CASES["past the first block"][1]) > 2 * (1 << 20)


def test_the_comparison_sees_a_difference(tmp_path):
    """The oracle comparison can fail: a file differing in one value, one type or one row number differs."""
    connection = Connection()
    first = _snapshot(connection, scan_jsonl(connection, _write(tmp_path, "a.jsonl", _lines({"v": 1}, {"v": 2}))))
    assert first != _snapshot(connection, scan_jsonl(connection, _write(tmp_path, "b.jsonl", _lines({"v": 1}, {"v": 3}))))
    assert first != _snapshot(connection, scan_jsonl(connection, _write(tmp_path, "c.jsonl", _lines({"v": 1}, {"v": 2.0}))))
    assert first != _snapshot(connection, scan_jsonl(connection, _write(tmp_path, "d.jsonl", _lines({}, {"v": 1}, {"v": 2}))))


def test_plain_json_lines_never_reach_the_python_reader(tmp_path, monkeypatch):
    path = _write(tmp_path, "events.jsonl", _lines(EVENT, {**EVENT, "event_id": None, "value": 12.5}), "gz")
    connection = Connection()
    expected = _snapshot(connection, scan_frame(connection, read_table(path)))

    def refuse(*args, **kwargs):
        raise AssertionError("read_table was called")

    monkeypatch.setattr(files, "read_table", refuse)
    assert _snapshot(connection, scan(connection, path)) == expected
    with pytest.raises(AssertionError, match="read_table was called"):  # a declined file does reach it
        scan(connection, _write(tmp_path, "nested.jsonl", _lines({**EVENT, "extra": {"a": 1}})))


def test_declined_files_are_read_by_the_python_reader(tmp_path):
    path = _write(tmp_path, "events.jsonl", _lines(EVENT, "{broken", [1], {**EVENT, "event_id": 1001.0}, {**EVENT, "event_id": "x"}))
    connection = Connection()
    found = scan(connection, path)
    assert found.broken == [(2, "invalid JSON (Expecting property name enclosed in double quotes)"), (3, "not a JSON object")]
    assert _snapshot(connection, found)["numeric"] == {"event_id": [False, True, False]}
    assert _snapshot(connection, found)["rows"][1][-1] == 4  # numbered by line, as the Python reader does


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_a_transcoded_file_is_scanned_from_its_utf8_copy(tmp_path, encoding):
    path = tmp_path / "events.jsonl"
    path.write_bytes(_lines({**EVENT, "event_name": "Caf\u00e9 \u20ac"}, EVENT).decode().encode(encoding))
    with opened(path, "jsonl", folder=str(tmp_path)) as text:
        assert text.copy is not None
        outcome, oracle, got = _compare(path)
    assert outcome == SAME and got == oracle
    assert got["rows"][0][1] == "Caf\u00e9 \u20ac"


def test_a_damaged_compressed_file_is_left_to_the_python_reader(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(_lines(EVENT, EVENT))[:-12] + b"garbage")
    connection = Connection()
    assert scan_jsonl(connection, path) is None
    with pytest.raises(UserError, match="cannot read the file"):
        scan(connection, path)
