"""The engine's per-platform figures equal the reference model's on independently generated shops.

- test_oracle_*: hand-made checks of the reference model itself and of the shop generator
  (run alone with `pytest tests/test_model_equivalence.py -k oracle`).
- test_engine_*: generate a shop, run `python -m dedupaudit check ... --format json` on it, and
  compare every figure of `platforms` (counts exactly, ratios to 1e-3) and `inputs`.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

sys.path.insert(0, str(Path(__file__).parent))
from reference_model import link_counts, reference_report  # noqa: E402
from shopgen import generate_shop  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
UTC = timezone.utc
T0 = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


# ================================================================ oracle self-tests

def ev(platform="meta", name="Purchase", eid="e1", t=T0, rt=None, oid=None, value=None, **more):
    return {"platform": platform, "event_name": name, "event_id": eid, "event_time": t,
            "received_time": rt, "order_id": oid, "value": value, **more}


def order(oid="#1001", t=T0, value=100.0, status="paid"):
    return {"order_id": oid, "created_at": t, "value": value, "status": status}


def entry(report, platform="meta", event="purchase"):
    found = [e for e in report if e["platform"] == platform and e["event"] == event]
    assert len(found) == 1, report
    return found[0]


def run_ref(pixel, capi, orders=(), **kw):
    return reference_report(list(pixel), list(capi), list(orders), RULES, **kw)


def test_oracle_window_edge_exactly_48h_counts_once():
    r = run_ref([ev(t=T0)], [ev(t=T0, rt=T0 + 48 * H)], [order()])
    assert entry(r)["reported_conversions"] == 1
    assert entry(r)["outside_window"] == 0


def test_oracle_window_edge_48h_plus_one_second_counts_twice():
    r = run_ref([ev(t=T0)], [ev(t=T0, rt=T0 + 48 * H + timedelta(seconds=1))], [order()])
    assert entry(r)["reported_conversions"] == 2
    assert entry(r)["inflation_ratio"] == 2.0
    r = run_ref([ev(t=T0, oid="1001")], [ev(t=T0, rt=T0 + 48 * H + timedelta(seconds=1), oid="#1001")], [order()])
    assert entry(r)["outside_window"] == 1
    assert entry(r)["mismatched_event_id"] == 0


def test_oracle_window_reopens_after_it_closes():
    # t0 counts (window to t0+48h); +47h dup; +49h counts (window to +97h); +97h dup; +97h 1s counts.
    times = [0, 47, 49, 97]
    pixel = [ev(t=T0 + h * H) for h in times] + [ev(t=T0 + 97 * H + timedelta(seconds=1))]
    assert entry(run_ref(pixel, []))["reported_conversions"] == 3


def test_oracle_google_has_no_window():
    g = dict(platform="google", name="purchase", eid="1001", conversion_action="AW-1/buy")
    r = run_ref([ev(**g, t=T0)], [ev(**g, t=T0 + 24 * 10 * H), ev(**g, t=T0 + 24 * 90 * H)], [order()])
    assert entry(r, "google")["reported_conversions"] == 1
    assert entry(r, "google")["outside_window"] == 0
    # purchase and conversion are two names, so two keys
    r = run_ref([ev(**g)], [ev(platform="google", name="conversion", eid="1001", conversion_action="AW-1/buy")])
    assert entry(r, "google")["reported_conversions"] == 2


def test_oracle_missing_ids_count_each_and_undefined_is_an_id():
    pixel = [ev(eid=None), ev(eid=""), ev(eid="   "), ev(eid="undefined"), ev(eid="undefined", t=T0 + H)]
    capi = [ev(eid="undefined", t=T0 + 2 * H), ev(eid=" e1")]
    e = entry(run_ref(pixel, capi))
    assert e["reported_conversions"] == 3 + 1 + 1
    assert e["missing_event_id"] == {"pixel": 3, "capi": 0}
    assert (e["pixel_events"], e["capi_events"]) == (5, 2)


def test_oracle_names_are_keys_as_sent():
    # TikTok: CompletePayment and Purchase are both purchase names but two keys: counted twice, drift.
    t = dict(platform="tiktok", eid="x", oid="1001")
    e = entry(run_ref([ev(**t, name="CompletePayment")], [ev(**t, name="Purchase")], [order()]), "tiktok")
    assert (e["reported_conversions"], e["event_name_drift"], e["mismatched_event_id"]) == (2, 1, 0)
    # Meta: `purchase` is not a Meta purchase name (case-sensitive), so it belongs to no type.
    r = run_ref([ev(name="Purchase", oid="1001")], [ev(name="purchase", oid="1001"), ev(name="Purchase ")], [order()])
    e = entry(r)
    assert (e["pixel_events"], e["capi_events"], e["event_name_drift"]) == (1, 0, 0)
    assert e["coverage"] == {"pixel": 1.0, "capi": 0.0, "any": 1.0}
    assert [x["event"] for x in r] == ["purchase"]


def test_oracle_platform_column_is_trimmed_and_lowercased():
    r = run_ref([ev(platform=" META ")], [ev(platform="Meta")])
    assert [(x["platform"], x["reported_conversions"]) for x in r] == [("meta", 1)]


def test_oracle_orders_keys_status_and_coverage():
    orders = [order("#1001"), order("1002"), order(" #1003 ", status=" Cancelled "), order("#1004", status="TEST"),
              order("1005", status="refunded"), order("1006", status="voided"), order("1007", status="canceled")]
    pixel = [ev(eid="a", oid="1001"), ev(eid="b", oid="# 1003"), ev(eid="c", oid="9999")]
    capi = [ev(eid="a", oid=" #1001 "), ev(eid="z", oid="1002"), ev(eid="q", oid="#1003"), ev(eid="w", oid="9999")]
    e = entry(run_ref(pixel, capi, orders))
    assert e["orders"] == 3  # 1001, 1002, 1005
    assert e["coverage"] == pytest.approx({"pixel": 1 / 3, "capi": 2 / 3, "any": 2 / 3})
    # linked orders with both sides: 1001 (same id), 1003 (cancelled, still audited), 9999 (not in orders)
    assert e["mismatched_event_id"] == 2
    assert e["reported_conversions"] == 6  # a counted once; b, c, z, q, w
    assert e["inflation_ratio"] == pytest.approx(6 / 3)


def test_oracle_linking_by_event_id_and_by_value_and_time():
    orders = [order("#1001", T0, 50.0), order("#1002", T0 + 5 * H, 70.0), order("#1003", T0 + 6 * H, 70.0),
              order("#1004", T0 + 20 * H, 80.0), order("#1005", T0 + 30 * H, 90.0, status="test")]
    pixel = [
        ev(eid="a", value=50.0, t=T0 + 16 * timedelta(minutes=1)),          # by ID (capi "a" has 1001)
        ev(eid="b", value=70.0, t=T0 + 5 * H),                              # 70.0 at 5h: only #1002 within 15 min
        ev(eid="c9", value=80.004, t=T0 + 20 * H + timedelta(minutes=15)),  # 80.00 at exactly 15 min: #1004
        ev(eid="d", value=90.0, t=T0 + 30 * H),                             # only a test order: unlinked
        ev(eid="e", value=80.0, t=T0 + 20 * H - timedelta(minutes=15, seconds=1)),  # 15 min 1 s: unlinked
    ]
    capi = [ev(eid="a", oid="1001", value=50.0), ev(eid="b2", value=70.0, t=T0 + 5 * H + 30 * timedelta(minutes=1)),
            ev(eid="c", oid="#1004")]
    hows = link_counts(pixel, capi, orders, RULES)["meta"]
    # capi b2 (70.0 at 5h30) is 30 min from both #1002 and #1003: unlinked, like pixel d and e.
    assert hows == {"order_id": 2, "event_id": 1, "value_time": 2, None: 3}, hows
    e = entry(run_ref(pixel, capi, orders))
    assert e["orders"] == 4
    assert e["coverage"]["pixel"] == pytest.approx(3 / 4)  # 1001, 1002, 1004
    assert e["coverage"]["capi"] == pytest.approx(2 / 4)   # 1001, 1004
    assert e["mismatched_event_id"] == 1                   # 1004: c9 vs c


def test_oracle_value_link_needs_exactly_one_order():
    orders = [order("#1", T0, 70.0), order("#2", T0 + 10 * timedelta(minutes=1), 70.0)]
    hows = link_counts([ev(eid=None, value=70.0, t=T0 + 5 * timedelta(minutes=1))], [], orders, RULES)["meta"]
    assert hows == {None: 1}


def test_oracle_event_id_link_needs_one_key():
    pixel = [ev(eid="undefined")]
    capi = [ev(eid="undefined", oid="1"), ev(eid="undefined", oid="#2")]
    assert link_counts(pixel, capi, [], RULES)["meta"] == {None: 1, "order_id": 2}
    capi = [ev(eid="undefined", oid="1"), ev(eid="undefined", oid="#1")]
    assert link_counts(pixel, capi, [], RULES)["meta"] == {"event_id": 1, "order_id": 2}


def test_oracle_mismatch_and_outside_window_definitions():
    orders = [order("1"), order("2"), order("3")]
    pixel = [ev(eid="p1", oid="1"), ev(eid=None, oid="2"), ev(eid="s", oid="3"), ev(eid="p3", oid="3")]
    capi = [ev(eid="c1", oid="1"), ev(eid="c2", oid="2"), ev(eid="s", oid="3", rt=T0 + 49 * H)]
    e = entry(run_ref(pixel, capi, orders))
    assert e["mismatched_event_id"] == 1  # order 2: pixel has no ID -> not "mismatched"; order 3 shares "s"
    assert e["outside_window"] == 1


def test_oracle_other_types_have_null_order_figures():
    r = run_ref([ev(name="AddToCart", eid=None), ev(name="AddToCart", eid="k")], [ev(name="AddToCart", eid="k")], [order()])
    e = entry(r, "meta", "add_to_cart")
    assert (e["orders"], e["inflation_ratio"], e["coverage"]) == (None, None, None)
    assert (e["reported_conversions"], e["pixel_events"], e["capi_events"]) == (2, 2, 1)
    assert "mismatched_event_id" not in e  # open in the spec for non-purchase types: not compared


def test_oracle_period_is_inclusive():
    orders = [order("1", T0), order("2", T0 + 2 * H), order("3", T0 + 3 * H)]
    pixel = [ev(eid="a", t=T0), ev(eid="b", t=T0 + 2 * H), ev(eid="c", t=T0 + 2 * H + timedelta(seconds=1))]
    e = entry(run_ref(pixel, [], orders, since=T0, until=T0 + 2 * H))
    assert (e["orders"], e["pixel_events"], e["reported_conversions"]) == (2, 2, 2)


def test_oracle_no_orders_gives_null_ratios():
    e = entry(run_ref([ev()], [ev()], []))
    assert (e["orders"], e["inflation_ratio"], e["reported_conversions"]) == (0, None, 1)
    assert e["coverage"] == {"pixel": None, "capi": None, "any": None}


def test_oracle_meta_fallback_browser_first_within_48h_only():
    nid = dict(eid=None, fbp="fb.1.1")
    assert entry(run_ref([ev(**nid)], [ev(**nid, t=T0 + 48 * H)]))["reported_conversions"] == 1
    assert entry(run_ref([ev(**nid)], [ev(**nid, t=T0 + 48 * H + timedelta(seconds=1))]))["reported_conversions"] == 2
    assert entry(run_ref([ev(**nid, t=T0 + H)], [ev(**nid)]))["reported_conversions"] == 2  # server first
    assert entry(run_ref([], [ev(**nid), ev(**nid, t=T0 + H)]))["reported_conversions"] == 2  # two server events
    e = entry(run_ref([ev(eid=None, external_id="c1")], [ev(eid=None, external_id="c1", fbp="other")]))
    assert (e["reported_conversions"], e["deduplicated"]) == (1, {"event_id": 0, "fallback": 1})
    # an event with an ID is left alone by the rule file's reading, merged under the other one
    e = entry(run_ref([ev(eid="a", fbp="f")], [ev(eid="b", fbp="f")]))
    assert e["reported_conversions"] == 2 and e["unconfirmed_counts"] == {"fallback.applies_to": [2, 1]}


def test_oracle_google_counts_per_conversion_action():
    g = dict(platform="google", name="conversion", eid="1001", oid="1001")
    tag, upload = dict(g, conversion_action="AW-1/x"), dict(g, conversion_action="customers/1/conversionActions/2")
    e = entry(run_ref([ev(**tag)], [ev(**upload)], [order("1001")]), "google")
    assert (e["reported_conversions"], e["orders_in_several_scopes"]) == (2, 1)
    e = entry(run_ref([ev(**tag)], [ev(**dict(tag, conversion_action=" aw-1/X"))], [order("1001")]), "google")
    assert (e["reported_conversions"], e["orders_in_several_scopes"]) == (1, 0)
    e = entry(run_ref([ev(**g)], [ev(**g)], [order("1001")]), "google")  # no action named: tag vs upload
    assert e["reported_range"] == {"low": 1, "high": 2} and e["unconfirmed_counts"] == {"dedup_scope.capi_default": [2, 1]}


def test_oracle_reddit_channel_and_pinterest_offline():
    r = dict(platform="reddit", eid="r")
    assert entry(run_ref([ev(**r)], [ev(**r, action_source="APP")]), "reddit")["reported_conversions"] == 2
    assert entry(run_ref([ev(**r)], [ev(**r, action_source="website")]), "reddit")["reported_conversions"] == 1
    p = dict(platform="pinterest", name="checkout", eid="p")
    late = entry(run_ref([ev(**p)], [ev(**p, rt=T0 + H + timedelta(seconds=1))]), "pinterest")
    assert late["reported_conversions"] == 1 and late["unconfirmed_counts"]["offline_after_hours"] == [1, 2]
    on_time = entry(run_ref([ev(**p)], [ev(**p, rt=T0 + H)]), "pinterest")
    assert "offline_after_hours" not in on_time["unconfirmed_counts"]


def test_oracle_tiktok_readings_and_their_combination():
    t = dict(platform="tiktok", oid="1001")
    pixel = [ev(**t, name="CompletePayment", eid="x"), ev(**t, name="Purchase", eid=None, ttp="c", t=T0 + 2 * H)]
    capi = [ev(**t, name="Purchase", eid="x"), ev(**t, name="Purchase", eid=None, ttp="c", t=T0 + 3 * H)]
    e = entry(run_ref(pixel, capi, [order("1001")]), "tiktok")
    assert e["reported_conversions"] == 4
    assert e["unconfirmed_counts"] == {"merged_names": [4, 3], "fallback": [4, 3]}
    assert e["reported_range"] == {"low": 2, "high": 4}


def test_oracle_without_same_source_dedup_kth_pairs_with_kth():
    m = dict(eid="k")
    e = entry(run_ref([ev(**m), ev(**m, t=T0 + H)], [ev(**m, t=T0 + timedelta(minutes=1))]))
    assert e["reported_conversions"] == 1 and e["unconfirmed_counts"] == {"same_source_dedup": [1, 2]}


# ---------------------------------------------------------------- the generator

def _parse_time(v):
    """Independent reader of the timestamp forms (None = unparseable)."""
    if v is None or isinstance(v, datetime):
        return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, (int, float)) or str(v).strip().lstrip("-").isdigit():
        n = float(v)
        return datetime.fromtimestamp(n / 1000 if abs(n) >= 1e11 else n, UTC)
    for parse in (datetime.fromisoformat, lambda s: datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z")):
        try:
            t = parse(str(v).strip())
            return t if t.tzinfo else t.replace(tzinfo=UTC)
        except ValueError:
            pass
    return None


def _read_rows(path: Path):
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    name = path.name.removesuffix(".gz").removesuffix(".zst")
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    if name.endswith(".json"):
        return json.loads(data)
    rows = list(csv.DictReader(io.StringIO(data.decode()), delimiter="\t" if name.endswith(".tsv") else ","))
    return [{k: (None if v == "" else v) for k, v in r.items()} for r in rows]


def _canon(r, time_cols):
    out = []
    for k in sorted(r):
        v = r[k]
        if k in time_cols:
            v = _parse_time(v)
            v = v if v is None else v.astimezone(UTC)
        elif k == "value":
            v = None if v is None else round(float(v), 2)
        elif v == "":
            v = None
        out.append((k, v))
    return tuple(out)


@pytest.fixture(scope="module")
def shop7(tmp_path_factory):
    return generate_shop(7, tmp_path_factory.mktemp("shop7"))


def test_oracle_shopgen_files_read_back_to_the_returned_rows(shop7):
    ev_cols = ["platform", "event_name", "event_id", "event_time", "received_time", "order_id", "value"]
    for side in ("pixel", "capi"):
        read, rejected = [], 0
        for f in shop7[f"{side}_files"]:
            for r in _read_rows(Path(f)):
                r = {c: r.get(c) for c in ev_cols}
                if _parse_time(r["event_time"]) is None:
                    rejected += 1
                else:
                    read.append(_canon(r, {"event_time", "received_time"}))
        assert rejected == shop7["rejected"][side]
        assert len(read) + rejected == shop7["rows"][side]
        expected = [_canon({c: r[c] for c in ev_cols}, {"event_time", "received_time"}) for r in shop7[f"{side}_rows"]]
        assert sorted(read, key=repr) == sorted(expected, key=repr)
    rows = _read_rows(Path(shop7["orders_files"][0]))
    assert len(rows) == shop7["rows"]["orders"]
    good = [_canon({c: r[c] for c in ("order_id", "created_at", "value", "status")}, {"created_at"})
            for r in rows if _parse_time(r["created_at"]) is not None]
    assert len(rows) - len(good) == shop7["rejected"]["orders"]
    assert sorted(good, key=repr) == sorted((_canon(o, {"created_at"}) for o in shop7["order_rows"]), key=repr)


def test_oracle_shopgen_is_deterministic(tmp_path, shop7):
    again = generate_shop(7, tmp_path)
    for a, b in zip(shop7["pixel_files"] + shop7["capi_files"] + shop7["orders_files"],
                    again["pixel_files"] + again["capi_files"] + again["orders_files"]):
        assert Path(a).read_bytes() == Path(b).read_bytes(), a


def test_oracle_shopgen_covers_the_failures(shop7):
    pixel, capi = shop7["pixel_rows"], shop7["capi_rows"]
    report = reference_report(pixel, capi, shop7["order_rows"], RULES)
    purchase = {e["platform"]: e for e in report if e["event"] == "purchase"}
    assert set(purchase) == {"meta", "tiktok", "snap", "google"}
    assert any(e["event"] != "purchase" for e in report)
    for p in ("meta", "tiktok", "snap"):
        assert purchase[p]["outside_window"] > 0, p
    for p, e in purchase.items():
        assert e["missing_event_id"]["pixel"] > 0 and e["missing_event_id"]["capi"] > 0, p
        assert e["mismatched_event_id"] > 0, p
        assert e["reported_conversions"] > 0 and 0 < e["coverage"]["any"] < 1, p
    assert purchase["tiktok"]["event_name_drift"] > 0
    hows = link_counts(pixel, capi, shop7["order_rows"], RULES)
    for p in purchase:
        assert {"order_id", "event_id", "value_time", None} <= set(hows[p]), (p, hows[p])
    ids = [r["event_id"] for r in pixel + capi]
    assert "undefined" in ids and None in ids and "" in ids and any(i and not i.strip() for i in ids if i)
    raw_platforms = {r["platform"] for r in pixel + capi}
    assert any(p != p.strip().lower() for p in raw_platforms)
    statuses = {(o["status"] or "").strip().lower() for o in shop7["order_rows"]}
    assert {"test", "cancelled", "canceled", "voided", "paid"} <= statuses
    # exact window edges between a pixel and a CAPI event with the same name and ID
    recv = lambda r: r["received_time"] or r["event_time"]  # noqa: E731
    gaps = {abs(recv(p) - recv(c)) for p in pixel for c in capi
            if p["event_id"] and p["event_id"].strip() and p["event_id"] == c["event_id"]
            and p["event_name"] == c["event_name"] and p["event_id"] != "undefined"}
    assert timedelta(hours=48) in gaps and timedelta(hours=48, seconds=1) in gaps
    assert sum(shop7["rejected"].values()) > 0


# ================================================================ engine vs oracle

def _engine_ready():
    try:
        r = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--help"], cwd=REPO,
                           capture_output=True, text=True, timeout=120, env=_env())
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                NO_COLOR="1", COLUMNS="200")


def run_engine(pixel, capi, orders, extra=()):
    cmd = [sys.executable, "-m", "dedupaudit", "check"]
    for flag, paths in (("--pixel", pixel), ("--capi", capi), ("--orders", orders)):
        for p in paths:
            cmd += [flag, str(p)]
    if "--rules" not in extra:
        cmd += ["--rules", str(RULES)]
    cmd += ["--format", "json", "--fail-on", "never", *extra]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=_env())
    assert r.returncode == 0, f"exit {r.returncode}\nstderr: {r.stderr[-3000:]}\ncmd: {cmd}"
    return json.loads(r.stdout)


def diff(expected, got, path=""):
    """All differences between the oracle's figures and the engine's (only keys the oracle defines)."""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object {expected}, got {got!r}"]
        out = []
        for k, v in expected.items():
            if k not in got:
                out.append(f"{path}.{k}: missing (expected {v!r})")
            else:
                out += diff(v, got[k], f"{path}.{k}")
        return out
    if expected is None or got is None or isinstance(got, bool):
        return [] if expected is got else [f"{path}: expected {expected!r}, got {got!r}"]
    if isinstance(expected, float) or isinstance(got, float):
        if not isinstance(got, (int, float)) or abs(expected - got) > 1e-3:
            return [f"{path}: expected {expected!r}, got {got!r}"]
        return []
    return [] if expected == got else [f"{path}: expected {expected!r}, got {got!r}"]


def compare(report, expected_platforms, shop, since=None, until=None, rules_dir=RULES):
    """Differences in `platforms` and `inputs`; also in the optional `links` counts when the engine reports them."""
    problems = []
    hows = link_counts(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], rules_dir, since, until)
    for e in report["platforms"]:
        if e.get("event") == "purchase" and isinstance(e.get("links"), dict):
            want = {("unlinked" if k is None else k): v for k, v in hows.get(e.get("platform"), {}).items()}
            want = {k: want.get(k, 0) for k in set(want) | set(e["links"])}
            problems += diff(want, e["links"], f"{e.get('platform')}/purchase.links")
    # The oracle states each unconfirmed reading's counts as {rule: [if true, if false]}.
    got = {(e.get("platform"), e.get("event")): dict(e, unconfirmed_counts={
        u["rule"]: [u["reported_if_true"], u["reported_if_false"]] for u in e.get("unconfirmed_rules", [])})
        for e in report["platforms"]}
    want = {(e["platform"], e["event"]): e for e in expected_platforms}
    if len(got) != len(report["platforms"]):
        problems.append("platforms: duplicate (platform, event) entries")
    for k in sorted(set(want) - set(got)):
        problems.append(f"platforms: missing entry {k}")
    for k in sorted(set(got) - set(want)):
        problems.append(f"platforms: unexpected entry {k}: {got[k]}")
    for k in sorted(set(want) & set(got)):
        problems += diff(want[k], got[k], f"{k[0]}/{k[1]}")
    for side in ("pixel", "capi", "orders"):
        inp = report["inputs"][side]
        for what in ("rows", "rejected"):
            if inp.get(what) != shop[what][side]:
                problems.append(f"inputs.{side}.{what}: expected {shop[what][side]}, got {inp.get(what)!r}")
    return problems


engine = pytest.mark.skipif(not _engine_ready(), reason="`python -m dedupaudit check --help` does not run yet")


@engine
@pytest.mark.parametrize("seed", [1, 2, 3, 42])
def test_engine_matches_reference_model(seed, tmp_path):
    shop = generate_shop(seed, tmp_path)
    report = run_engine(shop["pixel_files"], shop["capi_files"], shop["orders_files"])
    expected = reference_report(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], RULES)
    problems = compare(report, expected, shop)
    assert not problems, f"seed {seed}: {len(problems)} differences\n" + "\n".join(problems[:80])


@engine
def test_engine_matches_reference_model_given_folders(tmp_path):
    shop = generate_shop(5, tmp_path, n_orders=300)
    report = run_engine([shop["pixel_dir"]], [shop["capi_dir"]], shop["orders_files"])
    expected = reference_report(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], RULES)
    problems = compare(report, expected, shop)
    assert not problems, "\n".join(problems[:80])


@engine
def test_engine_matches_reference_model_in_a_period(tmp_path):
    shop = generate_shop(9, tmp_path)
    event_times = sorted(r["event_time"] for r in shop["pixel_rows"] + shop["capi_rows"])
    order_times = sorted(o["created_at"] for o in shop["order_rows"])
    since, until = event_times[len(event_times) // 4], order_times[3 * len(order_times) // 4]
    report = run_engine(shop["pixel_files"], shop["capi_files"], shop["orders_files"],
                        ["--since", since.isoformat(), "--until", until.isoformat()])
    expected = reference_report(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], RULES,
                                since=since, until=until)
    problems = compare(report, expected, shop, since, until)
    assert not problems, f"period {since} .. {until}\n" + "\n".join(problems[:80])


@engine
def test_engine_matches_reference_model_with_edited_rules(tmp_path):
    """--rules DIR: Meta names case-insensitive, TikTok window 24 h, Snap window 1.5 h."""
    rules = tmp_path / "rules"
    rules.mkdir()
    edits = {"meta.yaml": ("names_case_sensitive: true", "names_case_sensitive: false"),
             "tiktok.yaml": ("dedup_window_hours: 48", "dedup_window_hours: 24"),
             "snap.yaml": ("dedup_window_hours: 48", "dedup_window_hours: 1.5")}
    for f in sorted(RULES.glob("*.yaml")):
        text = f.read_text()
        if f.name in edits:
            old, new = edits[f.name]
            assert f"\n{old}" in text, (f.name, old)
            text = text.replace(f"\n{old}", f"\n{new}", 1)
        (rules / f.name).write_text(text)
    shop = generate_shop(13, tmp_path / "shop")
    cmd_rules = ["--rules", str(rules)]
    report = run_engine(shop["pixel_files"], shop["capi_files"], shop["orders_files"], cmd_rules)
    expected = reference_report(shop["pixel_rows"], shop["capi_rows"], shop["order_rows"], rules)
    problems = compare(report, expected, shop, rules_dir=rules)
    assert not problems, "\n".join(problems[:80])
