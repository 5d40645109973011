"""Values as the platforms see them: numeric IDs, dates out of range, conflicting order rows, unhashed user data."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from tests.conftest import write_jsonl
from tests.test_cli import run
from tests.test_native_capi import EM, LINKEDIN, META, PINTEREST, REDDIT, SNAP, TIKTOK

T = "2026-01-05T10:00:00Z"
PAIR = {"platform": "google", "event_name": "purchase", "event_time": T, "conversion_action": "AW-1/buy"}  # one action: tag and server dedup


def _check(tmp_path, *args):
    done = run("check", *args, "--format", "json", "--quiet")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_one_float_record_in_json_lines_does_not_invent_findings(tmp_path):
    pixel = [dict(PAIR, event_id=1000 + i, order_id=1000 + i) for i in range(4)]
    capi = copy.deepcopy(pixel)
    capi[0]["event_id"] = 1000.0  # one float record turns the whole column float
    orders = [{"order_id": 1000 + i, "created_at": T} for i in range(4)]
    orders[1]["order_id"] = 1001.0
    data = _check(tmp_path, "--pixel", write_jsonl(tmp_path / "p.jsonl", pixel), "--capi", write_jsonl(tmp_path / "c.jsonl", capi),
                  "--orders", write_jsonl(tmp_path / "o.jsonl", orders))
    google = data["platforms"][0]
    assert (google["orders"], google["reported_conversions"], google["inflation_ratio"], google["mismatched_event_id"]) == (4, 4, 1.0, 0)
    assert data["findings"] == []
    assert data["inputs"]["capi"]["numeric_ids"] == 4 and data["inputs"]["orders"]["numeric_ids"] == 4
    assert data["inputs"]["pixel"]["numeric_ids"] == 0  # integers were never floats


def test_parquet_float_ids_with_nan_and_non_integer_floats(tmp_path):
    frame = pd.DataFrame({"platform": "google", "event_name": "purchase", "event_time": T, "conversion_action": "AW-1/buy",
                          "event_id": [1001.0, None, 1003.5], "order_id": [1001.0, 1002.0, None]})
    frame.to_parquet(tmp_path / "c.parquet")
    pd.DataFrame({"order_id": [1001, 1002], "created_at": T}).to_parquet(tmp_path / "o.parquet")
    pixel = write_jsonl(tmp_path / "p.jsonl", [dict(PAIR, event_id="1001", order_id="1001"), dict(PAIR, event_id="1003.5", order_id="1002")])
    data = _check(tmp_path, "--pixel", pixel, "--capi", tmp_path / "c.parquet", "--orders", tmp_path / "o.parquet", "--rejects", tmp_path / "r.csv")
    assert data["inputs"]["capi"]["numeric_ids"] == 3  # 1001.0 twice, 1002.0; 1003.5 keeps its text
    google = data["platforms"][0]
    # 1001 and 1003.5 pair across paths (1003.5 kept as text); the ID-less server event counts on its own
    assert google["coverage"]["capi"] == 1.0 and google["reported_conversions"] == 3 and google["mismatched_event_id"] == 0


def test_dates_outside_2000_to_tomorrow_are_rejected_with_a_reason(tmp_path):
    times = ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "9999-12-31T00:00:00Z", T, "2000-01-01T00:00:00Z"]
    pixel = write_jsonl(tmp_path / "p.jsonl", [dict(PAIR, event_id=f"e{i}", event_time=t) for i, t in enumerate(times)])
    orders = write_jsonl(tmp_path / "o.jsonl", [{"order_id": "1", "created_at": "1970-01-01T00:00:00Z"}, {"order_id": "2", "created_at": T}])
    data = _check(tmp_path, "--pixel", pixel, "--orders", orders)
    assert data["inputs"]["pixel"]["rejected_reasons"] == {"event_time is before 2000": 2, "event_time is more than a day after this run": 2}
    assert data["inputs"]["orders"]["rejected_reasons"] == {"created_at is before 2000": 1}
    assert data["inputs"]["pixel"]["per_file"][0] == {"file": str(pixel), "rows": 6, "used": 2, "rejected": 4,
                                                     "rejected_reasons": data["inputs"]["pixel"]["rejected_reasons"], "encoding": "utf-8"}


def test_conflicting_order_statuses_are_reported(tmp_path):
    orders = [{"order_id": "1", "created_at": T, "status": "paid"}, {"order_id": "#1", "created_at": T, "status": "cancelled"},
              {"order_id": "2", "created_at": T, "status": "paid"}, {"order_id": "2", "created_at": T, "status": "paid"}]
    pixel = write_jsonl(tmp_path / "p.jsonl", [dict(PAIR, event_id="1", order_id="1")])
    data = _check(tmp_path, "--pixel", pixel, "--orders", write_jsonl(tmp_path / "o.jsonl", orders))
    found = [f for f in data["findings"] if f["code"] == "DA131"]
    assert len(found) == 1 and found[0]["count"] == 1 and found[0]["examples"] == [{"order_id": "1", "statuses": "cancelled, paid", "rows": 2}]


PLAIN_EMAIL, PLAIN_PHONE = "jane.doe@example.com", "+49 171 1234567"


def _unhashed(body: dict) -> dict:
    body = copy.deepcopy(body)
    text = json.dumps(body).replace(f'"{EM}"', json.dumps(PLAIN_EMAIL), 1)
    return json.loads(text)


@pytest.mark.parametrize("name,body", [("meta", META), ("tiktok", TIKTOK), ("snap", SNAP), ("pinterest", PINTEREST),
                                       ("reddit", REDDIT), ("linkedin", LINKEDIN)])
def test_unhashed_email_is_a_finding_with_the_value_masked(tmp_path, name, body):
    log = tmp_path / "capi.jsonl"
    log.write_text(json.dumps(_unhashed(body)) + "\n" + json.dumps(body) + "\n")
    done = run("check", "--capi", log, "--format", "json", "--quiet", "--export-failures", tmp_path / "x", "--rejects", tmp_path / "r.csv")
    data = json.loads(done.stdout)
    found = [f for f in data["findings"] if f["code"] == "DA130"]
    assert [(f["platform"], f["count"]) for f in found] == [(name, 1)], done.stderr
    assert found[0]["examples"][0]["unhashed_fields"] == "em"
    written = done.stdout + done.stderr + "".join(p.read_text() for p in tmp_path.rglob("*.csv"))
    assert PLAIN_EMAIL not in written and "jane.doe" not in written


def test_hashed_user_data_and_phone_without_plus(tmp_path):
    body = copy.deepcopy(META)
    body["data"][0]["user_data"]["ph"] = ["0171 1234567"]
    log = write_jsonl(tmp_path / "capi.jsonl", [META, body])
    data = json.loads(run("check", "--capi", log, "--format", "json", "--quiet").stdout)
    found = [f for f in data["findings"] if f["code"] == "DA130"]
    assert [(f["count"], f["examples"][0]["unhashed_fields"]) for f in found] == [(1, "ph")]


@pytest.mark.parametrize("fmt", ["rich", "markdown", "html", "junit", "github"])
def test_every_format_accounts_for_each_files_rows(tmp_path, fmt):
    good = write_jsonl(tmp_path / "a.jsonl", [dict(PAIR, event_id="1", event_id_extra=1)])
    mixed = write_jsonl(tmp_path / "b.jsonl", [dict(PAIR, event_id=2.0), dict(PAIR, event_id="3", event_time="1999-01-01T00:00:00Z")])
    done = run("check", "--pixel", good, "--pixel", mixed, "--format", fmt)
    shown = " ".join(done.stdout.replace("\\_", "_").split())  # the terminal report wraps lines; Markdown escapes _
    assert f"{good}: 1 rows read = 1 used + 0 rejected" in shown
    assert f"{mixed}: 2 rows read = 1 used + 1 rejected (event_time is before 2000: 1)" in shown
    assert "1 IDs were stored as numbers; compared as 1001" in shown


def test_a_value_over_the_size_limit_is_a_rejected_line(tmp_path, monkeypatch):
    from dedupaudit.inputs import files

    monkeypatch.setattr(files, "MAX_FIELD_BYTES", 2 * 2**20)  # 2 MB here instead of 64 MB, same code path
    path = tmp_path / "p.csv"
    path.write_text("platform,event_name,event_id,event_time\n\nmeta,Purchase,a1,2026-10-05T10:00:00Z\n"
                    f"meta,Purchase,{'x' * (3 * 2**20)},2026-10-05T10:00:00Z\nmeta,Purchase,a3,2026-10-05T10:00:00Z\n")
    table = files.read_table(path)
    assert table.row.tolist() == [3, 5] and table.broken == [(4, "line longer than 2 MB")]
