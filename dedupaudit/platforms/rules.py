"""Load and validate the per-platform rule files (rules/*.yaml; schema in rules/README.md).

The files are the only place platform behaviour is defined: windows, name taxonomies, time units,
and which of those facts are documented or assumed. A malformed file stops the run (exit 2) with
the file and the key named, because an audit built on a misread rule would be silently wrong.
Scalar values are checked by the one Option type (RULE_OPTIONS), so their errors read like every
other setting's.

Over 350 lines on purpose, for now: about half is the `native:` section's parser (below the line
"native formats"), which is being rewritten on another branch; moving it out here as well would
make that merge a conflict on every line. Once it lands, that half is the natural module of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import yaml

from dedupaudit.errors import UserError
from dedupaudit.options import Option

FACT_KEYS = ("names_case_sensitive", "dedup_window_hours", "same_source_dedup", "server_time_unit", "max_event_age_days", "events")
# Optional parts of the dedup model; a file that has one must say where it comes from (a fact).
MODEL_KEYS = ("dedup_scope", "fallback", "merged_names", "offline_after_hours")
TIME_UNITS = ("seconds", "milliseconds", "iso8601")
FACT_STATUSES = ("documented", "observed", "assumption")
SCOPE_COLUMNS = ("conversion_action", "action_source")  # canonical columns a dedup scope may name
FALLBACK_KEYS = ("fbp", "external_id", "ttp", "order_id")  # canonical columns a fallback may match on
FALLBACK_ORDERS = ("browser_first", "any")
FALLBACK_APPLIES = ("without_event_id", "all")
_TOP_KEYS = {"schema", "platform", "display_name", "dedup_id", *FACT_KEYS, "facts"}
_OPTIONAL_TOP_KEYS = {"native", "aliases", *MODEL_KEYS}
_DEDUP_ID_KEYS = {"browser_field", "browser_how", "server_field", "server_how"}
_FACT_FIELDS = {"status", "source", "note"}
_ALTERNATIVE_FIELDS = {"alternative", "reading", "other_reading"}
_SCOPE_KEYS = {"column", "label", "pixel_default", "capi_default", "fix"}
_FALLBACK_KEYS = {"keys", "order", "window_hours", "same_source", "applies_to", "event_types"}
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_HOURS = dict(minimum=0, above=True, nullable=True)  # a duration: positive and finite, or null for none
# The scalar values of a rule file (rules/README.md), checked by the one Option type (dedupaudit/options.py).
RULE_OPTIONS: dict[str, Option] = {
    "display_name": Option(None, "text", "the platform's name in reports"),
    **{f"dedup_id.{k}": Option(None, "text", "where the dedup ID goes, and how, for hints") for k in sorted(_DEDUP_ID_KEYS)},
    "names_case_sensitive": Option(None, "bool", "whether event names are compared with their letter case"),
    "same_source_dedup": Option(None, "bool", "whether two browser (or two server) events with one ID merge too"),
    "dedup_window_hours": Option(None, "number", "how long after the first event a duplicate is still merged", **_HOURS),
    "max_event_age_days": Option(None, "number", "the oldest event the platform accepts", **_HOURS),
    "offline_after_hours": Option(None, "number", "server events received later than this never deduplicate", **_HOURS),
    "dedup_scope.column": Option(None, "text", "what must match besides name and ID", choices=SCOPE_COLUMNS),
    "dedup_scope.label": Option(None, "text", "what reports call the scope"),
    "dedup_scope.pixel_default": Option(None, "text", "the scope of a browser event that does not say", nullable=True),
    "dedup_scope.capi_default": Option(None, "text", "the scope of a server event that does not say", nullable=True),
    "dedup_scope.fix": Option(None, "text", "how to stop an order counting in two scopes", nullable=True),
    "fallback.order": Option(None, "text", "which of two matching events is dropped", choices=FALLBACK_ORDERS),
    "fallback.applies_to": Option(None, "text", "which events the fallback may drop", choices=FALLBACK_APPLIES),
    "fallback.window_hours": Option(None, "number", "how far apart two events may be to merge by fallback", **_HOURS),
    "fallback.same_source": Option(None, "bool", "whether two events of one side also merge by fallback"),
}  # libyaml when present: the rule files are read on every run


@dataclass(frozen=True)
class DedupScope:
    """What must match besides name and ID: Google's conversion action, Reddit's channel."""

    column: str  # canonical column
    label: str  # what the report calls it ("conversion action")
    pixel_default: str | None  # the value of a browser event that does not say
    capi_default: str | None  # the value of a server event that does not say
    fix: str | None = None  # how to stop an order counting in two scopes (shown in the finding's hint)


@dataclass(frozen=True)
class Fallback:
    """The second way a platform deduplicates: other keys (Meta's fbp / external_id) for events the ID did not merge."""

    keys: tuple[str, ...]  # any one matching is enough
    order: str  # browser_first: only a server event received after a browser event is dropped; any: the later event
    window_hours: float | None
    same_source: bool  # two browser (or two server) events are also merged this way
    applies_to: str  # without_event_id: only events with no event ID are dropped; all: any event still counted
    event_types: tuple[str, ...] = ()  # empty: every event type


@dataclass(frozen=True)
class Alternative:
    """An unconfirmed rule value and the other way to read it: the audit counts both and reports the range."""

    rule: str  # the fact key (a dotted path into the rule file)
    status: str  # observed or assumption
    reading: str  # what the rule file assumes, as a sentence
    other_reading: str  # the other way to read it, as a phrase ("TikTok merges CompletePayment into Purchase")
    rules: "PlatformRules"  # the platform's rules under the other reading


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
    server_time_unit: str  # the unit the platform documents (the first when several are accepted)
    max_event_age_days: float | None
    events: dict[str, tuple[str, ...]]
    facts: dict[str, dict]
    path: str
    native: NativeSpec | None = None  # how this platform's own request bodies and pixel requests look
    server_time_units: tuple[str, ...] = ()  # every unit the platform accepts
    dedup_scope: DedupScope | None = None
    fallback: Fallback | None = None
    merged_names: dict[str, str] = field(default_factory=dict)  # name -> the name the platform counts it as
    offline_after_hours: float | None = None  # server events received later than this never deduplicate
    aliases: tuple[str, ...] = ()  # other names an export may write in the platform column (facebook, fb)
    data: dict = field(default_factory=dict, compare=False, repr=False)  # the parsed file, to build alternatives from

    @property
    def assumptions(self) -> list[str]:
        """The rule values this platform's figures rest on that the platform does not document."""
        return [key for key, fact in self.facts.items() if fact["status"] != "documented"]

    @cached_property
    def alternatives(self) -> list[Alternative]:
        """Every unconfirmed value whose other reading the rule file states, with the rules under that reading."""
        out = []
        for key, fact in self.facts.items():
            if "alternative" in fact:
                data = _replaced(self.data, key, fact["alternative"])
                out.append(Alternative(key, fact["status"], fact["reading"], fact["other_reading"],
                                       parse_rule_data(data, Path(self.path))))
        return out

    def combined(self, keys: list[str]) -> "PlatformRules":
        """These rules with the other reading of every fact in `keys` (for the low and high end of a range)."""
        data = self.data
        for key in keys:
            data = _replaced(data, key, self.facts[key]["alternative"])
        return parse_rule_data(data, Path(self.path))


def _replaced(data: dict, dotted: str, value) -> dict:
    """A copy of `data` with the value at `dotted` replaced (only the dicts on the path are copied)."""
    head, _, rest = dotted.partition(".")
    copy = dict(data)
    copy[head] = _replaced(data[head] or {}, rest, value) if rest else value
    return copy


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
    platform_names(rules)  # an alias that is another platform's name or alias stops here, naming both files
    return rules


def platform_names(rules: dict[str, PlatformRules]) -> dict[str, str]:
    """Every name a platform goes by in input rows and options (its id and its aliases, lower case) -> its id."""
    names = {r.platform: r.platform for r in rules.values()}
    for r in rules.values():
        for alias in r.aliases:
            owner = rules[names[alias]] if alias in names else None
            if owner is not None:
                kind = "the platform" if alias == owner.platform else "an alias of platform"
                raise UserError(f"{r.path}: aliases: '{alias}' is already {kind} '{owner.platform}' in {owner.path}")
            names[alias] = r.platform
    return names


def canonical_platform(value: str, rules: dict[str, PlatformRules], option: str) -> str:
    """A platform given by the user (`--platform fb`) as its rule file's id; an unknown one is a user error."""
    names = platform_names(rules)
    wanted = value.strip().lower()
    if wanted not in names:
        raise UserError(f"{option} {value}: no rule file for this platform (known: {', '.join(sorted(rules))}; "
                        f"`dedupaudit rules platforms` lists their aliases)")
    return names[wanted]


def parse_rule_file(path: Path) -> PlatformRules:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: not a readable YAML file ({str(exc).splitlines()[0]})") from exc
    return parse_rule_data(data, path)


def parse_rule_data(data, path: Path) -> PlatformRules:
    def fail(key: str, problem: str):
        raise UserError(f"{path}: {key}: {problem}")

    def check(key: str, value):
        return RULE_OPTIONS[key].check(value, str(path), key)

    if not isinstance(data, dict):
        fail("(top level)", "expected a mapping of keys")
    _exact_keys(data, _TOP_KEYS | _OPTIONAL_TOP_KEYS, "(top level)", fail, optional=_OPTIONAL_TOP_KEYS)
    if data["schema"] != 1:
        fail("schema", f"unsupported version {data['schema']!r} (this dedupaudit reads version 1)")
    platform = data["platform"]
    if not isinstance(platform, str) or not re.fullmatch(r"[a-z0-9_]+", platform):
        fail("platform", "must be lower-case letters, digits or _")
    dedup_id = data["dedup_id"]
    if not isinstance(dedup_id, dict):
        fail("dedup_id", "expected a mapping")
    _exact_keys(dedup_id, _DEDUP_ID_KEYS, "dedup_id", fail)
    for key in ("display_name", "names_case_sensitive", "same_source_dedup", "dedup_window_hours", "max_event_age_days"):
        check(key, data[key])
    for key in _DEDUP_ID_KEYS:
        check(f"dedup_id.{key}", dedup_id[key])
    units = data["server_time_unit"] if isinstance(data["server_time_unit"], list) else [data["server_time_unit"]]
    if not units or not all(u in TIME_UNITS for u in units):
        fail("server_time_unit", f"{units!r} is not a valid value (valid: one of {', '.join(TIME_UNITS)}, or a list of them)")

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

    scope = _parse_scope(data.get("dedup_scope"), fail, check)
    fallback = _parse_fallback(data.get("fallback"), set(events), fail, check)
    merged = data.get("merged_names") or {}
    if not isinstance(merged, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in merged.items()):
        fail("merged_names", "expected a mapping of event name -> the name the platform counts it as")
    check("offline_after_hours", data.get("offline_after_hours"))
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and re.fullmatch(r"[a-z0-9_.-]+", a) for a in aliases):
        fail("aliases", "expected a list of other names for the platform: lower-case letters, digits, _ . or -")
    twice = next((a for i, a in enumerate(aliases) if a == platform or a in aliases[:i]), None)
    if twice is not None:
        fail("aliases", f"'{twice}' is listed twice (the platform's own name counts)")
    facts = _parse_facts(data, fail)

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
        server_time_unit=units[0],
        max_event_age_days=data["max_event_age_days"],
        events={t: tuple(n) for t, n in events.items()},
        facts=facts,
        path=str(path),
        native=_parse_native(data["native"], platform, fail) if "native" in data else None,
        server_time_units=tuple(units),
        dedup_scope=scope,
        fallback=fallback,
        merged_names=dict(merged),
        offline_after_hours=data.get("offline_after_hours"),
        aliases=tuple(aliases),
        data=data,
    )


