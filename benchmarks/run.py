"""Benchmark `dedupaudit check` against its floor (pyarrow parsing) and a hand-written DuckDB query.

    python benchmarks/run.py                                        # 1M, 10M and 100M events, CSV and Parquet
    python benchmarks/run.py --events 1000000 --formats parquet     # one size, one format
    python benchmarks/run.py --events --native-events 1000000       # only the native CAPI log, 1M server events
    python benchmarks/run.py --events --native-events               # nothing run: RESULTS.md rewritten from results.json

Per size, `dedupaudit generate` writes the shop once per format (the same seed: the same events; not
timed), with truth.json up to --truth-up-to events (the model takes 1.5 to 2 minutes per million). Then
each of these runs in a fresh process, timed from outside (wall clock, and that child's own peak memory
from os.wait4): `dedupaudit check`; pyarrow reading the three files (the floor: parsing alone);
benchmarks/handwritten.sql in DuckDB (what an analyst would write). The audit's per-platform purchase
conversions and real orders must equal the query's and truth.json's. The shop has every failure the
query knows; placeholder IDs are left out (see handwritten.sql). Writes RESULTS.md and results.json;
the previous results.json's profile is shown as "before". RESULTS.md also reads the performance issues' targets
off the rows (met, or missed by how much), and shows where the time goes: one more run at the largest canonical
size up to 10M and of the smallest native log, each DuckDB statement timed and put in the stage of the code
that ran it (PROFILE_STAGES), beside the hand-written query's whole time.

Native CAPI request logs (--native-events, default 1M and 10M server events; none given: skipped): a
Meta-only shop written with `generate --platforms meta --native`, whose server events are one request
body per line (capi.native.jsonl). Only the log is read, by `dedupaudit check --capi` and by
benchmarks/native.sql, since the query covers the server events only (like with like). The events, and
per platform the purchase events and the purchases reported after deduplication, must be equal between
the two, and equal truth.json's on the figures it has (it counts no server-only reported purchases). Two
more audits bound what any reading of the log could reach: of the same server events from a canonical
Parquet file (the same shop written without --native; equal figures), and of one of them alone (start-up
and the audit's fixed cost).

Every run's CPU seconds (user and system, all threads) are kept beside its wall time: CPU ÷ wall is how
many cores it kept busy, and CPU against the query's is how much more work it does.

Spark (--spark-events, default none; needs `pip install 'dedupaudit[spark]'` and Java 17): the Parquet
shop of that size audited with `--engine spark --spark-master local[*]`, beside the embedded run of the
same files: once given as local paths (read here, handed to Spark), once as file:// URIs (read by Spark in
place). Each whole JSON result must equal the embedded one's (file names aside). Its peak memory is that of the process
tree (Python and the JVM), sampled every 0.2 s.
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
import pyarrow.parquet

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from dedupaudit.generate.rates import DEFAULTS  # noqa: E402

RATES = {**DEFAULTS, "placeholder_ids": 0.0}
PLATFORMS = 4
FORMATS = ("csv", "parquet")
COMMIT = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))

PARSE = """import sys, pyarrow.csv as csv, pyarrow.parquet as pq
read = pq.read_table if sys.argv[2] == 'parquet' else csv.read_csv
print(sum(read(f'{sys.argv[1]}/{n}.{sys.argv[2]}').num_rows for n in ('pixel', 'capi', 'orders')))"""
QUERY = """import sys, json, duckdb
sql = open(sys.argv[1]).read()
for pair in sys.argv[2:]:  # {name}=what replaces it in the query
    name, source = pair.split('=', 1)
    sql = sql.replace('{' + name + '}', source)
con = duckdb.connect()
con.execute('SET enable_progress_bar = false')
print(json.dumps(con.execute(sql).fetchall()))"""
# `dedupaudit check` in-process with every DuckDB statement timed and put in the stage of the code that ran it (the
# first of STAGES found on the call stack): where the audit's time goes, beside the SQL's whole time.
STAGES = (("/inputs/", "reading and typing the inputs"),
          ("/engine/readings.py", "the other readings of unconfirmed rules (the ranges)"),
          ("/checks/", "the checks: counts and examples"),
          (":simulate", "the dedup model"),
          (":build_order_checks", "the per-order table (order_checks)"),
          (":build_tables", "the audit tables: hashing, typing, links, the wide table"),
          ("/engine/metrics.py", "the figures: metrics, daily series, ROAS"))
PROFILE_STAGES = """import json, sys, time
import dedupaudit.connection as connection
from dedupaudit.cli.main import app
stages, seconds = json.loads(sys.argv[1]), {}
def callers():
    frame = sys._getframe(2)
    while frame:
        yield f'{frame.f_code.co_filename}:{frame.f_code.co_name}'
        frame = frame.f_back
