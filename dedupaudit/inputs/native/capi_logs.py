"""Server-side request logs: the JSON bodies a shop's server posted to each platform's Conversions API.

A log holds one body per line (JSON Lines), a JSON array of bodies, or log records that wrap the
body with the time it was sent and the platform's answer:

    {"timestamp" | "sent_at" | "time": <any timestamp form>,
     "body" | "request" | "payload": {...} or the body as a JSON string,
     "response": {...},  "url": "https://graph.facebook.com/v21.0/<pixel>/events",  "status": 200}

The gateways' own logs are such records under other names, read as they are:

- server-side GTM tags (Stape's templates) log a request line {"Type": "Request", "TraceId",
  "RequestUrl", "RequestBody"} and a response line {"Type": "Response", "TraceId",
  "ResponseStatusCode", "ResponseBody"}; the response is joined to its request by TraceId and tag
  Name. Exported from Cloud Logging the line sits in `jsonPayload` (or `textPayload`) beside `timestamp`.
  Requests to other URLs in the same log (GA4, an OAuth token refresh) are counted, not read.
- Stape's BigQuery export: `timestamp`, `request_url`, `request_body` (a JSON string),
  `response_status_code`, `response_body`.
- Segment / RudderStack delivery logs: {"request": {"url", "method", "body"}, "response": {"status", "body"}},
  RudderStack's outgoing {"endpoint", "body": {"JSON" | "FORM" | "JSON_ARRAY": {...}}}.

A body may be form encoded (Meta's documented `data=<JSON>&access_token=...`), hold its events as a
JSON string (`"data": "[...]"`) or as a list of JSON strings (Meta's Python SDK): all are decoded.

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
from urllib.parse import parse_qsl, urlsplit

from dedupaudit.errors import UserError
from dedupaudit.inputs.native import EVENT_COLUMNS, Read, Rows, cell, short, text
from dedupaudit.inputs.native.user_data import unhashed_fields
from dedupaudit.inputs.native.jsonio import JsonRecords
from dedupaudit.inputs.native.paths import Malformed, field, filled, first, get, json_text, list_at, present
from dedupaudit.platforms.rules import PlatformRules, ServerFormat

BODY_KEYS = ("body", "request", "payload", "RequestBody", "request_body", "requestBody")
TIME_KEYS = ("timestamp", "sent_at", "time", "Timestamp", "sentAt", "receiveTimestamp")
URL_KEYS = ("url", "endpoint", "request_url", "uri", "RequestUrl", "requestUrl")
STATUS_KEYS = ("status_code", "http_status", "status", "ResponseStatusCode", "response_status_code", "statusCode")
RESPONSE_KEYS = ("response", "ResponseBody", "response_body", "responseBody")
NESTED_BODY_KEYS = ("body", "json", "payload", "data")
PAYLOAD_KEYS = ("jsonPayload", "textPayload")  # Cloud Logging's export of a tag's logToConsole line
RUDDER_BODY_KEYS = ("JSON", "FORM", "JSON_ARRAY")  # RudderStack's outgoing request body, by encoding


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
    record = _payload(record)
    key = next((k for k in BODY_KEYS if isinstance(record.get(k), (dict, str))), None)
    url = next((record[k] for k in URL_KEYS if isinstance(record.get(k), str)), None)
    if key is None:  # a bare body, or a logged request without one (an OAuth refresh): its URL says which
        return LogRecord(body=_rudder(record), url=url)
    body = _body(record[key], key)
    if isinstance(body, dict) and ("url" in body or "method" in body):
        inner = next((k for k in NESTED_BODY_KEYS if k in body), None)
        if inner is not None:  # {"request": {"method": "POST", "url": ..., "body": {...}}}
            url = url or (body.get("url") if isinstance(body.get("url"), str) else None)
            body = _body(body[inner], f"{key}.{inner}")
    body = _rudder(body)
    if not isinstance(body, dict):
        raise NotABody(f"`{key}` is not a JSON object")
    response = next((record[k] for k in RESPONSE_KEYS if k in record), None)
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


class Ambiguous(NotABody):
    """A body whose shape several platforms share and that nothing in it or in the file tells apart."""

    def __init__(self, candidates: list[ServerFormat]):
        self.candidates = [c.format for c in candidates]
        super().__init__(f"the body could be {' or '.join(self.candidates)}")


def match_format(rec: LogRecord, specs: list[ServerFormat], names: dict[str, set],
                 cache: dict | None = None, file_scores: dict[str, int] | None = None,
                 memo: dict | None = None) -> ServerFormat:
    """The server format of one body: by URL, else by shape, then by the fields only one platform uses
    (its event names, its own user_data keys, the channel values it accepts), else by the same evidence
    summed over the file's first records (`file_scores`). Raises Ambiguous when even that does not decide."""
    if rec.url:
        cache = {} if cache is None else cache
        if rec.url not in cache:
            cache[rec.url] = [s for s in specs if url_matches(rec.url, s.endpoints, query=False)
                              or url_matches(rec.url, s.test_endpoints, query=True)]
        by_url = cache[rec.url]
        if len(by_url) == 1:
            return by_url[0]
    shaped = shapes(rec.body, specs, memo)
    if len(shaped) == 1:
        return shaped[0]
    if not shaped:
        raise NotABody("not a request body of a known platform (no rule file's native.server shape matches)")
    winners = _best(shaped, {s.format: score(rec.body, s, names.get(s.platform, set())) for s in shaped})
    if len(winners) == 1:
        return winners[0]
    if file_scores:
        by_file = _best(winners or shaped, {s.format: file_scores.get(s.format, 0) for s in (winners or shaped)})
        if len(by_file) == 1:
            file_scores["decided by the file"] = file_scores.get("decided by the file", 0) + 1
            return by_file[0]
    raise Ambiguous(winners or shaped)


