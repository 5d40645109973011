"""Issue 10: checks fetch counts and a few examples, never whole hit sets; --export-failures streams every row.

The shop below grows its hit sets with its size (reused, near-miss and missing IDs, one-off event names,
letter-case variants, conflicting order statuses, events of orders not in the export), so a check that
pulled its hits into Python would fetch more rows from the bigger shop.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from dedupaudit.engine import run as engine
from dedupaudit.checks import base
from dedupaudit.outputs import FailureExport as _Export

BOUND = 40  # rows a check may fetch: a handful of count rows plus five examples each, whatever the shop's size
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
EMAIL = "jane.doe@example.com"
_REAL_INIT, _REAL_RUN = base.AuditView.__init__, engine._run_check


def _shop(n: int) -> tuple[list, list, list]:
    pixel, capi, orders = [], [], []
    for i in range(n):
        t = (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        order = str(1000 + i)
        orders.append({"order_id": order, "created_at": t, "status": "paid"})
        if i % 10 == 3:  # the same order again, cancelled: conflicting statuses
            orders.append({"order_id": order, "created_at": t, "status": "cancelled"})
        pixel.append({"platform": "meta", "event_name": "Purchase", "event_id": f"ORD-{order}", "event_time": t, "order_id": order})
        server_id = {0: f"ord-{order}", 1: f"R-{i // 20}", 2: ""}.get(i % 10, f"ORD-{order}")  # near miss, reused, missing
        name = "".join(c.upper() if i >> k & 1 else c for k, c in enumerate("purchase")) if i % 10 == 4 else "Purchase"
        capi.append({"platform": "meta", "event_name": name, "event_id": server_id, "event_time": t, "order_id": order})
        if i % 5 == 0:
            pixel.append({"platform": "meta", "event_name": f"Custom{i}", "event_id": f"c{i}", "event_time": t})
        if i % 7 == 0:  # a counted purchase of an order not in the export: personal data and a formula in its order ID
            capi.append({"platform": "meta", "event_name": "Purchase", "event_id": f"X-{i}", "event_time": t,
                         "order_id": f"=HYPERLINK({i})" if i % 2 else f"{i} {EMAIL}"})
    return pixel, capi, orders


def _fetched_per_check(audit, monkeypatch, n: int) -> tuple[dict, dict]:
    """(rows each check fetched, counting the elements of example lists; each finding's count)."""
    fetched, current = {}, [None]

    class Counting:
        """The audit connection as checks see it: only execute, description and fetchall, and every row counted."""

        def __init__(self, con):
            self._con = con

        def execute(self, sql, params=None):
            self._con.execute(sql, params)
            return self

        @property
        def description(self):
            return self._con.description

        def fetchall(self):
            rows = self._con.fetchall()
            fetched[current[0]] = fetched.get(current[0], 0) + sum(
                1 + sum(len(v) for v in row if isinstance(v, list)) for row in rows)
            return rows

        def __getattr__(self, name):
            raise AssertionError(f"a check read the connection through {name}, not AuditView.rows")

    def init(self, con, *args):
        _REAL_INIT(self, Counting(con), *args)

    def run_check(check, view, config, export):
        current[0] = check.code
        return _REAL_RUN(check, view, config, export)

    monkeypatch.setattr(base.AuditView, "__init__", init)
    monkeypatch.setattr(engine, "_run_check", run_check)
    result = audit(*_shop(n))
    counts = {}
    for f in result.findings:
        counts[f.code] = counts.get(f.code, 0) + f.count
    return fetched, counts


def test_checks_fetch_a_bounded_number_of_rows_whatever_the_shop_size(audit, monkeypatch):
    small, small_counts = _fetched_per_check(audit, monkeypatch, 300)
    big, big_counts = _fetched_per_check(audit, monkeypatch, 1200)
    # The oracle: these findings really have more hits than BOUND in the big shop, and grow with it.
    for code in ("DA101", "DA104", "DA105", "DA106", "DA108", "DA109", "DA116", "DA131"):
        assert big_counts[code] > BOUND and big_counts[code] > small_counts[code], code
    assert {code: n for code, n in big.items() if n > BOUND} == {}
    assert big == small


def _exported(tmp_path, audit, fmt: str, monkeypatch) -> tuple[dict, dict]:
    """(finding counts, exported tables) of the shop, exported in batches of 7 rows so every file spans several."""
    monkeypatch.setattr(engine, "EXPORT_BATCH_ROWS", 7)
    export = _Export(tmp_path / fmt, fmt)
    real = engine.run_audit
    monkeypatch.setattr("tests.conftest.run_audit", lambda *args: real(*args[:5], export))
    result = audit(*_shop(300))
    counts = {(f.code, f.platform, f.event): f.count for f in result.findings}
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    tables = {path.stem: read(path, **({"dtype": str, "keep_default_na": False} if fmt == "csv" else {}))
              for path in sorted((tmp_path / fmt).iterdir())}
    return counts, tables


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_streamed_export_has_every_row_behind_a_finding_cleaned(tmp_path, audit, monkeypatch, fmt):
    counts, tables = _exported(tmp_path, audit, fmt, monkeypatch)
    # Findings counted per event: one exported row per event counted.
    for code, name, event in (("DA101", "server-events-without-id", "-purchase"), ("DA116", "purchases-without-real-order", "-purchase"),
                              ("DA109", "unknown-event-names", "")):
        rows = tables[f"{code}-{name}-meta{event}"]
        assert counts[(code, "meta", event.strip("-") or None)] > 7 * 3  # several batches
        assert len(rows) == counts[(code, "meta", event.strip("-") or None)], code
        assert rows["row"].astype(int).is_unique  # no batch written twice
    unreal = tables["DA116-purchases-without-real-order-meta-purchase"]
    text = json.dumps(unreal.astype(str).values.tolist())
    assert EMAIL not in text and "jane.doe" not in text and "<redacted:" in text  # personal data masked in every batch
    formulas = unreal["order_id"][unreal["order_id"].str.contains("HYPERLINK")]
    assert len(formulas) > 7
    expected = "'=HYPERLINK(" if fmt == "csv" else "=HYPERLINK("  # defused where a spreadsheet opens it
    assert formulas.str.startswith(expected).all()