class Timed:
    def __init__(self, con): self._con = con
    def __getattr__(self, name): return getattr(self._con, name)
    def execute(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._con.execute(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started  # the stack is read after: its cost stays outside the queries
            frames = list(callers())
            stage = next((name for key, name in stages if any(key in f for f in frames)), 'other queries')
            seconds[stage] = seconds.get(stage, 0) + elapsed
made = connection.Connection.__init__
def timed_init(self, *args, **kwargs):
    made(self, *args, **kwargs)
    self.con = Timed(self.con)
connection.Connection.__init__ = timed_init
code = 0
try:
    result = app(sys.argv[2:], standalone_mode=False)
    code = result if isinstance(result, int) else 0
except SystemExit as exit:
    code = exit.code or 0
print(json.dumps({"exit": code, "seconds": seconds}), file=sys.stderr)"""


def events_per_order(rates: dict) -> float:
    """Expected events per order: pixel purchase (and refire), server purchase, add-to-cart on both paths."""
    return PLATFORMS * ((1 - rates["pixel_loss"]) * (1 + rates["refires"]) + (1 - rates["capi_loss"]) + 2 * rates["other_events"])


def server_events_per_order(rates: dict) -> float:
    """Expected server events per order on one platform: the purchase, and the add-to-cart."""
    return (1 - rates["capi_loss"]) + rates["other_events"]


# Runs one command and reports its wall and CPU seconds and peak memory. It is the command's parent, not this script:
# Linux gives a child started with vfork (as subprocess does) the peak memory of its parent as the floor of its own
# (exec keeps the larger of the two), so a child of this script (DuckDB and pyarrow loaded) could show no less than
# this script's peak. A bare interpreter's floor is about 10 MiB.
LAUNCH = """import json, os, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], 'wb') as stdout, open(sys.argv[2], 'wb') as stderr:
    child = subprocess.Popen(sys.argv[3:], stdout=stdout, stderr=stderr)
    _, status, usage = os.wait4(child.pid, 0)
print(json.dumps({'seconds': round(time.perf_counter() - started, 2), 'cpu_s': round(usage.ru_utime + usage.ru_stime, 2),
                  'peak_mib': round(usage.ru_maxrss / 1024), 'exit': os.waitstatus_to_exitcode(status)}))"""


def fresh(cmd: list, out: Path) -> dict:
    """Run `cmd` in a fresh process: wall seconds, its CPU seconds (user and system, every thread), its peak RSS, exit
    code; stdout to `out`. CPU ÷ wall is how many of the cores it kept busy."""
    launched = subprocess.run([sys.executable, "-c", LAUNCH, out, out.with_suffix(".stderr"), *cmd], capture_output=True,
                              text=True, env=ENV)
    if launched.returncode != 0:  # the command could not be started at all (a failing command gives its exit code)
        raise RuntimeError(f"could not run {' '.join(map(str, cmd))}: {launched.stderr.strip()[-500:]}")
    return json.loads(launched.stdout)


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def fresh_tree(cmd: list, out: Path) -> dict:
    """`fresh`, with the peak memory of the whole process tree (a JVM child included), sampled every 0.2 s."""
    started, peak = time.perf_counter(), 0
    with open(out, "wb") as stdout, open(out.with_suffix(".stderr"), "wb") as stderr:
        child = subprocess.Popen([str(c) for c in cmd], stdout=stdout, stderr=stderr, env=ENV)
        while child.poll() is None:
            peak = max(peak, tree_rss(child.pid))
            time.sleep(0.2)
    return {"seconds": round(time.perf_counter() - started, 2), "peak_mib": round(peak / 2**20), "exit": child.returncode}


def generate(folder: Path, orders: int, fmt: str, truth: bool, native: bool = False, meta_only: bool = False) -> None:
    """The shop in one format, unless this folder already holds it (generation is not what is measured).
    `native`: Meta only, the server events as a request log (capi.native.jsonl). `meta_only`: Meta only, canonical
    files (with the same seed and orders: the same events as the native log)."""
    params = {"orders": orders, "format": fmt, "rates": RATES, "truth": truth, "seed": 7}
    if native or meta_only:  # added only here, so the canonical shops cached by earlier runs stay valid
        params |= {"platforms": "meta", **({"native": True} if native else {})}
    marker = folder / "params.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return
    rates = folder.parent / "rates.json"
    folder.parent.mkdir(parents=True, exist_ok=True)
    rates.write_text(json.dumps(RATES))
    subprocess.run([sys.executable, "-m", "dedupaudit", "generate", folder, "--orders", str(orders), "--seed", "7",
                    "--format", fmt, "--rates", rates, "--force", "--truth" if truth else "--no-truth",
                    *(["--platforms", "meta"] if native or meta_only else []), *(["--native"] if native else [])], check=True, env=ENV)
    marker.write_text(json.dumps(params))


def audit_cmd(folder: Path, fmt: str) -> list:
    return [sys.executable, "-m", "dedupaudit", "check", "--pixel", folder / f"pixel.{fmt}", "--capi", folder / f"capi.{fmt}",
            "--orders", folder / f"orders.{fmt}", "--format", "json", "--fail-on", "never", "--quiet"]


def purchase_figures(platforms: list[dict]) -> dict:
    return {e["platform"]: [e["reported_conversions"], e["orders"]] for e in platforms if e["event"] == "purchase"}


def native_figures(source: str, data) -> dict:
    """The native log's figures from the audit's JSON, the query's rows or truth.json: server events, and per
    platform the purchase events and the purchases reported. truth.json's reported purchases count the pixel
    too (the shop has one, this run does not read it), so it gives the first two only."""
    if source == "sql":
        return {"events": sum(row[1] for row in data), "purchase_events": {p: n for p, _, n, _ in data},
                "reported": {p: n for p, _, _, n in data}}
    purchases = [e for e in data["platforms"] if e["event"] == "purchase"]
    figures = {"events": data["inputs"]["capi"]["rows"] if source == "audit" else data["rows"]["capi"],
               "purchase_events": {e["platform"]: e["capi_events"] for e in purchases}}
    return figures if source == "truth" else {**figures, "reported": {e["platform"]: e["reported_conversions"] for e in purchases}}


def agree(figures: dict[str, dict]) -> bool:
    """Every source gives the same figures; truth.json may give fewer of them, never other values."""
    whole = [f for name, f in figures.items() if name != "truth"]
    if not whole:
        return True
    return all(f == whole[0] for f in whole) and all(whole[0].get(k) == v for k, v in figures.get("truth", {}).items())


def timed(folder: Path, cmds: dict, read: dict, truth_file: Path, places: dict | None = None) -> dict:
    """Run each command (name: its command and output file, in `folder` or its folder in `places`) in a fresh process,
    read the figures of those that give some (`read`: name to reader of its JSON output), and stop unless they equal
    each other and truth.json's."""
    where = lambda name: (places or {}).get(name, folder) / cmds[name][1]  # noqa: E731
    runs = {name: fresh(cmd, where(name)) for name, (cmd, _) in cmds.items()}
    figures = {name: read[name](json.loads(where(name).read_text())) for name in cmds if name in read and runs[name]["exit"] == 0}
    if truth_file.exists():
        figures["truth"] = read["truth"](json.loads(truth_file.read_text()))
    for name, run in runs.items():
        if run["exit"] != 0:
            print(f"{folder}: {name} failed (exit {run['exit']}); its stderr is beside its output there", file=sys.stderr)
    assert agree(figures), f"{folder}: the figures differ: {figures}"
    return {**runs, "figures": figures, "checked": list(figures)}


def measure(folder: Path, fmt: str, truth_file: Path) -> dict:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    files = [f"{n}={reader}('{folder}/{n}.{fmt}')" for n in ("pixel", "capi", "orders")]
    cmds = {"audit": (audit_cmd(folder, fmt), "audit.json"),
            "sql": ([sys.executable, "-c", QUERY, HERE / "handwritten.sql", *files], "sql.json"),
            "pyarrow": ([sys.executable, "-c", PARSE, folder, fmt], "parse.txt")}
    return timed(folder, cmds, {"audit": lambda d: purchase_figures(d["platforms"]),
                                "sql": lambda d: {p: [n, orders] for p, n, orders, _ in d},
                                "truth": lambda d: purchase_figures(d["platforms"])}, truth_file)


def native_cmd(folder: Path, name: str = "capi.native.jsonl") -> list:
    return [sys.executable, "-m", "dedupaudit", "check", "--capi", folder / name, "--format", "json", "--fail-on", "never", "--quiet"]


def measure_native(folder: Path, parquet: Path) -> dict:
    """The log's audit and query, and two audits that bound what any reading of the log could reach (the floors):
    the same server events as a canonical Parquet file (`parquet`: the same shop written with `generate --platforms
    meta`; reading it is nearly free), and one of them alone (Python's start-up and the audit's fixed cost)."""
    log = folder / "capi.native.jsonl"
    one = parquet / "one.parquet"  # written each time: a shop generated again must not keep an older shop's event
    first = next(pyarrow.parquet.ParquetFile(parquet / "capi.parquet").iter_batches(batch_size=1))
    pyarrow.parquet.write_table(pyarrow.Table.from_batches([first]), one)
    cmds = {"audit": (native_cmd(folder), "audit.json"),
            "sql": ([sys.executable, "-c", QUERY, HERE / "native.sql", f"log={log}"], "sql.json"),
            "audit_parquet": (native_cmd(parquet, "capi.parquet"), "audit.json"),
            "audit_one": (native_cmd(parquet, "one.parquet"), "audit-one.json")}
    places = {"audit_parquet": parquet, "audit_one": parquet}
    read = lambda source: lambda d: native_figures(source, d)  # noqa: E731
    measured = timed(folder, cmds, {"audit": read("audit"), "sql": read("sql"), "audit_parquet": read("audit"),
                                    "truth": read("truth")}, folder / "truth.json", places)
    return {**measured, "log_mib": round(log.stat().st_size / 2**20)}