def _parse_scope(data, fail, check) -> DedupScope | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        fail("dedup_scope", f"expected a mapping with {', '.join(sorted(_SCOPE_KEYS))}")
    _exact_keys(data, _SCOPE_KEYS, "dedup_scope", fail, optional={"pixel_default", "capi_default", "fix"})
    for key in sorted(_SCOPE_KEYS):
        check(f"dedup_scope.{key}", data.get(key))
    return DedupScope(data["column"], data["label"], data.get("pixel_default"), data.get("capi_default"), data.get("fix"))


def _parse_fallback(data, event_types: set, fail, check) -> Fallback | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        fail("fallback", f"expected a mapping with {', '.join(sorted(_FALLBACK_KEYS))}")
    _exact_keys(data, _FALLBACK_KEYS, "fallback", fail, optional={"event_types"})
    keys = data["keys"]
    if not isinstance(keys, list) or not keys or not all(k in FALLBACK_KEYS for k in keys):
        fail("fallback.keys", f"expected a list of {', '.join(FALLBACK_KEYS)}")
    for key in ("order", "applies_to", "window_hours", "same_source"):
        check(f"fallback.{key}", data[key])
    types = data.get("event_types", [])
    if not isinstance(types, list) or not all(t in event_types for t in types):
        fail("fallback.event_types", f"expected a list of event types of this file ({', '.join(sorted(event_types))})")
    return Fallback(tuple(keys), data["order"], data["window_hours"], data["same_source"], data["applies_to"], tuple(types))


