"""busy_events (engine/readings.py): made for the platforms of the readings that read it, added to when a later
batch of readings needs another platform, and then the same rows as one build for all of them."""

from __future__ import annotations

from dedupaudit.connection import Connection
from dedupaudit.engine.readings import _busy_events

# (eid, platform, source, event_name, event_id, event_type). Busy: an ID the browser sent twice (meta A, google A), one
# the server sent twice (tiktok A), one under two names (meta B). Not busy: an ID once per path (meta C, tiktok D), an
# event without an ID (google).
EVENTS = [
    (1, "meta", "pixel", "Purchase", "A", "purchase"), (2, "meta", "pixel", "Purchase", "A", "purchase"),
    (3, "meta", "pixel", "Purchase", "B", "purchase"), (4, "meta", "capi", "purchase", "B", "purchase"),
    (5, "meta", "pixel", "Purchase", "C", "purchase"), (6, "meta", "capi", "Purchase", "C", "purchase"),
    (7, "tiktok", "capi", "CompletePayment", "A", "purchase"), (8, "tiktok", "capi", "CompletePayment", "A", "purchase"),
    (9, "tiktok", "pixel", "Purchase", "D", "purchase"), (10, "tiktok", "capi", "Purchase", "D", "purchase"),
    (11, "google", "pixel", "purchase", "A", "purchase"), (12, "google", "pixel", "purchase", "A", "purchase"),
    (13, "google", "capi", "purchase", None, "purchase"),
]


def _busy(platform_batches: list[set[str]]) -> list[tuple] | None:
    with Connection(threads=1) as connection:
        con = connection.con
        con.execute("CREATE TABLE events (eid BIGINT, platform VARCHAR, source VARCHAR, event_name VARCHAR, event_id VARCHAR, "
                    "event_type VARCHAR, received_time TIMESTAMP, scope VARCHAR, offline BOOLEAN, name_key VARCHAR)")
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, TIMESTAMP '2026-10-01', '', false, lower(?))",
                        [(*e, e[3]) for e in EVENTS])
        held: set[str] = set()
        for platforms in platform_batches:
            _busy_events(con, platforms, held)
        if not held:
            assert not con.execute("SELECT * FROM duckdb_tables() WHERE table_name = 'busy_events'").fetchall()
            return None
        return con.execute("SELECT eid, platform FROM busy_events ORDER BY eid").fetchall()


def test_busy_events_holds_only_the_platforms_asked_for():
    assert _busy([{"meta"}]) == [(1, "meta"), (2, "meta"), (3, "meta"), (4, "meta")]
    assert _busy([set()]) is None  # no reading reads it: never made


def test_a_later_batch_adds_its_platforms_once():
    both = _busy([{"meta", "tiktok"}])
    assert both == [(1, "meta"), (2, "meta"), (3, "meta"), (4, "meta"), (7, "tiktok"), (8, "tiktok")]
    assert _busy([{"meta"}, {"meta", "tiktok"}, {"tiktok"}]) == both