def measure_spark(folder: Path) -> dict:
    """The Parquet shop on Spark local mode, handed the rows this machine reads, and read by Spark in place (the same
    files as file:// URIs); the embedded audit.json of the same files must exist (measure() wrote it)."""
    embedded = json.loads((folder / "audit.json").read_text())
    lake = [str(a) for a in audit_cmd(folder, "parquet")]
    lake = [f"file://{a}" if a.endswith(".parquet") else a for a in lake]
    runs = {"spark": fresh_tree([*audit_cmd(folder, "parquet"), "--engine", "spark", "--spark-master", "local[*]"], folder / "spark.json"),
            "spark_lake": fresh_tree([*lake, "--engine", "spark", "--spark-master", "local[*]"], folder / "spark-lake.json")}
    same = {}
    for name, run in runs.items():
        try:  # Spark names a file it read by its URI (file:/...), the embedded run by its path
            text = (folder / f"{name.replace('_', '-')}.json").read_text().replace(f"file:{folder}", str(folder))
            same[name] = run["exit"] == 0 and json.loads(text) == embedded
        except ValueError:  # not JSON: something else wrote to stdout
            same[name] = False
        assert run["exit"] != 0 or same[name], f"{folder}: the Spark result ({name}) differs from the embedded one (audit.json)"
    return {**runs, "same_result": same["spark"], "same_result_lake": same["spark_lake"]}


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


