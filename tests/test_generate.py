"""`dedupaudit generate`: the engine gives exactly truth.json's figures; output is deterministic and validated.

truth.json comes from the reference model (dedupaudit/generate/model.py) run a chunk of orders at a
time; the engine reads the written files as a whole. Small truth chunks here make every shop several
chunks plus the held-back placeholder orders, so the claim that chunk counts add up is tested too.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dedupaudit.cli.main import app
from dedupaudit.generate import shop
from dedupaudit.generate.rates import DEFAULTS, RATES
from dedupaudit.generate.run import write_shop

PLATFORMS = list(shop.PLATFORMS)
FAILURES = [name for name in RATES if name != "other_events"]
MIXES = {"zero": {k: 0.0 for k in RATES}, "defaults": DEFAULTS,
         **{f"{k}-alone": {**{r: 0.0 for r in RATES}, k: 0.4} for k in FAILURES},
         "everything-high": {k: 0.4 for k in RATES}}
FORMATS = ["csv", "jsonl", "parquet"]


def check_json(folder, fmt) -> dict:
    result = CliRunner().invoke(app, ["check", "--pixel", str(folder / f"pixel.{fmt}"), "--capi", str(folder / f"capi.{fmt}"),
                                      "--orders", str(folder / f"orders.{fmt}"), "--format", "json", "--fail-on", "never", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def differences(want, got, path=""):
    """Every figure of `want` that `got` does not have (counts exactly, ratios as the JSON rounds them: 6 decimals)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected {want!r}, got {got!r}"]
        return [d for k, v in want.items() for d in differences(v, got.get(k, "<missing>"), f"{path}.{k}")]
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return [] if abs(want - got) <= 5e-7 + 1e-12 else [f"{path}: expected {want!r}, got {got!r}"]
    return [] if want == got and type(want) is type(got) else [f"{path}: expected {want!r}, got {got!r}"]


def engine_vs_truth(folder, fmt) -> list[str]:
    truth = json.loads((folder / "truth.json").read_text())
    report = check_json(folder, fmt)
    got = {(e["platform"], e["event"]): dict(e, unconfirmed_counts={
        u["rule"]: [u["reported_if_true"], u["reported_if_false"]] for u in e.get("unconfirmed_rules", [])})
        for e in report["platforms"]}
    want = {(e["platform"], e["event"]): e for e in truth["platforms"]}
    problems = [f"entries: truth {sorted(want)} vs engine {sorted(got)}"] if set(want) != set(got) else []
    for key in sorted(set(want) & set(got)):
        problems += differences(want[key], got[key], "/".join(key))
    rows = {side: report["inputs"][side]["rows"] for side in ("pixel", "capi", "orders")}
    if rows != truth["rows"]:
        problems.append(f"rows: truth {truth['rows']} vs engine {rows}")
    return problems


@pytest.mark.parametrize("mix", list(MIXES))
def test_engine_gives_truths_figures(mix, tmp_path):
    seed = list(MIXES).index(mix) + 1
    fmt = FORMATS[seed % 3]
    write_shop(tmp_path, 300, seed, fmt, PLATFORMS, MIXES[mix], truth_orders=70)
    problems = engine_vs_truth(tmp_path, fmt)
    assert not problems, f"{mix} (seed {seed}, {fmt}): " + "\n".join(problems[:40])


def test_engine_gives_truths_figures_across_generator_chunks(tmp_path, monkeypatch):
    """Several generator chunks (each seeded by its index) and placeholder orders held back from each."""
    monkeypatch.setattr(shop, "CHUNK_ORDERS", 150)
    mix = {**MIXES["everything-high"], "placeholder_ids": 0.1}
    write_shop(tmp_path, 700, 99, "parquet", ["meta", "google", "snap"], mix, truth_orders=60)
    problems = engine_vs_truth(tmp_path, "parquet")
    assert not problems, "\n".join(problems[:40])


def test_zero_rates_give_the_known_figures(tmp_path):
    """Without failures every platform counts each order once, except Google: tag and upload are two actions."""
    summary = write_shop(tmp_path, 200, 3, "csv", PLATFORMS, MIXES["zero"])
    purchase = {e["platform"]: e for e in summary["platforms"] if e["event"] == "purchase"}
    assert {p: e["inflation_ratio"] for p, e in purchase.items()} == {"meta": 1.0, "tiktok": 1.0, "snap": 1.0, "google": 2.0}
    assert purchase["google"]["reported_range"] == {"low": 200, "high": 400}
    assert summary["rows"] == {"pixel": 800, "capi": 800, "orders": 200}


def test_each_failure_moves_the_figures_it_should(tmp_path):
    def purchase(mix, name):
        folder = tmp_path / name
        summary = write_shop(folder, 400, 5, "parquet", PLATFORMS, mix)
        return {e["platform"]: e for e in summary["platforms"] if e["event"] == "purchase"}

    zero = purchase(MIXES["zero"], "zero")
    late = purchase(MIXES["late_batches-alone"], "late")
    assert late["meta"]["outside_window"] > 0 and late["meta"]["reported_conversions"] > zero["meta"]["reported_conversions"]
    assert late["google"]["reported_conversions"] == zero["google"]["reported_conversions"]  # Google has no window
    fallback = purchase(MIXES["fallback_keys-alone"], "fallback")
    no_id = purchase(MIXES["capi_missing_id-alone"], "no_id")
    assert fallback["meta"]["missing_event_id"]["capi"] > 100 and fallback["meta"]["deduplicated"]["fallback"] > 100
    # merged by fbp when the browser event came first; without the keys nearly every one counts twice
    assert fallback["meta"]["inflation_ratio"] < 1.05 < 1.3 < no_id["meta"]["inflation_ratio"]
    tiktok = fallback["tiktok"]  # _ttp dedup is an unconfirmed reading: it shows only in the range
    assert tiktok["inflation_ratio"] > 1.3 and tiktok["reported_range"]["low"] < 1.05 * 400
    placeholder = purchase(MIXES["placeholder_ids-alone"], "placeholder")
    assert placeholder["snap"]["inflation_ratio"] < 1.0  # `undefined` merges real purchases
    drift = purchase(MIXES["name_drift-alone"], "drift")
    assert drift["tiktok"]["event_name_drift"] > 0 and drift["tiktok"]["inflation_ratio"] > 1.0


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for fmt in FORMATS:
        truth = fmt == "csv"  # the same truth.json whatever the format: checked once
        for name, seed in (("a", 11), ("b", 11), ("c", 12)):
            write_shop(tmp_path / fmt / name, 250, seed, fmt, PLATFORMS, DEFAULTS, truth=truth)
        for file in (f"pixel.{fmt}", f"capi.{fmt}", f"orders.{fmt}", *(["truth.json"] if truth else [])):
            a, b, c = ((tmp_path / fmt / name / file).read_bytes() for name in "abc")
            assert a == b, file
            assert a != c, file


def _utc(value, column):
    if column in ("event_time", "received_time", "created_at") and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else value


def test_formats_read_back_identically(tmp_path):
    readers = {"csv": lambda p: pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)),
               "jsonl": pajson.read_json, "parquet": pq.read_table}
    seen = {}
    for fmt, read in readers.items():
        write_shop(tmp_path / fmt, 300, 21, fmt, PLATFORMS, MIXES["everything-high"], truth=False)
        seen[fmt] = {name: [{k: _utc(v, k) for k, v in row.items()} for row in read(tmp_path / fmt / f"{name}.{fmt}").to_pylist()]
                     for name in ("pixel", "capi", "orders")}
    assert seen["csv"]["pixel"][0]["event_time"].tzinfo is not None
    assert any(r["event_id"] is None for r in seen["csv"]["capi"]) and any(r["fbp"] for r in seen["csv"]["capi"])
    assert seen["csv"] == seen["parquet"]
    assert seen["jsonl"] == seen["parquet"]


def run_cli(*args):
    return CliRunner().invoke(app, ["generate", *map(str, args)])


@pytest.mark.parametrize("rates, message", [
    ("pixel_los: 0.1\n", "unknown rate pixel_los"),
    ("pixel_loss: 1.5\n", "pixel_loss must be a number from 0 to 1"),
    ("refires: often\n", "refires must be a number from 0 to 1"),
    ("- 0.1\n", "expected a mapping"),
    ('{"late_batches": -0.1}', "late_batches must be a number from 0 to 1"),
])
def test_bad_rates_exit_2_with_one_line(tmp_path, rates, message):
    path = tmp_path / "rates.yaml"
    path.write_text(rates)
    result = run_cli(tmp_path / "out", "--orders", 10, "--rates", path)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_writes_refuses_a_full_folder_and_checks_options(tmp_path):
    rates = tmp_path / "rates.json"
    rates.write_text('{"refires": 0.5}')
    out = tmp_path / "shop"
    result = run_cli(out, "--orders", 50, "--seed", 4, "--format", "jsonl", "--platforms", "snap,meta", "--rates", rates)
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["generator"]["rates"]["refires"] == 0.5 and truth["generator"]["platforms"] == ["snap", "meta"]
    assert sorted(p.name for p in out.iterdir()) == ["capi.jsonl", "orders.jsonl", "pixel.jsonl", "truth.json"]
    again = run_cli(out, "--orders", 50)
    assert again.exit_code == 2 and "not an empty folder" in again.stderr
    assert run_cli(out, "--orders", 50, "--force", "--no-truth").exit_code == 0
    assert not (out / "truth.json").exists()  # the earlier truth.json described the files just replaced
    for bad in (["--format", "xml"], ["--platforms", "meta,myspace"]):
        result = run_cli(tmp_path / "other", "--orders", 5, *bad)
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output
