"""Server-side request logs: the JSON bodies a shop's server posted to each platform's Conversions API.

A log holds one body per line (JSON Lines), a JSON array of bodies, or log records that wrap the
body with the time it was sent and the platform's answer:

    {"timestamp" | "sent_at" | "time": <any timestamp form>,
     "body" | "request" | "payload": {...} or the body as a JSON string,
     "response": {...},  "url": "https://graph.facebook.com/v21.0/<pixel>/events",  "status": 200}

Which platform a body belongs to comes from the rule files (`native.server`): the URL when the
record has one, else the body's shape (`require`), and where shapes are shared (Meta, Snap and
Pinterest all send {"data": [{event_name, event_time, ...}]}) the event fields named in `hints`
(action_source values) and the platform's event names. The send time becomes `received_time`.
A body sent with a test code, or to a test endpoint, gives `delivery = test`; an error response,
a failed per-event status, or fewer events received than sent gives `delivery = refused` with the
platform's message. Neither is ever counted by the audit; both are reported.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from dedupaudit.inputs.native import EVENT_COLUMNS, Read, Rows, short, text
from dedupaudit.inputs.native.user_data import unhashed_fields
from dedupaudit.inputs.native.jsonio import JsonRecords
from dedupaudit.inputs.native.paths import field, filled, first, get, list_at, present
from dedupaudit.platforms.rules import PlatformRules, ServerFormat

BODY_KEYS = ("body", "request", "payload")
TIME_KEYS = ("timestamp", "sent_at", "time")
URL_KEYS = ("url", "endpoint", "request_url", "uri")
STATUS_KEYS = ("status_code", "http_status", "status")
NESTED_BODY_KEYS = ("body", "json", "payload", "data")


class NotABody(ValueError):
    """A record that is not a request body this reader understands (becomes a reject)."""


@dataclass
class LogRecord:
    body: object
    sent_at: object = None
    response: object = None
    url: str | None = None
    status: int | None = None
    wrapped: bool = False


def server_formats(rules: dict[str, PlatformRules]) -> list[ServerFormat]:
    return [spec for r in rules.values() if r.native for spec in r.native.server]


def unwrap(record) -> LogRecord:
    """Split a log record into the body and what the log says around it."""
    if not isinstance(record, dict):
        raise NotABody("not a JSON object")
    key = next((k for k in BODY_KEYS if isinstance(record.get(k), (dict, str))), None)
    if key is None:
        return LogRecord(body=record)
    body = _json_value(record[key], key)
    url = next((record[k] for k in URL_KEYS if isinstance(record.get(k), str)), None)
    if isinstance(body, dict) and ("url" in body or "method" in body):
        inner = next((k for k in NESTED_BODY_KEYS if k in body), None)
        if inner is not None:  # {"request": {"method": "POST", "url": ..., "body": {...}}}
            url = url or (body.get("url") if isinstance(body.get("url"), str) else None)
            body = _json_value(body[inner], f"{key}.{inner}")
    if not isinstance(body, dict):
        raise NotABody(f"`{key}` is not a JSON object")
    response = record.get("response")
    status = _status(record)
    if isinstance(response, str):
        try:
            response = json.loads(response)
        except json.JSONDecodeError:
            pass
    if isinstance(response, dict) and "body" in response and any(k in response for k in STATUS_KEYS):
        status = status or _status(response)
        response = _json_value(response["body"], "response.body") if isinstance(response["body"], str) else response["body"]
    sent_at = next((record[k] for k in TIME_KEYS if filled(record.get(k))), None)
    return LogRecord(body=body, sent_at=sent_at, response=response, url=url, status=status, wrapped=True)


def match_format(rec: LogRecord, specs: list[ServerFormat], names: dict[str, set],
                 cache: dict | None = None) -> ServerFormat:
    """The server format of one body: by URL, else by shape, hints and event names."""
    if rec.url:
        cache = {} if cache is None else cache
        if rec.url not in cache:
            cache[rec.url] = [s for s in specs if url_matches(rec.url, s.endpoints, query=False)
                              or url_matches(rec.url, s.test_endpoints, query=True)]
        by_url = cache[rec.url]
        if len(by_url) == 1:
            return by_url[0]
    keys = rec.body.keys()
    shaped = [s for s in specs
              if all(any(_top(p) in keys for p in alternatives) for alternatives in s.require)  # cheap first pass
              and all(any(present(rec.body, p) for p in alternatives) for alternatives in s.require)]
    if len(shaped) == 1:
        return shaped[0]
    if not shaped:
        raise NotABody("not a request body of a known platform (no rule file's native.server shape matches)")
    scores = {s.format: _score(rec.body, s, names.get(s.platform, set())) for s in shaped}
    best = max(scores.values())
    winners = [s for s in shaped if scores[s.format] == best]
    if len(winners) == 1 and best > 0:
        return winners[0]
    raise NotABody(f"the body could be {' or '.join(s.format for s in winners)}: "
                   "give the platform with --capi-format (or a `format:` in the mapping)")


def read_capi_log(path: Path, records: JsonRecords, rules: dict[str, PlatformRules],
                  forced: ServerFormat | None = None) -> Read:
    specs = [forced] if forced else server_formats(rules)
    names = {p: set(n for names in r.events.values() for n in names) for p, r in rules.items()}
    rows = Rows(EVENT_COLUMNS + ("unhashed_user_data",))  # issue 9: which user fields were sent unhashed (names only)
    rows.broken.extend(records.broken)
    used: dict[str, ServerFormat] = {}
    url_cache: dict = {}
    bodies = wrapped = 0
    for pos, record in records.items:
        where = records.where(pos)
        try:
            rec = unwrap(record)
            spec = forced or match_format(rec, specs, names, url_cache)
        except NotABody as exc:
            rows.reject(pos, str(exc))
            continue
        events, events_path = list_at(rec.body, spec.events)
        if events is None:
            rows.reject(pos, f"{spec.label}: no list of events at {' or '.join(spec.events)}")
            continue
        bodies += 1
        wrapped += rec.wrapped
        used.setdefault(spec.format, spec)
        outcome = delivery(rec, spec, len(events), rules[spec.platform].display_name)
        for index, event in enumerate(events):
            ref = where if events_path == "." else f"{where}, {events_path}[{index}]"
            if not isinstance(event, dict):
                rows.reject(pos, f"{ref}: the event is not a JSON object")
                continue
            values = {column: text(field(event, spec.fields[column])) for column in spec.fields}
            values["platform"] = spec.platform
            values["received_time"] = text(rec.sent_at)
            values["delivery"], values["delivery_message"] = outcome[index]
            values["unhashed_user_data"] = unhashed_fields(event)  # issue 9: "em,ph", never the values
            rows.add(pos, values, ref)
    table = rows.table(path)
    sources = _sources(used, wrapped)
    notes = [f"{bodies:,} request bodies ({wrapped:,} wrapped in log records), {len(rows):,} events"]
    for kind in ("test", "refused"):
        n = int((table.frame["delivery"] == kind).sum()) if len(rows) else 0
        if n:
            notes.append(f"{n:,} events {'sent as test traffic' if kind == 'test' else 'refused by the platform'}: never counted, reported")
    label = f"CAPI request log ({', '.join(used) or 'no recognised body'})"
    return Read(table, "capi-log" if not forced else forced.format, label, sources, notes)


def delivery(rec: LogRecord, spec: ServerFormat, n: int, display: str) -> list[tuple[str | None, str | None]]:
    """Per event of one body: (None, None) when delivered, ('test', why) or ('refused', the platform's message)."""
    for path in spec.test:
        value = get(rec.body, path)
        if filled(value) and value is not False and value != 0:
            return [("test", f"{path} {text(value)}")] * n
    if rec.url and url_matches(rec.url, spec.test_endpoints, query=True):
        return [("test", "sent to the platform's test endpoint")] * n
    response = rec.response if isinstance(rec.response, dict) else {}
    message, _ = first(response, spec.response.error)
    if rec.status is not None and rec.status >= 400:
        return [("refused", short(f"HTTP {rec.status}" + (f": {text(message)}" if message else "")))] * n
    if message is not None:
        return [("refused", short(text(message)))] * n
    said_by = spec.response
    if said_by.code and present(response, said_by.code):
        code = get(response, said_by.code)
        if code not in said_by.ok and text(code) not in {text(v) for v in said_by.ok}:
            said, _ = first(response, said_by.message)
            return [("refused", short(f"{said_by.code} {text(code)}" + (f": {text(said)}" if said else "")))] * n
    out: list[tuple[str | None, str | None]] = [(None, None)] * n
    per_event = said_by.per_event
    if per_event and isinstance(get(response, per_event["list"]), list):
        for index, item in enumerate(get(response, per_event["list"])[:n]):
            status = get(item, per_event["status"]) if isinstance(item, dict) else None
            if _failed(status, per_event["failed"]):
                said, _ = first(item, per_event["message"])
                out[index] = ("refused", short(text(said) or f"{per_event['status']} {text(status)}"))
        return out
    failure, _ = first(response, said_by.partial_failure)
    if isinstance(failure, dict):
        failed = _partial_failures(failure, n)
        if not failed:
            return [("refused", short(text(failure.get("message")) or "partial failure"))] * n
        for index, said in failed.items():
            out[index] = ("refused", short(said))
        return out
    received, path = first(response, said_by.received)
    if received is not None:
        try:
            count = int(received)
        except (TypeError, ValueError):
            count = n
        if count < n:
            why = (f"{display} received {count} of {n} events ({path}) and does not say which; "
                   f"all {n} are left out")
            return [("refused", why)] * n
    return out


def url_matches(url: str, patterns, query: bool) -> bool:
    """Whether a URL's host/path (and ?query when `query`) matches a rule file pattern (no scheme)."""
    if not patterns or not url:
        return False
    target = _url_target(url, query)
    return any(fnmatch.fnmatchcase(target, p.lower().rstrip("/")) for p in patterns)


@lru_cache(maxsize=4096)
def _url_target(url: str, query: bool) -> str:
    parts = urlsplit(url if "//" in url else "//" + url)
    target = (parts.hostname or "") + parts.path.rstrip("/")
    if query and parts.query:
        target += "?" + parts.query
    return target.lower()


@lru_cache(maxsize=1024)
def _top(path: str) -> str:
    return path.split(".", 1)[0].removesuffix("[]")


def _score(body, spec: ServerFormat, names: set) -> int:
    events, _ = list_at(body, spec.events)
    events = [e for e in (events or []) if isinstance(e, dict)][:20]
    score = 0
    for key, values in spec.hints.items():
        if any(text(get(e, key)) in values for e in events):
            score += 2
    name_spec = spec.fields.get("event_name")
    if name_spec and names and any(text(field(e, name_spec)) in names for e in events):
        score += 1
    return score


def _failed(status, failed: tuple) -> bool:
    if status is None:
        return False
    if isinstance(status, (int, float)) and not isinstance(status, bool):
        return status >= 400
    if isinstance(status, str) and status.isdigit():
        return int(status) >= 400
    return str(status).lower() in {f.lower() for f in failed}


def _partial_failures(failure: dict, n: int) -> dict[int, str]:
    """Google's partial_failure_error: errors located at conversions[index] (REST camelCase or proto snake_case)."""
    found: dict[int, str] = {}
    for detail in failure.get("details") or []:
        for error in (detail.get("errors") or []) if isinstance(detail, dict) else []:
            location = error.get("location") or {}
            elements = location.get("fieldPathElements") or location.get("field_path_elements") or []
            for element in elements:
                name = element.get("fieldName") or element.get("field_name")
                if name == "conversions" and isinstance(element.get("index"), int) and element["index"] < n:
                    found[element["index"]] = text(error.get("message")) or text(failure.get("message")) or "partial failure"
    return found


def _status(record: dict) -> int | None:
    for key in STATUS_KEYS:
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
            return value
        if isinstance(value, str) and value.isdigit() and 100 <= int(value) < 600:
            return int(value)
    return None


def _json_value(value, where: str):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise NotABody(f"`{where}` is text but not JSON ({exc.msg})") from exc
    return value


def _sources(used: dict[str, ServerFormat], wrapped: int) -> dict[str, str]:
    sources: dict[str, list[str]] = {}
    for spec in used.values():
        events = " or ".join("the body" if e == "." else f"{e}[]" for e in spec.events)
        for column, fspec in spec.fields.items():
            where = f"{fspec.describe()} of each event in {events}" if fspec.paths else fspec.describe()
            sources.setdefault(column, []).append(f"{spec.format}: {where}")
        sources.setdefault("platform", []).append(f"{spec.format}: the rule file of {spec.platform}")
    out = {column: "; ".join(where) for column, where in sources.items()}
    out["received_time"] = ("the log record's " + "/".join(TIME_KEYS)) if wrapped else "not in the file (defaults to event_time)"
    if used:
        out["delivery"] = "test codes / test endpoints and the platform's response (" + \
            ", ".join(sorted({f"{s.format}: {', '.join(s.test) or 'test endpoint'}" for s in used.values()})) + ")"
        out["delivery_message"] = "the platform's error text in the logged response"
    return out
