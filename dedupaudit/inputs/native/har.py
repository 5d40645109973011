"""Browser side: a HAR capture (the network log saved from the browser's developer tools).

Each entry whose URL matches a pixel endpoint of a rule file (`native.browser`) becomes one event
(or one per element of a batch body): the event name, dedup ID, value, currency and order ID come
from the request's query string and its body (form fields, multipart fields or JSON, as the rule
file says), merged so GET and POST requests both work; the time is the entry's startedDateTime.
Entries for other URLs (pages, scripts, images) are not events and are only counted. A request
the browser never delivered (status 0: blocked by an ad blocker, or cancelled) or that failed
(HTTP 4xx/5xx) is kept as `delivery = refused`, so it is reported and never counted.

Nothing but canonical columns is kept: page URLs, cookies, hashed emails and other user data in the
requests stay in the HAR.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from dedupaudit.inputs.native import EVENT_COLUMNS, Read, Rows, cell
from dedupaudit.inputs.native.capi_logs import url_matches
from dedupaudit.inputs.native.paths import Malformed, field, filled, list_at, param, param_field
from dedupaudit.platforms.rules import BrowserFormat, FieldSpec, PlatformRules


def browser_formats(rules: dict[str, PlatformRules]) -> list[BrowserFormat]:
    return [spec for r in rules.values() if r.native for spec in r.native.browser]


def is_har(document) -> bool:
    return isinstance(document, dict) and isinstance(document.get("log"), dict) \
        and isinstance(document["log"].get("entries"), list)


def read_har(path: Path, document: dict, rules: dict[str, PlatformRules]) -> Read:
    specs = browser_formats(rules)
    rows = Rows(EVENT_COLUMNS)
    used: dict[str, BrowserFormat] = {}
    entries = document["log"]["entries"]
    skipped = 0
    for number, entry in enumerate(entries, start=1):
        request = entry.get("request") if isinstance(entry, dict) else None
        url = request.get("url") if isinstance(request, dict) else None
        if not isinstance(url, str):
            rows.reject(number, "entry without request.url")
            continue
        spec = next((s for s in specs if url_matches(url, s.endpoints, query=False)), None)
        if spec is None:
            continue
        where = f"entry {number} ({_short_url(url)})"
        params = request_params(request)
        if spec.body == "json":
            body = _json_body(request)
            if body is None:
                rows.reject(number, "the request body is not JSON", where)
                continue
            events, events_path = list_at(body, spec.events)
            events = events if events is not None else []
        else:
            events, events_path = [params], "."
        try:
            if spec.require and not all(any(filled(_lookup(e, p, spec)) for p in alternatives)
                                        for e in events if isinstance(e, dict) for alternatives in spec.require):
                skipped += 1  # e.g. LinkedIn's /collect without conversionId: a page view, not a conversion
                continue
        except Malformed as exc:
            rows.reject(number, str(exc), where)
            continue
        used.setdefault(spec.format, spec)
        outcome = _delivery(entry)
        for index, event in enumerate(events):
            ref = where if events_path == "." else f"{where}, {events_path}[{index}]"
            if not isinstance(event, dict):
                rows.reject(number, "the event is not a JSON object", ref)
                continue
            try:
                values = {column: cell(column, _value(event, fspec, spec)) for column, fspec in spec.fields.items()}
            except Malformed as exc:  # e.g. Pinterest's ed={...} cut off by a URL length limit
                rows.reject(number, str(exc), ref)
                continue
            if values.get("event_name") in spec.names:
                values["event_name"] = spec.names[values["event_name"]]
            values["platform"] = spec.platform
            values["event_time"] = values.get("event_time") or entry.get("startedDateTime")
            values["received_time"] = entry.get("startedDateTime")
            values["delivery"], values["delivery_message"] = outcome
            rows.add(number, values, ref)
    table = rows.table(path)
    notes = [f"{len(entries):,} entries, {len(rows):,} pixel events from {', '.join(used) or 'no pixel endpoint'}"]
    if skipped:
        notes.append(f"{skipped:,} pixel requests without an event (page views) not read")
    blocked = rows.values["delivery"].count("refused")
    if blocked:
        notes.append(f"{blocked:,} pixel requests blocked or failed in the browser: kept as refused, never counted")
    per_column: dict[str, list[str]] = {}
    for spec in used.values():
        for column, fspec in spec.fields.items():
            names = " (names translated to the server API's)" if column == "event_name" and spec.names else ""
            per_column.setdefault(column, []).append(f"{spec.format}: {fspec.describe()}{names}")
    sources = {column: "; ".join(where) for column, where in per_column.items()}
    sources.update({"platform": "the rule file whose native.browser endpoint matches the URL",
                    "received_time": "the entry's startedDateTime",
                    "delivery": "the entry's response status (0 = blocked, 4xx/5xx = failed)"})
    sources["event_time"] = "; ".join(filter(None, [sources.get("event_time"), "the entry's startedDateTime"]))
    return Read(table, "har", "HAR capture (browser network log)", sources, notes)


def request_params(request: dict) -> dict[str, str]:
    """Query string and form / multipart body fields of one HAR request; body fields win."""
    url = urlsplit(request.get("url", ""))
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    # the URL's path segments as path.0, path.1, ... (Google's pagead/conversion/<id>/: path.2)
    params.update({f"path.{n}": part for n, part in enumerate(p for p in url.path.split("/") if p)})
    post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
    mime = str(post.get("mimeType") or "")
    body = post.get("text")
    if isinstance(body, str) and body.strip():
        if "multipart/form-data" in mime.lower() or body.lstrip().startswith("--"):
            params.update(_multipart(body, mime))
        elif not body.lstrip().startswith(("{", "[")):
            params.update(parse_qsl(body, keep_blank_values=True))
    elif isinstance(post.get("params"), list):
        for item in post["params"]:
            if isinstance(item, dict) and "name" in item:
                params[unquote_plus(str(item["name"]))] = unquote_plus(str(item.get("value", "")))
    return params


def _lookup(event: dict, path: str, spec: BrowserFormat):
    return param(event, path) if spec.body == "params" else field(event, FieldSpec(paths=(path,)))


def _value(event: dict, fspec, spec: BrowserFormat):
    return param_field(event, fspec) if spec.body == "params" else field(event, fspec)


def _json_body(request: dict):
    post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
    body = post.get("text")
    if not isinstance(body, str):
        return None
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, (dict, list)) else None


def _delivery(entry: dict) -> tuple[str | None, str | None]:
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    status = response.get("status")
    if status in (0, "0") or entry.get("_error"):
        reason = response.get("_error") or entry.get("_error") or "no response"
        return "refused", f"the browser never delivered the request ({reason}; an ad blocker or a cancelled page)"
    if isinstance(status, int) and status >= 400:
        return "refused", f"HTTP {status} {response.get('statusText') or ''}".strip()
    return None, None


def _multipart(body: str, mime: str) -> dict[str, str]:
    boundary = None
    for part in mime.split(";"):
        if part.strip().startswith("boundary="):
            boundary = part.strip()[len("boundary="):].strip('"')
    if boundary is None:
        first_line = body.lstrip().splitlines()[0] if body.strip() else ""
        boundary = first_line[2:] if first_line.startswith("--") else None
    if not boundary:
        return {}
    fields = {}
    for chunk in body.split("--" + boundary):
        head, sep, value = chunk.partition("\r\n\r\n")
        if not sep:
            head, sep, value = chunk.partition("\n\n")
        if 'name="' not in head:
            continue
        name = head.split('name="', 1)[1].split('"', 1)[0]
        fields[name] = value.rstrip("\r\n")
    return fields


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or "") + parts.path