def _parse_facts(data: dict, fail) -> dict[str, dict]:
    """Every value that drives the audit says where it comes from; an unconfirmed one may state its other reading."""
    facts = data["facts"]
    if not isinstance(facts, dict):
        fail("facts", "expected a mapping")
    present = [k for k in MODEL_KEYS if k in data]
    required = set(FACT_KEYS) | set(present)
    for key in facts:
        head, _, sub = str(key).partition(".")
        valid_sub = sub and head in ("dedup_scope", "fallback") and head in data and sub in (_SCOPE_KEYS if head == "dedup_scope" else _FALLBACK_KEYS)
        if key not in required and not valid_sub:
            fail(f"facts.{key}", f"unknown key (valid: {', '.join(sorted(required))}, or dedup_scope.KEY / fallback.KEY)")
    for key in sorted(required - set(facts)):
        fail(f"facts.{key}", "required key is missing")
    for key, fact in facts.items():
        _check_fact(fact, f"facts.{key}", fail, _FACT_FIELDS | _ALTERNATIVE_FIELDS)
        status = fact["status"]
        if set(fact) & _ALTERNATIVE_FIELDS:
            if status == "documented":
                fail(f"facts.{key}.alternative", "a documented fact has no other reading")
            for needed in sorted(_ALTERNATIVE_FIELDS):
                if needed not in fact or (needed != "alternative" and not isinstance(fact[needed], str)):
                    fail(f"facts.{key}.{needed}", "required with an alternative reading (alternative, reading, other_reading)")
    return facts


def _check_fact(fact, where: str, fail, valid: set) -> None:
    """One fact: a known status, a source where it is documented or observed, a note where it is assumed."""
    if not isinstance(fact, dict):
        fail(where, "expected {status, source or note}")
    unknown = sorted(set(fact) - valid)
    if unknown:
        fail(f"{where}.{unknown[0]}", f"unknown key (valid: {', '.join(sorted(valid))})")
    status = fact.get("status")
    if status not in FACT_STATUSES:
        fail(f"{where}.status", f"expected one of {', '.join(FACT_STATUSES)}")
    if status in ("documented", "observed") and not fact.get("source"):
        fail(where, f"a{'n' if status == 'observed' else ''} {status} fact needs a source")
    if status == "assumption" and not fact.get("note"):
        fail(where, "an assumption needs a note saying why")


def _exact_keys(data: dict, valid: set, where: str, fail, optional: set = frozenset()) -> None:
    for key in data:
        if key not in valid:
            fail(f"{where}.{key}" if where != "(top level)" else str(key), f"unknown key (valid: {', '.join(sorted(valid))})")
    for key in sorted(valid - set(data) - set(optional)):
        fail(f"{where}.{key}" if where != "(top level)" else key, "required key is missing")


# --------------------------------------------------------------------------- native formats
#
# The optional `native:` section says where this platform's own request bodies (server side) and
# pixel requests (browser side) carry each canonical column, so that `dedupaudit check` can read
# CAPI request logs, HAR captures and flat pixel logs without a conversion script. Schema in
# rules/README.md; the readers are in dedupaudit/inputs/native/.

