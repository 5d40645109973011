"""Baselines: what changed between two audit results, and whether it is a regression.

`compare(old, new, tolerances)` takes two results as `AuditResult.to_dict()` produces them (or as
`load_result` reads them back from a JSON report) and returns a `BaselineDiff`: per platform and
event, every tracked metric that changed (old, new, delta, tolerance, regressed); findings that are
new, resolved or whose count or severity changed (a finding is matched by code, platform and
event); and (platform, event) entries added or removed. This module only computes: it prints
nothing and reads no file except in `load_result`.

Which change is a regression
----------------------------
- `inflation_ratio` going up by more than its tolerance (default 0.02);
- `coverage.pixel`, `coverage.capi`, `coverage.any` going down by more than theirs (default 0.02);
- a new finding at severity error, or a finding that became an error (`new_error_findings`,
  default true);
- the counts `extra_conversions`, `missing_event_id.pixel`, `missing_event_id.capi`,
  `mismatched_event_id`, `event_name_drift`, `outside_window` going up by more than their
  tolerance, when one is set (by default they are reported as changes only).

A change exactly at the tolerance is not a regression. A metric that is null on one side (an
inflation ratio without orders) is reported but never a regression.

The tolerances themselves (the `baseline:` config section, `--tolerance`) are in tolerances.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from dedupaudit.errors import UserError
from dedupaudit.privacy import clean_tree
from dedupaudit.result import SCHEMA_VERSION, severity_rank
from dedupaudit.tolerances import METRICS, Metric, Tolerances, tolerance_options  # noqa: F401  (importable from here as before)

DIFF_SCHEMA_VERSION = 1  # of BaselineDiff.to_dict()
_EPSILON = 1e-9  # float noise: a change exactly at the tolerance is not a regression


# ================================================================ results in

def load_result(path: str | Path) -> dict:
    """Read a dedupaudit JSON result (`check --format json`) and check that it is one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a dedupaudit JSON result") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a dedupaudit JSON result (not UTF-8 text)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not a dedupaudit JSON result (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    validate_result(data, str(path))
    return clean_tree(data)  # a result read back is untrusted text like any input


