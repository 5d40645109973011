"""CAPI request logs read by DuckDB: the rule files' `native.server` formats compiled to SQL.

`scan_capi_log` turns a JSON Lines or JSON array log, a single JSON document (optionally .gz/.zst) or a
CSV/TSV/Parquet request table (tablelog.py: each row the record the Python reader builds) into the same rows,
rejects and `source_ref`s as the Python reader (`capi_logs.read_capi_log`), but DuckDB reads and parses the
file in parallel and no record becomes a Python object. Everything the query does comes from the
rule files: body shapes (`require`), the event list (`events`), each column's paths (`fields`),
`names`, test codes, validation flags, test endpoints and the response rules.

The query covers the log forms the Python reader knows: bare bodies and log records that wrap them
({timestamp|sent_at|time, body|request|payload as an object, JSON text or a form, response, url, status}),
gateway envelopes (Segment's {request: {url, method, body}, response: {status, body}}, RudderStack's
{endpoint, body: {JSON|FORM|JSON_ARRAY|XML}}), Cloud Logging's jsonPayload/textPayload, Stape's request and
response lines joined by TraceId, form-encoded bodies (envelope.py), events given as a JSON string (Meta's
form-encoded `data`) or as a list of JSON strings (Meta's SDK), Google's partial_failure_error (failures.py).
Records it does not express exactly are marked in the query and the whole file goes to the Python reader
instead, so the result is always the Python reader's; `FALLBACK_SHAPES` names them; tests/test_native_compiled.py
checks the equivalence against the Python reader as the oracle.

Over 350 lines for now: the three query stages (records, the platform decision, events) are one
compilation whose parts share column names; the JSON value expressions are apart (jsonsql.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dedupaudit.errors import UserError
from dedupaudit.inputs.files import COMPRESSIONS, Scan, file_format, loads
from dedupaudit.inputs.native.capi_logs import (BODY_KEYS, PAYLOAD_KEYS, RESPONSE_KEYS, STATUS_KEYS, TIME_KEYS, URL_KEYS,
                                                file_scores, join_responses, server_formats, url_matches)
from dedupaudit.inputs.native.envelope import GATEWAY_KEYS, GATEWAY_TEXT, Functions, records_sql, status_sql, unwrap_sql
from dedupaudit.inputs.native.failures import register as register_partial_failure
from dedupaudit.inputs.native.jsonio import sniff_records
from dedupaudit.inputs.native.tablelog import read_csv, read_document, read_parquet
from dedupaudit.inputs.native.jsonsql import (_LINE_BREAKS, lit, not_blank, jpath, prefixes, Ref, Paths, jkind, jtext, kind, string, filled, present, text, nested, number, whole, id_text, on, json_text_start, first_of, short, truthy)
from dedupaudit.inputs.native.user_data import EMAIL_KEYS, PHONE_KEYS
from dedupaudit.inputs.textfile import Text
from dedupaudit.platforms.rules import FieldSpec, PlatformRules, ServerFormat

FALLBACK_SHAPES = ("nested values written out as JSON text (a field path stepping into a JSON string)",
                   "JSON text that does not parse where a field path or a body's shape steps into it",
                   "values that are objects where text belongs (a test code, an error message)",
                   "a body only the file's first records place (or none: the Python reader names the candidates)",
                   "duplicate keys in a Cloud Logging payload or a joined gateway request, a payload inside a payload",
                   "gateway TraceIds, Names or EventNames that are neither text nor integers",
                   "text Python's json parses and DuckDB does not (a lone surrogate escape)",
                   "a Google partial_failure_error the Python reader stops on (errors given as text)",
                   "request tables the Python reader numbers or types otherwise: a CSV/TSV with a blank line, a CR-only "
                   "line end, a row DuckDB or Python rejects, an inner line of a quoted value that reads as a row; "
                   "Parquet that is compressed or has nested, date, float32, NaN, nanosecond or non-UTC timestamp columns",
                   "a single JSON document with a key twice, or one Python reads otherwise (NaN)")
ID_COLUMNS = ("event_id", "order_id")
OUTPUT = ("platform", "event_name", "event_id", "event_time", "received_time", "order_id", "value", "currency", "delivery",
          "delivery_message", "fbp", "external_id", "ttp", "action_source", "conversion_action", "unhashed_user_data")
# ------------------------------------------------------------------------------------------------ the query

def _url_function(connection, specs: list[ServerFormat]) -> str:
    """A vectorised function: a URL -> 'fmt,fmt|test-fmt' (the formats whose endpoints, and whose test endpoints,
    match it), with capi_logs.url_matches itself, once per distinct URL of each chunk."""
    name = connection.name("da_url")
    cache: dict[str, str] = {}

    def formats(url: str) -> str:
        if url not in cache:
            hit = [s.format for s in specs if url_matches(url, s.endpoints, query=False)
                   or url_matches(url, s.test_endpoints, query=True)]
            test = [s.format for s in specs if url_matches(url, s.test_endpoints, query=True)]
            cache[url] = ",".join(hit) + "|" + ",".join(test)
        return cache[url]

    def udf(urls: pa.Array) -> pa.Array:
        encoded = pc.dictionary_encode(urls).combine_chunks() if isinstance(urls, pa.ChunkedArray) else pc.dictionary_encode(urls)
        mapped = pa.array([formats(u) for u in encoded.dictionary.to_pylist()], pa.string())
        return pc.take(mapped, encoded.indices)

    connection.con.create_function(name, udf, ["VARCHAR"], "VARCHAR", type="arrow")
    return name


def _record_sql(source: str, specs: list[ServerFormat], events_keys: set[str], url_fn: str, fn: Functions, gateway: bool,
                absent: frozenset = frozenset()) -> str:
    """Per record: the body (unwrapped as capi_logs.unwrap does, envelope.py; events given as JSON text decoded),
    url, send time, status, response, whether it was wrapped, `odd` (a form only the Python reader reads) and
    `reason` (a reject). `absent`: the wrapper keys no record of the file has (`_absent_keys`)."""
    x = Paths("j", "x", typed=False, absent=absent)  # most keys are absent: their types are read only where asked
    keys = list(dict.fromkeys((*BODY_KEYS, *URL_KEYS, *TIME_KEYS, *STATUS_KEYS, *RESPONSE_KEYS, *PAYLOAD_KEYS)))
    for k in keys:
        x(k)
    records = records_sql(source, x, fn, gateway)
    url = "CASE " + " ".join(f"WHEN {kind(x(k))} = 'VARCHAR' THEN {string(x(k))}" for k in URL_KEYS) + " END"
    sent = "CASE " + " ".join(f"WHEN {filled(x(k))} THEN {x(k)}" for k in TIME_KEYS) + " END"
    status = status_sql([x(k) for k in STATUS_KEYS])
    second = unwrap_sql(f"({records})", x, url, sent, status, fn, status_sql)
    b = Paths("body", "bn")
    for key in sorted(events_keys):
        b(key), b(key + "[]")
    # events given as JSON text: `data` as one string, or a list of strings (decoded in place)
    decoded = f"SELECT *, {b.extras()} FROM (SELECT *, {b.sql()} AS bn FROM ({second}))"
    for key in sorted(events_keys):
        v, first_event = b(key), b(key + "[]")
        element = f"CASE WHEN {json_text_start('e')} AND json_valid(e->>'$') THEN json(e->>'$') ELSE e END"
        decode = (f"CASE WHEN {json_text_start(v)} AND ltrim({string(v)}, ' \t\n\r')[1] = '[' AND json_valid({string(v)}) "
                  f"THEN json_merge_patch(body, json_object({lit(key)}, json({string(v)}))) "
                  f"WHEN {kind(first_event)} = 'VARCHAR' "
                  f"THEN json_merge_patch(body, json_object({lit(key)}, to_json(list_transform(json_extract({v}, '$[*]'), "
                  f"lambda e: {element})))) ELSE body END")
        decoded = f"SELECT * REPLACE ({decode} AS body) FROM ({decoded})"
    third = f"""
        SELECT pos, url, sent, status, wrapped, resp, body, odd, reason,
            CASE WHEN url IS NOT NULL THEN {url_fn}(url) END AS by_url
        FROM ({decoded})"""
    return third


def _score_sql(s: ServerFormat, names: dict[str, set], events: str) -> str:
    """capi_logs.score(): 3 for a platform event name, 3 per signature path, 1 per hint value, over 20 events."""
    ev = Paths("e", "ex", typed=False)
    parts = []
    name_spec = s.fields.get("event_name")
    platform_names = sorted(names.get(s.platform, set()))
    if name_spec and platform_names:
        parts.append(("3", f"coalesce({_field_text(name_spec, ev, None)} IN ({', '.join(map(lit, platform_names))}), false)"))
    for p in s.signature:
        parts.append(("3", present(ev(p))))
    for key, values in s.hints.items():
        parts.append(("1", f"coalesce({text(ev(key))} IN ({', '.join(map(lit, values))}), false)"))
    if not parts:
        return "0"
    evs = f"list_filter(list_slice(json_extract({events}, '$[*]'), 1, 20), lambda e: {jkind('e')} = 'OBJECT')"
    es = f"list_transform({evs}, lambda e: {ev.sql()})"
    return "(" + " + ".join(f"{w} * coalesce(list_bool_or(list_transform({es}, lambda ex: {cond})), false)::INT"
                            for w, cond in parts) + ")"


def _events_list(s: ServerFormat, body: Paths) -> str:
    """The JSON list of events of a body in format `s` (capi_logs.list_at), NULL when there is none."""
    out = "NULL::JSON"
    for p in reversed(s.events):
        if p == ".":
            candidate = "CASE WHEN body IS NOT NULL THEN to_json([body]) END"
        else:
            v = body(p)
            candidate = f"CASE WHEN {kind(v)} = 'ARRAY' THEN {v} END"
        out = f"coalesce({candidate}, {out})"
    return out


def _events_broken(s: ServerFormat, body: Paths) -> str:
    """capi_logs' reject of a body whose event list is JSON text that does not parse (paths.list_at raises on the
    first such path before a list is found), NULL otherwise."""
    out = "NULL"
    for p in reversed(s.events):
        if p == ".":
            out = "NULL"
            continue
        v = body(p)
        broken = f"coalesce({json_text_start(v)} AND NOT json_valid({string(v)}), false)"
        out = (f"CASE WHEN {kind(v)} = 'ARRAY' THEN NULL WHEN {broken} "
               f"THEN {lit(p.removesuffix('[]') + ' is not valid JSON (cut off or broken)')} ELSE {out} END")
    return out


def _events_path(s: ServerFormat, body: Paths) -> str:
    out = "NULL"
    for p in reversed(s.events):
        cond = "body IS NOT NULL" if p == "." else f"{kind(body(p))} = 'ARRAY'"
        out = f"CASE WHEN {cond} THEN {lit(p)} ELSE {out} END"
    return out


def _lookup(path: str, ev: Paths, body: Paths | None) -> str:
    """The JSON value at a field path: in the event, or (`^.`) in the whole body."""
    if path.startswith("^."):
        return body(path[2:]) if body is not None else "NULL::JSON"
    if path == "^":
        return "body"
    return ev(path)


def _template(template: str, ev: Paths, body: Paths | None) -> str:
    names = re.findall(r"\{([^{}]+)\}", template)
    if not names:
        return lit(template)
    values = {n: _lookup(n, ev, body) for n in names}
    ok = " AND ".join(f"({filled(v)} AND {kind(v)} IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE'))" for v in values.values())
    pieces = re.split(r"\{([^{}]+)\}", template)
    concat = " || ".join(lit(p) if i % 2 == 0 else text(values[p]) for i, p in enumerate(pieces) if p or i % 2)
    return f"(CASE WHEN {ok} THEN {concat} END)"


def _field_first(spec: FieldSpec, ev: Paths, body: Paths | None, fn, default: str = "NULL") -> str:
    """fn(the field's value): its first filled path (capi_logs' field())."""
    return first_of([_lookup(p, ev, body) for p in spec.paths], fn, default)


def _field_text(spec: FieldSpec, ev: Paths, body: Paths | None, as_id: bool = False) -> str:
    value = _field_first(spec, ev, body, id_text if as_id else text)
    rest = []
    if spec.template:
        rest.append(_template(spec.template, ev, body))
    if spec.value is not None:
        rest.append(lit(spec.value))
    return f"coalesce({', '.join([value, *rest])})" if rest else value


def _response_sql(s: ServerFormat, display: str, partial_fn: str) -> tuple[str, str, str, Paths, list]:
    """(whole-body outcome, its message, fallback, the response's paths, columns the outcome needs first) of a
    body's logged response, in capi_logs._response_outcome's order; a per-event status list gives 'per_event',
    Google's partial failure 'partial', both applied per event."""
    r = Paths("r", "rx")
    said = s.response

    def any_filled(values) -> str:
        return "(" + " OR ".join(filled(v) for v in values) + ")" if values else "false"

    errors = [r(p) for p in said.error]
    message = first_of(errors, text)
    suffix = f"CASE WHEN {first_of(errors, truthy, 'false')} THEN ': ' || {message} ELSE '' END"
    cases = [("status >= 400", "'refused'", short(f"'HTTP ' || status::VARCHAR || {suffix}")),
             (any_filled(errors), "'refused'", short(message))]
    fallback = [first_of(errors, nested, "false")]
    if said.code:
        code = r(said.code)
        ok_text = ", ".join(lit(v if isinstance(v, str) else json.dumps(v)) for v in said.ok)
        ok_num = [str(float(v)) for v in said.ok if isinstance(v, (int, float))]
        good = f"coalesce({text(code)} IN ({ok_text}), false)"
        if ok_num:
            good = (f"({good} OR coalesce({kind(code)} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND {number(code)} IN ({', '.join(ok_num)}), "
                    f"false) OR coalesce({kind(code)} = 'BOOLEAN' AND (CASE {string(code)} WHEN 'true' THEN 1.0 ELSE 0.0 END) "
                    f"IN ({', '.join(ok_num)}), false))")
        messages = [r(p) for p in said.message]
        said_suffix = f"CASE WHEN {first_of(messages, truthy, 'false')} THEN ': ' || {first_of(messages, text)} ELSE '' END"
        cases.append((f"{present(code)} AND NOT {good}", "'refused'",
                      short(f"{lit(said.code + ' ')} || coalesce({text(code)}, '') || {said_suffix}")))
        fallback += [nested(code), first_of(messages, nested, "false")]
    if said.per_event:
        cases.append((f"{kind(r(said.per_event['list']))} = 'ARRAY'", "'per_event'", "NULL"))
    columns = []  # computed before the outcome: Google's partial failure as the Python reader reads it (failures.py)
    if said.partial_failure:
        columns = [("pf", first_of([r(p) for p in said.partial_failure], lambda v: v)),
                   ("pf_read", f"CASE WHEN {jkind('pf')} = 'OBJECT' THEN {partial_fn}(pf::VARCHAR, n)::JSON END")]
        cases.append((f"coalesce({jkind('pf')} = 'OBJECT', false)", "'partial'", "pf_read->>'$.all'"))
        fallback.append("coalesce(pf_read->>'$.odd' = 'true', false)")
    if said.received:
        received = [r(p) for p in said.received]

        def count_of(v: str) -> str:
            return (f"(CASE WHEN {kind(v)} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST({string(v)} AS HUGEINT) "
                    f"WHEN {kind(v)} = 'DOUBLE' THEN TRY_CAST(trunc({number(v)}) AS HUGEINT) "
                    f"WHEN {kind(v)} = 'BOOLEAN' THEN CASE {string(v)} WHEN 'true' THEN 1 ELSE 0 END "
                    f"WHEN {kind(v)} = 'VARCHAR' AND regexp_full_match({string(v)}, '\\s*[+-]?[0-9]{{1,18}}\\s*') "
                    f"THEN TRY_CAST(trim({string(v)}) AS HUGEINT) ELSE n END)")

        count = first_of(received, count_of)
        path = first_of(received, lambda v: lit(said.received[received.index(v)]))
        why = (f"{lit(display + ' received ')} || {count}::VARCHAR || ' of ' || n::VARCHAR || ' events (' || {path} || "
               f"') and does not say which; all ' || n::VARCHAR || ' are left out'")
        cases.append((f"{any_filled(received)} AND {count} < n", "'refused'", why))
    outcome = "CASE " + " ".join(f"WHEN {c} THEN {o}" for c, o, _ in cases) + " END"
    said_text = "CASE " + " ".join(f"WHEN {c} THEN {m}" for c, _, m in cases) + " END"
    return outcome, said_text, " OR ".join(fallback), r, columns


def _format_sql(s: ServerFormat, display: str, partial_fn: str) -> tuple[str, str]:
    """One format's events: a row per event of every body read as `s` with its columns, or a reject row."""
    body = Paths("body", "bx")
    ev = Paths("ev", "ex")
    events, events_path = _events_list(s, body), _events_path(s, body)
    outcome, said, response_fallback, r, response_columns = _response_sql(s, display, partial_fn)
    marks = []  # the body's own test marks, in capi_logs.delivery's order
    for p in s.validate:
        marks.append((on(body(p)), f"'validation-only request (' || {lit(p + ' ')} || {text(body(p))} || '): ' || "
                                   f"{lit(display + ' checks it and records nothing')}"))
    for p in s.test:
        marks.append((on(body(p)), f"{lit(p + ' ')} || {text(body(p))}"))
    if s.test_endpoints:
        marks.append((f"coalesce(url <> '' AND list_contains(string_split(split_part(by_url, '|', 2), ','), {lit(s.format)}), false)",
                      "'sent to the platform''s test endpoint'"))
    body_mark = ("CASE " + " ".join(f"WHEN {c} THEN {m}" for c, m in marks) + " END") if marks else "NULL::VARCHAR"
    body_fallback = [nested(body(p)) for p in (*s.validate, *s.test)]
    body_fallback += [json_text_start(body(q)) for alts in s.require for a in alts for q in prefixes(a)]
    body_fallback += [json_text_start(body(q)) for e in s.events if e != "." for q in prefixes(e)]
    body_fallback += [json_text_start(body(q)) for p in (*s.validate, *s.test) for q in prefixes(p)]
    columns = {c: _field_text(f, ev, body, as_id=c in ID_COLUMNS) for c, f in s.fields.items()}
    numeric = {c: _field_first(s.fields[c], ev, body, whole, "false") for c in ID_COLUMNS if c in s.fields}
    event_fallback = [_field_first(f, ev, body, nested, "false") for f in s.fields.values()]
    for f in s.fields.values():
        lookups = list(f.paths) + (re.findall(r"\{([^{}]+)\}", f.template) if f.template else [])
        for path in lookups:
            inner, paths = (body, path[2:]) if path.startswith("^.") else (ev, path)
            event_fallback += [json_text_start(inner(q)) for q in prefixes(paths)]
            if f.template and path not in f.paths:
                event_fallback.append(f"coalesce({kind(inner(paths))} = 'BOOLEAN', false)")
    event_marks = [(on(ev(p)), f"{lit(p + ' ')} || {text(ev(p))}") for p in s.event_test]
    event_fallback += [nested(ev(p)) for p in s.event_test]
    event_outcome, event_said = "outcome", "said"
    per_event = s.response.per_event
    if per_event:
        item = jpath(per_event["list"])
        item_paths = [per_event["status"], *per_event["message"]]
        per_event_sql = (f"CASE WHEN outcome = 'per_event' THEN json_extract(json_extract(r, {lit(item)} || '[' || idx::VARCHAR || ']'), "
                         f"[{', '.join(lit(jpath(p)) for p in item_paths)}]) END")
        refs = [Ref(f"pe[{i}]", f"pe_t[{i}]", f"pe_s[{i}]") for i in range(1, len(item_paths) + 1)]
        status, messages = refs[0], refs[1:]
        failed = ", ".join(lit(v.lower()) for v in per_event["failed"]) or "NULL"
        is_failed = (f"coalesce(CASE WHEN {kind(status)} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN {number(status)} >= 400 "
                     f"WHEN {kind(status)} = 'VARCHAR' AND regexp_full_match({string(status)}, '[0-9]{{1,18}}') "
                     f"THEN TRY_CAST({string(status)} AS HUGEINT) >= 400 "
                     f"WHEN {kind(status)} IN ('VARCHAR', 'BOOLEAN') THEN lower({string(status)}) IN ({failed}) END, false)")
        refused = short(f"coalesce({first_of(messages, text)}, {lit(per_event['status'] + ' ')} || {text(status)})")
        event_outcome = f"CASE WHEN outcome = 'per_event' THEN CASE WHEN {is_failed} THEN 'refused' END ELSE outcome END"
        event_said = f"CASE WHEN outcome = 'per_event' THEN CASE WHEN {is_failed} THEN {refused} END ELSE said END"
        event_fallback.append(f"coalesce(outcome = 'per_event' AND ({first_of(messages, nested, 'false')} "
                              f"OR {kind(status)} IN ('OBJECT', 'ARRAY')), false)")
    else:
        per_event_sql = "NULL::JSON[]"
    if s.response.partial_failure:  # Google: the conversions partial_failure_error names (all when it names none)
        mine = "(pf_read->'$.each'->>idx::INT)"
        event_outcome = (f"CASE WHEN outcome = 'partial' THEN CASE WHEN said IS NOT NULL OR {mine} IS NOT NULL THEN 'refused' END "
                         f"ELSE {event_outcome} END")
        event_said = f"CASE WHEN outcome = 'partial' THEN coalesce(said, {mine}) ELSE {event_said} END"
    if event_marks:
        event_outcome = "CASE " + " ".join(f"WHEN {c} THEN 'test'" for c, _ in event_marks) + f" ELSE {event_outcome} END"
        event_said = "CASE " + " ".join(f"WHEN {c} THEN {m}" for c, m in event_marks) + f" ELSE {event_said} END"
    event_outcome = f"CASE WHEN body_mark IS NOT NULL THEN 'test' ELSE {event_outcome} END"
    event_said = f"CASE WHEN body_mark IS NOT NULL THEN body_mark ELSE {event_said} END"
    select = []
    for column in OUTPUT:
        if column == "platform":
            sql = lit(s.platform)
        elif column == "event_name" and s.names:
            sql = f"CASE {columns['event_name']} " + " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in s.names.items()) + \
                f" ELSE {columns['event_name']} END"
        elif column == "received_time":
            sql = text("sent")
        elif column in ("delivery", "delivery_message"):
            sql = {"delivery": event_outcome, "delivery_message": event_said}[column]
        elif column == "unhashed_user_data":
            sql = _unhashed("ev")
        else:
            sql = columns.get(column, "NULL")
        select.append(f"CASE WHEN reason IS NULL THEN ({sql})::VARCHAR END AS {column}")
    for column in ID_COLUMNS:
        select.append(f"coalesce(reason IS NULL AND {numeric.get(column, 'false')}, false) AS __numeric_{column}")
    ref = "CASE WHEN events_path = '.' THEN where_ ELSE where_ || ', ' || events_path || '[' || idx::VARCHAR || ']' END"
    # the record's own `reason` (NULL here) left out: the event's reason below would otherwise be a second column
    # of that name, and the first one (NULL) the one read, so events that are not objects became empty rows
    recs = (f"SELECT *, {body.extras()} FROM (SELECT * EXCLUDE (reason), {body.sql()} AS bx FROM recs "
            f"WHERE fmt = {lit(s.format)} AND reason IS NULL)")
    nolist = f"coalesce({_events_broken(s, body)}, {lit(f'{s.label}: no list of events at ' + ' or '.join(s.events))})"
    bodies = (f"SELECT *, CASE WHEN evs IS NULL THEN {nolist} END AS nolist FROM ("
              f"SELECT *, {events} AS evs, {events_path} AS events_path FROM ({recs}))")
    name = "bodies_" + re.sub(r"[^a-z0-9]", "_", s.format)
    with_response = (f"SELECT *, {r.extras()}, len(es)::BIGINT AS n FROM (SELECT *, {r.sql()} AS rx, json_extract(evs, '$[*]') AS es "
                     f"FROM (SELECT *, CASE WHEN {kind('resp')} = 'OBJECT' THEN resp ELSE '{{}}'::JSON END AS r FROM {name}))")
    for column, sql in response_columns:
        with_response = f"SELECT *, {sql} AS {column} FROM ({with_response})"
    outcomes = (f"SELECT *, {outcome} AS outcome, {said} AS said, {body_mark} AS body_mark, "
                f"coalesce({' OR '.join(dict.fromkeys(body_fallback + [response_fallback])) or 'false'}, false) AS body_fallback FROM ({with_response})")
    # a body without a list of events stays as one row (its reject), so bodies are read in one pass, not materialised
    unnested = (f"SELECT * EXCLUDE (es), unnest(CASE WHEN nolist IS NULL THEN es ELSE [NULL::JSON] END) AS raw_ev, "
                f"unnest(CASE WHEN nolist IS NULL THEN range(n) ELSE [0::BIGINT] END) AS idx FROM ({outcomes})")
    text_event = "(raw_t = 'VARCHAR' AND ltrim(raw_ev->>'$', ' \\t\\n\\r')[1] IN ('{', '['))"
    decoded = (f"SELECT *, CASE WHEN raw_t = 'OBJECT' THEN 'OBJECT' ELSE {jkind('ev')} END AS ev_t FROM ("
               f"SELECT *, CASE WHEN raw_t = 'OBJECT' THEN raw_ev WHEN {text_event} AND json_valid(raw_ev->>'$') "
               f"THEN json(raw_ev->>'$') ELSE raw_ev END AS ev FROM (SELECT *, {jkind('raw_ev')} AS raw_t FROM ({unnested})))")
    per = (f"SELECT *, {ev.extras()}, list_transform(pe, lambda v: {jkind('v')}) AS pe_t, list_transform(pe, lambda v: {jtext('v')}) AS pe_s "
           f"FROM (SELECT *, {ev.sql()} AS ex, {per_event_sql} AS pe, CASE WHEN nolist IS NOT NULL THEN nolist WHEN ev_t = 'OBJECT' THEN NULL "
           f"WHEN {text_event} AND NOT json_valid(raw_ev->>'$') THEN events_path || ' is not valid JSON (cut off or broken)' "
           f"ELSE 'the event is not a JSON object' END AS reason FROM ({decoded}))")
    return f"""
    SELECT pos, idx, reason, CASE WHEN nolist IS NULL THEN {ref} ELSE where_ END AS source_ref,
           nolist IS NULL AND (body_fallback OR coalesce(reason IS NULL AND ({' OR '.join(dict.fromkeys(event_fallback)) or 'false'}), false)) AS fallback,
           {', '.join(select)}
    FROM ({per})""", f"{name} AS ({bodies})"


COLUMNS = "pos, url, by_url, sent, status, wrapped, resp, body, where_, fmt, skip, reason, fallback"


def _recs_sql(lines: str, layout: str, specs: list[ServerFormat], events_keys: set[str], forced: bool, url_fn: str,
              fn: Functions, gateway: bool = True, absent: frozenset = frozenset()) -> str:
    """Per record: the body and its wrapper, the format its URL gives (the forced one with `forced`), `reason` for a
    record that is not a body (a reject), `skip`, `fallback`, and `url_hits`: a record whose URL names no single
    format is decided again by `_shapes_sql` (only when the file has one: most logs' URLs decide every record)."""
    records = _record_sql(lines, specs, events_keys, url_fn, fn, gateway, absent)
    where = f"'{'line' if layout == 'jsonl' else 'record'} ' || pos::VARCHAR"
    if forced:
        return f"SELECT *, {lit(specs[0].format)} AS fmt, false AS skip, odd AS fallback, {where} AS where_, [] AS url_hits FROM ({records})"
    hits = "list_filter(string_split(split_part(by_url, '|', 1), ','), lambda f: f <> '')"
    return f"""SELECT * EXCLUDE (odd), CASE WHEN len(url_hits) = 1 AND reason IS NULL AND body IS NOT NULL THEN url_hits[1] END AS fmt,
                      false AS skip, odd AS fallback, odd, {where} AS where_
               FROM (SELECT *, CASE WHEN coalesce(url, '') <> '' THEN {hits} ELSE [] END AS url_hits FROM ({records}))"""


def _shapes_sql(s0: str, specs: list[ServerFormat], names: dict[str, set], file_scores: dict[str, int]) -> str:
    """capi_logs.match_format for the records of table `s0` whose URL does not decide: by the body's shape, then the
    fields only one platform uses, then the file's first records; the other records as they are."""
    body = Paths("body", "bx")
    fmts = [s.format for s in specs]
    shape = {s.format: "(" + " AND ".join("(" + " OR ".join(present(body(p)) for p in alts) + ")" for alts in s.require) + ")"
             for s in specs}
    through = [json_text_start(body(q)) for s in specs for alts in s.require for a in alts for q in prefixes(a)]
    nshape = " + ".join(f"shape_{i}::INT" for i in range(len(fmts)))
    scores = ", ".join(f"CASE WHEN shape_{i} AND nshape >= 2 THEN {_score_sql(s, names, _events_list(s, body))} "
                       f"END AS score_{i}" for i, s in enumerate(specs))
    # capi_logs.score decodes the first 20 events: one that is cut-off JSON text rejects the body
    cut = " OR ".join(f"(shape_{i} AND coalesce(list_bool_or(list_transform(list_slice(json_extract({_events_list(s, body)}, '$[*]'), 1, 20), "
                      f"lambda e: {json_text_start('e')} AND NOT json_valid(e->>'$'))), false))" for i, s in enumerate(specs))
    stage1 = ("SELECT *, " + ", ".join(f"coalesce({shape[f]}, false) AS shape_{i}" for i, f in enumerate(fmts))
              + f", coalesce({' OR '.join(through) or 'false'}, false) AS through "
              + f"FROM (SELECT *, {body.extras()} FROM (SELECT * EXCLUDE (fmt, skip, fallback), {body.sql()} AS bx "
              + f"FROM {s0} WHERE len(url_hits) <> 1))")
    stage2 = f"SELECT *, {scores}, nshape >= 2 AND ({cut}) AS cut FROM (SELECT *, {nshape} AS nshape FROM ({stage1}))"
    best = f"greatest({', '.join(f'coalesce(score_{i}, -1)' for i in range(len(fmts)))})"
    stage3 = f"SELECT *, {best} AS best FROM ({stage2})"
    win = [f"(shape_{i} AND best > 0 AND score_{i} = best)" for i in range(len(fmts))]
    nwin = " + ".join(f"{w}::INT" for w in win)
    stage4 = f"SELECT *, {nwin} AS nwin, " + ", ".join(f"{w} AS win_{i}" for i, w in enumerate(win)) + f" FROM ({stage3})"
    pool = [f"(CASE WHEN nwin > 0 THEN win_{i} ELSE shape_{i} END)" for i in range(len(fmts))]
    fbest = f"greatest({', '.join(f'CASE WHEN {p} THEN {file_scores.get(f, 0)} ELSE -1 END' for p, f in zip(pool, fmts))})"
    fwin = [f"({p} AND fbest > 0 AND {file_scores.get(f, 0)} = fbest)" for p, f in zip(pool, fmts)]
    nf = " + ".join(f"{w}::INT" for w in fwin)
    stage5 = f"SELECT *, {nf} AS nf, " + ", ".join(f"{w} AS fwin_{i}" for i, w in enumerate(fwin)) + \
        f" FROM (SELECT *, {fbest} AS fbest FROM ({stage4}))"
    chosen = ("CASE WHEN reason IS NOT NULL OR body IS NULL THEN NULL WHEN cut THEN NULL "
              + " ".join(f"WHEN nshape = 1 AND shape_{i} THEN {lit(f)}" for i, f in enumerate(fmts))
              + " " + " ".join(f"WHEN nshape > 1 AND nwin = 1 AND win_{i} THEN {lit(f)}" for i, f in enumerate(fmts))
              + " " + " ".join(f"WHEN nshape > 1 AND nwin <> 1 AND nf = 1 AND fwin_{i} THEN {lit(f)}" for i, f in enumerate(fmts))
              + " END")
    unknown = "not a request body of a known platform (no rule file's native.server shape matches)"
    return f"""
    SELECT {COLUMNS} FROM {s0} WHERE len(url_hits) = 1
    UNION ALL
    SELECT pos, url, by_url, sent, status, wrapped, resp, body, where_, fmt,
        fmt IS NULL AND reason IS NULL AND body IS NOT NULL AND nshape = 0 AND coalesce(url, '') <> '' AND len(url_hits) = 0 AS skip,
        CASE WHEN reason IS NOT NULL THEN reason WHEN fmt IS NULL AND cut THEN 'event is not valid JSON (cut off or broken)'
             WHEN fmt IS NULL AND nshape = 0 AND NOT (coalesce(url, '') <> '' AND len(url_hits) = 0)
             THEN {lit(unknown)} END AS reason,
        odd OR through OR (body IS NOT NULL AND fmt IS NULL AND nshape > 1 AND NOT cut) AS fallback
    FROM (SELECT *, {chosen} AS fmt FROM ({stage5}))"""


def _sample(path: Path):
    """The file's first records, enough for 50 once gateway response lines are joined to their requests (what
    the Python reader's file evidence reads), or None when not JSON or when the head never holds that many."""
    for limit, count in ((1 << 20, 50), (1 << 24, 200), (1 << 28, 1000)):
        records = sniff_records(path, limit=limit, count=count)
        if records is None:
            return None
        joined = join_responses(records.items)[0] if records.layout in ("jsonl", "array") else records.items
        if len(joined) >= 50 or not records.partial:
            return records, joined
    return None


def _table_sample(con, table: str) -> list | None:
    """The first records of a table log, joined as `_sample` joins them (rows from the table DuckDB read)."""
    for limit in (1000, 100_000):
        rows = con.execute(f"SELECT pos, j FROM {table} ORDER BY pos LIMIT {limit}").fetchall()
        joined = join_responses([(pos, json.loads(j)) for pos, j in rows])[0]
        if len(joined) >= 50 or len(rows) < limit:
            return joined
    return None


def _read_records(con, table: str, path: Path, kind: str) -> tuple[str, str, list, list] | None:
    """The file's records in table `table`: (layout, a relation of (pos, j), the rejects of lines DuckDB cannot
    parse, the first records joined for file_scores), or None for the Python reader."""
    if kind in ("csv", "tsv", "parquet"):
        if not (read_parquet(con, table, path) if kind == "parquet" else read_csv(con, table, path, kind)):
            return None
        joined = _table_sample(con, table)
        return None if joined is None else ("jsonl", f"(SELECT pos, j FROM {table})", [], joined)
    sampled = _sample(path)
    if sampled is None:
        return None
    sample, joined = sampled
    if sample.layout == "document":
        ok = read_document(con, table, path, sample.items[0][1] if sample.items else None)
        return ("document", f"(SELECT pos, j FROM {table})", [], joined) if ok else None
    text = Text.of(path)
    source, compression = (text.copy, None) if text is not None and text.copy is not None else (path, COMPRESSIONS.get(path.suffix.lower()))
    _read_lines(con, table, source, sample.layout, compression)
    valid = valid_lines(con, table, sample.layout, "rowid + 1")
    return None if valid is None else (sample.layout, *valid, joined)


def valid_lines(con, table: str, layout: str, pos: str = "pos") -> tuple[str, list] | None:
    """A relation of (pos, j) over the records of `table` that are JSON, and the rejects of those that are not
    (blank lines are no record), or None when Python parses a line DuckDB does not, or a line holds a line break
    of its own (the file then goes to the Python reader)."""
    breaks = " OR ".join(f"contains(j, chr({ord(c)}))" for c in _LINE_BREAKS)  # a sixth of one regexp's cost
    odd = con.execute(f"SELECT {pos}, j, {breaks} FROM {table} WHERE (NOT json_valid(j) AND strip(j) <> '') OR {breaks}").fetchall()
    broken = [(p, j) for p, j, _ in odd]
    reasons = _broken_lines(broken) if layout == "jsonl" else []
    if reasons is None or any(b for _, _, b in odd) or (broken and layout != "jsonl"):
        return None
    # without a broken line, the lines that are JSON are those that are not blank: no second parse of each
    keep = "json_valid(j)" if broken else not_blank("j")
    return f"(SELECT {pos} AS pos, j FROM {table} WHERE {keep})", reasons


class Declined(Exception):
    """The log holds a form the compiled query leaves to the Python reader (FALLBACK_SHAPES); the message says which."""


def platform_names(rules: dict[str, PlatformRules]) -> dict[str, set]:
    return {p: set(n for names in r.events.values() for n in names) for p, r in rules.items()}


def scan_capi_log(connection, path: Path, rules: dict[str, PlatformRules], forced: ServerFormat | None = None) -> Scan | None:
    """A CAPI request log as a relation on the connection, read by one compiled query per stage; None when the
    file holds a form only the Python reader reads (FALLBACK_SHAPES): the caller then uses it."""
    path = Path(path)
    kind = file_format(path, strict=False)
    if kind not in ("json", "jsonl", "csv", "tsv", "parquet"):
        return None
    specs = [forced] if forced else server_formats(rules)
    con = connection.con
    lines = connection.name("native_lines")
    made: list[str] = [lines]

    def drop() -> None:
        for table in reversed(made):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        made.clear()

    try:
        read = _read_records(con, lines, path, kind)
    except (duckdb.Error, UserError):
        read = None  # a line longer than DuckDB's limit, an array it cannot read: the Python reader says what is wrong
    if read is None:
        return drop()
    layout, numbered, reasons, joined = read
    try:
        scores = {} if forced else file_scores(joined, specs, platform_names(rules))
        # lines read by _read_lines, or the one record of a document, are in file order (a request table's rows are
        # numbered by a window, which need not keep it)
        out, rejects = normalise(connection, numbered, layout, rules, specs, scores, bool(forced), made,
                                 in_file_order=kind in ("json", "jsonl"))
    except Declined:
        return drop()
    except Exception:
        drop()
        raise
    view = connection.name("native_scan")
    con.execute(f"CREATE VIEW {view} AS SELECT * EXCLUDE (__idx) FROM {out}")
    columns = [*OUTPUT, "source_ref"]
    broken_rows = sorted([*reasons, *rejects])
    return Scan(str(path), view, columns, {c: "VARCHAR" for c in columns}, broken_rows,
                {c: f"__numeric_{c}" for c in ID_COLUMNS},
                cleanup=[lambda: con.execute(f"DROP VIEW IF EXISTS {view}"), lambda: con.execute(f"DROP VIEW IF EXISTS {out}"), drop])


def normalise(connection, numbered: str, layout: str, rules: dict[str, PlatformRules], specs: list[ServerFormat],
              scores: dict[str, int], forced: bool, made: list[str], gateway_joins: bool = True,
              in_file_order: bool = False) -> tuple[str, list[tuple]]:
    """The records of relation `numbered` (pos, j) as canonical rows: (a view of them in file order, with __seq, __row
    and __idx, the place in the body's event list; the rejects as (pos, reason, where)). Each stage's table is dropped
    once the next one holds what it needs; `made` lists the tables standing (the caller drops them on an error, and
    the one behind the view after it).
    Raises Declined for a form the query leaves to the Python reader, and for a gateway log's request and response
    lines (joined by TraceId) without `gateway_joins`. `in_file_order`: `numbered` gives its records in pos order."""
    con = connection.con
    recs, events, out = (connection.name(n) for n in ("native_recs", "native_events", "native_rows"))
    names = platform_names(rules)
    scores = {f: n for f, n in scores.items() if f != "decided by the file"}
    url_fn = _url_function(connection, specs)
    fn = Functions(connection)
    gateway, events_keys = _scan_text(con, numbered, {e.split(".")[0] for s in specs for e in s.events if e != "."})
    if gateway and not gateway_joins:
        raise Declined("gateway request and response lines joined by TraceId (Stape)")
    absent = _absent_keys(con, numbered, gateway)
    con.execute(f"CREATE TABLE {recs} AS {_recs_sql(numbered, layout, specs, events_keys, forced, url_fn, fn, gateway, absent)}")
    made.append(recs)
    for table in [t for t in made if t != recs]:  # the lines
        con.execute(f"DROP TABLE {table}")
        made.remove(table)
    # Records come in file order through projections alone; the gateway join and the shape decision (a UNION ALL)
    # do not keep it, nor do several formats' events (one format after the other).
    in_order = in_file_order and not gateway
    if not forced and con.execute(f"SELECT EXISTS (SELECT 1 FROM {recs} WHERE len(url_hits) <> 1)").fetchall()[0][0]:
        in_order = False
        decided = connection.name("native_decided")
        con.execute(f"CREATE TABLE {decided} AS {_shapes_sql(recs, specs, names, scores)}")
        made.append(decided)
        con.execute(f"DROP TABLE {recs}")
        made.remove(recs)
        recs = decided
    _decline_fallback(con, recs, "pos")
    used = {f for (f,) in con.execute(f"SELECT DISTINCT fmt FROM {recs} WHERE fmt IS NOT NULL AND reason IS NULL").fetchall()}
    rejects = con.execute(f"SELECT pos, reason, where_ FROM {recs} WHERE reason IS NOT NULL").fetchall()
    partial_fn = register_partial_failure(connection)
    parts = [_format_sql(s, rules[s.platform].display_name, partial_fn) for s in specs if s.format in used] or [_format_sql(specs[0], "", partial_fn)]
    sql = f"CREATE TABLE {events} AS WITH {', '.join(w for _, w in parts)} SELECT * FROM ({' UNION ALL '.join(q for q, _ in parts)})"
    con.execute(sql.replace(" recs ", f" {recs} "))
    made.append(events)
    con.execute(f"DROP TABLE {recs}")
    made.remove(recs)
    _decline_fallback(con, events, "pos")
    rejects += con.execute(f"SELECT pos, reason, source_ref FROM {events} WHERE reason IS NOT NULL").fetchall()
    kept = f"pos AS __row, idx AS __idx, {', '.join(OUTPUT)}, source_ref, __numeric_event_id, __numeric_order_id"
    if in_order and len(parts) == 1:  # in file order already: a view of the events, not a sorted copy (0.27 s at 1M)
        con.execute(f"CREATE VIEW {out} AS SELECT rowid AS __seq, {kept} FROM {events} WHERE reason IS NULL")
        return out, rejects
    rows = connection.name("native_sorted")
    con.execute(f"CREATE TABLE {rows} AS SELECT {kept} FROM {events} WHERE reason IS NULL ORDER BY pos, idx")
    made.append(rows)
    con.execute(f"DROP TABLE {events}")
    made.remove(events)
    con.execute(f"CREATE VIEW {out} AS SELECT rowid AS __seq, * FROM {rows}")
    return out, rejects


# Every key the record stage looks for in a record (capi_logs.unwrap's and join_responses' keys).
WRAPPER_KEYS = frozenset((*BODY_KEYS, *URL_KEYS, *TIME_KEYS, *STATUS_KEYS, *RESPONSE_KEYS, *PAYLOAD_KEYS, *GATEWAY_KEYS))


def _absent_keys(con, numbered: str, gateway: bool) -> frozenset:
    """The wrapper keys no record of relation `numbered` has at its top level: compiled as NULL, they take their
    tests out of the record stage (a plain log names 3 of the 33: the record stage took 45% less time on a 1M-event
    log). Nothing is left out where keys come from elsewhere than the record's own: a Cloud Logging payload merged
    into its record, or a gateway's response line joined to its request."""
    if gateway:
        return frozenset()
    keys = {k for (k,) in con.execute(f"SELECT DISTINCT unnest(json_keys(j)) FROM {numbered}").fetchall()}
    return frozenset() if keys & set(PAYLOAD_KEYS) else WRAPPER_KEYS - keys


def _scan_text(con, numbered: str, keys: set[str]) -> tuple[bool, set[str]]:
    """What one pass over the records' text of relation `numbered` tells: whether any may be a gateway line
    (GATEWAY_TEXT), and which of `keys` (where bodies keep their events) any record writes out. Only those can hold
    events given as JSON text, so only those are decoded: on the benchmark's Meta log `data` and `events` (in its
    URL) of the rule files' 5, which took an eighth off the record statement (1.78 s against 2.04 s at 1M events).
    A \\u or % escape in any record could spell a name: then all are kept."""
    ordered = sorted(keys)
    found = con.execute(f"SELECT coalesce(bool_or({GATEWAY_TEXT}), false), coalesce(bool_or(contains(j, '\\u') OR contains(j, '%')), false)"
                        + "".join(f", coalesce(bool_or(contains(j, {lit(k)})), false)" for k in ordered) + f" FROM {numbered}").fetchall()[0]
    return found[0], set(keys) if found[1] else {k for k, hit in zip(ordered, found[2:]) if hit}


def _decline_fallback(con, table: str, pos: str) -> None:
    first = con.execute(f"SELECT min({pos}) FROM {table} WHERE fallback").fetchall()[0][0]
    if first is not None:
        raise Declined(f"record {first}: a form only the Python reader reads (one of compile.FALLBACK_SHAPES)")


def _read_lines(con, table: str, source, layout: str, compression: str | None) -> None:
    """The file's records as JSON text, one row each, in file order (rowid + 1 = the line or record number):
    JSON Lines read as lines by DuckDB's parallel CSV reader (a blank line is a row too), arrays by read_json_objects."""
    if layout == "jsonl":
        con.execute(f"""CREATE TABLE {table} AS SELECT j FROM read_csv({lit(source)}, columns = {{'j': 'VARCHAR'}},
            header = false, delim = chr(1), quote = '', escape = '', auto_detect = false, strict_mode = false,
            null_padding = true, max_line_size = 8388608, compression = '{compression or "none"}')""")
    else:
        con.execute(f"""CREATE TABLE {table} AS SELECT json::VARCHAR AS j FROM read_json_objects({lit(source)},
            format = 'array', maximum_object_size = 67108864, compression = '{compression or "none"}')""")


def _broken_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]] | None:
    """The Python reader's reject of each line DuckDB cannot parse; None when Python parses one (the file then
    goes to the Python reader)."""
    out = []
    for line_no, line in lines:
        line = line.removeprefix("\ufeff") if line_no == 1 else line
        try:
            loads(line)
            return None
        except json.JSONDecodeError as exc:
            out.append((line_no, f"invalid JSON ({exc.msg})"))
    return out


def _unhashed(ev: str) -> str:
    """user_data.unhashed_fields() over the event's JSON text: 'em', 'ph', 'em,ph' or NULL."""
    email = "|".join(sorted(EMAIL_KEYS))
    phone = "|".join(sorted(PHONE_KEYS))
    string = r'"((?:[^"\\]|\\.)*)"'
    array = r'\[([^\[\]{}]*)\]'
    plain = r"lambda e: NOT regexp_full_match(e, '[0-9a-fA-F]{64}') AND trim(e) <> ''"

    def found(keys: str, kind_name: str) -> str:
        one = f"regexp_extract_all({ev}::VARCHAR, '[{{,]\\s*\"(?i:{keys})\"\\s*:\\s*{string}', 1)"
        many = (f"flatten(list_transform(regexp_extract_all({ev}::VARCHAR, '[{{,]\\s*\"(?i:{keys})\"\\s*:\\s*{array}', 1), "
                f"lambda a: regexp_extract_all(a, '{string}', 1)))")
        ids = (f"list_concat(regexp_extract_all({ev}::VARCHAR, '\"idType\"\\s*:\\s*\"[^\"]*{kind_name}[^\"]*\"\\s*,\\s*\"idValue\"\\s*:\\s*{string}', 1), "
               f"regexp_extract_all({ev}::VARCHAR, '\"idValue\"\\s*:\\s*{string}\\s*,\\s*\"idType\"\\s*:\\s*\"[^\"]*{kind_name}[^\"]*\"', 1))")
        return f"len(list_filter(list_concat({one}, {many}, {ids}), {plain})) > 0"

    hint = f"regexp_matches({ev}::VARCHAR, '\"(?i:{email}|{phone}|idType)\"')"  # most events: no user field at all
    return (f"CASE WHEN {hint} THEN nullif(concat_ws(',', CASE WHEN {found(email, '(?i:EMAIL)')} THEN 'em' END, "
            f"CASE WHEN {found(phone, '(?i:PHONE)')} THEN 'ph' END), '') END")