NATIVE_FIELDS = ("event_name", "event_id", "event_time", "order_id", "value", "currency",
                 # optional: what the platforms' fallback deduplication and the tag-vs-upload distinction need
                 "fbp", "external_id", "ttp", "action_source", "conversion_action")
_FORMAT_NAME = r"[a-z][a-z0-9-]*"
_NATIVE_KEYS = {"server", "browser", "log"}
_SERVER_KEYS = {"format", "label", "endpoints", "require", "events", "fields", "hints", "signature", "names", "test",
                "event_test", "validate", "test_endpoints", "response", "facts"}
_SERVER_REQUIRED = {"format", "label", "require", "events", "fields", "facts"}
_BROWSER_KEYS = {"format", "label", "endpoints", "require", "body", "events", "fields", "names", "facts"}
_BROWSER_REQUIRED = {"format", "label", "endpoints", "body", "fields", "facts"}
_LOG_KEYS = {"signature", "fields", "note"}
_RESPONSE_KEYS = {"received", "error", "code", "per_event", "partial_failure"}
_CODE_KEYS = {"path", "ok", "message"}
_PER_EVENT_KEYS = {"list", "status", "failed", "message"}
_FIELD_SPEC_KEYS = {"paths", "value", "template"}


@dataclass(frozen=True)
class FieldSpec:
    """Where one canonical column comes from: the first of `paths` that is present, else the constant `value`."""

    paths: tuple[str, ...] = ()
    value: str | None = None
    template: str | None = None  # e.g. "AW-{path.2}/{label}": built from other values when no path is present

    def describe(self) -> str:
        shown = " or ".join(self.paths + ((f"'{self.template}'",) if self.template else ()))
        if self.value is None:
            return shown
        return f"{shown}, else '{self.value}'" if shown else f"always '{self.value}'"


@dataclass(frozen=True)
class ResponseSpec:
    """How the platform's response says that a request (or some of its events) was refused."""

    received: tuple[str, ...] = ()  # count of events the platform accepted
    error: tuple[str, ...] = ()  # error text: present means the whole request failed
    code: str | None = None  # a status code whose value must be in `ok`
    ok: tuple = ()
    message: tuple[str, ...] = ()  # text that goes with `code`
    per_event: dict | None = None  # {list, status, failed, message}: one status per event sent
    partial_failure: tuple[str, ...] = ()  # a google.rpc.Status naming the failed events by index


@dataclass(frozen=True)
class ServerFormat:
    """One request body shape of a platform's server API (e.g. Meta Conversions API)."""

    platform: str
    format: str
    label: str
    endpoints: tuple[str, ...]
    require: tuple[tuple[str, ...], ...]  # each entry: one of these body paths must be present
    events: tuple[str, ...]  # where the list of events is ('.' = the body is one event)
    fields: dict[str, FieldSpec]
    hints: dict[str, tuple[str, ...]]  # event field -> values that point to this platform
    test: tuple[str, ...]  # body paths whose non-empty value marks test traffic
    test_endpoints: tuple[str, ...]  # URL patterns of the platform's test endpoints
    response: ResponseSpec
    facts: dict[str, dict]
    signature: tuple[str, ...] = ()  # event paths only this platform's bodies have (user_data.sc_click_id, ...)
    names: dict[str, str] = field(default_factory=dict)  # event names the body sends -> the name used on the other side
    event_test: tuple[str, ...] = ()  # event paths whose non-empty value marks that event as test traffic
    validate: tuple[str, ...] = ()  # body paths that make the request validation-only (nothing recorded)