def stage_profile(cmd: list) -> dict:
    """Where the time of one `dedupaudit check` goes (PROFILE_STAGES in a fresh process, timed from outside): seconds per
    stage, and what is left outside the queries (Python start-up, the rule files, the report)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROFILE_STAGES, json.dumps(STAGES), *[str(c) for c in cmd[3:]]],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    wall = time.perf_counter() - started
    try:
        profiled = json.loads(done.stderr.strip().splitlines()[-1])
    except (IndexError, ValueError):  # the script itself did not finish
        profiled = {"exit": done.returncode}
    if profiled["exit"] != 0:  # the audit failed: the timed rows above say so, and the other results are kept
        print(f"the stage profile of {' '.join(map(str, cmd[3:]))} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return {"wall": round(wall, 2), "stages": {}, "exit": profiled["exit"]}
    seconds = profiled["seconds"]
    ordered = {name: round(seconds[name], 2) for _, name in [*STAGES, ("", "other queries")] if name in seconds}
    return {"wall": round(wall, 2), "stages": {**ordered, "outside the queries (start-up, rule files, the report)":
                                               round(wall - sum(seconds.values()), 2)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="*", default=[1_000_000, 10_000_000, 100_000_000],
                        help="canonical shop sizes (events); none given: skipped")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dedupaudit-bench"))
    parser.add_argument("--native-events", type=int, nargs="*", default=[1_000_000, 10_000_000],
                        help="native CAPI log sizes (server events); none given: skipped")
    parser.add_argument("--no-native", dest="native_events", action="store_const", const=[], help="skip the native CAPI logs")
    parser.add_argument("--truth-up-to", type=int, default=10_000_000, help="compute truth.json up to this many events")
    parser.add_argument("--native-truth-up-to", type=int, default=1_000_000,
                        help="compute truth.json for native logs up to this many server events (the whole shop's model: about 4 minutes per million)")
    parser.add_argument("--spark-events", type=int, nargs="*", default=[],
                        help="also audit the Parquet shop of these sizes on Spark local mode (needs the spark extra and Java)")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="where RESULTS.md goes (results.json beside it)")
    args = parser.parse_args()
    rows = []
    for events in args.events:
        orders = round(events / events_per_order(RATES))
        truth_file = args.work / str(events) / args.formats[0] / "truth.json"
        row = {"events_target": events, "orders": orders, "commit": COMMIT}
        for i, fmt in enumerate(args.formats):
            folder = args.work / str(events) / fmt
            generate(folder, orders, fmt, truth=i == 0 and events <= args.truth_up_to)
            row[fmt] = measure(folder, fmt, truth_file)
        written = json.loads((args.work / str(events) / args.formats[0] / "audit.json").read_text())["inputs"] \
            if row[args.formats[0]]["audit"]["exit"] == 0 else None
        row["events"] = written["pixel"]["rows"] + written["capi"]["rows"] if written else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    native = []
    for events in args.native_events:
        folder = args.work / str(events) / "native"  # the pixel and orders files beside the log are not read: Parquet, quickest to write
        orders = round(events / server_events_per_order(RATES))
        generate(folder, orders, "parquet", truth=events <= args.native_truth_up_to, native=True)
        generate(parquet := args.work / str(events) / "native-parquet", orders, "parquet", truth=False, meta_only=True)
        row = {"events_target": events, "commit": COMMIT, **measure_native(folder, parquet)}
        audit = folder / "audit.json"
        row["events"] = json.loads(audit.read_text())["inputs"]["capi"]["rows"] if row["audit"]["exit"] == 0 else None
        native.append(row)
        print(json.dumps(row), flush=True)
    spark = []
    for events in args.spark_events:
        folder = args.work / str(events) / "parquet"
        generate(folder, round(events / events_per_order(RATES)), "parquet", truth=False)
        embedded = next((r["parquet"]["audit"] for r in rows if r["events_target"] == events and "parquet" in r), None) \
            or fresh(audit_cmd(folder, "parquet"), folder / "audit.json")
        row = {"events_target": events, "commit": COMMIT, "embedded": embedded, **measure_spark(folder)}
        row["events"] = sum(json.loads((folder / "audit.json").read_text())["inputs"][side]["rows"] for side in ("pixel", "capi"))
        spark.append(row)
        print(json.dumps(row), flush=True)
    # The profile is of the smallest size; a run of large sizes only keeps the previous one.
    small = args.events and min(args.events) <= 10_000_000
    fmt = "parquet" if "parquet" in args.formats else args.formats[-1]  # one format run after run: the before and after compare
    prof = profile(args.work / str(min(args.events)) / fmt, fmt) if small else None
    # Where the time goes: at the largest size up to the targets' (10M canonical events, 1M native), in the format profiled.
    stages = {}
    canonical = max((e for e in args.events if e <= 10_000_000), default=None)
    if canonical:
        folder = args.work / str(canonical) / fmt
        stages["canonical"] = {"events_target": canonical, "format": fmt, "commit": COMMIT,
                               **stage_profile(audit_cmd(folder, fmt))}
    logs = min(args.native_events, default=None)
    if logs:
        folder = args.work / str(logs) / "native"
        stages["native"] = {"events_target": logs, "commit": COMMIT, **stage_profile(native_cmd(folder))}
    write_results(*kept_rows(rows, native, spark, args), args, prof, stages)


def kept_rows(rows: list[dict], native: list[dict], spark: list[dict], args) -> tuple[list[dict], list[dict], list[dict]]:
    """This run's rows, and the previous results.json's rows of the sizes this run did not measure (each row
    names its commit), so sizes can be measured in separate runs: 100M alone takes most of an hour."""
    path = args.results.with_name("results.json")
    before = json.loads(path.read_text()) if path.exists() else {}
    merged = []
    for new, old in ((rows, before.get("rows", [])), (native, before.get("native", [])), (spark, before.get("spark", []))):
        measured = {r["events_target"] for r in new}
        merged.append(sorted(new + [r for r in old if r["events_target"] not in measured], key=lambda r: r["events_target"]))
    return merged[0], merged[1], merged[2]


def ratio(a, b) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def write_results(rows: list[dict], native: list[dict], spark: list[dict], args, prof: list[str], stages: dict | None = None) -> None:
    results_json = args.results.with_name("results.json")
    before = json.loads(results_json.read_text()) if results_json.exists() else None
    before_prof = before.get("profile") if isinstance(before, dict) else None
    if prof is None:  # not profiled in this run: the previous profile stays, as it was
        prof, before_prof = before_prof or [], (before or {}).get("profile_before")
    stages = {**((before or {}).get("stages") or {}), **(stages or {})}  # a kind this run did not profile keeps its last profile
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# Benchmark results", "",
        f"Written {time.strftime('%Y-%m-%d')} by `python benchmarks/run.py` (each row names the commit it measured; hand-written "
        f"notes on these figures are in [NOTES.md](NOTES.md)) on {os.cpu_count()} cores and "
        f"{memory:.0f} GiB, Python {platform.python_version()}, pyarrow {pyarrow.__version__}, DuckDB {duckdb.__version__}. "
        "Each figure is one fresh process, timed from outside: wall seconds, CPU seconds and that process's peak memory.", ""]
    if rows:
        lines += canonical_table(rows, args)
    if native:
        lines += native_table(native)
    lines += work_table(rows, native)
    if native:
        lines += floors_table(native)
    if spark:
        lines += spark_table(spark)
    lines += targets_table(rows, native)
    if any(profiled["stages"] for profiled in stages.values()):
        lines += stages_table(stages, rows, native)
    if prof:
        lines += ["## Profile", "", "This run:", "", "```", *prof, "```", ""]
        if before_prof:
            lines += ["Before (the previous results.json):", "", "```", *before_prof, "```", ""]
    lines += ["Raw figures: `results.json`.", ""]
    args.results.write_text("\n".join(lines))
    results_json.write_text(json.dumps({"rows": rows, "native": native, "spark": spark, "stages": stages, "profile": prof, "profile_before": before_prof},
                                       indent=2) + "\n")


def canonical_table(rows: list[dict], args) -> list[str]:
    lines = [
        "**audit**: `dedupaudit check --format json` (reading, audit, report); **SQL**: `benchmarks/handwritten.sql` "
        "in DuckDB straight from the files; **pyarrow**: reading the three files, nothing else (the floor).", "",
        "Shop: `dedupaudit generate --seed 7` with the default rates and no placeholder IDs "
        f"({', '.join(f'{k} {v}' for k, v in RATES.items())}). In every run the per-platform purchase conversions and "
        "real orders of the audit equal the SQL's and truth.json's (the columns under *checked*).", "",
        "| events | format | audit s | audit MiB | SQL s | SQL MiB | pyarrow s | pyarrow MiB | audit ÷ SQL | audit ÷ pyarrow | memory ÷ SQL's | checked | commit |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        for fmt in [f for f in FORMATS if f in r]:
            m = r[fmt]
            a, s, p = (m[k] if m[k]["exit"] == 0 else {"seconds": None, "peak_mib": None} for k in ("audit", "sql", "pyarrow"))
            lines.append(f"| {r['events'] or r['events_target']:,} | {fmt} | {a['seconds'] or 'failed'} | {a['peak_mib'] or '-'} | "
                         f"{s['seconds'] or 'failed'} | {s['peak_mib'] or '-'} | {p['seconds'] or 'failed'} | {p['peak_mib'] or '-'} | "
                         f"{ratio(a['seconds'], s['seconds'])} | {ratio(a['seconds'], p['seconds'])} | "
                         f"{ratio(a['peak_mib'], s['peak_mib'])} | {' = '.join(m['checked'])} | {r.get('commit', '-')} |")
    first = rows[0]
    same = [r for r in rows[1:] if r["commit"] == first["commit"]]  # a ratio across commits would mix code changes in
    if not same:
        return lines + [""]
    lines += ["", f"Scaling: time at each size ÷ time at {first['events'] or first['events_target']:,} events, rows of the same "
                  f"commit ({first['commit']}) only (10x the events should be about 10x the time).", "",
              "| events | format | audit | SQL |", "|---:|---|---:|---:|"]
    for r in same:
        for fmt in [f for f in FORMATS if f in r and f in first]:
            lines.append(f"| {r['events'] or r['events_target']:,} | {fmt} | "
                         f"{ratio(r[fmt]['audit']['seconds'] if r[fmt]['audit']['exit'] == 0 else None, first[fmt]['audit']['seconds'])} | "
                         f"{ratio(r[fmt]['sql']['seconds'] if r[fmt]['sql']['exit'] == 0 else None, first[fmt]['sql']['seconds'])} |")
    return lines + [""]


NAMES = {"audit_parquet": "from Parquet"}  # a run's name in the *checked* column


def native_table(native: list[dict]) -> list[str]:
    lines = [
        "## Native CAPI request log", "",
        "Log: `dedupaudit generate --seed 7 --platforms meta --native` with the same rates (no placeholder IDs): the Meta server events as "
        "request bodies, one per line, wrapped as `{timestamp, url, body: {data: [event]}}` (`capi.native.jsonl`). "
        "**audit**: `dedupaudit check --capi capi.native.jsonl --format json`; **SQL**: `benchmarks/native.sql` "
        "(`read_json` and `unnest(body.data)`) in DuckDB. Both read the log only: the query covers the server events, "
        "so the pixel and orders files the generator also writes are left out of both (like with like). In every run "
        "the server events, and per platform the purchase events and the purchases reported after deduplication, "
        "of the audit equal the SQL's and those of the audit of the same events from Parquet (*from Parquet*, in "
        "*What the native target leaves* below); truth.json (where computed) confirms the events and purchase events (its "
        "reported purchases count the browser pixel too).", "",
        "| events | log MiB | audit s | audit MiB | SQL s | SQL MiB | audit ÷ SQL | memory ÷ SQL's | checked | commit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in native:
        a, s = (r[k] if r[k]["exit"] == 0 else {"seconds": None, "peak_mib": None} for k in ("audit", "sql"))
        lines.append(f"| {r['events'] or r['events_target']:,} | {r['log_mib']:,} | {a['seconds'] or 'failed'} | {a['peak_mib'] or '-'} | "
                     f"{s['seconds'] or 'failed'} | {s['peak_mib'] or '-'} | {ratio(a['seconds'], s['seconds'])} | "
                     f"{ratio(a['peak_mib'], s['peak_mib'])} | {' = '.join(NAMES.get(c, c) for c in r['checked'])} | {r.get('commit', '-')} |")
    return lines + [""]


def work_table(rows: list[dict], native: list[dict]) -> list[str]:
    """The CPU seconds of the runs above: how much work each did, and how many cores it kept busy doing it."""
    lines = []
    cpu = lambda run: run.get("cpu_s") if _done(run) else None  # noqa: E731 (rows of earlier runs have none)
    busy = lambda run: f"{run['cpu_s'] / run['seconds']:.2f}" if cpu(run) and run["seconds"] else "-"  # noqa: E731

    def line(events: int, kind: str, audit: dict, sql: dict, commit: str) -> None:
        if cpu(audit) and cpu(sql):
            lines.append(f"| {events:,} | {kind} | {audit['cpu_s']} | {sql['cpu_s']} | {ratio(audit['cpu_s'], sql['cpu_s'])} | "
                         f"{busy(audit)} | {busy(sql)} | {commit} |")
    for r in rows:
        for fmt in [f for f in FORMATS if f in r]:
            line(r["events"] or r["events_target"], fmt, r[fmt]["audit"], r[fmt]["sql"], r["commit"])
    for r in native:
        line(r["events"] or r["events_target"], "native log", r["audit"], r["sql"], r["commit"])
    if not lines:
        return []
    return ["## The work: CPU seconds", "",
            f"The CPU seconds (user and system, every thread) of the runs above. **cores busy**: CPU ÷ wall seconds, of "
            f"{os.cpu_count()} cores. A run that keeps every core busy is bound by the work it does, not by waiting: running "
            "its statements side by side would not make it quicker, only less work would.", "",
            "| events | input | audit CPU s | SQL CPU s | audit ÷ SQL | cores busy: audit | cores busy: SQL | commit |",
            "|---:|---|---:|---:|---:|---:|---:|---|", *lines, ""]


def floors_table(native: list[dict]) -> list[str]:
    """Two audits that bound what any reading of the native log could reach: of the same events from Parquet (reading
    nearly free) and of one event (Python's start-up and the audit's fixed cost), beside the query and its 2x target."""
    lines = []
    for r in native:
        sql, parquet, one = r["sql"], r.get("audit_parquet"), r.get("audit_one")
        if not (_done(sql) and _done(parquet) and _done(one)):
            continue
        lines.append(f"| {r['events'] or r['events_target']:,} | {sql['seconds']} | {sql['peak_mib']} | {2 * sql['seconds']:.2f} | "
                     f"{2 * sql['peak_mib']} | {parquet['seconds']} | {parquet['peak_mib']} | {ratio(parquet['seconds'], sql['seconds'])} | "
                     f"{ratio(parquet['peak_mib'], sql['peak_mib'])} | {one['seconds']} | {one['peak_mib']} | "
                     f"{one['seconds'] / (2 * sql['seconds']):.0%} | {ratio(r['audit']['seconds'] if _done(r['audit']) else None, parquet['seconds'])} | "
                     f"{r['commit']} |")
    if not lines:
        return []
    return ["## What the native target leaves", "",
            "Issue 14 asks for the log's audit in at most 2x the time and memory of the `read_json` query. Two more fresh "
            "audits of the same commit show what that leaves for reading the log: **from Parquet**, the same server events "
            "(the same shop written by `generate --platforms meta` without `--native`) audited from a canonical Parquet file, "
            "whose reading costs next to nothing, with the same figures as the log's audit; **one event**, the first of "
            "them alone: Python's start-up, the imports and the audit's statements on tiny tables. A log audit can be no "
            "quicker than the first, and no audit quicker than the second. **log ÷ from Parquet**: the log's audit (its row "
            "above) ÷ the audit from Parquet, the cost of reading the log, which a quicker reader can still lower.", "",
            "| events | query s | query MiB | 2x: s | 2x: MiB | from Parquet s | MiB | ÷ query s | ÷ query MiB | one event s | MiB "
            "| one event ÷ the 2x time | log ÷ from Parquet | commit |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", *lines, ""]


def _done(run: dict | None) -> bool:
    return bool(run) and run.get("exit") == 0


def targets_table(rows: list[dict], native: list[dict]) -> list[str]:
    """The performance issues' targets (10: the canonical audit, 14: native logs) read off the rows: met, or missed by how much."""
    lines = []

    def bound(target: str, value: float, limit: float, commit: str) -> None:
        verdict = "yes" if value <= limit else f"no: missed by {value / limit:.1f}x"
        lines.append(f"| {target} | {value:.1f}x | {verdict} | {commit} |")

    def completes(target: str, run: dict, commit: str) -> None:
        fits = _done(run) and run["peak_mib"] <= 24 * 1024
        lines.append(f"| {target} | exit {run['exit']}, peak {run['peak_mib']:,} MiB | {'yes' if fits else 'no'} | {commit} |")

    at = lambda table, events, key=None: next((r for r in table if r["events_target"] == events and (key is None or key in r)), None)  # noqa: E731
    for fmt in FORMATS:
        ten, one, hundred = at(rows, 10_000_000, fmt), at(rows, 1_000_000, fmt), at(rows, 100_000_000, fmt)
        if ten and _done(ten[fmt]["audit"]) and _done(ten[fmt]["sql"]):
            audit, sql, parse = ten[fmt]["audit"], ten[fmt]["sql"], ten[fmt]["pyarrow"]
            bound(f"audit ÷ hand-written SQL ≤ 1.3 at 10M events ({fmt})", audit["seconds"] / sql["seconds"], 1.3, ten["commit"])
            if _done(parse):
                bound(f"audit ÷ pyarrow parse ≤ 4 at 10M events ({fmt})", audit["seconds"] / parse["seconds"], 4, ten["commit"])
            bound(f"peak memory ≤ 1.5x the SQL's at 10M events ({fmt})", audit["peak_mib"] / sql["peak_mib"], 1.5, ten["commit"])
            if one and one["commit"] == ten["commit"] and _done(one[fmt]["audit"]):
                bound(f"time at 10M ≤ 11x time at 1M ({fmt})", audit["seconds"] / one[fmt]["audit"]["seconds"], 11, ten["commit"])
        if hundred:
            completes(f"100M events complete in 24 GiB ({fmt})", hundred[fmt]["audit"], hundred["commit"])
    one, ten = at(native, 1_000_000), at(native, 10_000_000)
    if one and _done(one["audit"]) and _done(one["sql"]):
        bound("native log: audit ÷ the read_json query ≤ 2 at 1M events", one["audit"]["seconds"] / one["sql"]["seconds"], 2, one["commit"])
        bound("native log: peak memory ≤ 2x the query's at 1M events", one["audit"]["peak_mib"] / one["sql"]["peak_mib"], 2, one["commit"])
    if ten:
        completes("native log: 10M events complete on this machine (24 GiB)", ten["audit"], ten["commit"])
    if not lines:
        return []
    return ["## Targets", "",
            "The targets of the performance issues (10: the canonical audit; 14: native logs), read off the rows above. "
            "Where one is missed, by how much; **Where the time goes** (below) shows why, and [NOTES.md](NOTES.md) what was tried.", "",
            "| target | measured | met? | commit |", "|---|---|---|---|", *lines, ""]


