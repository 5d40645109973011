"""The engine's daily series, pair gaps, average order value and extra revenue per currency, `outside_period` and
`normalised_order_ids` equal the reference model's (dedupaudit/generate/model.py, written from the docs
without the engine) on generated shops and on the example shop.

The shops come from tests/shopgen.py (every timestamp form, order ID spellings, statuses, links by ID and by
value); the orders file is rewritten with a currency per order (EUR, USD, GBP or none) so the averages are
per currency. The engine runs in-process through the Python API (`dedupaudit.audit`).
"""
from __future__ import annotations

import csv
import sys
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import dedupaudit

sys.path.insert(0, str(Path(__file__).parent))
from reference_model import order_key, reference_series  # noqa: E402
from shopgen import generate_shop  # noqa: E402

from dedupaudit.generate.rates import DEFAULTS  # noqa: E402
from dedupaudit.generate.run import write_shop  # noqa: E402
from dedupaudit.generate.shop import PLATFORMS as GENERATED_PLATFORMS, chunks  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
CANONICAL = REPO / "examples" / "canonical"
SIDES = ("pixel", "capi", "orders")


def currency_of(order_id) -> str:
    """A currency per order, the same for every spelling of its ID; 1 in 8 orders names none."""
    key = order_key(order_id)
    return "" if key is None else ["EUR", "EUR", "USD", "GBP", " eur", "USD", "GBP", ""][zlib.crc32(key.encode()) % 8]


def with_currencies(orders_file, order_rows) -> list[dict]:
    """Rewrite an orders CSV with currency_of each order; return its rows (as the model takes them) likewise."""
    path = Path(orders_file)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["currency"] = currency_of(r["order_id"])
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return [dict(o, currency=currency_of(o["order_id"]) or None) for o in order_rows]


def messy_shop(seed, folder) -> dict:
    """tests/shopgen.py's shop (every timestamp form; its naive times are UTC, so it is read in UTC)."""
    shop = generate_shop(seed, folder, n_orders=250)
    shop["order_rows"] = with_currencies(shop["orders_files"][0], shop["order_rows"])
    return shop


def generated_shop(seed, folder) -> dict:
    """`dedupaudit generate`'s shop (times with a zone, so any --timezone reads them alike), with its rows."""
    rates = {**DEFAULTS, "late_batches": 0.1, "refires": 0.1, "cancelled_orders": 0.05}
    write_shop(folder, 300, seed, "csv", list(GENERATED_PLATFORMS), rates, truth=False)
    rows = {"pixel": [], "capi": [], "orders": []}
    for chunk in chunks(300, seed, rates, list(GENERATED_PLATFORMS)):
        for side, table in (("pixel", chunk.pixel), ("capi", chunk.capi), ("orders", chunk.orders)):
            rows[side] += table.drop_columns(["order"]).to_pylist()
    rows["orders"] = with_currencies(folder / "orders.csv", rows["orders"])
    return {"files": [str(folder / f"{side}.csv") for side in ("pixel", "capi", "orders")], **rows}


def engine(pixel, capi, orders, **settings) -> dict:
    return dedupaudit.audit(pixel=pixel, capi=capi, orders=orders, rules=str(RULES), **settings).to_dict()


def same_money(got, want) -> bool:
    """Equal, amounts to the cent: a mean summed in another order may round the last half-cent the other way."""
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(same_money(got[k], want[k]) for k in want)
    if isinstance(want, float) and isinstance(got, (int, float)):
        return abs(got - want) <= 0.0100001
    return got == want


def differences(model: dict, report: dict) -> list[str]:
    problems = []
    got_daily = [{k: d[k] for k in ("platform", "date", "reported_conversions", "orders")} for d in report["daily"]]
    if got_daily != model["daily"]:
        want = {(d["platform"], d["date"]): d for d in model["daily"]}
        got = {(d["platform"], d["date"]): d for d in got_daily}
        problems += [f"daily {k}: model {want.get(k)}, engine {got.get(k)}"
                     for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)] or ["daily: order differs"]
    got_gaps = [{k: g[k] for k in ("platform", "bucket", "upper_hours", "pairs")} for g in report["pair_gaps"]]
    if got_gaps != model["pair_gaps"]:
        problems += [f"pair_gaps: model {w}, engine {g}" for w, g in zip(model["pair_gaps"], got_gaps) if w != g]
        problems += [] if len(got_gaps) == len(model["pair_gaps"]) else [f"pair_gaps: {len(got_gaps)} entries, model {len(model['pair_gaps'])}"]
    aov = model["average_order_value"]
    for e in report["platforms"]:
        want = ({"average_order_value_by_currency": aov["by_currency"], "average_order_value": aov["average_order_value"],
                 "currency": aov["currency"]} if e["event"] == "purchase" else
                {"average_order_value_by_currency": None, "average_order_value": None})
        if e["event"] == "purchase":
            want.update(model["extra_revenue"].get(e["platform"], {}))
        got = {k: e.get(k) for k in want}
        if not same_money(got, want):
            problems.append(f"{e['platform']}/{e['event']}: model {want}, engine {got}")
    for side in SIDES:
        got = {k: report["inputs"][side].get(k) for k in ("outside_period", "normalised_order_ids")}
        if got != model["inputs"][side]:
            problems.append(f"inputs.{side}: model {model['inputs'][side]}, engine {got}")
    return problems


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_series_match_the_model(seed, tmp_path):
    shop = messy_shop(seed, tmp_path)
    report = engine(shop["pixel_files"], shop["capi_files"], shop["orders_files"])
    model = reference_series(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], RULES)
    assert len(model["average_order_value"]["by_currency"]) == 3 and model["average_order_value"]["currency"] is None
    assert sum(g["pairs"] for g in model["pair_gaps"] if g["bucket"] in ("2-7 days", "over 7 days", "24-48 hours")) > 0
    assert model["inputs"]["pixel"]["normalised_order_ids"] > 0 and model["inputs"]["orders"]["normalised_order_ids"] > 0
    problems = differences(model, report)
    assert not problems, f"seed {seed}: {len(problems)} differences\n" + "\n".join(problems[:60])


@pytest.mark.parametrize("seed", [5, 6])
def test_engine_series_match_the_model_in_a_period(seed, tmp_path):
    shop = messy_shop(seed, tmp_path)
    times = sorted(r["event_time"] for r in shop["pixel_rows"] + shop["capi_rows"])
    since, until = times[len(times) // 5], times[4 * len(times) // 5]
    report = engine(shop["pixel_files"], shop["capi_files"], shop["orders_files"],
                    since=since.isoformat(), until=until.isoformat())
    model = reference_series(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], RULES, since, until)
    assert all(model["inputs"][side]["outside_period"] > 0 for side in SIDES)
    problems = differences(model, report)
    assert not problems, f"seed {seed} in {since}..{until}: {len(problems)} differences\n" + "\n".join(problems[:60])


@pytest.mark.parametrize("seed, zone", [(1, "Europe/Berlin"), (2, "Asia/Kolkata"), (3, "America/Los_Angeles")])
def test_engine_days_in_a_time_zone_match_the_model(seed, zone, tmp_path):
    shop = generated_shop(seed, tmp_path)
    report = engine(*shop["files"], timezone=zone)
    model = reference_series(shop["pixel"], shop["capi"], shop["orders"], RULES, zone=zone)
    utc = reference_series(shop["pixel"], shop["capi"], shop["orders"], RULES)
    assert [d["orders"] for d in model["daily"]] != [d["orders"] for d in utc["daily"]]  # the zone moves orders
    problems = differences(model, report)
    assert not problems, f"seed {seed}, {zone}: {len(problems)} differences\n" + "\n".join(problems[:60])


