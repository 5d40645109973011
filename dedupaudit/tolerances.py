"""Baseline tolerances: how far each tracked metric may get worse before it is a regression.

Split from baseline.py (the diff): this module is the settings side, the `baseline:` config
section and `--tolerance KEY=VALUE`, validated with the one Option type (dedupaudit/options.py).

The `baseline:` config section
------------------------------
Every key is optional; a metric given a number is checked with that tolerance, given `null` is
reported only. `coverage` and `missing_event_id` take one number for all their sides or a mapping
per side. `platforms` overrides any of these keys (and `new_error_findings`) for one platform::

    baseline:
      inflation_ratio: 0.02          # inflation up by more than this is a regression
      coverage: 0.02                 # or {pixel: 0.02, capi: 0.05, any: 0.01}; down by more is a regression
      missing_event_id: null         # or {pixel: 10, capi: 0}: count up by more is a regression
      mismatched_event_id: null
      event_name_drift: null
      outside_window: null
      extra_conversions: null
      new_error_findings: true       # a new finding at severity error is a regression
      platforms:
        tiktok:
          inflation_ratio: 0.1
          coverage: {pixel: 0.05}
          new_error_findings: false

Tolerances are numbers of at least 0 in the metric's own unit (a ratio, a share of orders between
0 and 1, or a count). Unknown keys and wrong types raise `UserError` naming the key and the file.
`--tolerance KEY=VALUE` on the command line uses the same keys as dotted paths
(`inflation_ratio=0.05`, `coverage.pixel=0.03`, `platforms.tiktok.inflation_ratio=0.1`), see
`tolerance_options`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from dedupaudit.errors import UserError
from dedupaudit.options import Option, fail, shown, unknown


@dataclass(frozen=True)
class Metric:
    key: str  # dotted path into a platforms[] entry: "inflation_ratio", "coverage.pixel"
    label: str  # how reports name it
    worse: str  # "up" or "down": the direction that is bad
    kind: str  # "ratio", "share" or "count": how reports format it
    default: float | None  # default tolerance; None: reported only


METRICS: tuple[Metric, ...] = (
    Metric("inflation_ratio", "inflation", "up", "ratio", 0.02),
    Metric("coverage.pixel", "pixel coverage", "down", "share", 0.02),
    Metric("coverage.capi", "CAPI coverage", "down", "share", 0.02),
    Metric("coverage.any", "coverage (pixel or CAPI)", "down", "share", 0.02),
    Metric("extra_conversions", "extra conversions", "up", "count", None),
    Metric("missing_event_id.pixel", "pixel events without ID", "up", "count", None),
    Metric("missing_event_id.capi", "CAPI events without ID", "up", "count", None),
    Metric("mismatched_event_id", "mismatched event IDs", "up", "count", None),
    Metric("event_name_drift", "event name drift", "up", "count", None),
    Metric("outside_window", "pairs outside the dedup window", "up", "count", None),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
# config keys that take one number for every side, or a mapping per side
_GROUPS = {"coverage": ("pixel", "capi", "any"), "missing_event_id": ("pixel", "capi")}
# the section's metric keys, in METRICS order: a group name stands for all its sides
_SECTION_KEYS = tuple(dict.fromkeys(m.key.partition(".")[0] for m in METRICS))
_EPSILON = 1e-9  # float noise: a change exactly at the tolerance is not a regression

def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Tolerances:
    """How far each metric may move the bad way before it is a regression.

    `metrics`: metric key (see METRICS) -> tolerance, None for reported only; keys left out keep
    their default. `platforms`: platform -> sparse overrides of metric keys and
    "new_error_findings". Build it from config with `Tolerances.from_config`.
    """

    metrics: Mapping[str, float | None] = field(default_factory=lambda: _frozen({m.key: m.default for m in METRICS}))
    new_error_findings: bool = True
    platforms: Mapping[str, Mapping[str, float | bool | None]] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self):
        metrics = {m.key: m.default for m in METRICS}
        for key, value in self.metrics.items():
            if key not in METRIC_BY_KEY:
                raise ValueError(f"unknown metric {key!r}")
            metrics[key] = value
        object.__setattr__(self, "metrics", _frozen(metrics))
        platforms = {}
        for name, overrides in self.platforms.items():
            extra = set(overrides) - set(METRIC_BY_KEY) - {"new_error_findings"}
            if extra:
                raise ValueError(f"unknown metric(s) {sorted(extra)} for platform {name!r}")
            platforms[name] = _frozen(overrides)
        object.__setattr__(self, "platforms", _frozen(platforms))

    def tolerance(self, platform: str | None, metric: str) -> float | None:
        """The tolerance for `metric` on `platform`: its override if there is one, else the general one."""
        overrides = self.platforms.get(platform, {}) if platform is not None else {}
        return overrides[metric] if metric in overrides else self.metrics[metric]

    def fails_on_new_errors(self, platform: str | None) -> bool:
        overrides = self.platforms.get(platform, {}) if platform is not None else {}
        return bool(overrides.get("new_error_findings", self.new_error_findings))

    @classmethod
    def from_config(cls, data: Mapping | None, where: str, section: str = "baseline") -> Tolerances:
        """Parse a `baseline:` config section (shape in the module docstring) on top of the defaults.

        `where` names the source in error messages (the config file, or "--tolerance"); `section`
        prefixes key paths in them ("" for none).
        """
        return cls().with_config(data, where, section)

    def with_config(self, data: Mapping | None, where: str, section: str = "baseline") -> Tolerances:
        """These tolerances with a config-shaped mapping applied on top (later layers win)."""
        if data is None:
            return self
        metrics, new_errors, platforms = _parse_section(data, where, section, top=True)
        merged_platforms = {name: dict(values) for name, values in self.platforms.items()}
        for name, values in platforms.items():
            merged_platforms.setdefault(name, {}).update(values)
        return replace(
            self,
            metrics={**self.metrics, **metrics},
            new_error_findings=self.new_error_findings if new_errors is None else new_errors,
            platforms=merged_platforms,
        )

    def to_dict(self) -> dict:
        """The tolerances in the config section's shape, every metric spelled out."""
        out: dict[str, Any] = {}
        for key, value in self.metrics.items():
            _put(out, key, value)
        out["new_error_findings"] = self.new_error_findings
        platforms: dict[str, dict] = {}
        for name, values in sorted(self.platforms.items()):
            entry: dict[str, Any] = {}
            for key, value in values.items():
                _put(entry, key, value)
            platforms[name] = entry
        out["platforms"] = platforms
        return out