@dataclass(frozen=True)
class BrowserFormat:
    """One pixel request of a platform, as the browser sends it (in a HAR capture)."""

    platform: str
    format: str
    label: str
    endpoints: tuple[str, ...]  # host/path patterns, e.g. '*.facebook.com/tr'
    require: tuple[tuple[str, ...], ...]  # each entry: one of these parameters must be present (an event, not a page view)
    body: str  # 'params' (query string and form body) or 'json'
    events: tuple[str, ...]  # json bodies: where the events are ('.' = the body is one event)
    fields: dict[str, FieldSpec]
    names: dict[str, str]  # event names the pixel sends -> the name the server API uses for the same event
    facts: dict[str, dict]


@dataclass(frozen=True)
class LogFormat:
    """Column names of a flat pixel log written with the platform's own browser field names."""

    platform: str
    signature: tuple[str, ...]  # columns that only this platform's logs have
    fields: dict[str, FieldSpec]
    note: str | None = None


@dataclass(frozen=True)
class NativeSpec:
    server: tuple[ServerFormat, ...] = ()
    browser: tuple[BrowserFormat, ...] = ()
    log: LogFormat | None = None

    def unconfirmed(self) -> list[tuple[str, str, str]]:
        """(format, key, why) of every native fact the platform does not document."""
        return [(spec.format, key, why) for spec in (*self.server, *self.browser)
                for key, why in unconfirmed_facts(spec.facts).items()]


def unconfirmed_facts(facts: dict) -> dict[str, str]:
    """Key -> why it is not documented ('observed in <source>; <note>' or 'assumption: <note>')."""
    out = {}
    for key, fact in facts.items():
        if fact["status"] == "observed":
            out[key] = f"observed in {fact['source']}" + (f"; {fact['note']}" if fact.get("note") else "")
        elif fact["status"] == "assumption":
            out[key] = f"assumption: {fact['note']}"
    return out


def _parse_native(data, platform: str, fail) -> NativeSpec:
    if not isinstance(data, dict):
        fail("native", "expected a mapping with server, browser and/or log")
    _exact_keys(data, _NATIVE_KEYS, "native", fail, optional=_NATIVE_KEYS)
    server = data.get("server", [])
    browser = data.get("browser", [])
    for key, value in (("server", server), ("browser", browser)):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            fail(f"native.{key}", "expected a list of formats")
    servers = tuple(_parse_server(s, f"native.server[{i}]", platform, fail) for i, s in enumerate(server))
    browsers = tuple(_parse_browser(b, f"native.browser[{i}]", platform, fail) for i, b in enumerate(browser))
    names = [f.format for f in (*servers, *browsers)]
    for name in names:
        if names.count(name) > 1:
            fail("native", f"format '{name}' is defined twice")
    log = _parse_log(data["log"], "native.log", platform, fail) if "log" in data else None
    return NativeSpec(servers, browsers, log)


