"""Encodings, delimiters and line ends (issue 9): every spelling of one file gives the same canonical rows,
on the same line numbers; what was detected is shown; --encoding / --delimiter override; long lines;
integer-valued float IDs inside native logs."""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path

import pytest

from dedupaudit.inputs import files
from dedupaudit.inputs.canonical import load_events
from dedupaudit.inputs.textfile import sniff_delimiter, sniff_encoding
from tests.native_support import entry, har, jsonl
from tests.test_cli import run
from tests.test_native_capi import META

KNOWN = {"meta", "tiktok", "snap", "google", "pinterest", "reddit", "linkedin"}
ROWS = [["platform", "event_name", "event_id", "event_time", "order_id", "value"],
        ["meta", "Purchase", "é€1", "2026-10-05T10:00:00Z", "1001", "12.5"],
        ["meta", "Purchase, big", "a2", "2026-10-05T10:05:00Z", "1002", "3"],  # the delimiter inside a quoted value
        ["meta", "Purchase", "a3", "not-a-date", "1003", "4"],  # rejected: its line number must survive
        ["meta", "Kauf", "ü4", "2026-10-05T11:00:00Z", "1004", "7"]]
ENCODINGS = {  # name reported -> how the bytes are written
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "utf-16-le": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16-be": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-16-le ": lambda t: t.encode("utf-16-le"),  # no BOM (the key's space keeps it apart)
    "utf-16-be ": lambda t: t.encode("utf-16-be"),
    "cp1252": lambda t: t.encode("cp1252"),
}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENDS = ["\n", "\r\n", "\r"]


def _text(delimiter: str, end: str, rows=ROWS) -> str:
    quote = lambda v: f'"{v}"' if delimiter in v or "," in v else v  # noqa: E731
    return "".join(delimiter.join(quote(v) for v in row) + end for row in rows)


def _load(path: Path, **context):
    from dedupaudit.inputs.detect import ReadContext

    return load_events([path], "pixel", timezone.utc, None, KNOWN, ReadContext(**context))


def _seen(loaded) -> tuple[list, list]:
    used = loaded.frame.drop(columns=["file"]).astype(object).where(loaded.frame.notna(), None).values.tolist()
    return used, loaded.rejects[["row", "reason"]].values.tolist()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "p.csv"
    path.write_text(_text(",", "\n"), encoding="utf-8")
    return _seen(_load(path))


CASES = [(e, d, ENDS[i % 3]) for i, (e, d) in enumerate((e, d) for e in ENCODINGS for d in DELIMITERS)]


@pytest.mark.parametrize("encoding,delimiter,end", CASES, ids=[f"{e.strip()}{'-nobom' if e.endswith(' ') else ''}-{DELIMITERS[d]}-"
                                                               f"{ {chr(10): 'lf', chr(13) + chr(10): 'crlf', chr(13): 'cr'}[n]}"
                                                               for e, d, n in CASES])
def test_every_spelling_gives_the_same_rows(tmp_path, baseline, encoding, delimiter, end):
    path = tmp_path / "p.csv"
    path.write_bytes(ENCODINGS[encoding](_text(delimiter, end)))
    loaded = _load(path)
    assert _seen(loaded) == baseline
    [entry] = loaded.per_file()
    assert (entry["encoding"], entry["delimiter"]) == (encoding.strip(), DELIMITERS[delimiter])


@pytest.mark.parametrize("end", ENDS)
def test_line_ends_in_utf8_comma_files(tmp_path, baseline, end):
    path = tmp_path / "p.csv"
    path.write_text(_text(",", end), encoding="utf-8", newline="")
    assert _seen(_load(path)) == baseline


def test_gzipped_utf16_is_read(tmp_path, baseline):
    import gzip

    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(ENCODINGS["utf-16-le"](_text(";", "\r\n"))))
    assert _seen(_load(path)) == baseline


def test_decimal_comma_only_in_semicolon_files(tmp_path):
    rows = [ROWS[0][:], ROWS[1][:], ROWS[2][:]]
    rows[1][5], rows[2][5] = "12,50", "1.234,50"
    semi, comma = tmp_path / "semi.csv", tmp_path / "comma.csv"
    semi.write_text(_text(";", "\n", rows))
    comma.write_text(_text(",", "\n", rows))
    assert _load(semi).frame["value"].tolist() == [12.5, 1234.5]
    loaded = _load(comma)  # a comma file: "12,50" is no number; rejected, not guessed
    assert loaded.rejects[["row", "reason"]].values.tolist() == [[2, "value is not a number"], [3, "value is not a number"]]


def test_sniffing():
    assert sniff_encoding(b"a,b\x00c\n") == "utf-8"  # one NUL byte is not UTF-16
    assert sniff_encoding("né".encode("cp1252")) == "cp1252"
    assert sniff_encoding("ab,cd".encode("utf-16-le")) == "utf-16-le"
    assert sniff_delimiter("a;b;c\n1;2,5;3\n") == ";"
    assert sniff_delimiter("a,b\n\"x;y\",2\n") == ","
    assert sniff_delimiter("one\nvalue\n") == ","


def test_cp1252_euro_and_latin1_fallback(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"platform,event_name,event_id,event_time\nmeta,Purchase,\x80\x81\xe9,2026-10-05T10:00:00Z\n")
    assert _load(path).frame["event_id"].tolist() == ["€\x81é"]


# ---------------------------------------------------------------------- what is shown, overrides, errors

def _cp1252_file(tmp_path) -> Path:
    path = tmp_path / "p.csv"
    path.write_bytes(ENCODINGS["cp1252"](_text(";", "\r\n")))
    return path


def test_inspect_shows_encoding_and_delimiter(tmp_path):
    path = _cp1252_file(tmp_path)
    done = run("inspect", path)
    assert done.returncode == 0, done.stderr
    assert "  text      cp1252, semicolon-separated" in done.stdout
    [report] = json.loads(run("inspect", path, "--format", "json").stdout)
    assert (report["encoding"], report["delimiter"]) == ("cp1252", "semicolon")


def test_check_reports_the_encoding_per_file(tmp_path):
    path = _cp1252_file(tmp_path)
    data = json.loads(run("check", "--pixel", path, "--format", "json", "--quiet").stdout)
    [entry] = data["inputs"]["pixel"]["per_file"]
    assert (entry["encoding"], entry["delimiter"], entry["used"], entry["rejected"]) == ("cp1252", "semicolon", 3, 1)
    markdown = run("check", "--pixel", path, "--format", "markdown", "--quiet").stdout.replace("\\_", "_")
    assert f"{path}: read as cp1252 (not UTF-8)" in markdown


def test_encoding_and_delimiter_options_override_detection(tmp_path):
    path = tmp_path / "p.tsv"  # a .tsv whose separator is really ';', holding UTF-8 bytes meant as CP-1252
    path.write_bytes("platform;event_name;event_id;event_time\nmeta;Purchase;Ã©1;2026-10-05T10:00:00Z\n".encode("cp1252"))
    assert run("check", "--pixel", path, "--format", "json", "--quiet").returncode == 2  # one tab-separated column
    done = run("check", "--pixel", path, "--delimiter", "semicolon", "--encoding", "cp1252", "--format", "json", "--quiet",
               "--rejects", tmp_path / "r.csv")
    assert done.returncode in (0, 1), done.stderr
    [entry] = json.loads(done.stdout)["inputs"]["pixel"]["per_file"]
    assert (entry["encoding"], entry["delimiter"], entry["used"]) == ("cp1252", "semicolon", 1)
    assert _load(path, encoding="cp1252", delimiter=";").frame["event_id"].tolist() == ["Ã©1"]
    assert _load(path, delimiter=";").frame["event_id"].tolist() == ["é1"]  # detected: UTF-8
    config = tmp_path / "dedupaudit.yaml"
    config.write_text("delimiter: semicolon\nencoding: cp1252\n")
    done = run("check", "--config", config, "--pixel", path, "--format", "json", "--quiet")
    assert done.returncode in (0, 1), done.stderr


