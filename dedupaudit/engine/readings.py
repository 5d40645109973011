"""The honest range: what each platform would count under the other reading of every unconfirmed rule.

A rule file marks a value it cannot confirm (TikTok merging CompletePayment into Purchase, Meta's
same-source deduplication, ...) and states its other reading. The dedup model (engine/tables.py) runs
once more per other reading, over the same events_base table and for that platform only (readings of
different platforms share a run); then once with every reading that lowered the count and once with
every reading that raised it, which gives the low and high ends of the range. Only the counts come
back; no check runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from dedupaudit.engine.tables import BUSY_EVENTS_SQL, EVENT_NAMES_SQL, simulate
from dedupaudit.platforms.rules import PlatformRules

_PREFIX = "reading_"


@dataclass
class Range:
    low: int
    high: int
    unconfirmed: list[dict]  # the readings that change this count, with the count under each


def ranges(con: duckdb.DuckDBPyConnection, rules: dict[str, PlatformRules],
           counted: dict[tuple[str, str], int]) -> dict[tuple[str, str], Range]:
    """(platform, event type) -> the range of reported conversions, for every entry of `counted` (the rule files' reading)."""
    platforms = {p: r for p, r in sorted(rules.items()) if r.alternatives and any(q == p for q, _ in counted)}
    if not platforms:
        return {}
    audit: dict[str, dict[str, int]] = {}  # the rule files' reading, per platform
    for (platform, event_type), n in counted.items():
        audit.setdefault(platform, {})[event_type] = n
    con.execute(EVENT_NAMES_SQL)
    try:
        return _ranges(con, platforms, counted, audit)
    finally:
        con.execute("DROP TABLE IF EXISTS event_names; DROP TABLE IF EXISTS busy_events")


def _ranges(con: duckdb.DuckDBPyConnection, platforms: dict[str, PlatformRules], counted: dict[tuple[str, str], int],
            audit: dict[str, dict[str, int]]) -> dict[tuple[str, str], Range]:
    held: set[str] = set()  # the platforms busy_events holds (none: not made yet)
    alternatives = _counts_many(con, [(alt.rules, rule) for rule in platforms.values() for alt in rule.alternatives], audit, held)
    by_reading = {}
    for rule in platforms.values():
        by_reading[rule.platform] = {alt.rule: alternatives.pop(0) for alt in rule.alternatives}
    ends_needed = {}  # (platform, readings moved together) -> None, filled by one batched run
    for (platform, event_type), base in counted.items():
        if platform in platforms:
            for moved in _moved(by_reading[platform], event_type, base):
                if len(moved) > 1:
                    ends_needed[(platform, frozenset(moved))] = None
    keys = list(ends_needed)
    for key, counts in zip(keys, _counts_many(con, [(platforms[p].combined(sorted(m)), platforms[p]) for p, m in keys], audit, held)):
        ends_needed[key] = counts
    out = {}
    for (platform, event_type), base in counted.items():
        if platform not in platforms:
            continue
        rule, alt_counts = platforms[platform], {k: c.get(event_type, 0) for k, c in by_reading[platform].items()}
        ends = [alt_counts[m[0]] if len(m) == 1 else ends_needed[(platform, frozenset(m))].get(event_type, 0)
                for m in _moved(by_reading[platform], event_type, base)]
        unconfirmed = [{
            "rule": alt.rule,
            "statement": alt.reading,
            "alternative": alt.other_reading,
            "evidence": alt.status,
            "source": rule.facts[alt.rule].get("source"),
            "reported_if_true": base,
            "reported_if_false": alt_counts[alt.rule],
        } for alt in rule.alternatives if alt_counts[alt.rule] != base]
        out[(platform, event_type)] = Range(min(ends + [base]), max(ends + [base]), unconfirmed)
    return dict(sorted(out.items()))


def _moved(by_reading: dict[str, dict[str, int]], event_type: str, base: int) -> list[list[str]]:
    """The readings that lower the count, and those that raise it (each list only when not empty)."""
    counts = {key: c.get(event_type, 0) for key, c in by_reading.items()}
    return [m for m in ([k for k, n in counts.items() if n < base], [k for k, n in counts.items() if n > base]) if m]


# What each stage of the model reads from the rules: a reading that leaves them as the rule files say
# reuses that stage of the first run instead of computing it again.
_TYPED_BY = ("names_case_sensitive", "merged_names", "dedup_scope", "offline_after_hours", "events")
_BY_ID_BY = _TYPED_BY + ("dedup_window_hours", "same_source_dedup")


_NAMES_BY = ("names_case_sensitive", "merged_names", "events")
_SCOPE_BY = tuple(f for f in _TYPED_BY if f not in _NAMES_BY)  # the rest of the typing: scope and offline
_KEYS_BY = ("dedup_scope", "offline_after_hours", "dedup_window_hours", "same_source_dedup", "fallback")


def _counts_many(con: duckdb.DuckDBPyConnection, jobs: list[tuple[PlatformRules, PlatformRules]],
                 audit: dict[str, dict[str, int]], held: set[str]) -> list[dict[str, int]]:
    """Reported conversions per event type for each (reading, the rule files' reading) of one platform;
    `audit`: per platform, the counts under the rule files' reading; `held`: the platforms busy_events holds so far.

    Readings of different platforms that can reuse the same stages of the first run share one run of
    the model (its tables partition by platform), so ten readings cost a few passes, not ten."""
    results: list[dict[str, int] | None] = [None] * len(jobs)
    batches: dict[tuple, list[list[int]]] = {}
    for i, (rule, default) in enumerate(jobs):
        same = lambda fields: all(getattr(rule, f) == getattr(default, f) for f in fields)  # noqa: E731
        if same(_KEYS_BY) and _names_equivalent(con, rule, default):
            # Only the naming differs, and on this shop's names it groups and types the events as before.
            results[i] = dict(audit.get(rule.platform, {}))
            continue
        reuse = tuple(stage for stage, fields in (("typed", _TYPED_BY), ("by_id", _BY_ID_BY)) if same(fields))
        if not reuse and same(_SCOPE_BY):  # only the naming differs: the events are renamed, not typed again
            reuse = ("renamed",)
        groups = batches.setdefault(reuse, [])
        free = next((g for g in groups if all(jobs[j][0].platform != rule.platform for j in g)), None)
        if free is None:
            groups.append(free := [])
        free.append(i)
    # A reading that keeps every window reruns the ID key only among the busy IDs' events, built once for the
    # platforms of all such readings (the 10M benchmark shop: three platforms of four, 1.61 s against 2.20 s).
    runs = [(reuse, group, reuse in (("typed",), ("renamed",)) and all(
                jobs[i][0].dedup_window_hours == jobs[i][1].dedup_window_hours for i in group))
            for reuse, groups in batches.items() for group in groups]
    _busy_events(con, {jobs[i][0].platform for _, group, busy in runs if busy for i in group}, held)
    for reuse, group, busy in runs:
        counts = _run(con, {jobs[i][0].platform: jobs[i][0] for i in group}, reuse, audit, busy)
        for i in group:
            results[i] = counts.get(jobs[i][0].platform, {})
    return results


def _busy_events(con: duckdb.DuckDBPyConnection, platforms: set[str], held: set[str]) -> None:
    """busy_events holding the busy IDs' events of `platforms` (BUSY_EVENTS_SQL): made for the first ones asked
    for, and the others added when a later batch of readings asks for them; `held`: the platforms it holds."""
    missing = sorted(platforms - held)
    if missing:
        verb = "INSERT INTO busy_events" if held else "CREATE TABLE busy_events AS"
        con.execute(BUSY_EVENTS_SQL.format(verb=verb), {"platforms": missing})
        held.update(missing)


# A reading that types the events as the rule files do, up to the naming, counts otherwise only the events it
# ran the ID key for again ({p}by_id_rerun), those either fallback merged and ({retyped}) those its naming types
# otherwise: its counts are the audit's plus, over those events, what each now counts under its type in this
# reading minus what it counted under its type in the audit (an event the ID key merged has merged_by 'event_id').
DELTA_SQL = """
WITH changed AS (
    SELECT eid FROM {rerun}
    UNION
    SELECT eid FROM {p}by_fallback
    UNION
    SELECT eid FROM audit_events WHERE merged_by = 'fallback' AND platform IN (SELECT platform FROM {p}rules){retyped}
)
SELECT platform, event_type, sum(change) AS change
FROM (SELECT a.platform, {new_type} AS event_type,
             CASE WHEN coalesce(r.counts, a.merged_by IS DISTINCT FROM 'event_id') AND f.eid IS NULL THEN 1 ELSE 0 END AS change
      FROM changed c JOIN audit_events a USING (eid){names}
      LEFT JOIN {rerun} r USING (eid) LEFT JOIN {p}by_fallback f USING (eid)
      WHERE {new_type} IS NOT NULL
      UNION ALL
      SELECT a.platform, a.event_type, -1 FROM changed c JOIN audit_events a USING (eid) WHERE a.counts)
GROUP BY platform, event_type
"""
RETYPED = """
    UNION
    SELECT eid FROM events SEMI JOIN (SELECT platform, event_name FROM {p}names WHERE event_type IS DISTINCT FROM audit_type)
                                USING (platform, event_name)"""


def _run(con: duckdb.DuckDBPyConnection, rules: dict[str, PlatformRules], reuse: tuple[str, ...],
         audit: dict[str, dict[str, int]], busy: bool) -> dict[str, dict[str, int]]:
    delta = "typed" in reuse or "renamed" in reuse
    simulate(con, rules, _PREFIX, typed=f"{_PREFIX}typed", into=None if delta else f"{_PREFIX}counts", reuse=reuse, busy=busy)
    try:
        out: dict[str, dict[str, int]] = {}
        if not delta:
            for platform, event_type, n in con.execute(
                    f"SELECT platform, event_type, count(*) FILTER (WHERE counts) FROM {_PREFIX}counts GROUP BY ALL").fetchall():
                out.setdefault(platform, {})[event_type] = n
            return out
        out = {platform: dict(audit.get(platform, {})) for platform in rules}
        rerun = f"{_PREFIX}by_id_rerun" if "by_id" not in reuse else "(SELECT NULL::BIGINT AS eid, NULL::BOOLEAN AS counts WHERE false)"
        # A renamed event's type under this reading comes from the names table (a handful of rows), not the typed view.
        renamed = "renamed" in reuse
        sql = DELTA_SQL.format(p=_PREFIX, rerun=rerun, retyped=RETYPED.format(p=_PREFIX) if renamed else "",
                               names=f" JOIN {_PREFIX}names n ON n.platform = a.platform AND n.event_name = a.event_name" if renamed else "",
                               new_type="n.event_type" if renamed else "a.event_type")
        for platform, event_type, change in con.execute(sql).fetchall():
            out[platform][event_type] = out[platform].get(event_type, 0) + change
        return out
    finally:
        con.execute(f"DROP VIEW IF EXISTS {_PREFIX}counts")
        con.execute(f"DROP {'VIEW' if delta else 'TABLE'} IF EXISTS {_PREFIX}typed")
        con.execute(f"DROP {'VIEW' if delta else 'TABLE'} IF EXISTS {_PREFIX}by_id")
        for table in ("by_id_rerun", "fallback_keys", "by_fallback", "names", "rules", "taxonomy", "merges"):
            con.execute(f"DROP TABLE IF EXISTS {_PREFIX}{table}")


def _names_equivalent(con: duckdb.DuckDBPyConnection, rule: PlatformRules, default: PlatformRules) -> bool:
    """Whether `rule` keys and types the platform's event names as `default` does, up to renaming the keys.

    Checked on the distinct names the shop sent (a handful), so a reading about letter case or legacy
    names that no event of this shop touches costs no second run."""
    names = [n for (n,) in con.execute("SELECT event_name FROM event_names WHERE platform = $p", {"p": rule.platform}).fetchall()]
    forward, backward = {}, {}
    for name in names:
        (key, kind), (other_key, other_kind) = _key_and_type(default, name), _key_and_type(rule, name)
        if kind != other_kind or forward.setdefault(key, other_key) != other_key or backward.setdefault(other_key, key) != key:
            return False
    return True


def _key_and_type(rule: PlatformRules, name: str) -> tuple[str, str | None]:
    """The name key and event type the SQL gives `name` (engine/tables.py: TYPED_SQL, taxonomy, merges)."""
    fold = (lambda n: n) if rule.names_case_sensitive else str.lower
    key = {fold(a): fold(b) for a, b in rule.merged_names.items()}.get(fold(name), fold(name))
    return key, next((t for t, listed in rule.events.items() if key in map(fold, listed)), None)
