"""The honest range: what each platform would count under the other reading of every unconfirmed rule.

A rule file marks a value it cannot confirm (TikTok merging CompletePayment into Purchase, Meta's
same-source deduplication, ...) and states its other reading. The dedup model (audit/tables.py) runs
once more per other reading, over the same events_base table and for that platform only; then once
with every reading that lowered the count and once with every reading that raised it, which gives
the low and high ends of the range. Only the counts come back; no check runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from dedupaudit.audit.tables import simulate
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
    out = {}
    for platform, rule in sorted(rules.items()):
        types = sorted(t for p, t in counted if p == platform)
        if not types or not rule.alternatives:
            continue
        by_reading = {alt.rule: _counts(con, alt.rules, rule) for alt in rule.alternatives}
        combined: dict[frozenset, dict[str, int]] = {}
        for event_type in types:
            base = counted[(platform, event_type)]
            alt_counts = {key: counts.get(event_type, 0) for key, counts in by_reading.items()}
            ends = []
            for moved in ([k for k, n in alt_counts.items() if n < base], [k for k, n in alt_counts.items() if n > base]):
                if not moved:
                    ends.append(base)
                elif len(moved) == 1:
                    ends.append(alt_counts[moved[0]])
                else:
                    key = frozenset(moved)
                    if key not in combined:
                        combined[key] = _counts(con, rule.combined(sorted(moved)), rule)
                    ends.append(combined[key].get(event_type, 0))
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
    return out


# What each stage of the model reads from the rules: a reading that leaves them as the rule files say
# reuses that stage of the first run instead of computing it again.
_TYPED_BY = ("names_case_sensitive", "merged_names", "dedup_scope", "offline_after_hours", "events")
_BY_ID_BY = _TYPED_BY + ("dedup_window_hours", "same_source_dedup")


_NAMES_BY = ("names_case_sensitive", "merged_names", "events")
_KEYS_BY = ("dedup_scope", "offline_after_hours", "dedup_window_hours", "same_source_dedup", "fallback")


def _counts(con: duckdb.DuckDBPyConnection, rule: PlatformRules, default: PlatformRules) -> dict[str, int]:
    """Reported conversions per event type of one platform under `rule`."""
    same = lambda fields: all(getattr(rule, f) == getattr(default, f) for f in fields)  # noqa: E731
    if same(_KEYS_BY) and _names_equivalent(con, rule, default):
        # Only the naming differs, and on this shop's names it groups and types the events as before.
        return dict(con.execute("SELECT event_type, count(*) FILTER (WHERE counts) FROM dedup WHERE platform = $p GROUP BY ALL",
                                {"p": rule.platform}).fetchall())
    reuse = tuple(stage for stage, fields in (("typed", _TYPED_BY), ("by_id", _BY_ID_BY)) if same(fields))
    simulate(con, {rule.platform: rule}, _PREFIX, typed=f"{_PREFIX}typed", into=f"{_PREFIX}counts", reuse=reuse)
    try:
        return dict(con.execute(f"SELECT event_type, count(*) FILTER (WHERE counts) FROM {_PREFIX}counts GROUP BY ALL").fetchall())
    finally:
        for name in ("typed", "by_id"):
            con.execute(f"DROP {'VIEW' if name in reuse else 'TABLE'} IF EXISTS {_PREFIX}{name}")
        for table in ("counts", "rules", "taxonomy", "merges"):
            con.execute(f"DROP TABLE IF EXISTS {_PREFIX}{table}")


def _names_equivalent(con: duckdb.DuckDBPyConnection, rule: PlatformRules, default: PlatformRules) -> bool:
    """Whether `rule` keys and types the platform's event names as `default` does, up to renaming the keys.

    Checked on the distinct names the shop sent (a handful), so a reading about letter case or legacy
    names that no event of this shop touches costs no second run."""
    names = [n for (n,) in con.execute("SELECT DISTINCT event_name FROM events_base WHERE platform = $p", {"p": rule.platform}).fetchall()]
    forward, backward = {}, {}
    for name in names:
        (key, kind), (other_key, other_kind) = _key_and_type(default, name), _key_and_type(rule, name)
        if kind != other_kind or forward.setdefault(key, other_key) != other_key or backward.setdefault(other_key, key) != key:
            return False
    return True


def _key_and_type(rule: PlatformRules, name: str) -> tuple[str, str | None]:
    """The name key and event type the SQL gives `name` (audit/tables.py: TYPED_SQL, taxonomy, merges)."""
    fold = (lambda n: n) if rule.names_case_sensitive else str.lower
    key = {fold(a): fold(b) for a, b in rule.merged_names.items()}.get(fold(name), fold(name))
    return key, next((t for t, listed in rule.events.items() if key in map(fold, listed)), None)
