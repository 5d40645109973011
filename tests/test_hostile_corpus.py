"""The hostile corpus (tests/hostile/): every file's outcome, as data in expected.yaml.

No file may crash the tool (exit 3) or lose a row: each is read with rows = used + rejected, every
reject on its real line, or it stops with one exact error line and exit 2.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.test_cli import run

CORPUS = Path(__file__).parent / "hostile"
CASES = yaml.safe_load((CORPUS / "expected.yaml").read_text())
HEADER = "platform,event_name,event_id,event_time\n"
EVENT = {"platform": "meta", "event_name": "Purchase", "event_id": "a1", "event_time": "2026-10-05T10:00:00Z"}


def _generated(name: str, folder: Path) -> Path:
    path = folder / name
    if name == "long_line.csv":
        path.write_text(HEADER + "meta,Purchase,a1,2026-10-05T10:00:00Z\n" + f"meta,Purchase,{'x' * 3_000_000},2026-10-05T10:00:00Z\n"
                        + "meta,Purchase,a3,2026-10-05T10:00:00Z\n")
    elif name == "deep_line.jsonl":
        path.write_text(json.dumps(EVENT) + "\n" + '{"a":' + "[" * 100_000 + "]" * 100_000 + "}\n")
    elif name == "deep_array.json":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif name == "float_ids_with_nan.parquet":
        pd.DataFrame({**{k: [v] * 3 for k, v in EVENT.items()}, "event_id": [1001.0, float("nan"), 1003.0]}).to_parquet(path)
    else:
        raise KeyError(name)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_hostile_file(case, tmp_path):
    source = CORPUS / case["file"]
    path = tmp_path / case["file"]
    if source.exists():
        shutil.copy(source, path)
    else:
        _generated(case["file"], tmp_path)
    (tmp_path / "out").mkdir()
    side = case.get("side", "pixel")
    args = [f"--{side}", path] + (["--pixel", CORPUS / "crlf.csv"] if side == "orders" else [])
    done = run("check", *args, "--format", "json", "--quiet", "--rejects", tmp_path / "out" / "rejects.csv")
    assert "Traceback" not in done.stderr
    assert done.returncode == case.get("exit", done.returncode if done.returncode in (0, 1) else -1), done.stderr
    if case.get("exit") == 2:
        assert done.stderr == case["error"].format(file=path) + "\n"
        return
    summary = json.loads(done.stdout)["inputs"][side]
    entry = next(f for f in summary["per_file"] if f["file"] == str(path))
    assert (entry["rows"], entry["used"], entry["rejected_reasons"]) == (case["rows"], case["used"], case.get("rejected", {}))
    assert entry["rows"] == entry["used"] + entry["rejected"] == entry["used"] + sum(entry["rejected_reasons"].values())
    assert summary["numeric_ids"] == case.get("numeric_ids", 0)
    for key in ("encoding", "delimiter"):  # how the file's text was read, when the case says
        if key in case:
            assert entry.get(key) == case[key]
    with open(tmp_path / "out" / "rejects.csv", newline="") as handle:
        lines = [int(r["row"]) for r in csv.DictReader(handle) if r["file"] == str(path)]
    assert lines == case.get("reject_lines", [])
    codes = sorted({f["code"] for f in json.loads(done.stdout)["findings"]} - {"DA100", "DA121"})  # rejects, inputs not given
    assert codes == sorted(case.get("findings", []))


def test_every_corpus_file_has_an_expected_outcome():
    listed = {c["file"] for c in CASES}
    assert {p.name for p in CORPUS.iterdir() if p.name != "expected.yaml"} <= listed
