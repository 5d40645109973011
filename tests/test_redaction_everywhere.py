"""Personal data never leaves the tool: every output format, export and error line, searched byte by byte.

The inputs put emails, phone numbers (with and without +) and IPv4/IPv6 addresses in every text
field a report can show (event names, IDs, order IDs, platform messages, rejected values, file
names) plus terminal escape sequences. Then every byte written (stdout, stderr, every file) is searched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import write_jsonl
from tests.test_cli import run

PERSONAL = ["jane.doe@example.com", "+49 171 1234567", "0171 7654321", "(555) 123-4567", "198.51.100.23",
            "2001:db8::ff00:42:8329"]
PARTS = ["jane.doe", "1234567", "7654321", "123-4567", "198.51.100", "ff00:42:8329"]  # no fragment may survive either
T = "2026-01-05T10:00:00Z"


def _inputs(folder: Path) -> dict[str, Path]:
    email, phone, phone2, phone3, ip4, ip6 = PERSONAL
    folder.mkdir()
    pixel = [
        {"platform": "meta", "event_name": "Purchase", "event_id": f"id {email}", "event_time": T, "order_id": phone},
        {"platform": "meta", "event_name": f"Purchase {ip4}\x1b]0;pwned\x07", "event_id": ip6, "event_time": T, "order_id": "1"},
        {"platform": "meta", "event_name": "Purchase", "event_id": "undefined", "event_time": f"when {phone2}", "order_id": "2"},
        {"platform": "google", "event_name": "purchase", "event_id": phone3, "event_time": T, "order_id": email},
    ]
    capi = [
        {"platform": "meta", "event_name": "Purchase", "event_id": f"other {email}", "event_time": T, "order_id": phone},
        {"platform": "meta", "event_name": "Purchase", "event_id": "", "event_time": T, "order_id": ip4},
        {"platform": "meta", "event_name": "Purchase", "event_id": "x1", "event_time": T, "delivery": "refused",
         "delivery_message": f"invalid user {email} from {ip6} tel {phone2}"},
        {"platform": "google", "event_name": "purchase", "event_id": f"={phone3}", "event_time": "=SUM(1)"},
    ]
    orders = [{"order_id": phone, "created_at": T, "status": "paid"}, {"order_id": email, "created_at": T},
              {"order_id": ip4, "created_at": f"at {email}"}, {"order_id": phone, "created_at": T, "status": "cancelled"}]
    return {"pixel": write_jsonl(folder / f"pixel {email}.jsonl", pixel), "capi": write_jsonl(folder / "capi.jsonl", capi),
            "orders": write_jsonl(folder / "orders.jsonl", orders)}


def _leaks(text: str, binary: str = "") -> list[str]:
    """Personal data in text or binary bytes; escape characters only in text (binary files hold any byte)."""
    return [p for p in PERSONAL + PARTS if p in text or p in binary] + (["ESC"] if "\x1b" in text or "\x07" in text else [])


def _written(folder: Path) -> tuple[str, str]:
    """(text of every file, with Parquet cells read back; the raw bytes of the Parquet files)."""
    text, binary = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text.append(path.name)
        if path.suffix == ".parquet":  # compressed on disk: read the cells back, and search the raw bytes too
            text.append(json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False))
            binary.append(path.read_bytes().decode("latin-1"))
        else:
            text.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(text), "\n".join(binary)


def test_no_output_carries_personal_data_or_escape_sequences(tmp_path):
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / f"out {PERSONAL[0]}"  # the output folder's name is personal data too: "wrote ... to" must mask it
    out.mkdir()
    args = ["--pixel", inputs["pixel"], "--capi", inputs["capi"], "--orders", inputs["orders"]]
    runs = [run("check", *args, "-o", out / "r.json", "-o", out / "r.md", "-o", out / "r.html", "-o", out / "r.xml",
                "-o", out / "r.txt", "-o", out / "r.sarif", "--rejects", out / "rejects.csv", "--export-failures", out / "csv", "--title", "audit")]
    runs += [run("check", *args, "--format", fmt, "--export-failures", out / "parquet", "--export-format", "parquet")
             for fmt in ("rich", "json", "markdown", "html", "junit", "github", "sarif")]
    runs += [run("check", *args, "--baseline", out / "r.json", "--format", "json")]
    runs += [run("diff", out / "r.json", out / "r.json", "-o", out / "diff.md"), run("diff", out / "r.json", out / "r.json")]
    runs += [run("inspect", *inputs.values()), run("inspect", *inputs.values(), "--format", "json")]
    broken = write_jsonl(tmp_path / "in" / f"broken {PERSONAL[0]}.jsonl", [{"platform": "meta", "event_name": PERSONAL[4]}])
    runs += [run("check", "--pixel", broken), run("inspect", broken)]
    assert [r.returncode for r in runs] == [1] * 9 + [0, 0, 0, 0, 2, 2], [r.stderr for r in runs]

    files, binary = _written(out)
    assert {p.suffix for p in out.rglob("*.*")} >= {".json", ".md", ".html", ".xml", ".txt", ".sarif", ".csv", ".parquet"}
    assert len(list((out / "csv").iterdir())) == len(list((out / "parquet").iterdir())) > 3
    everything = "\n".join([files] + [r.stdout + r.stderr for r in runs])
    assert everything.count("<redacted:") > 50  # the values were there to redact
    assert _leaks(everything, binary) == []
    # The rejects file keeps its rows (value masked), and a formula-looking value is defused.
    rejects = (out / "rejects.csv").read_text()
    assert rejects.count("<redacted:") >= 2 and ",'=SUM(1)" in rejects and ",=SUM" not in rejects


def test_inputs_really_hold_the_personal_data(tmp_path):
    """The oracle for the test above: the same search finds everything in the raw inputs."""
    inputs = _inputs(tmp_path / "in")
    raw = "\n".join([str(p) for p in inputs.values()] + [str(value) for p in inputs.values() for line in p.read_text().splitlines()
                                                         for value in json.loads(line).values()])
    assert set(_leaks(raw)) == set(PERSONAL + PARTS + ["ESC"])
