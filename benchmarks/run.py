"""Benchmark `dedupaudit check` on generated shops of growing size; writes benchmarks/RESULTS.md.

    python benchmarks/run.py                      # 1M, 3M and 9M events, Parquet and CSV inputs
    python benchmarks/run.py --events 1000000     # one size

Each size is generated once (not timed), then the real CLI runs in a fresh process per input format,
timed from the outside (wall clock) with its peak memory, and the stages timed inside one
in-process run (load, audit, render). Not part of the test suite: tests never depend on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PLATFORMS = {"meta": "Purchase", "tiktok": "Purchase", "snap": "PURCHASE", "google": "purchase"}


def generate(events: int, folder: Path, seed: int = 7) -> dict:
    """A shop with realistic failure rates: ~8 purchase events per order (4 platforms x 2 paths)."""
    rng = np.random.default_rng(seed)
    orders = events // 8
    start = np.datetime64("2026-10-01T00:00:00", "s")
    created = start + rng.integers(0, 30 * 86400, orders).astype("timedelta64[s]")
    order_ids = np.char.add("NW-", np.arange(1, orders + 1).astype(str))
    pd.DataFrame({"order_id": order_ids, "created_at": created.astype("datetime64[us]"),
                  "value": rng.integers(1000, 20000, orders) / 100, "currency": "EUR",
                  "status": np.where(rng.random(orders) < 0.02, "cancelled", "paid")}).to_parquet(folder / "orders.parquet")
    frames = {"pixel": [], "capi": []}
    for name, event_name in PLATFORMS.items():
        for side in ("pixel", "capi"):
            keep = rng.random(orders) >= (0.06 if side == "pixel" else 0.01)
            n = int(keep.sum())
            ids = order_ids[keep].astype(object)
            roll = rng.random(n)
            ids = np.where(roll < 0.08, None, ids)  # missing IDs
            if side == "pixel":
                ids = np.where((roll >= 0.08) & (roll < 0.2), np.char.add("px-", np.arange(n).astype(str)).astype(object), ids)
            delay = rng.integers(0, 600, n) if side == "capi" else np.zeros(n, dtype=int)
            late = rng.random(n) < 0.01
            t = created[keep] + delay.astype("timedelta64[s]")
            frames[side].append(pd.DataFrame({
                "platform": name, "event_name": event_name, "event_id": ids,
                "event_time": t.astype("datetime64[us]"),
                "received_time": (t + np.where(late, 3 * 86400, 0).astype("timedelta64[s]")).astype("datetime64[us]"),
                "order_id": order_ids[keep], "value": 0.0, "currency": "EUR"}))
    counts = {}
    for side, parts in frames.items():
        table = pd.concat(parts, ignore_index=True)
        table.to_parquet(folder / f"{side}.parquet")
        table.assign(event_time=table["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     received_time=table["received_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(folder / f"{side}.csv", index=False)
        counts[side] = len(table)
    counts["orders"] = orders
    return counts


def run_cli(folder: Path, fmt: str) -> dict:
    """The real command in a fresh process: its wall time and its own peak memory (os.wait4 reports that child alone)."""
    out = folder / f"result-{fmt}.json"
    started = time.perf_counter()
    with open(out, "w") as stdout:
        child = subprocess.Popen([sys.executable, "-m", "dedupaudit", "check", "--pixel", folder / f"pixel.{fmt}",
                                  "--capi", folder / f"capi.{fmt}", "--orders", folder / "orders.parquet",
                                  "--format", "json", "--fail-on", "never", "--quiet"], stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(child.stderr.read().decode())
    result = json.loads(out.read_text())
    purchase = {p["platform"]: p["inflation_ratio"] for p in result["platforms"] if p["event"] == "purchase"}
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024), "inflation": purchase}


def stages(folder: Path) -> dict:
    """Where the time goes, in-process on the Parquet inputs."""
    from dedupaudit.audit.engine import run_audit
    from dedupaudit.inputs.canonical import load_events, load_orders
    from dedupaudit.inputs.timestamps import resolve_timezone
    from dedupaudit.platforms.rules import load_rules
    from dedupaudit.reports.json_report import render
    from dedupaudit.settings import Settings

    rules, utc, out = load_rules(), resolve_timezone("UTC"), {}
    t = time.perf_counter()
    pixel = load_events([folder / "pixel.parquet"], "pixel", utc, None, set(rules))
    capi = load_events([folder / "capi.parquet"], "capi", utc, None, set(rules))
    orders = load_orders([folder / "orders.parquet"], utc)
    out["load"] = time.perf_counter() - t
    t = time.perf_counter()
    result = run_audit(pixel, capi, orders, rules, Settings())
    out["audit"] = time.perf_counter() - t
    t = time.perf_counter()
    render(result)
    out["render_json"] = time.perf_counter() - t
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="*", default=[1_000_000, 3_000_000, 9_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/dedupaudit-bench"))
    args = parser.parse_args()
    rows = []
    for events in args.events:
        folder = args.work / str(events)
        folder.mkdir(parents=True, exist_ok=True)
        counts = generate(events, folder)
        row = {"events": counts["pixel"] + counts["capi"], **counts}
        for fmt in ("parquet", "csv"):
            row[fmt] = run_cli(folder, fmt)
        row["stages"] = stages(folder)
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_results(rows)


def write_results(rows: list[dict]) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/run.py` on {os.cpu_count()} cores, "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, Python {platform.python_version()}. "
        "Wall time and peak memory are of the whole `dedupaudit check` process (reading, audit, JSON report); "
        "stages are timed in one in-process run on the Parquet inputs.",
        "",
        "| events | orders | Parquet: wall s | Parquet: peak MiB | CSV: wall s | CSV: peak MiB | load s | audit s | render s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["stages"]
        lines.append(f"| {r['events']:,} | {r['orders']:,} | {r['parquet']['seconds']} | {r['parquet']['peak_rss_mib']:,} | "
                     f"{r['csv']['seconds']} | {r['csv']['peak_rss_mib']:,} | {s['load']} | {s['audit']} | {s['render_json']} |")
    lines += ["", "Raw figures: `results.json`.", ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    (HERE / "results.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