def shapes(body, specs: list[ServerFormat], memo: dict | None = None) -> list[ServerFormat]:
    """The formats whose required paths the body has (remembered per key structure in `memo`: the bodies
    of one log mostly share theirs)."""
    key = None
    if memo is not None:
        if "depth" not in memo:  # how deep the require paths look
            memo["depth"] = max((len(p.split(".")) for s in specs for alts in s.require for p in alts), default=1)
        key = _structure(body, memo["depth"])
    if key is not None and key in memo:
        return memo[key]
    keys = body.keys()
    found = [s for s in specs
             if all(any(_top(p) in keys for p in alternatives) for alternatives in s.require)  # cheap first pass
             and all(any(present(body, p) for p in alternatives) for alternatives in s.require)]
    if key is not None:
        memo[key] = found
    return found


def _structure(value, depth: int):
    """The keys of a value down to `depth` levels (a list by its first element), None where JSON text
    would have to be decoded to know: what `shapes` depends on."""
    if isinstance(value, dict):
        if depth == 0:
            return ()
        inner = []
        for k, v in value.items():
            sub = _structure(v, depth - 1)
            if sub is None:
                return None
            inner.append((k, sub))
        return tuple(inner)
    if isinstance(value, list):
        if not value:
            return "[]"
        sub = _structure(value[0], depth)
        return None if sub is None else ("[", sub)
    if isinstance(value, str):
        return None if value.lstrip()[:1] in ("{", "[") else 1
    return 0 if value is None else 1


def file_scores(items, specs: list[ServerFormat], names: dict[str, set], count: int = 50) -> dict[str, int]:
    """Per format, the evidence of the file's first `count` bodies (only bodies whose shape it fits)."""
    totals: dict[str, int] = {}
    for _, record in items[:count]:
        try:
            rec = unwrap(record)
            for spec in shapes(rec.body, specs):
                totals[spec.format] = totals.get(spec.format, 0) + score(rec.body, spec, names.get(spec.platform, set()))
        except (NotABody, Malformed):
            continue
    return totals


def read_capi_log(path: Path, records: JsonRecords, rules: dict[str, PlatformRules],
                  forced: ServerFormat | None = None) -> Read:
    specs = [forced] if forced else server_formats(rules)
    names = {p: set(n for names in r.events.values() for n in names) for p, r in rules.items()}
    rows = Rows(EVENT_COLUMNS + ("unhashed_user_data",))  # issue 9: which user fields were sent unhashed (names only)
    rows.broken.extend(records.broken)
    items, joined, orphans = join_responses(records.items)
    scores = None if forced else file_scores(items, specs, names)
    used: dict[str, ServerFormat] = {}
    url_cache: dict = {}
    shape_memo: dict = {}
    whole_body = {s.format: _uses_body(s) for s in specs}  # formats with `^.` paths see the whole body too
    bodies = wrapped = 0
    other_urls = 0
    for pos, record in items:
        where = records.where(pos)
        rec = None
        try:
            rec = unwrap(record)
            spec = forced or match_format(rec, specs, names, url_cache, scores, shape_memo)
            events, events_path = list_at(rec.body, spec.events)
        except Ambiguous as exc:
            raise UserError(f"{path}: {where}: {exc}, and neither its fields nor the file's first records tell which; "
                            f"force one with --capi-format {exc.candidates[0]} (or `format:` in a mapping; "
                            f"candidates: {', '.join(exc.candidates)})") from exc
        except (NotABody, Malformed) as exc:
            if rec is not None and not forced and _elsewhere(rec, specs, url_cache) and not shapes(rec.body, specs, shape_memo):
                other_urls += 1  # a gateway's request to another service (GA4, an OAuth refresh): not a conversion
                continue
            rows.reject(pos, str(exc), where)
            continue
        if events is None:
            rows.reject(pos, f"{spec.label}: no list of events at {' or '.join(spec.events)}", where)
            continue
        bodies += 1
        wrapped += rec.wrapped
        used.setdefault(spec.format, spec)
        outcome = delivery(rec, spec, events, rules[spec.platform].display_name)
        for index, event in enumerate(events):
            ref = where if events_path == "." else f"{where}, {events_path}[{index}]"
            try:
                event = json_text(event, f"{events_path}[]") if isinstance(event, str) else event
                if not isinstance(event, dict):
                    rows.reject(pos, "the event is not a JSON object", ref)
                    continue
                scope = {**event, "^": rec.body} if whole_body[spec.format] else event
                values = {column: cell(column, field(scope, spec.fields[column])) for column in spec.fields}
            except Malformed as exc:
                rows.reject(pos, str(exc), ref)
                continue
            if values.get("event_name") in spec.names:
                values["event_name"] = spec.names[values["event_name"]]
            values["platform"] = spec.platform
            values["received_time"] = text(rec.sent_at)
            values["delivery"], values["delivery_message"] = outcome[index]
            values["unhashed_user_data"] = unhashed_fields(event)  # issue 9: "em,ph", never the values
            rows.add(pos, values, ref)
    table = rows.table(path)
    sources = _sources(used, wrapped)
    notes = [f"{bodies:,} request bodies ({wrapped:,} wrapped in log records), {len(rows):,} events"]
    by_file = scores.pop("decided by the file", 0) if scores else 0
    if by_file:
        notes.append(f"{by_file:,} bodies had nothing of their own that tells the platform apart: read as the platform "
                     "the file's first records point to (force another with --capi-format)")
    if other_urls:
        notes.append(f"{other_urls:,} logged requests to other URLs (no platform's conversions endpoint, no known body) not read")
    if joined or orphans:
        notes.append(f"{joined:,} gateway response line{'s' if joined != 1 else ''} joined to their request by TraceId"
                     + (f"; {orphans:,} response lines without a logged request (no event in them)" if orphans else ""))
    for kind in ("test", "refused"):
        n = rows.values["delivery"].count(kind)
        if n:
            notes.append(f"{n:,} events {'sent as test or validation-only traffic' if kind == 'test' else 'refused by the platform'}: never counted, reported")
    fmt = forced.format if forced else "capi-log"
    label = f"CAPI request log ({', '.join(used) or 'no recognised body'})"
    return Read(table, fmt, label, sources, notes)


def delivery(rec: LogRecord, spec: ServerFormat, events: list, display: str) -> list[tuple[str | None, str | None]]:
    """Per event of one body: (None, None) when delivered, ('test', why) or ('refused', the platform's message)."""
    n = len(events)
    for path in spec.validate:
        if _on(get(rec.body, path)):
            return [("test", f"validation-only request ({path} {text(get(rec.body, path))}): "
                             f"{display} checks it and records nothing")] * n
    for path in spec.test:
        value = get(rec.body, path)
        if _on(value):
            return [("test", f"{path} {text(value)}")] * n
    if rec.url and url_matches(rec.url, spec.test_endpoints, query=True):
        return [("test", "sent to the platform's test endpoint")] * n
    if spec.event_test:  # a test code on each event (Stape's Snap tag: data[].test_event_code)
        per_event = [next((("test", f"{p} {text(get(e, p))}") for p in spec.event_test
                           if isinstance(e, dict) and _on(get(e, p))), None) for e in events]
        if any(per_event):
            outcome = _response_outcome(rec, spec, n, display)
            return [mark or said for mark, said in zip(per_event, outcome)]
    return _response_outcome(rec, spec, n, display)


def _on(value) -> bool:
    return filled(value) and value is not False and value != 0 and value != "false"


def _response_outcome(rec: LogRecord, spec: ServerFormat, n: int, display: str) -> list[tuple[str | None, str | None]]:
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


def score(body, spec: ServerFormat, names: set) -> int:
    """Evidence that a body is this platform's: its event names (3), a field only it uses (3 each),
    a channel value it accepts (1 each), over the body's first events."""
    events, _ = list_at(body, spec.events)
    events = [json_text(e, "event") if isinstance(e, str) else e for e in (events or [])[:20]]
    events = [e for e in events if isinstance(e, dict)]
    points = 0
    name_spec = spec.fields.get("event_name")
    if name_spec and names and any(text(field(e, name_spec)) in names for e in events):
        points += 3
    points += 3 * sum(any(present(e, p) for e in events) for p in spec.signature)
    points += sum(any(text(get(e, key)) in values for e in events) for key, values in spec.hints.items())
    return points


def _elsewhere(rec: LogRecord, specs: list[ServerFormat], cache: dict) -> bool:
    """A logged request whose URL is known and is no platform's conversions endpoint."""
    if not rec.url:
        return False
    if rec.url not in cache:
        cache[rec.url] = [s for s in specs if url_matches(rec.url, s.endpoints, query=False)
                          or url_matches(rec.url, s.test_endpoints, query=True)]
    return not cache[rec.url]


def _uses_body(spec: ServerFormat) -> bool:
    """Whether a format reads a path of the whole body (`^.event_source`) beside the event's own."""
    return any(p.startswith("^.") or "{^." in (f.template or "") for f in spec.fields.values() for p in f.paths + ("",))


def _best(specs: list[ServerFormat], scores: dict[str, int]) -> list[ServerFormat]:
    """The formats with the highest score, if it is above zero."""
    best = max(scores.values(), default=0)
    return [s for s in specs if scores[s.format] == best] if best > 0 else []


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


def is_response_line(record) -> bool:
    """A gateway's response line (Stape: {"Type": "Response", "TraceId", "ResponseStatusCode", ...}): not a body."""
    record = _payload(record) if isinstance(record, dict) else record
    return isinstance(record, dict) and record.get("Type") == "Response" and not any(k in record for k in BODY_KEYS)


def join_responses(items: list) -> tuple[list, int, int]:
    """Attach each response line to the request line with the same TraceId, tag Name and EventName (the first one not
    yet answered); the response lines themselves are dropped from the records. Returns the records, the
    number of responses joined and the number left without their request."""
    requests: dict[tuple, list] = {}
    out, joined, orphans = [], 0, 0
    for pos, record in items:
        flat = _payload(record) if isinstance(record, dict) else record
        if is_response_line(record):
            key = (flat.get("TraceId"), flat.get("Name"), flat.get("EventName"))
            waiting = requests.get(key)
            if key[0] is not None and waiting:
                index = waiting.pop(0)
                request = dict(out[index][1])
                request["response"] = flat.get("ResponseBody")
                request["ResponseStatusCode"] = flat.get("ResponseStatusCode")
                out[index] = (out[index][0], request)
                joined += 1
            else:
                orphans += 1
            continue
        if isinstance(flat, dict) and flat.get("Type") == "Request" and flat.get("TraceId") is not None:
            requests.setdefault((flat.get("TraceId"), flat.get("Name"), flat.get("EventName")), []).append(len(out))
            record = flat
        out.append((pos, record))
    return out, joined, orphans


def _payload(record: dict) -> dict:
    """Cloud Logging's {"timestamp", "jsonPayload": {...}} (or textPayload as JSON text) as one record."""
    for key in PAYLOAD_KEYS:
        inner = record.get(key)
        if isinstance(inner, str) and inner.lstrip().startswith("{"):
            try:
                inner = json.loads(inner)
            except json.JSONDecodeError:
                continue
        if isinstance(inner, dict):
            outer = {k: v for k, v in record.items() if k not in PAYLOAD_KEYS}
            return {**outer, **inner}
    return record


def _rudder(body):
    """RudderStack's {"JSON": {...}, "FORM": {...}, "JSON_ARRAY": {}, "XML": {}}: the part that was sent."""
    if isinstance(body, dict) and body and set(body) <= {*RUDDER_BODY_KEYS, "XML"}:
        return next((body[k] for k in RUDDER_BODY_KEYS if isinstance(body.get(k), dict) and body[k]), body)
    return body


def _body(value, where: str):
    """A body as logged: an object, JSON text, or form-encoded text (data=...&access_token=...)."""
    if isinstance(value, str) and value.lstrip()[:1] not in ("{", "[", ""):
        form = dict(parse_qsl(value.strip(), keep_blank_values=True))
        if form and "=" in value:
            return form
    return _json_value(value, where)


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
        marks = {s.format: ", ".join([*s.test, *(f"each event's {p}" for p in s.event_test),
                                      *(f"{p} (validation only)" for p in s.validate)]
                                     + (["test endpoint"] if s.test_endpoints else [])) or "none"
                 for s in used.values()}
        out["delivery"] = "test codes / test endpoints and the platform's response (" + \
            ", ".join(f"{fmt}: {how}" for fmt, how in sorted(marks.items())) + ")"
        out["delivery_message"] = "the platform's error text in the logged response"
    return out