def _parse_server(data: dict, where: str, platform: str, fail) -> ServerFormat:
    _exact_keys(data, _SERVER_KEYS, where, fail, optional=_SERVER_KEYS - _SERVER_REQUIRED)
    fields = _parse_fields(data["fields"], f"{where}.fields", fail)
    if "event_name" not in fields or "event_time" not in fields:
        fail(f"{where}.fields", "event_name and event_time are required")
    require = data["require"]
    if not isinstance(require, list) or not require:
        fail(f"{where}.require", "expected a non-empty list of body paths (an entry may be a list of alternatives)")
    response = _parse_response(data.get("response", {}), f"{where}.response", fail)
    hints = data.get("hints", {})
    if not isinstance(hints, dict) or not all(isinstance(v, list) and v for v in hints.values()):
        fail(f"{where}.hints", "expected a mapping of event field -> list of values")
    spec = ServerFormat(
        platform=platform,
        format=_format_name(data["format"], f"{where}.format", fail),
        label=_text(data["label"], f"{where}.label", fail),
        endpoints=_paths(data.get("endpoints", []), f"{where}.endpoints", fail, allow_empty=True),
        require=tuple(_paths(r, f"{where}.require", fail) for r in require),
        events=_paths(data["events"], f"{where}.events", fail),
        fields=fields,
        hints={str(k): tuple(str(x) for x in v) for k, v in hints.items()},
        test=_paths(data.get("test", []), f"{where}.test", fail, allow_empty=True),
        test_endpoints=_paths(data.get("test_endpoints", []), f"{where}.test_endpoints", fail, allow_empty=True),
        response=response,
        facts={},
        signature=_paths(data.get("signature", []), f"{where}.signature", fail, allow_empty=True),
        names=_names(data.get("names", {}), f"{where}.names", fail),
        event_test=_paths(data.get("event_test", []), f"{where}.event_test", fail, allow_empty=True),
        validate=_paths(data.get("validate", []), f"{where}.validate", fail, allow_empty=True),
    )
    needed = set(fields) | {"events"} | ({"endpoints"} if spec.endpoints else set()) \
        | ({"test"} if spec.test or spec.test_endpoints or spec.event_test or spec.validate else set()) \
        | ({"response"} if "response" in data else set()) | ({"signature"} if spec.signature else set()) \
        | ({"names"} if spec.names else set())
    return ServerFormat(**{**spec.__dict__, "facts": _parse_native_facts(data["facts"], needed, f"{where}.facts", fail)})


def _parse_browser(data: dict, where: str, platform: str, fail) -> BrowserFormat:
    _exact_keys(data, _BROWSER_KEYS, where, fail, optional=_BROWSER_KEYS - _BROWSER_REQUIRED)
    fields = _parse_fields(data["fields"], f"{where}.fields", fail)
    if "event_name" not in fields:
        fail(f"{where}.fields", "event_name is required")
    if data["body"] not in ("params", "json"):
        fail(f"{where}.body", "expected 'params' (query string and form body) or 'json'")
    names = _names(data.get("names", {}), f"{where}.names", fail)
    needed = set(fields) | {"endpoints"} | ({"names"} if names else set())
    return BrowserFormat(
        platform=platform,
        format=_format_name(data["format"], f"{where}.format", fail),
        label=_text(data["label"], f"{where}.label", fail),
        endpoints=_paths(data["endpoints"], f"{where}.endpoints", fail),
        require=tuple(_paths(r, f"{where}.require", fail) for r in _as_list(data.get("require", []), f"{where}.require", fail)),
        body=data["body"],
        events=_paths(data.get("events", "."), f"{where}.events", fail),
        fields=fields,
        names=dict(names),
        facts=_parse_native_facts(data["facts"], needed, f"{where}.facts", fail),
    )


def _names(names, where: str, fail) -> dict[str, str]:
    if not isinstance(names, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()):
        fail(where, "expected a mapping of the event name sent -> the name the other side uses")
    return dict(names)


def _parse_log(data, where: str, platform: str, fail) -> LogFormat:
    if not isinstance(data, dict):
        fail(where, "expected a mapping with signature and fields")
    _exact_keys(data, _LOG_KEYS, where, fail, optional={"note"})
    return LogFormat(
        platform=platform,
        signature=_paths(data["signature"], f"{where}.signature", fail, allow_empty=True),
        fields=_parse_fields(data["fields"], f"{where}.fields", fail),
        note=_text(data["note"], f"{where}.note", fail) if "note" in data else None,
    )