def _put(target: dict, dotted: str, value) -> None:
    head, _, tail = dotted.partition(".")
    if tail:
        target.setdefault(head, {})[tail] = value
    else:
        target[head] = value


def _path(section: str, *keys: str) -> str:
    return ".".join(k for k in (section, *keys) if k)


TOLERANCE = Option(None, "number", "how far the metric may get worse before it is a regression; null: reported only",
                   minimum=0, nullable=True)
NEW_ERROR_FINDINGS = Option(True, "bool", "a new finding at severity error (or one that became an error) is a regression")


def _parse_section(data, where: str, section: str, top: bool):
    """-> (metric overrides, new_error_findings or None, platform overrides); errors in the options.py style."""
    if not isinstance(data, Mapping):
        raise fail(where, section or "tolerances", f"{shown(data)} is not a mapping", "a mapping of keys to tolerances")
    known = [*_SECTION_KEYS, "new_error_findings", *(["platforms"] if top else [])]
    metrics: dict[str, float | None] = {}
    new_errors = None
    platforms: dict[str, dict] = {}
    for key, value in data.items():
        path = _path(section, str(key))
        if key not in known:
            raise unknown(where, path, known)
        if key == "new_error_findings":
            new_errors = NEW_ERROR_FINDINGS.check(value, where, path)
        elif key == "platforms":
            if not isinstance(value, Mapping):
                raise fail(where, path, f"{shown(value)} is not a mapping", "a mapping of platform names to tolerances")
            for name, overrides in value.items():
                if not isinstance(name, str) or not name:
                    raise fail(where, path, f"{name!r} is not a platform name", "a platform id such as meta")
                sub_metrics, sub_errors, _ = _parse_section(overrides if overrides is not None else {}, where,
                                                            _path(path, name), top=False)
                platforms[name.lower()] = {**sub_metrics, **({} if sub_errors is None else {"new_error_findings": sub_errors})}
        elif key in _GROUPS:
            sides = _GROUPS[key]
            if isinstance(value, Mapping):
                for side, number in value.items():
                    if side not in sides:
                        raise unknown(where, _path(path, str(side)), sides)
                    metrics[f"{key}.{side}"] = TOLERANCE.check(number, where, _path(path, side))
            else:
                number = TOLERANCE.check(value, where, path)
                metrics.update({f"{key}.{side}": number for side in sides})
        else:
            metrics[key] = TOLERANCE.check(value, where, path)
    return metrics, new_errors, platforms


def tolerance_options(items: list[str] | tuple[str, ...], option: str = "--tolerance") -> dict:
    """Turn repeated `KEY=VALUE` options into a config-shaped mapping for `Tolerances.with_config`.

    KEY is a dotted path of the `baseline:` section (`coverage.pixel`, `platforms.tiktok.inflation_ratio`);
    VALUE is read as YAML (`0.05`, `null`, `true`), and `none` means null. Later options win.
    """
    data: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"{option} {item!r}: expected KEY=VALUE, e.g. inflation_ratio=0.05")
        try:
            value = None if raw.strip().lower() == "none" else yaml.safe_load(raw)
        except yaml.YAMLError:
            raise UserError(f"{option} {item!r}: cannot read the value {raw!r}") from None
        parts = key.split(".")
        if any(not p for p in parts):
            raise UserError(f"{option} {item!r}: '{key}' is not a key path")
        target = data
        for part in parts[:-1]:
            nxt = target.get(part)
            if not isinstance(nxt, dict):
                nxt = target[part] = {}
            target = nxt
        target[parts[-1]] = value
    return data


