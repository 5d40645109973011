"""What a check is, and the read-only view of an audit that checks query.

A check finds; it does not print, read files, pick its final severity or decide the exit code.
It is one self-describing unit: code, name, default severity, options with defaults, and its
documentation under fixed headings (`dedupaudit explain CODE` reads it from here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from dedupaudit.wording import agree, plural  # noqa: F401  (the checks' messages import it from here)

if TYPE_CHECKING:  # only annotations: `rules list` and `explain` read the checks without loading DuckDB
    import duckdb

    from dedupaudit.platforms.rules import PlatformRules

EXAMPLE_LIMIT = 5
# The columns an analyst needs to find an event in its source file (for --export-failures).
EVIDENCE_COLUMNS = ("source AS side, file, row, source_ref, platform, event_name, event_id, order_id, "
                    "event_time, received_time, value, currency")


@dataclass
class Hit:
    """One problem a check found on one platform (and event type)."""

    platform: str | None
    event: str | None
    count: int
    message: str
    hint: str
    examples: list[dict] = field(default_factory=list)
    level: str | None = None  # threshold checks: which severity's threshold was crossed
    cap: str | None = None  # ratio checks on too few orders: the most severe level allowed
    evidence: tuple[str, dict] | None = None  # SQL (and parameters) selecting every row behind the hit


class CheckOptions(dict):
    """A check's options after config: the global values, and `at(platform)` with that platform's overrides."""

    def __init__(self, values: dict, per_platform: dict[str, dict] | None = None):
        super().__init__(values)
        self.per_platform = per_platform or {}

    def at(self, platform: str | None) -> dict:
        return {**self, **self.per_platform.get(platform, {})}


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    severity: str
    unit: str  # what a hit's count counts
    summary: str
    what: str
    why: str
    example: str
    fix: str
    find: Callable[["AuditView", CheckOptions], Iterable[Hit]]
    options: dict = field(default_factory=dict)
    reads_waivers: bool = False  # runs after every other check, when the waivers know what they waived


def first_examples(value: str, key: str) -> str:
    """SQL aggregate: the EXAMPLE_LIMIT values with the smallest `key`, in key order. DuckDB keeps them in a
    bounded heap, where list(... ORDER BY ...)[1:5] would collect and sort every hit first."""
    return f"min_by({value}, {key}, {EXAMPLE_LIMIT})"


class AuditView:
    """The derived tables of one audit (see engine/tables.py) plus the rules and metrics."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rules: dict[str, PlatformRules], metrics: dict, inputs: dict,
                 waivers: list | None = None, today=None):
        self.con = con
        self.rules = rules
        self.metrics = metrics  # (platform, event type) -> PlatformSummary
        self.inputs = inputs  # side -> InputSummary
        self.waivers = waivers or []  # dedupaudit.waivers.Waiver, each counting what it waived as the checks run
        self.today = today

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        cursor = self.con.execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def event_hits(self, where: str, params: dict | None = None, by_type: bool = True) -> list[tuple[str, str | None, int, list[dict], tuple]]:
        """Count the events matching `where` per platform (and type), with up to five example rows and the evidence query."""
        group = "platform, event_type" if by_type else "platform"
        # One pass: the count and the first five rows (by time, then place in the input) of each group.
        fields = ", ".join(f"'{name}': {name}" for name in ("event_name", "event_id", "order_id", "event_time", "received_time",
                                                          "file", "row", "source_ref"))
        counts = self.rows(f"""
            SELECT {group}, count(*) AS n, {first_examples(f"{{'side': source, {fields}}}", "(event_time, file, row)")} AS examples
            FROM audit_events WHERE {where} GROUP BY {group} ORDER BY {group}""", params)
        out = []
        for c in counts:
            key = (c["platform"], c.get("event_type"))
            rows = [_example(e) for e in c["examples"]]
            scope = "platform = $_platform" + (" AND event_type = $_type" if by_type else "")
            evidence = (f"SELECT {EVIDENCE_COLUMNS} FROM audit_events WHERE ({where}) AND {scope} ORDER BY file, row",
                        {**(params or {}), "_platform": key[0], **({"_type": key[1]} if by_type else {})})
            out.append((c["platform"], c.get("event_type"), c["n"], rows, evidence))
        return out

    def order_hits(self, flag: str) -> list[tuple[str, int, list[dict], tuple]]:
        """Count the orders in order_checks where `flag` holds, per platform, with both sides of five of them and the evidence query."""
        counts = self.rows(f"SELECT platform, count(*) AS n FROM order_checks WHERE {flag} GROUP BY platform ORDER BY platform")
        examples = self.rows(f"""
            WITH o AS (
                SELECT platform, link_key FROM order_checks WHERE {flag}
                QUALIFY row_number() OVER (PARTITION BY platform ORDER BY link_key) <= {EXAMPLE_LIMIT}
            )
            SELECT o.platform, o.link_key AS order_key,
                   min(p.order_id) AS order_id,
                   string_agg(DISTINCT p.event_name, ', ' ORDER BY p.event_name) FILTER (WHERE p.source = 'pixel') AS pixel_event_names,
                   string_agg(DISTINCT p.event_name, ', ' ORDER BY p.event_name) FILTER (WHERE p.source = 'capi') AS capi_event_names,
                   string_agg(DISTINCT coalesce(p.event_id, '(none)'), ', ' ORDER BY coalesce(p.event_id, '(none)')) FILTER (WHERE p.source = 'pixel') AS pixel_event_ids,
                   string_agg(DISTINCT coalesce(p.event_id, '(none)'), ', ' ORDER BY coalesce(p.event_id, '(none)')) FILTER (WHERE p.source = 'capi') AS capi_event_ids,
                   min(p.received_time) FILTER (WHERE p.source = 'pixel') AS pixel_received_time,
                   min(p.received_time) FILTER (WHERE p.source = 'capi') AS capi_received_time
            FROM o JOIN purchases p USING (platform) WHERE p.link_key = o.link_key
            GROUP BY o.platform, o.link_key ORDER BY o.platform, o.link_key""")
        return [(c["platform"], c["n"], [_example(e) for e in examples if e["platform"] == c["platform"]],
                 (f"SELECT {EVIDENCE_COLUMNS} FROM purchases WHERE platform = $_platform AND link_key IN "
                  f"(SELECT link_key FROM order_checks WHERE platform = $_platform AND {flag}) ORDER BY link_key, file, row",
                  {"_platform": c["platform"]}))
                for c in counts]


def _example(row: dict) -> dict:
    """An example row as shown in reports: no grouping columns, times as ISO-8601 UTC."""
    out = {}
    for key, value in row.items():
        if key in ("platform", "event_type") or (key == "source_ref" and value is None):
            continue
        out[key] = value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z" if hasattr(value, "strftime") else value
    return out


def both_fields(rules: PlatformRules) -> str:
    """Where the ID goes on both paths, for hints: '`eventID` (browser) and `event_id` (server)'."""
    if rules.browser_field == rules.server_field:
        return f"`{rules.browser_field}` on both the browser and the server side"
    return f"`{rules.browser_field}` (browser) and `{rules.server_field}` (server)"


SIDE_WORDS = {"capi": "server (CAPI)", "pixel": "browser (pixel)"}
