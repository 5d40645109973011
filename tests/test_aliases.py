"""Platform aliases: `facebook`, `FB` and ` Fb ` are meta wherever a platform is read (rows in every canonical format,
--platform, --platform-reported); an alias may not be another platform's name or alias; `rules platforms` lists them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dedupaudit.errors import UserError
from dedupaudit.platforms.rules import bundled_rules_dir, canonical_platform, load_rules, platform_names
from tests.conftest import write_jsonl
from tests.test_cli import run

T = "2026-01-05T10:00:0{}Z"
# Three orders, each reported by both paths with the same ID; the platform spelled a different way on each row.
PIXEL = [{"platform": name, "event_name": "Purchase", "event_id": f"E{n}", "event_time": T.format(n), "order_id": str(n)}
         for n, name in enumerate(["facebook", "FB", " Meta "])]
CAPI = [dict(row, platform=name) for row, name in zip(PIXEL, ["fb", "Facebook", "meta"])]
ORDERS = [{"order_id": str(n), "created_at": T.format(n)} for n in range(3)]


def _audit(*args) -> dict:
    done = run("check", *args, "--format", "json", "--quiet")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _purchase_rows(data: dict) -> dict[str, dict]:
    return {p["platform"]: p for p in data["platforms"] if p["event"] == "purchase"}


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix == ".csv":
        columns = list(rows[0])
        path.write_text("\n".join([",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]) + "\n")
    else:
        write_jsonl(path, rows)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_rows_written_facebook_or_fb_count_as_meta(tmp_path, suffix):
    data = _audit("--pixel", _write(tmp_path / f"pixel{suffix}", PIXEL), "--capi", _write(tmp_path / f"capi{suffix}", CAPI),
                  "--orders", write_jsonl(tmp_path / "orders.jsonl", ORDERS))
    rows = _purchase_rows(data)
    assert list(rows) == ["meta"]
    meta = rows["meta"]
    assert (meta["pixel_events"], meta["capi_events"], meta["reported_conversions"], meta["orders"]) == (3, 3, 3, 3)
    assert data["inputs"]["pixel"]["rejected"] == data["inputs"]["capi"]["rejected"] == 0


def test_without_aliases_the_same_rows_stop_the_run(tmp_path):
    """The oracle: the rule files' aliases are what makes 'facebook' readable."""
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    meta = rules / "meta.yaml"
    meta.write_text("".join(line for line in meta.read_text().splitlines(True) if not line.startswith("aliases:")))
    done = run("check", "--pixel", write_jsonl(tmp_path / "p.jsonl", PIXEL), "--rules", rules)
    assert done.returncode == 2 and "row 1: unknown platform 'facebook'" in done.stderr


