"""Load and validate the per-platform rule files (rules/*.yaml; schema in rules/README.md).

The files are the only place platform behaviour is defined: windows, name taxonomies, time units,
and which of those facts are documented or assumed. A malformed file stops the run (exit 2) with
the file and the key named, because an audit built on a misread rule would be silently wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from dedupaudit.errors import UserError

FACT_KEYS = ("names_case_sensitive", "dedup_window_hours", "same_source_dedup", "server_time_unit", "max_event_age_days", "events")
TIME_UNITS = ("seconds", "milliseconds", "iso8601")
_TOP_KEYS = {"schema", "platform", "display_name", "dedup_id", *FACT_KEYS, "facts"}
_DEDUP_ID_KEYS = {"browser_field", "browser_how", "server_field", "server_how"}
_FACT_FIELDS = {"status", "source", "note"}


@dataclass(frozen=True)
class PlatformRules:
    platform: str
    display_name: str
    browser_field: str
    browser_how: str
    server_field: str
    server_how: str
    names_case_sensitive: bool
    dedup_window_hours: float | None
    same_source_dedup: bool
    server_time_unit: str
    max_event_age_days: float | None
    events: dict[str, tuple[str, ...]]
    facts: dict[str, dict]
    path: str

    @property
    def assumptions(self) -> list[str]:
        """The rule values this platform's figures rest on that the platform does not document."""
        return [key for key in FACT_KEYS if self.facts[key]["status"] == "assumption"]


def bundled_rules_dir() -> Path:
    """The rule files shipped in the wheel, or the repository's rules/ in a source checkout."""
    packaged = resources.files("dedupaudit") / "platform_rules"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "rules"


def load_rules(folder: Path | None = None) -> dict[str, PlatformRules]:
    folder = Path(folder) if folder else bundled_rules_dir()
    if not folder.is_dir():
        raise UserError(f"--rules {folder}: no such folder")
    files = sorted(list(folder.glob("*.yaml")) + list(folder.glob("*.yml")))
    if not files:
        raise UserError(f"{folder}: no rule files (*.yaml) in this folder")
    rules: dict[str, PlatformRules] = {}
    for path in files:
        rule = parse_rule_file(path)
        if rule.platform in rules:
            raise UserError(f"{path}: platform '{rule.platform}' is already defined in {rules[rule.platform].path}")
        rules[rule.platform] = rule
    return rules


def parse_rule_file(path: Path) -> PlatformRules:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: not a readable YAML file ({str(exc).splitlines()[0]})") from exc

    def fail(key: str, problem: str):
        raise UserError(f"{path}: {key}: {problem}")

    if not isinstance(data, dict):
        fail("(top level)", "expected a mapping of keys")
    _exact_keys(data, _TOP_KEYS, "(top level)", fail)
    if data["schema"] != 1:
        fail("schema", f"unsupported version {data['schema']!r} (this dedupaudit reads version 1)")
    platform = data["platform"]
    if not isinstance(platform, str) or not re.fullmatch(r"[a-z0-9_]+", platform):
        fail("platform", "must be lower-case letters, digits or _")
    dedup_id = data["dedup_id"]
    if not isinstance(dedup_id, dict):
        fail("dedup_id", "expected a mapping")
    _exact_keys(dedup_id, _DEDUP_ID_KEYS, "dedup_id", fail)
    for key in ("display_name",):
        _expect(data[key], str, key, fail)
    for key in _DEDUP_ID_KEYS:
        _expect(dedup_id[key], str, f"dedup_id.{key}", fail)
    for key in ("names_case_sensitive", "same_source_dedup"):
        _expect(data[key], bool, key, fail)
    for key in ("dedup_window_hours", "max_event_age_days"):
        value = data[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            fail(key, "expected a positive number or null")
    if data["server_time_unit"] not in TIME_UNITS:
        fail("server_time_unit", f"expected one of {', '.join(TIME_UNITS)}")

    events = data["events"]
    if not isinstance(events, dict) or "purchase" not in events:
        fail("events", "expected a mapping of event types to names, including 'purchase'")
    seen: dict[str, str] = {}
    for event_type, names in events.items():
        if not isinstance(event_type, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", event_type):
            fail(f"events.{event_type}", "event types are snake_case")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            fail(f"events.{event_type}", "expected a non-empty list of names")
        for name in names:
            folded = name if data["names_case_sensitive"] else name.lower()
            if folded in seen:
                fail(f"events.{event_type}", f"'{name}' is already listed under '{seen[folded]}'")
            seen[folded] = event_type

    facts = data["facts"]
    if not isinstance(facts, dict):
        fail("facts", "expected a mapping")
    _exact_keys(facts, set(FACT_KEYS), "facts", fail)
    for key, fact in facts.items():
        if not isinstance(fact, dict):
            fail(f"facts.{key}", "expected {status, source or note}")
        unknown = set(fact) - _FACT_FIELDS
        if unknown:
            fail(f"facts.{key}.{sorted(unknown)[0]}", f"unknown key (valid: {', '.join(sorted(_FACT_FIELDS))})")
        if fact.get("status") == "documented" and not fact.get("source"):
            fail(f"facts.{key}", "a documented fact needs a source")
        elif fact.get("status") == "assumption" and not fact.get("note"):
            fail(f"facts.{key}", "an assumption needs a note saying why")
        elif fact.get("status") not in ("documented", "assumption"):
            fail(f"facts.{key}.status", "expected 'documented' or 'assumption'")

    return PlatformRules(
        platform=platform,
        display_name=data["display_name"],
        browser_field=dedup_id["browser_field"],
        browser_how=dedup_id["browser_how"],
        server_field=dedup_id["server_field"],
        server_how=dedup_id["server_how"],
        names_case_sensitive=data["names_case_sensitive"],
        dedup_window_hours=data["dedup_window_hours"],
        same_source_dedup=data["same_source_dedup"],
        server_time_unit=data["server_time_unit"],
        max_event_age_days=data["max_event_age_days"],
        events={t: tuple(n) for t, n in events.items()},
        facts=facts,
        path=str(path),
    )


def _exact_keys(data: dict, valid: set, where: str, fail) -> None:
    for key in data:
        if key not in valid:
            fail(f"{where}.{key}" if where != "(top level)" else str(key), f"unknown key (valid: {', '.join(sorted(valid))})")
    for key in sorted(valid - set(data)):
        fail(f"{where}.{key}" if where != "(top level)" else key, "required key is missing")


def _expect(value, kind: type, key: str, fail) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        fail(key, f"expected {'true or false' if kind is bool else 'text' if kind is str else kind.__name__}")
