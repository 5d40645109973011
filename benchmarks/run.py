"""Benchmark `dedupaudit check` against its floor (pyarrow parsing) and a hand-written DuckDB query.

    python benchmarks/run.py                                        # 1M, 10M and 100M events, CSV and Parquet
    python benchmarks/run.py --events 1000000 --formats parquet     # one size, one format

Per size, `dedupaudit generate` writes the shop once per format (the same seed: the same events; not
timed), with truth.json up to --truth-up-to events (the model takes 1.5 to 2 minutes per million). Then
each of these runs in a fresh process, timed from outside (wall clock, and that child's own peak memory
from os.wait4): `dedupaudit check`; pyarrow reading the three files (the floor: parsing alone);
benchmarks/handwritten.sql in DuckDB (what an analyst would write). The audit's per-platform purchase
conversions and real orders must equal the query's and truth.json's. The shop has every failure the
query knows; placeholder IDs are left out (see handwritten.sql). Writes RESULTS.md and results.json;
the previous results.json's profile is shown as "before".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from dedupaudit.generate.rates import DEFAULTS  # noqa: E402

RATES = {**DEFAULTS, "placeholder_ids": 0.0}
PLATFORMS = 4
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))

PARSE = """import sys, pyarrow.csv as csv, pyarrow.parquet as pq
read = pq.read_table if sys.argv[2] == 'parquet' else csv.read_csv
print(sum(read(f'{sys.argv[1]}/{n}.{sys.argv[2]}').num_rows for n in ('pixel', 'capi', 'orders')))"""
QUERY = """import sys, json, duckdb
reader = 'read_parquet' if sys.argv[3] == 'parquet' else 'read_csv'
sql = open(sys.argv[1]).read().format(**{n: f"{reader}('{sys.argv[2]}/{n}.{sys.argv[3]}')" for n in ('pixel', 'capi', 'orders')})
con = duckdb.connect()
con.execute('SET enable_progress_bar = false')
print(json.dumps(con.execute(sql).fetchall()))"""


def events_per_order(rates: dict) -> float:
    """Expected events per order: pixel purchase (and refire), server purchase, add-to-cart on both paths."""
    return PLATFORMS * ((1 - rates["pixel_loss"]) * (1 + rates["refires"]) + (1 - rates["capi_loss"]) + 2 * rates["other_events"])


def fresh(cmd: list, out: Path) -> dict:
    """Run `cmd` in a fresh process: wall seconds, its peak RSS, exit code; stdout to `out`."""
    started = time.perf_counter()
    with open(out, "wb") as stdout, open(out.with_suffix(".stderr"), "wb") as stderr:
        child = subprocess.Popen([str(c) for c in cmd], stdout=stdout, stderr=stderr, env=ENV)
        _, status, usage = os.wait4(child.pid, 0)
    return {"seconds": round(time.perf_counter() - started, 2), "peak_mib": round(usage.ru_maxrss / 1024),
            "exit": os.waitstatus_to_exitcode(status)}


def generate(folder: Path, orders: int, fmt: str, truth: bool) -> None:
    """The shop in one format, unless this folder already holds it (generation is not what is measured)."""
    params = {"orders": orders, "format": fmt, "rates": RATES, "truth": truth, "seed": 7}
    marker = folder / "params.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return
    rates = folder.parent / "rates.json"
    folder.parent.mkdir(parents=True, exist_ok=True)
    rates.write_text(json.dumps(RATES))
    subprocess.run([sys.executable, "-m", "dedupaudit", "generate", folder, "--orders", str(orders), "--seed", "7",
                    "--format", fmt, "--rates", rates, "--force", "--truth" if truth else "--no-truth"], check=True, env=ENV)
    marker.write_text(json.dumps(params))


def audit_cmd(folder: Path, fmt: str) -> list:
    return [sys.executable, "-m", "dedupaudit", "check", "--pixel", folder / f"pixel.{fmt}", "--capi", folder / f"capi.{fmt}",
            "--orders", folder / f"orders.{fmt}", "--format", "json", "--fail-on", "never", "--quiet"]


def purchase_figures(platforms: list[dict]) -> dict:
    return {e["platform"]: [e["reported_conversions"], e["orders"]] for e in platforms if e["event"] == "purchase"}


def measure(folder: Path, fmt: str, truth_file: Path) -> dict:
    runs = {"audit": fresh(audit_cmd(folder, fmt), folder / "audit.json"),
            "sql": fresh([sys.executable, "-c", QUERY, HERE / "handwritten.sql", folder, fmt], folder / "sql.json"),
            "pyarrow": fresh([sys.executable, "-c", PARSE, folder, fmt], folder / "parse.txt")}
    figures = {}
    if runs["audit"]["exit"] == 0:
        figures["audit"] = purchase_figures(json.loads((folder / "audit.json").read_text())["platforms"])
    if runs["sql"]["exit"] == 0:
        figures["sql"] = {p: [n, orders] for p, n, orders, _ in json.loads((folder / "sql.json").read_text())}
    if truth_file.exists():
        figures["truth"] = purchase_figures(json.loads(truth_file.read_text())["platforms"])
    for name, run in runs.items():
        if run["exit"] != 0:
            print(f"{folder}: {name} failed (exit {run['exit']}); its stderr is beside its output there", file=sys.stderr)
    agree = len({json.dumps(f, sort_keys=True) for f in figures.values()}) == 1
    assert agree, f"{folder}: the purchase figures differ: {figures}"
    return {**runs, "figures": figures, "checked": sorted(figures)}


def profile(folder: Path, fmt: str) -> list[str]:
    """cProfile of one in-process `dedupaudit check`: the top entries by own time."""
    out = folder / "check.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", out, *audit_cmd(folder, fmt)[1:]],
                   check=True, env=ENV, stdout=subprocess.DEVNULL)
    stats = pstats.Stats(str(out))
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    lines = [f"total {total:.1f} s in-process ({fmt}, {folder.parent.name} events); top entries by own time:"]
    for (file, line, name), (_, calls, own, cumulative, _) in rows:
        where = name if file == "~" else f"{Path(file).parent.name}/{Path(file).name}:{line}({name})"
        lines.append(f"{own:8.2f} s own {cumulative:8.2f} s cumulative {calls:>9,} calls  {where}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000, 100_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"], choices=["csv", "parquet"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/dedupaudit-bench"))
    parser.add_argument("--truth-up-to", type=int, default=10_000_000, help="compute truth.json up to this many events")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="where RESULTS.md goes (results.json beside it)")
    args = parser.parse_args()
    rows = []
    for events in args.events:
        orders = round(events / events_per_order(RATES))
        truth_file = args.work / str(events) / args.formats[0] / "truth.json"
        row = {"events_target": events, "orders": orders}
        for i, fmt in enumerate(args.formats):
            folder = args.work / str(events) / fmt
            generate(folder, orders, fmt, truth=i == 0 and events <= args.truth_up_to)
            row[fmt] = measure(folder, fmt, truth_file)
        written = json.loads((args.work / str(events) / args.formats[0] / "audit.json").read_text())["inputs"] \
            if row[args.formats[0]]["audit"]["exit"] == 0 else None
        row["events"] = written["pixel"]["rows"] + written["capi"]["rows"] if written else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    smallest = args.work / str(min(args.events)) / args.formats[-1]
    write_results(rows, args, profile(smallest, args.formats[-1]))


def ratio(a, b) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def write_results(rows: list[dict], args, prof: list[str]) -> None:
    results_json = args.results.with_name("results.json")
    before = json.loads(results_json.read_text()) if results_json.exists() else None
    before_prof = before.get("profile") if isinstance(before, dict) else None
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmark results", "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/run.py` at commit {commit} on {os.cpu_count()} cores and "
        f"{memory:.0f} GiB, Python {platform.python_version()}, pyarrow {pyarrow.__version__}, DuckDB {duckdb.__version__}. "
        "Each figure is one fresh process, timed from outside: wall seconds and that process's peak memory. "
        "**audit**: `dedupaudit check --format json` (reading, audit, report); **SQL**: `benchmarks/handwritten.sql` "
        "in DuckDB straight from the files; **pyarrow**: reading the three files, nothing else (the floor).", "",
        "Shop: `dedupaudit generate --seed 7` with the default rates and no placeholder IDs "
        f"({', '.join(f'{k} {v}' for k, v in RATES.items())}). In every run the per-platform purchase conversions and "
        "real orders of the audit equal the SQL's and truth.json's (the columns under *checked*).", "",
        "| events | format | audit s | audit MiB | SQL s | SQL MiB | pyarrow s | pyarrow MiB | audit ÷ SQL | audit ÷ pyarrow | memory ÷ SQL's | checked |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        for fmt in args.formats:
            m = r[fmt]
            a, s, p = (m[k] if m[k]["exit"] == 0 else {"seconds": None, "peak_mib": None} for k in ("audit", "sql", "pyarrow"))
            lines.append(f"| {r['events'] or r['events_target']:,} | {fmt} | {a['seconds'] or 'failed'} | {a['peak_mib'] or '-'} | "
                         f"{s['seconds'] or 'failed'} | {s['peak_mib'] or '-'} | {p['seconds'] or 'failed'} | {p['peak_mib'] or '-'} | "
                         f"{ratio(a['seconds'], s['seconds'])} | {ratio(a['seconds'], p['seconds'])} | "
                         f"{ratio(a['peak_mib'], s['peak_mib'])} | {' = '.join(m['checked'])} |")
    first = rows[0]
    lines += ["", f"Scaling: time at each size ÷ time at {first['events'] or first['events_target']:,} events "
                  "(10x the events should be about 10x the time).", "",
              "| events | format | audit | SQL |", "|---:|---|---:|---:|"]
    for r in rows[1:]:
        for fmt in args.formats:
            lines.append(f"| {r['events'] or r['events_target']:,} | {fmt} | "
                         f"{ratio(r[fmt]['audit']['seconds'] if r[fmt]['audit']['exit'] == 0 else None, first[fmt]['audit']['seconds'])} | "
                         f"{ratio(r[fmt]['sql']['seconds'] if r[fmt]['sql']['exit'] == 0 else None, first[fmt]['sql']['seconds'])} |")
    lines += ["", "## Profile", "", "This run:", "", "```", *prof, "```", ""]
    if before_prof:
        lines += ["Before (the previous results.json):", "", "```", *before_prof, "```", ""]
    lines += ["Raw figures: `results.json`.", ""]
    args.results.write_text("\n".join(lines))
    results_json.write_text(json.dumps({"rows": rows, "profile": prof}, indent=2) + "\n")


if __name__ == "__main__":
    main()
