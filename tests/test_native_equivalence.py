"""The done-when of native inputs: `dedupaudit check` on the native files generated from the example shop
gives the same per-platform figures as on the shop's canonical tables.

The native files hold every canonical event and order exactly once, and add only what the audit
never counts: a refused and a partly received Meta batch, a TikTok test batch, and one pixel
request blocked in the browser. So every entry of `platforms` must be equal, every finding must
have the same count, and the only extra findings are test-events (DA117) and refused-events (DA118)
with exactly those counts.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CANONICAL = REPO / "examples" / "canonical"
NATIVE = REPO / "examples" / "native"
PIXEL = ["checkout_capture.har", "meta_pixel_log.csv", "tiktok_pixel_log.jsonl", "snap_pixel_log.csv", "google_ads_tag_log.csv"]
CAPI = ["meta_capi_requests.jsonl", "tiktok_events_api.json", "snap_capi.jsonl.gz", "google_ads_uploads.jsonl"]
ORDERS = ["shopify_orders.csv", "woocommerce_orders.csv"]


def native_args(base: Path) -> list[str]:
    args = []
    for option, folder, names in (("--pixel", "pixel", PIXEL), ("--capi", "capi", CAPI), ("--orders", "orders", ORDERS)):
        for name in names:
            args += [option, str(base / folder / name)]
    return args + ["--timezone", "Europe/Berlin"]  # the WooCommerce export writes Berlin time without an offset


def check(args: list[str]) -> dict:
    run = subprocess.run([sys.executable, "-m", "dedupaudit", "check", *args, "--format", "json", "--fail-on", "never"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def reports():
    canonical = check(["--pixel", str(CANONICAL / "pixel_events.csv"), "--capi", str(CANONICAL / "capi_events.jsonl"),
                       "--orders", str(CANONICAL / "orders.csv")])
    return canonical, check(native_args(NATIVE))


def findings(report: dict) -> dict:
    return {(f["code"], f["platform"], f["event"]): f["count"] for f in report["findings"]}


def test_native_files_give_the_canonical_per_platform_figures(reports):
    canonical, native = reports
    key = lambda p: (p["platform"], p["event"])  # noqa: E731
    # The native Google files name each conversion action (the tag's AW-ID/label, the upload's resource
    # name); the canonical table does not, so only there is the count a range of two readings.
    native_google, canonical_google = (next(p for p in r["platforms"] if key(p) == ("google", "purchase")) for r in (native, canonical))
    assert native_google["reported_range"] == {"low": 5676, "high": 5676} and native_google["unconfirmed_rules"] == []
    assert canonical_google["reported_range"] == {"low": 2899, "high": 5676}
    unnamed = ("reported_range", "inflation_range", "unconfirmed_rules")
    same = lambda p: {k: v for k, v in p.items() if k not in unnamed or p["platform"] != "google"}  # noqa: E731
    assert sorted(map(same, native["platforms"]), key=key) == sorted(map(same, canonical["platforms"]), key=key)
    assert len(canonical["platforms"]) >= 8


def test_only_the_never_counted_extras_differ(reports):
    canonical, native = reports
    extra = {k: v for k, v in findings(native).items() if k not in findings(canonical)}
    assert extra == {("DA117", "tiktok", None): 4, ("DA118", "meta", None): 6}  # 4 test; 3 + 2 refused, 1 blocked pixel
    assert {k: v for k, v in findings(native).items() if k in findings(canonical)} == findings(canonical)
    for side in ("pixel", "capi", "orders"):
        assert native["inputs"][side]["rejected"] == canonical["inputs"][side]["rejected"], side
    assert native["inputs"]["orders"]["rows"] == canonical["inputs"]["orders"]["rows"] == 3000


def test_refused_and_test_findings_carry_the_platforms_message(reports):
    _, native = reports
    refused = next(f for f in native["findings"] if f["code"] == "DA118")
    assert "Error validating access token: Session has expired." in refused["message"]  # the most frequent message
    messages = {e.get("delivery_message") for e in refused["examples"]}
    assert any(m and "received 1 of 2 events" in m for m in messages) or len(refused["examples"]) == 5
    assert all("example.com" not in json.dumps(f) and "203.0.113." not in json.dumps(f) for f in native["findings"])


def test_the_committed_native_files_are_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("generate_native", NATIVE / "generate_native.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(CANONICAL, tmp_path)
    for folder in ("pixel", "capi", "orders", "pilot"):
        names = sorted(p.name for p in (NATIVE / folder).iterdir())
        assert names == sorted(p.name for p in (tmp_path / folder).iterdir()), folder
        match, mismatch, errors = filecmp.cmpfiles(NATIVE / folder, tmp_path / folder, names, shallow=False)
        assert not mismatch and not errors, f"regenerate with python examples/native/generate_native.py: {mismatch}"