def _read_canonical():
    """The example shop's rows as the model takes them (an independent reader: csv, json, fromisoformat)."""
    import json

    def when(v):
        if v in (None, ""):
            return None
        if isinstance(v, (int, float)) or str(v).strip().isdigit():  # epoch seconds, or milliseconds (by size)
            n = float(v)
            return datetime.fromtimestamp(n / 1000 if n >= 1e11 else n, timezone.utc)
        try:
            t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)

    def clean(row, times):
        out = {k: (None if v == "" else v) for k, v in row.items()}
        for k in times:
            out[k] = when(out.get(k))
        if out.get("value") is not None:
            out["value"] = float(out["value"])
        return out

    with (CANONICAL / "pixel_events.csv").open(newline="") as f:
        pixel = [clean(r, ("event_time", "received_time")) for r in csv.DictReader(f)]
    capi = [clean(json.loads(line), ("event_time", "received_time"))
            for line in (CANONICAL / "capi_events.jsonl").read_text().splitlines() if line.strip()]
    with (CANONICAL / "orders.csv").open(newline="") as f:
        orders = [clean(r, ("created_at",)) for r in csv.DictReader(f)]
    return ([r for r in pixel if r["event_time"]], [r for r in capi if r["event_time"]],
            [o for o in orders if o["created_at"]])


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_example_shop_series_match_the_model(zone):
    pixel, capi, orders = _read_canonical()
    report = engine(str(CANONICAL / "pixel_events.csv"), str(CANONICAL / "capi_events.jsonl"),
                    str(CANONICAL / "orders.csv"), timezone=zone)
    assert len(pixel) == report["inputs"]["pixel"]["rows"] - report["inputs"]["pixel"]["rejected"]
    model = reference_series(pixel, capi, orders, RULES, zone=zone)
    assert model["average_order_value"]["by_currency"] == {"EUR": 45.08}
    problems = differences(model, report)
    assert not problems, f"{zone}: {len(problems)} differences\n" + "\n".join(problems[:60])


# ---------------------------------------------------------------- the model itself, by hand

T0 = datetime(2026, 10, 5, 23, 30, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


def ev(eid, t, oid, rt=None, name="Purchase"):
    return {"platform": "meta", "event_name": name, "event_id": eid, "event_time": t, "received_time": rt,
            "order_id": oid, "value": None}


def test_model_gap_buckets_days_and_averages_by_hand():
    pixel = [ev("a", T0, "#1"), ev("b", T0, "2"), ev("c", T0, " 3 "), ev("d", T0, "9")]
    capi = [ev("a", T0, "1", rt=T0 + MINUTE),             # exactly one minute: the next bucket
            ev("x", T0, "2", rt=T0 + MINUTE - timedelta(seconds=1)),
            ev("c", T0, "3", rt=T0 + timedelta(hours=48)),  # exactly 48 h: "2-7 days"
            ev("e", T0, "9", rt=T0 + timedelta(days=8))]    # order 9 is not in the orders file: still a pair
    orders = [{"order_id": "#1", "created_at": T0, "value": 10.0, "currency": "EUR", "status": "paid"},
              {"order_id": "2", "created_at": T0 + timedelta(hours=1), "value": 30.0, "currency": " ", "status": "paid"},
              {"order_id": "3", "created_at": T0, "value": 99.0, "currency": "USD", "status": "test"}]
    series = reference_series(pixel, capi, orders, RULES, zone="Europe/Berlin")
    pairs = {g["bucket"]: g["pairs"] for g in series["pair_gaps"]}
    assert pairs == {"under 1 minute": 1, "1-60 minutes": 1, "1-6 hours": 0, "6-24 hours": 0, "24-48 hours": 0,
                     "2-7 days": 1, "over 7 days": 1}
    # 23:30 UTC on 5 October is 6 October in Berlin; a and c count once each (same ID, within 48 h inclusive), b, x, d, e
    assert series["daily"] == [{"platform": "meta", "date": "2026-10-06", "reported_conversions": 6, "orders": 2}]
    assert series["average_order_value"] == {"by_currency": {"EUR": 10.0}, "currency": "EUR", "average_order_value": 20.0}
    # 6 counted - 2 real = 4 extra: x 20.00 overall; EUR has 1 of the 2 real orders at 10.00 each
    assert series["extra_revenue"] == {"meta": {"extra_revenue": 80.0, "extra_revenue_by_currency": {"EUR": 20.0}}}
    assert series["inputs"]["pixel"] == {"outside_period": 0, "normalised_order_ids": 2}  # '#1', ' 3 '
    assert series["inputs"]["orders"]["normalised_order_ids"] == 1
    late = reference_series(pixel, capi, orders, RULES, since=T0 + MINUTE)
    assert late["inputs"]["pixel"]["outside_period"] == 4 and late["inputs"]["orders"]["outside_period"] == 2
