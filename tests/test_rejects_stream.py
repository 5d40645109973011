"""--rejects is streamed from DuckDB: a file whose every row is rejected gives the exact CSV, batch after batch,
without a DataFrame of the rejects (issue 10: no full copy of an event table in pandas)."""

import hashlib

import pytest

import dedupaudit
from dedupaudit import api
from dedupaudit.inputs.canonical import Loaded

ROWS = ['=SUM(1)', 'jane@example.com', '"a,b"', '"say ""hi"""', '', '1999-12-31T23:00:00Z']


def _expected(path) -> str:
    email = f"<redacted:{hashlib.sha256(b'jane@example.com').hexdigest()[:8]}>"
    reasons = [("event_time is not a timestamp", "'=SUM(1)"), ("event_time is not a timestamp", email),
               ("event_time is not a timestamp", '"a,b"'), ("event_time is not a timestamp", '"say ""hi"""'),
               ("event_time is empty", ""), ("event_time is before 2000", "1999-12-31T23:00:00Z"),
               ('"line has 2 fields, the header has 4"', "")]
    lines = ["input,file,row,source_ref,reason,value"]
    lines += [f"pixel,{path},{row},,{reason},{value}" for row, (reason, value) in enumerate(reasons, start=2)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def all_rejected(tmp_path):
    path = tmp_path / "pixel.csv"
    body = "".join(f"meta,Purchase,e{i},{value}\n" for i, value in enumerate(ROWS))
    path.write_text("platform,event_name,event_id,event_time\n" + body + "meta,Purchase\n")
    return path


@pytest.mark.parametrize("batch_rows", [2, 100_000])
def test_every_row_rejected_gives_the_exact_csv_streamed(all_rejected, tmp_path, monkeypatch, batch_rows):
    def no_frame(self):
        raise AssertionError("--rejects must not build a DataFrame of the rejects")

    monkeypatch.setattr(Loaded, "rejects", property(no_frame))
    monkeypatch.setattr(api, "REJECT_BATCH_ROWS", batch_rows)  # 2: four batches, one header
    result = dedupaudit.audit(pixel=all_rejected, rejects=tmp_path / "rejects.csv", fail_on="never")
    assert (tmp_path / "rejects.csv").read_text() == _expected(all_rejected)
    assert result.to_dict()["inputs"]["pixel"]["rejected"] == result.to_dict()["inputs"]["pixel"]["rows"] == 7
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the temporary file was renamed


def test_no_rejects_gives_the_header_only(tmp_path):
    path = tmp_path / "pixel.csv"
    path.write_text("platform,event_name,event_id,event_time\nmeta,Purchase,e1,2026-11-01T10:00:00Z\n")
    dedupaudit.audit(pixel=path, rejects=tmp_path / "rejects.csv", fail_on="never")
    assert (tmp_path / "rejects.csv").read_text() == "input,file,row,source_ref,reason,value\n"