def stages_table(stages: dict, rows: list[dict], native: list[dict]) -> list[str]:
    """Each profiled run's seconds per stage, beside the hand-written query's whole time on the same files."""
    lines = ["## Where the time goes", "",
             "One more fresh `dedupaudit check` of the files above, each DuckDB statement timed in-process and put in the stage "
             "of the code that ran it; what is left of the wall time (timed from outside) is outside the queries. "
             "**÷ SQL**: the stage's time ÷ the hand-written query's whole time on the same files (its row above): a stage "
             "above 1.3 alone misses the time target.", ""]
    for kind, profiled in stages.items():
        if not profiled["stages"]:
            continue
        if kind == "canonical":
            row = next((r for r in rows if r["events_target"] == profiled["events_target"] and profiled["format"] in r), None)
            sql = row[profiled["format"]]["sql"] if row else None
            title = f"{(row or {}).get('events') or profiled['events_target']:,} events, {profiled['format']}"
        else:
            row = next((r for r in native if r["events_target"] == profiled["events_target"]), None)
            sql = row["sql"] if row else None
            title = f"native CAPI log, {(row or {}).get('events') or profiled['events_target']:,} server events"
        sql_seconds = sql["seconds"] if _done(sql) else None
        lines += [f"**{title}** (commit {profiled['commit']}): {profiled['wall']} s in all"
                  + (f"; the hand-written query {sql_seconds} s" if sql_seconds else "") + ".", "",
                  "| stage | s | share | ÷ SQL |", "|---|---:|---:|---:|"]
        for stage, seconds in profiled["stages"].items():
            lines.append(f"| {stage} | {seconds:.2f} | {seconds / profiled['wall']:.0%} | {ratio(seconds, sql_seconds)} |")
        lines.append("")
    return lines


def spark_table(spark: list[dict]) -> list[str]:
    lines = [
        "## Spark local mode", "",
        "The Parquet shop of the table above audited with `--engine spark --spark-master local[*]` (the same SQL, translated) "
        "beside the embedded run of the same files: **handed**, the files given as local paths, read on this machine and "
        "their rows handed to Spark as Arrow; **in place**, the same files given as `file://` URIs, read by Spark itself "
        "(as from object storage). **same result**: each JSON result equals the embedded one (file names aside). Spark's memory "
        "is the process tree's (Python and the JVM), sampled.", "",
        "| events | embedded s | embedded MiB | Spark handed s | MiB | Spark in place s | MiB | in place ÷ embedded | same result | commit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in spark:
        e, s, lake = r["embedded"], r["spark"], r.get("spark_lake")
        seconds = lambda run: (run["seconds"] if run["exit"] == 0 else "failed") if run else "-"  # noqa: E731
        same = "yes" if r["same_result"] and r.get("same_result_lake", True) else "no"
        lines.append(f"| {r['events'] or r['events_target']:,} | {e['seconds']} | {e['peak_mib']} | {seconds(s)} | {s['peak_mib']} | "
                     f"{seconds(lake)} | {lake['peak_mib'] if lake else '-'} | "
                     f"{ratio(lake['seconds'] if lake and lake['exit'] == 0 else None, e['seconds'])} | {same} | {r['commit']} |")
    return lines + [""]


if __name__ == "__main__":
    main()
