"""Property-based tests (hypothesis) of the loaders and the engine on arbitrary rows, types and file splits.

Invariants: loading never fails except with a clear input error (UserError); every row read is used or
rejected; a platform's count lies between the number of distinct dedup keys and the number of events;
and the figures do not depend on the order of the rows or on how they are split across files.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupaudit.engine.run import run_audit
from dedupaudit.errors import UserError
from dedupaudit.inputs.canonical import load_events, load_orders
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import load_rules
from dedupaudit.settings import Settings

RULES = load_rules()
UTC = resolve_timezone("UTC")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

anything = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=12), st.lists(st.integers(), max_size=2), st.sampled_from(["", " ", "2026-10-05T10:00:00Z",
                                                                                                   "1791192742", "1001.0", "Purchase"]))
COLUMNS = ["platform", "event_name", "event_id", "event_time", "order_id", "value", "delivery", "received_time"]
raw_row = st.fixed_dictionaries({}, optional={c: anything for c in COLUMNS})


def _write(folder: Path, name: str, rows: list[dict], kind: str) -> Path:
    path = folder / f"{name}.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a CR in a value stays in it
        writer.writeheader()
        writer.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS} for r in rows)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@SETTINGS
@given(rows=st.lists(raw_row, min_size=1, max_size=15), kind=st.sampled_from(["jsonl", "csv"]))
def test_loading_arbitrary_rows_accounts_for_every_row(rows, kind):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), "events", rows, kind)
        try:
            loaded = load_events([path], "pixel", UTC, "meta", set(RULES))
        except UserError as exc:  # a clear input error (a missing column, an unknown platform), one line
            assert "\n" not in str(exc) and str(path) in str(exc)
            return
        assert loaded.rows == len(rows) == len(loaded.frame) + len(loaded.rejects)
        assert sum(f["rows"] for f in loaded.per_file()) == len(rows)


PLATFORMS = {"meta": "Purchase", "google": "purchase"}
event = st.fixed_dictionaries({
    "platform": st.sampled_from(sorted(PLATFORMS)),
    "event_id": st.one_of(st.none(), st.sampled_from(["A", "B", "C", "1001", "undefined"]), st.integers(1000, 1003)),
    "order_id": st.one_of(st.none(), st.sampled_from(["1000", "#1001", "1002", " 1003 "])),
    "minute": st.integers(0, 600),
    "side": st.sampled_from(["pixel", "capi"]),
})
order = st.fixed_dictionaries({"order_id": st.sampled_from(["1000", "1001", "1002", "1003"]),
                               "status": st.sampled_from(["paid", "cancelled", None])})


def _event_row(e: dict) -> dict:
    return {"platform": e["platform"], "event_name": PLATFORMS[e["platform"]], "event_id": e["event_id"],
            "event_time": f"2026-10-05T{e['minute'] // 60:02d}:{e['minute'] % 60:02d}:00Z", "order_id": e["order_id"]}


def _audit(folder: Path, events: list[dict], orders: list[dict], split: int, reverse: bool):
    """Write the rows (reversed or not) split into two files per side at `split`, and audit them."""
    paths = {}
    for side in ("pixel", "capi"):
        rows = [_event_row(e) for e in events if e["side"] == side]
        rows = rows[::-1] if reverse else rows
        cut = min(split, len(rows))
        paths[side] = [_write(folder, f"{side}{i}", part, "jsonl") for i, part in enumerate((rows[:cut], rows[cut:])) if part]
    order_rows = [{"order_id": o["order_id"], "created_at": "2026-10-05T09:00:00Z", "status": o["status"]} for o in orders]
    order_rows = order_rows[::-1] if reverse else order_rows
    paths["orders"] = [_write(folder, "orders", order_rows, "jsonl")] if order_rows else []
    return run_audit(load_events(paths["pixel"], "pixel", UTC, None, set(RULES)), load_events(paths["capi"], "capi", UTC, None, set(RULES)),
                     load_orders(paths["orders"], UTC), RULES, Settings())


def _figures(result) -> tuple:
    platforms = sorted((p.platform, p.event, p.orders, p.pixel_events, p.capi_events, p.reported_conversions, p.inflation_ratio,
                        p.mismatched_event_id, json.dumps(p.missing_event_id, sort_keys=True), json.dumps(p.coverage, sort_keys=True))
                       for p in result.platforms)
    findings = sorted((f.code, f.platform or "", f.event or "", f.count) for f in result.findings)
    return platforms, findings


@SETTINGS
@given(events=st.lists(event, min_size=1, max_size=25), orders=st.lists(order, max_size=6), split=st.integers(0, 25))
def test_engine_invariants_and_independence_of_row_order_and_file_split(events, orders, split):
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        one = _audit(Path(a), events, orders, split=10**6, reverse=False)
        other = _audit(Path(b), events, orders, split=split, reverse=True)
    assert _figures(one) == _figures(other)
    for p in one.platforms:
        if p.event != "purchase":
            continue
        mine = [e for e in events if e["platform"] == p.platform]
        # one name per platform here; Google keys an ID per conversion action, and with none named the
        # tag (browser) and the upload (server) are two actions
        keys = {(e["side"] if p.platform == "google" else "", str(e["event_id"])) for e in mine if e["event_id"] is not None}
        lower = len(keys) + sum(1 for e in mine if e["event_id"] is None)
        assert lower <= p.reported_conversions <= p.pixel_events + p.capi_events == len(mine)
        # all events fall within 10 hours, inside every window: each key counts exactly once
        assert p.reported_conversions == lower
    assert one.inputs["pixel"].rows + one.inputs["capi"].rows == len(events)