def _parse_fields(data, where: str, fail) -> dict[str, FieldSpec]:
    if not isinstance(data, dict) or not data:
        fail(where, f"expected a mapping of canonical columns ({', '.join(NATIVE_FIELDS)}) to paths")
    out = {}
    for key, spec in data.items():
        if key not in NATIVE_FIELDS:
            fail(f"{where}.{key}", f"unknown key (valid: {', '.join(NATIVE_FIELDS)})")
        if isinstance(spec, dict):
            for k in spec:
                if k not in _FIELD_SPEC_KEYS:
                    fail(f"{where}.{key}.{k}", f"unknown key (valid: {', '.join(sorted(_FIELD_SPEC_KEYS))})")
            for k in ("value", "template"):
                if k in spec and (not isinstance(spec[k], str) or not spec[k]):
                    fail(f"{where}.{key}.{k}", "expected text")
            if "value" not in spec and "template" not in spec:
                fail(f"{where}.{key}.value", "expected text (the value when no path is present) or a template")
            paths = _paths(spec["paths"], f"{where}.{key}.paths", fail) if "paths" in spec else ()
            out[key] = FieldSpec(paths=paths, value=spec.get("value"), template=spec.get("template"))
        else:
            out[key] = FieldSpec(paths=_paths(spec, f"{where}.{key}", fail))
    return out


def _parse_response(data, where: str, fail) -> ResponseSpec:
    if not isinstance(data, dict):
        fail(where, "expected a mapping")
    _exact_keys(data, _RESPONSE_KEYS, where, fail, optional=_RESPONSE_KEYS)
    code, ok, message = None, (), ()
    if "code" in data:
        spec = data["code"]
        if not isinstance(spec, dict):
            fail(f"{where}.code", "expected {path, ok, message}")
        _exact_keys(spec, _CODE_KEYS, f"{where}.code", fail, optional={"message"})
        code = _text(spec["path"], f"{where}.code.path", fail)
        if not isinstance(spec["ok"], list) or not spec["ok"]:
            fail(f"{where}.code.ok", "expected a non-empty list of values that mean success")
        ok = tuple(spec["ok"])
        message = _paths(spec.get("message", []), f"{where}.code.message", fail, allow_empty=True)
    per_event = None
    if "per_event" in data:
        spec = data["per_event"]
        if not isinstance(spec, dict):
            fail(f"{where}.per_event", "expected {list, status, failed, message}")
        _exact_keys(spec, _PER_EVENT_KEYS, f"{where}.per_event", fail, optional={"failed", "message"})
        per_event = {
            "list": _text(spec["list"], f"{where}.per_event.list", fail),
            "status": _text(spec["status"], f"{where}.per_event.status", fail),
            "failed": tuple(str(v) for v in spec.get("failed", [])),
            "message": _paths(spec.get("message", []), f"{where}.per_event.message", fail, allow_empty=True),
        }
    return ResponseSpec(
        received=_paths(data.get("received", []), f"{where}.received", fail, allow_empty=True),
        error=_paths(data.get("error", []), f"{where}.error", fail, allow_empty=True),
        code=code, ok=ok, message=message, per_event=per_event,
        partial_failure=_paths(data.get("partial_failure", []), f"{where}.partial_failure", fail, allow_empty=True),
    )


def _parse_native_facts(data, needed: set, where: str, fail) -> dict[str, dict]:
    """Every field path, endpoint and response rule says where it comes from, like the facts above."""
    if not isinstance(data, dict):
        fail(where, "expected a mapping")
    _exact_keys(data, needed, where, fail)
    for key, fact in data.items():
        _check_fact(fact, f"{where}.{key}", fail, _FACT_FIELDS)
    return data


def _paths(value, where: str, fail, allow_empty: bool = False) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if (not values and not allow_empty) or not all(isinstance(v, str) and v for v in values):
        fail(where, "expected a path or a list of paths (text)")
    return tuple(values)


def _as_list(value, where: str, fail) -> list:
    if not isinstance(value, list):
        fail(where, "expected a list")
    return value


def _text(value, where: str, fail) -> str:
    if not isinstance(value, str) or not value:
        fail(where, "expected text")
    return value


def _format_name(value, where: str, fail) -> str:
    if not isinstance(value, str) or not re.fullmatch(_FORMAT_NAME, value):
        fail(where, "expected a format name: lower-case letters, digits and '-'")
    return value