@pytest.mark.parametrize("args,error", [
    (["--encoding", "nope"], "dedupaudit: error: --encoding: 'nope' is not a known encoding (e.g. utf-8, utf-16, cp1252, latin-1)\n"),
    (["--delimiter", "ab"], "dedupaudit: error: --delimiter: 'ab' is not a delimiter (one character, or comma, semicolon, tab, pipe)\n"),
])
def test_a_wrong_option_is_one_line_and_exit_2(tmp_path, args, error):
    path = _cp1252_file(tmp_path)
    for command in (["check", "--pixel", path], ["inspect", path]):
        done = run(*command, *args)
        assert (done.returncode, done.stderr) == (2, error)


def test_a_wrong_encoding_in_the_config_names_file_and_key(tmp_path):
    config = tmp_path / "dedupaudit.yaml"
    config.write_text("encoding: nope\n")
    done = run("check", "--config", config, "--pixel", _cp1252_file(tmp_path))
    assert (done.returncode, done.stderr) == (2, f"dedupaudit: error: {config}: encoding: 'nope' is not a known encoding "
                                                 "(valid: an encoding name such as utf-8, utf-16 or cp1252)\n")


def test_a_non_utf8_byte_past_the_sniffed_part_is_one_clear_error(tmp_path):
    path = tmp_path / "p.csv"
    filler = "".join(f"meta,Purchase,a{i},2026-10-05T10:00:00Z\n" for i in range(3000))  # > 64 KB of UTF-8
    path.write_bytes(("platform,event_name,event_id,event_time\n" + filler).encode() + b"meta,Purchase,\xe9,2026-10-05T10:00:00Z\n")
    done = run("check", "--pixel", path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{path}: not valid UTF-8 text (byte " in done.stderr and "--encoding" in done.stderr
    done = run("check", "--pixel", path, "--encoding", "cp1252", "--format", "json", "--quiet")
    assert json.loads(done.stdout)["inputs"]["pixel"]["rows"] == 3001


@pytest.mark.parametrize("encoding,error", [("utf-16-le", "not valid utf-16-le text (byte "), ("utf-8", "not valid UTF-8 text (byte ")])
def test_a_wrong_forced_encoding_is_one_clear_error(tmp_path, encoding, error):
    path = tmp_path / "p.csv"
    data = b"platform,event_name,event_id,event_time\nmeta,Purchase,a\xe9,2026-10-05T10:00:00Z\n"
    path.write_bytes(data + b"\n" * (1 - len(data) % 2))  # an odd number of bytes: not UTF-16
    done = run("check", "--pixel", path, "--encoding", encoding)
    assert done.returncode == 2 and done.stderr.startswith(f"dedupaudit: error: {path}: {error}"), done.stderr
    assert done.stderr.count("\n") == 1


# ---------------------------------------------------------------------- long lines, both reading paths

LONG = 3 * 2**20  # over the patched 2 MB limit


@pytest.fixture
def two_mb_limit(monkeypatch):
    monkeypatch.setattr(files, "MAX_FIELD_BYTES", 2 * 2**20)  # 2 MB here instead of 64 MB, same code paths


def _long_rows(name_column: str) -> list[list[str]]:
    return [["platform", name_column, "event_id", "event_time"],
            ["meta", "Purchase", "a1", "2026-10-05T10:00:00Z"],
            ["meta", "Purchase", "x," * (LONG // 2), "2026-10-05T10:00:00Z"],  # one 3 MB value (quoted below)
            ["meta", "Purchase", "a3", "2026-10-05T10:00:00Z"]]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le"])
@pytest.mark.parametrize("name_column", ["event_name", "event"])  # canonical (files.scan) and a pixel log (its reader)
def test_a_line_over_the_limit_is_a_rejected_line(tmp_path, two_mb_limit, encoding, name_column):
    path = tmp_path / "meta_pixel.csv"
    rows = _long_rows(name_column)
    rows[2][2] = '"' + rows[2][2] + '"'
    path.write_bytes(ENCODINGS[encoding]("".join(",".join(r) + "\n" for r in rows)))
    loaded = _load(path)
    assert loaded.frame["row"].tolist() == [2, 4]
    assert loaded.rejects[["row", "reason"]].values.tolist() == [[3, "line longer than 2 MB"]]


def test_a_line_under_the_limit_is_read(tmp_path):
    path = tmp_path / "p.csv"
    rows = _long_rows("event_name")
    rows[2][2] = "y" * LONG  # 3 MB: over DuckDB's and Arrow's default line sizes, under 64 MB
    path.write_bytes(ENCODINGS["utf-16-be"]("".join(",".join(r) + "\r\n" for r in rows)))
    loaded = _load(path)
    assert loaded.frame["row"].tolist() == [2, 3, 4] and len(loaded.frame["event_id"][1]) == LONG


# ---------------------------------------------------------------------- float IDs in native logs

def test_float_ids_in_a_capi_log_are_the_ids_they_stand_for(tmp_path):
    body = json.loads(json.dumps(META))
    body["data"][0]["event_id"] = 1001.0
    body["data"][0].setdefault("custom_data", {})["order_id"] = 1001.0
    other = json.loads(json.dumps(META))
    other["data"][0]["event_id"] = 1002.5  # not integer-valued: keeps its text
    loaded = load_events([jsonl(tmp_path / "capi.jsonl", [body, other])], "capi", timezone.utc, None, KNOWN)
    assert loaded.frame["event_id"].tolist() == ["1001", "1002.5"]
    assert loaded.frame["order_id"].tolist()[0] == "1001"
    assert loaded.numeric_ids == 2


def test_float_ids_in_a_pixel_log_are_the_ids_they_stand_for(tmp_path):
    records = [{"timestamp": "2026-10-05T10:00:00Z", "event": "Purchase", "eventID": 1001.0, "order_id": 1001.0, "value": 5},
               {"timestamp": "2026-10-05T10:01:00Z", "event": "Purchase", "eventID": "a2", "order_id": 7, "value": 5}]
    loaded = load_events([jsonl(tmp_path / "meta_pixel.jsonl", records)], "pixel", timezone.utc, None, KNOWN)
    assert loaded.frame[["event_id", "order_id"]].values.tolist() == [["1001", "1001"], ["a2", "7"]]
    assert loaded.numeric_ids == 3  # 7 too: one float record makes the whole order_id column floats, as in canonical files


def test_float_ids_in_a_har_capture_are_the_ids_they_stand_for(tmp_path):
    body = {"event": "CompletePayment", "event_id": 1001.0, "properties": {"value": 29.7, "currency": "EUR", "order_id": 1001.0}}
    path = har(tmp_path / "c.har", [entry("https://analytics.tiktok.com/api/v2/pixel", "POST", json.dumps(body), "text/plain")])
    loaded = load_events([path], "pixel", timezone.utc, None, KNOWN)
    assert loaded.frame[["event_id", "order_id"]].values.tolist() == [["1001", "1001"]]
    assert loaded.numeric_ids == 2


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be ", "cp1252"])
def test_json_inputs_in_other_encodings(tmp_path, encoding):
    records = [{"platform": "meta", "event_name": "Purchase", "event_id": "é€1", "event_time": "2026-10-05T10:00:00Z"}]
    utf8, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    utf8.write_text(json.dumps(records[0], ensure_ascii=False) + "\n", encoding="utf-8")
    other.write_bytes(ENCODINGS[encoding](utf8.read_text(encoding="utf-8")))
    assert _seen(_load(other)) == _seen(_load(utf8))
    assert _load(other).per_file()[0]["encoding"] == encoding.strip()
    log = tmp_path / "capi.jsonl"  # a native CAPI log: detection reads the transcoded copy too
    log.write_bytes(ENCODINGS[encoding](json.dumps(META, ensure_ascii=False) + "\n"))
    loaded = load_events([log], "capi", timezone.utc, None, KNOWN)
    assert loaded.used == 1 and loaded.frame["event_id"].tolist() == [META["data"][0]["event_id"]]
