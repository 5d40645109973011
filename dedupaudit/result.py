"""The one result model. The JSON report is `AuditResult.to_dict()`; every other format reads it.

The JSON contract (schema_version 1) is documented in docs/json-schema.md. Keys may be added;
existing keys keep their meaning until schema_version changes.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = 1
SEVERITIES = ("error", "warning", "info")  # most severe first


def severity_rank(severity: str) -> int:
    """0 for error, 1 warning, 2 info: sorts the most severe first."""
    return SEVERITIES.index(severity)


def finding_order(f: Finding) -> tuple:
    """The one order of findings (the engine sorts by it, every report keeps it): most severe first, then the
    largest count, then code and platform."""
    return severity_rank(f.severity), -f.count, f.code, f.platform or "", f.event or ""


@dataclass
class InputSummary:
    files: list[str]
    rows: int  # every row read, used or rejected
    rejected: int
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    outside_period: int = 0  # readable rows left out by --since/--until
    normalised_order_ids: int = 0  # rows whose order ID was compared trimmed and without a leading '#'
    numeric_ids: int = 0  # event and order IDs stored as numbers (1001.0), compared as 1001
    per_file: list[dict] = field(default_factory=list)  # per file: rows = used + rejected, rejected_reasons


@dataclass
class PlatformSummary:
    platform: str
    display_name: str
    event: str
    orders: int | None
    pixel_events: int
    capi_events: int
    reported_conversions: int
    inflation_ratio: float | None
    extra_conversions: int | None
    missing_event_id: dict[str, int]
    mismatched_event_id: int
    event_name_drift: int
    outside_window: int
    coverage: dict[str, float | None] | None
    links: dict[str, int] | None  # how purchase events were tied to orders
    assumptions: list[str]  # rule values behind these figures that the platform does not document
    window_hours: float | None  # the platform's dedup window (null: no time limit)
    average_order_value: float | None = None  # mean value of the real orders (purchase only)
    currency: str | None = None  # the real orders' currency; null when mixed or unknown
    # The count under every reading of the rules the platform does not confirm: low == high when none changes it.
    reported_range: dict[str, int] | None = None  # {low, high}
    inflation_range: dict[str, float] | None = None  # {low, high}; null without orders
    unconfirmed_rules: list[dict] = field(default_factory=list)  # the readings that change this count (engine/readings.py)
    deduplicated: dict[str, int] | None = None  # events the platform drops, by the key that merged them: event_id, fallback
    orders_in_several_scopes: int | None = None  # purchase: orders counted in several conversion actions / channels
    platform_reported: int | None = None  # what the platform's own dashboard shows (--platform-reported)
    model_gap: float | None = None  # reported_conversions / platform_reported - 1
    # Money, never summed across currencies (purchase only): audit/engine.py _add_order_value.
    extra_revenue: float | None = None  # extra_conversions x average_order_value; null with orders in several currencies
    average_order_value_by_currency: dict[str, float] | None = None  # currency -> mean value of its real orders
    extra_revenue_by_currency: dict[str, float] | None = None  # currency -> extra conversions x its order share x its average
    # With --spend, per currency code: spend, conversion_value_reported/_deduplicated, roas_reported/_deduplicated,
    # exchange_rates (the user's rates applied to values converted into it), spend_period (dated spend: the days counted).
    roas: dict[str, dict] | None = None


@dataclass
class Finding:
    code: str
    name: str
    severity: str
    platform: str
    event: str | None
    count: int
    unit: str  # what `count` counts: events, orders, ids, conversions
    message: str
    hint: str
    examples: list[dict] = field(default_factory=list)


@dataclass
class WaivedFinding(Finding):
    """The part of a finding a waiver accepted (dedupaudit/waivers.py): left out of `findings` and the exit code."""

    reason: str = ""
    expires: str | None = None  # YYYY-MM-DD; after it the waiver no longer applies
    waiver: str = ""  # where the waiver is written: "dedupaudit.yaml: waivers[0]"


@dataclass
class AuditResult:
    tool: dict
    inputs: dict[str, InputSummary]
    period: dict[str, str | None]
    platforms: list[PlatformSummary]
    findings: list[Finding]
    daily: list[dict] = field(default_factory=list)  # per platform and day (settings.timezone): reported purchases vs orders
    pair_gaps: list[dict] = field(default_factory=list)  # per platform: linked pixel/CAPI pairs by time apart
    settings: dict = field(default_factory=dict)
    baseline: dict | None = None  # with --baseline: what changed since that result (dedupaudit.baseline)
    waived: list[WaivedFinding] = field(default_factory=list)  # findings (or parts) accepted by a waiver, with the reason
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: dict) -> AuditResult:
        """The typed result of a JSON result (`to_dict()`'s shape): baselines and tests read results back with it."""
        data = copy.deepcopy(data)
        return cls(
            tool=data["tool"],
            inputs={side: InputSummary(**s) for side, s in data["inputs"].items()},
            period=data["period"],
            platforms=[PlatformSummary(**p) for p in data["platforms"]],
            findings=[Finding(**f) for f in data["findings"]],
            daily=data.get("daily", []),
            pair_gaps=data.get("pair_gaps", []),
            settings=data.get("settings", {}),
            baseline=data.get("baseline"),
            waived=[WaivedFinding(**w) for w in data.get("waived", [])],
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )
