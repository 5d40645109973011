"""One result, every view: each figure of the JSON shows in Markdown, HTML and the terminal, in one order of
findings, with per-platform (never summed) and per-currency money, and days in the --timezone zone.

The figures are checked cell by cell: a per-platform figure must be in that platform's row or column of a table,
a daily figure in that day's row under that platform, so a figure shown elsewhere by chance does not pass.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from dedupaudit.baseline import MetricChange, compare
from dedupaudit.reports import RENDERERS, RenderOptions
from dedupaudit.reports import rich_report
from dedupaudit.reports import grids as G
from dedupaudit.reports.diff_report import subject
from dedupaudit.reports import summary as S
from dedupaudit.reports.diff_report import metric_values
from dedupaudit.result import finding_order
from tests.report_helpers import REPO, example_dict, finding, result_from_dict

# ---------------------------------------------------------------- reading tables back out of each format


def md_tables(md: str) -> list[tuple[str, list[list[str]]]]:
    """(heading above it, rows of cells) per Markdown table; escapes removed, bold stripped."""
    tables, title = {}, None
    for line in md.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().replace("\\", "")
        elif line.startswith("|"):
            cells = [c.strip().replace("\\", "").strip("*") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if not set("".join(cells)) <= set("-: "):
                tables.setdefault(title, []).append(cells)
    return list(tables.items())


def html_tables(html: str) -> list[tuple[str, list[list[str]]]]:
    """(the <h3> title before it, rows of cells) per HTML table; a wide table may come in several parts."""
    tables = []
    for title, body in re.findall(r"<h3>([^<]*)</h3><div class=\"wide\"><table[^>]*>(.*?)</table>", html, re.S):
        rows = [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
                for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
        tables.append((unescape(title), rows))
    return tables


def table(tables: list, prefix: str) -> list[list[list[str]]]:
    """The parts of the table whose title starts with `prefix` (one part, or several for a wide table)."""
    found = [rows for title, rows in tables if title and title.startswith(prefix)]
    assert found, f"no table titled {prefix!r}: {[t for t, _ in tables]}"
    return found


def cell(parts: list[list[list[str]]], row_label: str, column: str) -> str:
    for rows in parts:
        row = next((r for r in rows[1:] if r[0] == row_label), None)
        if row is not None and column in rows[0]:
            return row[rows[0].index(column)]
    raise AssertionError(f"no cell ({row_label!r}, {column!r}) in {[rows[0] for rows in parts]}")


def entry_cells(tables: list, label: str) -> list[str]:
    """Every cell about one platforms[] entry: its row of the summary, its column of the details, its unconfirmed rules."""
    out = []
    for prefix in ("Purchases", "Details", "Unconfirmed"):
        for title, rows in tables:
            if title and title.startswith(prefix):
                out += [c for r in rows[1:] if r[0] == label for c in r]
                if label in rows[0]:
                    out += [r[rows[0].index(label)] for r in rows[1:]]
    return out


# ---------------------------------------------------------------- the JSON figures, formatted as the reports do

def shown(key: str, value) -> str:
    if key in ("inflation_ratio", "low_ratio", "high_ratio"):
        return f"{value:.2f}"
    if key == "coverage":
        return f"{value:.0%}"
    if key == "model_gap":
        return f"{value:+.1%}"
    if key == "window_hours":
        return f"{value:g} h"
    if key == "average_order_value":
        return f"{value:,.2f}"
    if key == "extra_revenue":
        return f"{value:,.0f}"
    if key == "extra_conversions":
        return f"{value:+,}" if value else "0"
    return f"{value:,}"


def platform_figures(entry: dict) -> list[tuple[str, str]]:
    """(path, text) for every number of one platforms[] entry."""
    out = []

    def walk(path: str, key: str, value):
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{path}.{k}", key, v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{path}[{i}]", key, v)
        elif isinstance(value, (int, float)):
            out.append((path, shown(key, value)))

    for key, value in entry.items():
        if key in ("inflation_range",):
            for end in ("low", "high"):
                walk(f"{key}.{end}", f"{end}_ratio", (value or {}).get(end))
        elif key.endswith("_by_currency"):
            walk(key, key.removesuffix("_by_currency"), value)
        elif key == "unconfirmed_rules":
            for i, rule in enumerate(value):
                for k in ("reported_if_true", "reported_if_false"):
                    walk(f"{key}[{i}].{k}", k, rule[k])
        else:
            walk(key, key, value)
    return out


@pytest.fixture(scope="module")
def full():
    """The example shop with every optional part filled: a dashboard figure, a daily dashboard row and a baseline."""
    data = json.loads(json.dumps(example_dict()))
    meta = next(p for p in data["platforms"] if p["platform"] == "meta" and p["event"] == "purchase")
    meta["platform_reported"], meta["model_gap"] = 3100, round(meta["reported_conversions"] / 3100 - 1, 6)
    day = next(d for d in data["daily"] if d["platform"] == "meta")
    day["platform_reported"], day["model_gap"] = 230, round(day["reported_conversions"] / 230 - 1, 6)
    old = json.loads(json.dumps(data))
    old_meta = next(p for p in old["platforms"] if p["platform"] == "meta" and p["event"] == "purchase")
    old_meta["inflation_ratio"], old_meta["extra_conversions"] = 1.1, 290
    old["findings"] = [f for f in old["findings"] if f["code"] != "DA105"]
    result = result_from_dict(data)
    result.baseline = compare(old, data, names=("last-week.json", "this run")).to_dict()
    data["baseline"] = result.baseline
    return data, result


@pytest.fixture(scope="module")
def views(full):
    _, result = full
    options = RenderOptions(title="Example shop")
    return {fmt: RENDERERS[fmt](result, options) for fmt in ("markdown", "html")} | {
        "rich": RENDERERS["rich"](result, RenderOptions(width=140))}


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_every_per_platform_figure_is_in_that_platforms_row_or_column(full, views, fmt):
    data, result = full
    tables = md_tables(views[fmt]) if fmt == "markdown" else html_tables(views[fmt])
    for entry, summary in zip(data["platforms"], result.platforms):
        cells = entry_cells(tables, G.entry_label(summary))
        assert cells, entry["platform"]
        for path, text in platform_figures(entry):
            assert any(text in c for c in cells), f"{fmt}: {G.entry_label(summary)} {path} = {text} not in {cells}"


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_every_daily_row_pair_gap_input_and_baseline_change_is_in_its_cell(full, views, fmt):
    data, result = full
    tables = md_tables(views[fmt]) if fmt == "markdown" else html_tables(views[fmt])
    names = S.display_names(result)
    daily = table(tables, "Day by day")
    for d in data["daily"]:
        name = names[d["platform"]]
        assert cell(daily, d["date"], name) == f"{d['reported_conversions']:,}"
        assert cell(daily, d["date"], "Real orders") == f"{d['orders']:,}"
        if d["platform_reported"] is not None:
            assert cell(daily, d["date"], f"{name} dashboard") == f"{d['platform_reported']:,}"
            assert cell(daily, d["date"], f"{name} vs dashboard") == f"{d['model_gap']:+.1%}"
    gaps = table(tables, "Time between")
    for g in data["pair_gaps"]:
        assert cell(gaps, g["bucket"], names[g["platform"]]) == f"{g['pairs']:,}"
    inputs = table(tables, "Rows read per input")
    for side, label in S.SIDE_LABELS:
        s = data["inputs"][side]
        for column, key in (("Rows read", "rows"), ("Rejected", "rejected"), ("Outside the period", "outside_period"),
                            ("IDs stored as numbers", "numeric_ids")):
            assert cell(inputs, label, column) == f"{s[key]:,}"
        for f in s["per_file"]:
            assert f"{f['rows']:,} rows read = {f['used']:,} used + {f['rejected']:,} rejected" in views[fmt]
    baseline = table(tables, "Since the baseline")[0]
    assert data["baseline"]["metrics"], "the test baseline must change a metric"
    for m in data["baseline"]["metrics"]:
        row = next(r for r in baseline[1:] if r[0] == subject(m["display_name"], m["event"]) and r[1] == m["label"])
        assert row[2:6] == list(metric_values(MetricChange(**m))), row
    assert "DA105" in views[fmt][views[fmt].index("REGRESSION since last-week.json"):]  # the new finding, listed
    period = S.period(result)
    assert period.startswith("2026-10-05 00:18:47 UTC") and period in views[fmt]


def test_the_terminal_report_shows_the_same_figures(full, views):
    data, result = full
    rich = views["rich"]
    for entry in data["platforms"]:
        for path, text in platform_figures(entry):
            assert text in rich, (entry["platform"], path, text)
    for d in data["daily"]:
        assert re.search(rf"│ {d['date']} │ +{d['orders']:,} │", rich)
    assert S.period(result) in rich and "REGRESSION since last-week.json" in rich
    for line in S.headline(result)[1]:
        assert " ".join(line.split()) in " ".join(rich.split())


def test_findings_in_one_order_in_every_format(full, views):
    data, result = full
    assert [f["code"] for f in data["findings"]] == [f.code for f in sorted(result.findings, key=finding_order)]
    expected = [f.code for _, group in S.by_platform(result.findings) for f in group]
    md = re.findall(r"^#### \w+ (DA\d+) ", views["markdown"], re.M)
    html = re.findall(r'<span class="code">(DA\d+)</span>', views["html"])
    rich = re.findall(r"^(?:ERROR|WARNING|INFO) +(DA\d+) ", views["rich"], re.M)
    assert md == html == rich == expected
    # Grouping by platform keeps the JSON order within each platform, and the platform of the first finding leads.
    for platform, group in S.by_platform(result.findings):
        assert [f.code for f in group] == [f["code"] for f in data["findings"] if f["platform"] == platform]
    assert S.by_platform(result.findings)[0][0] == data["findings"][0]["platform"]


def test_findings_sort_most_severe_then_largest_count():
    findings = [dict(severity="warning", count=900, code="DA106", platform="meta"),
                dict(severity="error", count=5, code="DA101", platform="meta"),
                dict(severity="error", count=50, code="DA105", platform="tiktok"),
                dict(severity="error", count=50, code="DA105", platform="meta")]
    ordered = sorted((finding(**f) for f in findings), key=finding_order)
    assert [(f.code, f.platform) for f in ordered] == [("DA105", "meta"), ("DA105", "tiktok"), ("DA101", "meta"), ("DA106", "meta")]


# ---------------------------------------------------------------- a real run: two currencies, and --timezone

ORDERS = """order_id,created_at,value,currency,status
A1,2026-10-05T10:00:00Z,100.00,EUR,paid
A2,2026-10-05T11:00:00Z,100.00,EUR,paid
A3,2026-10-05T12:00:00Z,100.00,EUR,paid
A4,2026-10-05T13:00:00Z,100.00,EUR,paid
B1,2026-10-05T14:00:00Z,40.00,USD,paid
B2,2026-10-05T23:30:00Z,60.00,USD,paid
"""


def _shop(folder: Path) -> dict[str, Path]:
    """Six orders (4 EUR at 100, 2 USD at 40 and 60). Meta: server events without IDs, so every order counts twice
    (+6). TikTok: IDs that differ on 3 orders (+3). B2 is created at 23:30 UTC, 01:30 the next day in Berlin."""
    orders = [line.split(",") for line in ORDERS.strip().splitlines()[1:]]
    pixel, capi = ["platform,event_name,event_id,event_time,order_id,value,currency"], [
        "platform,event_name,event_id,event_time,order_id,value,currency"]
    for i, (order, created, value, currency, _) in enumerate(orders):
        pixel.append(f"meta,Purchase,m-{order},{created},{order},{value},{currency}")
        capi.append(f"meta,Purchase,,{created},{order},{value},{currency}")
        pixel.append(f"tiktok,CompletePayment,t-{order},{created},{order},{value},{currency}")
        capi.append(f"tiktok,CompletePayment,{'x-' if i % 2 else 't-'}{order},{created},{order},{value},{currency}")
    paths = {"orders": folder / "orders.csv", "pixel": folder / "pixel.csv", "capi": folder / "capi.csv"}
    paths["orders"].write_text(ORDERS)
    paths["pixel"].write_text("\n".join(pixel) + "\n")
    paths["capi"].write_text("\n".join(capi) + "\n")
    return paths


def _run(folder: Path, *extra: str) -> tuple[dict, str, str, str]:
    paths = _shop(folder)
    md, html = folder / "report.md", folder / "report.html"
    proc = subprocess.run([sys.executable, "-m", "dedupaudit", "check", "--pixel", str(paths["pixel"]), "--capi", str(paths["capi"]),
                           "--orders", str(paths["orders"]), "--format", "json", "-o", str(md), "-o", str(html), "-q", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    rich = RENDERERS["rich"](result_from_dict(data), RenderOptions(width=100))
    return data, md.read_text(), html.read_text(), rich


@pytest.fixture(scope="module")
def two_currencies(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("shop"))


def test_money_per_platform_and_per_currency_never_summed(two_currencies):
    data, md, html, rich = two_currencies
    by = {p["platform"]: p for p in data["platforms"] if p["event"] == "purchase"}
    assert (by["meta"]["extra_conversions"], by["tiktok"]["extra_conversions"]) == (6, 3)
    for p in by.values():
        assert p["average_order_value"] is None and p["currency"] is None and p["extra_revenue"] is None  # mixed: no one figure
        assert p["average_order_value_by_currency"] == {"EUR": 100.0, "USD": 50.0}
    # extra conversions x the currency's share of orders x its average order value
    assert by["meta"]["extra_revenue_by_currency"] == {"EUR": 400.0, "USD": 100.0}
    assert by["tiktok"]["extra_revenue_by_currency"] == {"EUR": 200.0, "USD": 50.0}
    for text in (md, html, rich):
        flat = " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())
        assert "Meta would count 12 purchases for 6 real orders (2.00x): 6 that did not happen, worth about 400 EUR; 100 USD." in flat
        assert "TikTok would count 9 purchases for 6 real orders (1.50x): 3 that did not happen, worth about 200 EUR; 50 USD." in flat
        assert flat.index("Meta would count") < flat.index("TikTok would count")  # the worst platform first
        assert "100.00 EUR; 50.00 USD" in flat  # average order value per currency
        for summed in ("9 purchases that did not happen", "600 EUR", "150 USD", "83.33", "66.67"):
            assert summed not in flat, summed  # no sum across platforms, no average across currencies
    meta_finding = next(f for f in data["findings"] if f["code"] == "DA113" and f["platform"] == "meta")
    tiktok_finding = next(f for f in data["findings"] if f["code"] == "DA113" and f["platform"] == "tiktok")
    assert "worth about 400 EUR and 100 USD" in meta_finding["message"] and "Meta" in meta_finding["message"]
    assert "worth about 200 EUR and 50 USD" in tiktok_finding["message"] and "Meta" not in tiktok_finding["message"]


def test_timezone_moves_day_boundaries_and_names_the_zone(two_currencies, tmp_path):
    utc, utc_md, _, _ = two_currencies
    berlin, md, html, rich = _run(tmp_path, "--timezone", "Europe/Berlin")
    days = lambda data: {d["date"]: d["orders"] for d in data["daily"] if d["platform"] == "meta"}  # noqa: E731
    assert days(utc) == {"2026-10-05": 6}
    assert days(berlin) == {"2026-10-05": 5, "2026-10-06": 1}  # B2 at 23:30 UTC is 01:30 on the 6th in Berlin
    assert {d["date"]: d["reported_conversions"] for d in berlin["daily"] if d["platform"] == "meta"} == {"2026-10-05": 10, "2026-10-06": 2}
    assert berlin["period"] == utc["period"] == {"start": "2026-10-05T10:00:00Z", "end": "2026-10-05T23:30:00Z"}  # JSON: UTC
    header = "2026-10-05 12:00:00 Europe/Berlin to 2026-10-06 01:30:00 Europe/Berlin"
    for text in (md, html, rich):
        assert header in text
        assert "Day by day (Europe/Berlin days)" in text
        assert " UTC" not in text.replace("UTC epoch", "")  # every time shown in the zone asked for
    assert "2026-10-05 10:00:00 UTC to 2026-10-05 23:30:00 UTC" in utc_md


# ---------------------------------------------------------------- the terminal's width

@pytest.mark.parametrize("width", [80, 140])
def test_terminal_report_fits_the_width_and_keeps_every_figure(width):
    result = result_from_dict(example_dict())
    text = RENDERERS["rich"](result, RenderOptions(width=width))
    assert max(len(line) for line in text.splitlines()) <= width
    grids = [G.summary_grid(result), *G.figure_grids(result)]
    for grid in grids:
        for row in grid.rows:
            for i, value in enumerate(row):
                if i not in grid.text_columns:
                    assert re.search(rf"(?<![\d,.]){re.escape(value)}(?![\d,.%x])", text), (grid.title, row[0], value)
    for p in result.platforms:
        assert p.display_name in text
    titles = re.findall(r"^Purchases: real orders vs what each platform would count( \(\d of \d\))?", text, re.M)
    if width == 140:
        assert titles == [""]  # the summary in one table: the room is used
    else:
        assert len(titles) > 1  # folded: a wide table split in several, never a figure cut
    wide = RENDERERS["rich"](result, RenderOptions(width=140)).count("┏")
    assert (text.count("┏") > wide) if width == 80 else (wide >= len(grids))


def test_terminal_width_comes_from_columns_then_falls_back_to_100(monkeypatch):
    result = result_from_dict(example_dict())
    monkeypatch.setenv("COLUMNS", "90")
    assert max(len(line) for line in RENDERERS["rich"](result, RenderOptions()).splitlines()) == 90
    monkeypatch.delenv("COLUMNS")
    assert rich_report.terminal_width() == 100  # pytest's stdout is not a terminal