def validate_result(data, name: str) -> None:
    """Raise UserError naming `name` unless `data` looks like a schema-1 result dict."""
    if not isinstance(data, dict) or "schema_version" not in data or "platforms" not in data:
        raise UserError(f"{name}: not a dedupaudit result (no schema_version and platforms; "
                        "write one with `dedupaudit check --format json`)")
    version = data["schema_version"]
    if version != SCHEMA_VERSION:
        raise UserError(f"{name}: schema_version {version!r} is not supported (this dedupaudit reads {SCHEMA_VERSION})")
    if not isinstance(data["platforms"], list) or not isinstance(data.get("findings", []), list):
        raise UserError(f"{name}: not a dedupaudit result ('platforms' and 'findings' must be lists)")
    for i, entry in enumerate(data["platforms"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("platform"), str) or not isinstance(entry.get("event"), str):
            raise UserError(f"{name}: platforms[{i}] has no platform and event")
        for metric in METRICS:
            value = _value(entry, metric.key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise UserError(f"{name}: platforms[{i}].{metric.key} is {str(value)[:40]!r}, not a number or null")
    for i, finding in enumerate(data.get("findings", [])):
        if not isinstance(finding, dict) or not isinstance(finding.get("code"), str) \
                or finding.get("severity") not in ("error", "warning", "info"):
            raise UserError(f"{name}: findings[{i}] has no code or a severity other than error, warning or info")


# ================================================================ the diff

@dataclass(frozen=True)
class MetricChange:
    platform: str
    display_name: str
    event: str
    metric: str  # a METRICS key
    label: str
    kind: str  # ratio, share or count
    old: float | int | None
    new: float | int | None
    delta: float | int | None  # new - old; None when either side is null
    worse: bool  # moved in the bad direction
    tolerance: float | None  # None: reported only
    regressed: bool


@dataclass(frozen=True)
class FindingChange:
    code: str
    name: str
    platform: str | None  # None: an input-level finding
    display_name: str | None
    event: str | None
    unit: str
    old_severity: str | None  # None: new finding
    new_severity: str | None  # None: resolved finding
    old_count: int | None
    new_count: int | None
    message: str  # the newer side's message
    regressed: bool  # new, or newly, at severity error where that counts
    platform_absent: bool = False  # resolved only because the platform is not in the new result at all


@dataclass(frozen=True)
class PlatformEvent:
    platform: str
    display_name: str
    event: str


@dataclass(frozen=True)
class WaivedChange:
    """A waived count that moved: shown apart, never a regression (the waiver says it is accepted)."""

    code: str
    name: str
    platform: str | None
    display_name: str | None
    event: str | None
    old_count: int
    new_count: int


@dataclass(frozen=True)
class BaselineDiff:
    old_name: str
    new_name: str
    old_period: dict
    new_period: dict
    metrics: tuple[MetricChange, ...]
    new_findings: tuple[FindingChange, ...]
    resolved_findings: tuple[FindingChange, ...]
    changed_findings: tuple[FindingChange, ...]
    platforms_added: tuple[PlatformEvent, ...]
    platforms_removed: tuple[PlatformEvent, ...]
    tolerances: Tolerances
    waived: tuple[WaivedChange, ...] = ()  # waived counts compared separately from findings

    @property
    def regressions(self) -> tuple[MetricChange, ...]:
        return tuple(m for m in self.metrics if m.regressed)

    @property
    def new_errors(self) -> tuple[FindingChange, ...]:
        return tuple(f for f in (*self.new_findings, *self.changed_findings) if f.regressed)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions or self.new_errors)

    @property
    def changed(self) -> bool:
        return bool(self.metrics or self.new_findings or self.resolved_findings or self.changed_findings
                    or self.platforms_added or self.platforms_removed or self.waived)

    def to_dict(self) -> dict:
        return {
            "schema_version": DIFF_SCHEMA_VERSION,
            "old": {"name": self.old_name, "period": self.old_period},
            "new": {"name": self.new_name, "period": self.new_period},
            "regressed": self.regressed,
            "summary": {
                "metric_regressions": len(self.regressions),
                "new_error_findings": len(self.new_errors),
                "metric_changes": len(self.metrics),
                "new_findings": len(self.new_findings),
                "resolved_findings": len(self.resolved_findings),
                "changed_findings": len(self.changed_findings),
                "waived_changes": len(self.waived),
            },
            "metrics": [asdict(m) for m in self.metrics],
            "findings": {
                "new": [asdict(f) for f in self.new_findings],
                "resolved": [asdict(f) for f in self.resolved_findings],
                "changed": [asdict(f) for f in self.changed_findings],
            },
            "platforms": {
                "added": [asdict(p) for p in self.platforms_added],
                "removed": [asdict(p) for p in self.platforms_removed],
            },
            "waived": [asdict(w) for w in self.waived],
            "tolerances": self.tolerances.to_dict(),
        }


def _value(entry: dict, key: str):
    head, _, tail = key.partition(".")
    value = entry.get(head)
    if tail:
        value = value.get(tail) if isinstance(value, dict) else None
    return value


def _metric_change(metric: Metric, entry_old: dict, entry_new: dict, tolerances: Tolerances) -> MetricChange | None:
    old, new = _value(entry_old, metric.key), _value(entry_new, metric.key)
    if old == new:
        return None
    platform = entry_new["platform"]
    tolerance = tolerances.tolerance(platform, metric.key)
    if old is None or new is None:
        delta, worse, regressed = None, False, False
    else:
        delta = new - old if metric.kind == "count" and isinstance(new, int) and isinstance(old, int) else round(new - old, 6)
        worse = delta > 0 if metric.worse == "up" else delta < 0
        regressed = worse and tolerance is not None and abs(delta) > tolerance + _EPSILON
    return MetricChange(
        platform=platform, display_name=entry_new.get("display_name") or platform, event=entry_new["event"],
        metric=metric.key, label=metric.label, kind=metric.kind, old=old, new=new, delta=delta, worse=worse,
        tolerance=tolerance, regressed=regressed,
    )


def _findings_by_key(result: dict) -> dict[tuple, dict]:
    """Findings keyed by (code, platform, event); duplicates (not expected) add up, keeping the worst severity."""
    out: dict[tuple, dict] = {}
    for f in result.get("findings", []):
        key = (f["code"], f.get("platform"), f.get("event"))
        if key in out:
            seen = out[key]
            worst = min(seen["severity"], f["severity"], key=severity_rank)
            out[key] = {**seen, "severity": worst, "count": (seen.get("count") or 0) + (f.get("count") or 0)}
        else:
            out[key] = f
    return out


def _finding_change(key, old: dict | None, new: dict | None, names: dict, tolerances: Tolerances,
                    platforms_now: set) -> FindingChange:
    code, platform, event = key
    either = new or old
    was_error = old is not None and old["severity"] == "error"
    regressed = new is not None and new["severity"] == "error" and not was_error and tolerances.fails_on_new_errors(platform)
    return FindingChange(
        code=code, name=either.get("name", ""), platform=platform,
        display_name=names.get(platform, platform) if platform else None, event=event, unit=either.get("unit", ""),
        old_severity=old["severity"] if old else None, new_severity=new["severity"] if new else None,
        old_count=old.get("count") if old else None, new_count=new.get("count") if new else None,
        message=either.get("message", ""), regressed=regressed,
        platform_absent=new is None and platform is not None and platform not in platforms_now,
    )


def _finding_order(f: FindingChange):
    severity = f.new_severity or f.old_severity
    return (severity_rank(severity), f.platform or "", f.event or "", f.code)


def compare(old, new, tolerances: Tolerances | None = None,
            names: tuple[str, str] = ("old result", "new result")) -> BaselineDiff:
    """What changed from `old` to `new` (each a typed AuditResult, or its `to_dict()` read back from a JSON file),
    judged by `tolerances`. `names` name the two results in error messages and reports (usually their file names).
    """
    from dedupaudit.reports.json_report import json_native
    from dedupaudit.result import AuditResult

    old, new = (json_native(r.to_dict()) if isinstance(r, AuditResult) else r for r in (old, new))
    tolerances = tolerances or Tolerances()
    validate_result(old, names[0])
    validate_result(new, names[1])

    old_entries = {(p["platform"], p["event"]): p for p in old["platforms"]}
    new_entries = {(p["platform"], p["event"]): p for p in new["platforms"]}
    display = {p["platform"]: p.get("display_name") or p["platform"] for p in (*old["platforms"], *new["platforms"])}

    metrics = []
    for key, entry_new in new_entries.items():  # in the new result's order
        entry_old = old_entries.get(key)
        if entry_old is None:
            continue
        for metric in METRICS:
            change = _metric_change(metric, entry_old, entry_new, tolerances)
            if change is not None:
                metrics.append(change)

    def platform_event(entry: dict) -> PlatformEvent:
        return PlatformEvent(entry["platform"], entry.get("display_name") or entry["platform"], entry["event"])

    added = tuple(platform_event(e) for k, e in new_entries.items() if k not in old_entries)
    removed = tuple(platform_event(e) for k, e in old_entries.items() if k not in new_entries)

    old_findings, new_findings = _findings_by_key(old), _findings_by_key(new)
    platforms_now = {p for p, _ in new_entries}
    appeared, resolved, changed = [], [], []
    for key, f in new_findings.items():
        before = old_findings.get(key)
        if before is None:
            appeared.append(_finding_change(key, None, f, display, tolerances, platforms_now))
        elif before.get("count") != f.get("count") or before["severity"] != f["severity"]:
            changed.append(_finding_change(key, before, f, display, tolerances, platforms_now))
    for key, f in old_findings.items():
        if key not in new_findings:
            resolved.append(_finding_change(key, f, None, display, tolerances, platforms_now))

    return BaselineDiff(
        old_name=names[0], new_name=names[1],
        old_period=dict(old.get("period") or {}), new_period=dict(new.get("period") or {}),
        metrics=tuple(metrics),
        new_findings=tuple(sorted(appeared, key=_finding_order)),
        resolved_findings=tuple(sorted(resolved, key=_finding_order)),
        changed_findings=tuple(sorted(changed, key=_finding_order)),
        platforms_added=added, platforms_removed=removed,
        tolerances=tolerances,
        waived=_waived_changes(old, new, display),
    )


def _waived_changes(old: dict, new: dict, display: dict) -> tuple[WaivedChange, ...]:
    """Waived counts per (code, platform, event) that differ between the results (a result without `waived`: none)."""
    def counts(result: dict) -> dict[tuple, tuple[str, int]]:
        out: dict[tuple, tuple[str, int]] = {}
        for w in result.get("waived") or []:
            key = (w.get("code"), w.get("platform"), w.get("event"))
            out[key] = (w.get("name") or "", out.get(key, ("", 0))[1] + int(w.get("count") or 0))
        return out

    before, after = counts(old), counts(new)
    keys = sorted(set(before) | set(after), key=lambda k: (k[1] or "", k[0] or "", k[2] or ""))
    return tuple(WaivedChange(code, (after.get(k) or before.get(k))[0], platform, display.get(platform, platform), event,
                              before.get(k, ("", 0))[1], after.get(k, ("", 0))[1])
                 for k in keys for code, platform, event in [k] if before.get(k, ("", 0))[1] != after.get(k, ("", 0))[1])