def test_platform_option_takes_an_alias(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "platform"} for row in PIXEL]
    data = _audit("--pixel", write_jsonl(tmp_path / "p.jsonl", rows), "--capi", write_jsonl(tmp_path / "c.jsonl", rows),
                  "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS), "--platform", "FB")
    assert list(_purchase_rows(data)) == ["meta"]
    assert _purchase_rows(data)["meta"]["reported_conversions"] == 3
    bad = run("check", "--pixel", write_jsonl(tmp_path / "p2.jsonl", rows), "--platform", "facebok")
    assert bad.returncode == 2 and bad.stderr.startswith("dedupaudit: error: --platform facebok: no rule file for this platform")


def test_platform_reported_takes_an_alias(tmp_path):
    reported = tmp_path / "dashboard.csv"
    reported.write_text("platform,conversions\nFacebook,4\n")
    data = _audit("--pixel", write_jsonl(tmp_path / "p.jsonl", PIXEL), "--capi", write_jsonl(tmp_path / "c.jsonl", CAPI),
                  "--orders", write_jsonl(tmp_path / "o.jsonl", ORDERS), "--platform-reported", reported)
    assert _purchase_rows(data)["meta"]["platform_reported"] == 4


def test_every_alias_of_the_bundled_rules():
    names = platform_names(load_rules())
    assert {a: names[a] for a in ("facebook", "fb", "tt", "snapchat", "google_ads", "adwords", "twitter", "bing_ads")} == {
        "facebook": "meta", "fb": "meta", "tt": "tiktok", "snapchat": "snap", "google_ads": "google", "adwords": "google",
        "twitter": "x", "bing_ads": "microsoft"}
    assert canonical_platform(" AdWords ", load_rules(), "--platform") == "google"


def _rules_with(tmp_path: Path, platform: str, line: str) -> Path:
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(bundled_rules_dir(), rules)
    path = rules / f"{platform}.yaml"
    text = "".join(l for l in path.read_text().splitlines(True) if not l.startswith("aliases:"))
    path.write_text(text.replace("\ndisplay_name:", f"\n{line}\ndisplay_name:", 1))
    return rules


@pytest.mark.parametrize("line, other, clash", [
    ("aliases: [meta]", "meta.yaml", "'meta' is already the platform 'meta'"),
    ("aliases: [tt, fb]", "meta.yaml", "'fb' is already an alias of platform 'meta'"),
])
def test_an_alias_may_not_be_another_platforms_name_or_alias(tmp_path, line, other, clash):
    rules = _rules_with(tmp_path, "tiktok", line)
    done = run("check", "--pixel", write_jsonl(tmp_path / "p.jsonl", PIXEL), "--rules", rules)
    assert done.returncode == 2
    (message,) = done.stderr.splitlines()
    assert clash in message and str(rules / "tiktok.yaml") in message and str(rules / other) in message
    listed = run("rules", "platforms", "--rules", rules)
    assert listed.returncode == 2 and clash in listed.stderr


@pytest.mark.parametrize("line, problem", [
    ("aliases: [Facebook]", "aliases: expected a list of other names"),
    ("aliases: fb", "aliases: expected a list of other names"),
    ("aliases: [fb, fb]", "aliases: 'fb' is listed twice"),
    ("aliases: [fb, meta]", "aliases: 'meta' is listed twice"),
])
def test_malformed_aliases_name_the_file_and_key(tmp_path, line, problem):
    rules = _rules_with(tmp_path, "meta", line)
    with pytest.raises(UserError, match=problem) as caught:
        load_rules(rules)
    assert str(rules / "meta.yaml") in str(caught.value)


def test_rules_platforms_lists_the_aliases():
    done = run("rules", "platforms")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split()[:2] == ["platform", "aliases"]
    rows = {line.split()[0]: line for line in lines if line and not line.startswith(" ")}
    assert "facebook, fb" in rows["meta"] and "google_ads, adwords" in rows["google"] and " tt " in rows["tiktok"]
    assert rows["snap"].split()[1] == "snapchat" and rows["pinterest"].split()[1] == "-"


def test_a_pixel_log_with_a_platform_column_reads_aliases_with_the_platform_s_fields(tmp_path):
    """A native pixel log: an 'fb' row is read with Meta's field names (eventID), a 'TT' row with TikTok's."""
    records = [{"platform": "fb", "timestamp": "2026-01-05T10:00:00Z", "event": "Purchase", "eventID": "m1"},
               {"platform": "TT", "timestamp": "2026-01-05T10:00:00Z", "event": "Purchase", "event_id": "t1"}]
    data = _audit("--pixel", write_jsonl(tmp_path / "tags.jsonl", records))
    assert data["inputs"]["pixel"]["per_file"][0].get("format", "pixel-log") == "pixel-log"
    rows = _purchase_rows(data)
    assert (rows["meta"]["pixel_events"], rows["tiktok"]["pixel_events"]) == (1, 1)
    assert rows["meta"]["missing_event_id"]["pixel"] == rows["tiktok"]["missing_event_id"]["pixel"] == 0
