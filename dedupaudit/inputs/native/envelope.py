"""The log record around a request body, unwrapped in SQL exactly as capi_logs.unwrap() and join_responses() do.

compile.py's record stage reads each record's keys once (`Paths` over the record); this module turns them into
what the Python reader sees:

- Cloud Logging's {"timestamp", "jsonPayload": {...}} (or textPayload holding JSON text): one record, the
  payload's keys over the outer ones (capi_logs._payload), built as a map so JSON nulls stay keys;
- gateway response lines (Stape: {"Type": "Response", "TraceId", ...}) joined to their request line by
  (TraceId, Name, EventName), first waiting request first, and dropped (capi_logs.join_responses). A queue
  per key answered in order is a reflected walk: with D the requests minus the responses so far, a response
  is an orphan where D falls below its earlier minimum (and 0); the others answer requests in order;
- the body: JSON text decoded, form-encoded text (data=...&access_token=...) parsed by Python's own
  parse_qsl (a vectorised function, only on such text), Segment's {request: {url, method, body}} and
  RudderStack's {JSON|FORM|JSON_ARRAY|XML} envelopes opened, and the response's {status, body} opened;
- a broken JSON text gets the Python reader's reject, its message from json.loads itself (only on the
  texts DuckDB finds invalid; where Python parses one DuckDB does not, the record is marked `odd`).

Everything a map or a join cannot reproduce exactly (duplicate keys, a payload inside a payload, TraceIds
that are not text or integers) is marked `odd`: the file then goes to the Python reader.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pyarrow as pa

from dedupaudit.inputs.native.capi_logs import (BODY_KEYS, NESTED_BODY_KEYS, PAYLOAD_KEYS, RESPONSE_KEYS,
                                                RUDDER_BODY_KEYS, STATUS_KEYS)
from dedupaudit.inputs.native.jsonsql import _SPACE, Paths, jkind, jtext, kind, lit, string

RUDDER_KEYS = (*RUDDER_BODY_KEYS, "XML")
GATEWAY_KEYS = ("Type", "TraceId", "Name", "EventName")


class Functions:
    """The two Python functions the query calls on the few values SQL cannot read as Python does."""

    def __init__(self, connection):
        con = connection.con
        self.json_error = connection.name("da_json_error")
        self.form = connection.name("da_form")

        def json_error(texts: pa.Array) -> pa.Array:
            out = []
            for value in texts.to_pylist():
                try:
                    json.loads(value)
                    out.append(None)
                except json.JSONDecodeError as exc:
                    out.append(exc.msg)
                except (TypeError, RecursionError):
                    out.append(None)
            return pa.array(out, pa.string())

        def form(texts: pa.Array) -> pa.Array:
            out = []
            for value in texts.to_pylist():
                parsed = dict(parse_qsl(value.strip(), keep_blank_values=True)) if value is not None else {}
                out.append(json.dumps(parsed) if parsed and "=" in value else None)
            return pa.array(out, pa.string())

        con.create_function(self.json_error, json_error, ["VARCHAR"], "VARCHAR", type="arrow", null_handling="special")
        con.create_function(self.form, form, ["VARCHAR"], "VARCHAR", type="arrow", null_handling="special")


def lead(s: str) -> str:
    """The first character of text after str.lstrip() (Unicode white space), '' when none."""
    return f"left(regexp_replace({s}, '^[{_SPACE}]+', ''), 1)"


def names_key(text: str, key: str) -> str:
    """contains(text, '"key"'), under CASE WHEN: 'key"' is looked for first, which is as exact and five times
    cheaper on most texts (a needle that starts with '"' is tried at every quote of a JSON text, and the
    condition of a CASE stops at the first test that fails)."""
    return f"(contains({text}, {lit(key + chr(34))}) AND contains({text}, {lit(chr(34) + key + chr(34))}))"


def entries(v: str) -> str:
    """The members of a JSON object as a list of {k, v} (in order; duplicate keys stay, see `dup`)."""
    return f"list_transform(list_zip(json_keys({v}), json_extract({v}, '$.*')), lambda p: {{'k': p[1], 'v': p[2]}})"


def dup(v: str) -> str:
    return f"coalesce(len(json_keys({v})) <> len(list_distinct(json_keys({v}))), false)"


def obj(members: str) -> str:
    return f"to_json(map_from_entries({members}))"


def has(v: str) -> str:
    """A key that is there, even as null (Python's `k in record`)."""
    return f"({kind(v)} IS NOT NULL)"


def _payload_inner(v) -> str:
    return (f"CASE WHEN {kind(v)} = 'OBJECT' THEN {v}::JSON WHEN {kind(v)} = 'VARCHAR' AND {lead(string(v))} = '{{' "
            f"AND json_valid({string(v)}) THEN json({string(v)}) END")


# Only records whose text names the Type (or escapes it) may be a gateway line (Stape's Request/Response).
GATEWAY_TEXT = "(contains(j, 'Request') OR contains(j, 'Response') OR contains(j, '\\u'))"


def records_sql(source: str, x: Paths, fn: Functions, gateway: bool = True) -> str:
    """Per record: pos, j (the record as capi_logs.unwrap() gets it), x (its keys) and `odd`; the gateway's
    response lines are left out, each one's answer being in its request's record. Without `gateway` (no record
    of the file can be a gateway line: the caller checked GATEWAY_TEXT) the join that pairs them is left out:
    on a 1M-event log its hash tables held every record and raised the peak from 1.4 to 2.1 GiB."""
    for k in (*BODY_KEYS, *RESPONSE_KEYS, *STATUS_KEYS, *PAYLOAD_KEYS, *GATEWAY_KEYS):
        x(k)
    paths = x.sql()
    jp, tp = x("jsonPayload"), x("textPayload")

    def broken_brace(v) -> str:  # text Python decodes where DuckDB does not: only the Python reader knows
        return (f"CASE WHEN {kind(v)} = 'VARCHAR' THEN CASE WHEN {lead(string(v))} = '{{' AND NOT json_valid({string(v)}) "
                f"THEN {fn.json_error}({string(v)}) IS NULL END END")

    inner = f"coalesce({_payload_inner(jp)}, {_payload_inner(tp)})"
    outer = (f"list_filter({entries('j')}, lambda e: e.k NOT IN ({', '.join(map(lit, PAYLOAD_KEYS))}) "
             f"AND NOT list_contains(json_keys(pl), e.k))")
    nested_payload = " OR ".join(f"json_exists(pl, {lit('$.' + k)})" for k in PAYLOAD_KEYS)
    odd = (f"CASE WHEN {kind(jp)} IS NULL AND {kind(tp)} IS NULL THEN false "  # (most records: no payload at all)
           f"ELSE coalesce({broken_brace(jp)}, false) OR coalesce({broken_brace(tp)}, false) "
           f"OR CASE WHEN pl IS NOT NULL THEN {dup('j')} OR {dup('pl')} OR {nested_payload} ELSE false END END")
    flat = f"""
        SELECT pos, CASE WHEN merge THEN merged::VARCHAR ELSE j END AS j,
            CASE WHEN merge THEN json_extract(merged, {x.list_sql()}) ELSE x END AS x, odd
        FROM (SELECT *, CASE WHEN merge THEN {obj(f'list_concat({outer}, {entries("pl")})')} END AS merged FROM (
            SELECT *, pl IS NOT NULL AND NOT odd AS merge FROM (SELECT *, coalesce({odd}, false) AS odd FROM (
            SELECT pos, j, x, {inner} AS pl FROM (SELECT pos, j, {paths} AS x FROM {{rows}})))))"""
    typ, tid, name, ename = (x(k) for k in GATEWAY_KEYS)
    body_key = " OR ".join(has(x(k)) for k in BODY_KEYS)
    is_resp = f"coalesce({kind(typ)} = 'VARCHAR' AND {string(typ)} = 'Response' AND NOT ({body_key}), false)"
    is_req = f"coalesce({kind(typ)} = 'VARCHAR' AND {string(typ)} = 'Request' AND {kind(tid)} <> 'NULL', false)"

    def key(v) -> str:
        return f"CASE WHEN {kind(v)} IS NULL OR {kind(v)} = 'NULL' THEN NULL ELSE {kind(v)} || ':' || {string(v)} END"

    odd_key = " OR ".join(f"coalesce({kind(v)} NOT IN ('VARCHAR', 'BIGINT', 'NULL'), false)" for v in (tid, name, ename))
    if not gateway:
        return f"({flat.replace('{rows}', source)})"
    # only records that may hold a gateway line take part in the join (the text must name the Type, or escape it)
    lines = f"""
        SELECT pos, j, x, {is_req} AS req, {is_resp} AS resp, {key(tid)} AS k1, {key(name)} AS k2, {key(ename)} AS k3,
            ({is_req} OR {is_resp}) AND ({odd_key}) AS odd_key
        FROM ({flat.replace('{rows}', f'(SELECT * FROM {source} WHERE {GATEWAY_TEXT})')})"""
    window = "PARTITION BY k1, k2, k3 ORDER BY pos"
    walk = f"""
        SELECT *, greatest(0, -min(d) OVER (PARTITION BY k1, k2, k3 ORDER BY pos ROWS UNBOUNDED PRECEDING)) AS orphans,
            d < least(0, coalesce(min(d) OVER (PARTITION BY k1, k2, k3 ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS orphan
        FROM (SELECT *, sum(CASE WHEN req THEN 1 ELSE -1 END) OVER ({window} ROWS UNBOUNDED PRECEDING) AS d,
                  sum(req::INT) OVER ({window} ROWS UNBOUNDED PRECEDING) AS nreq,
                  sum(resp::INT) OVER ({window} ROWS UNBOUNDED PRECEDING) AS nresp
              FROM g WHERE (req OR resp) AND k1 IS NOT NULL)"""
    answer = (f"list_concat(list_filter({entries('q.j')}, lambda e: e.k NOT IN ('response', 'ResponseStatusCode')), "
              f"[{{'k': 'response', 'v': coalesce(a.body, 'null'::JSON)}}, {{'k': 'ResponseStatusCode', 'v': coalesce(a.status, 'null'::JSON)}}])")
    body_i, status_i = x.paths.index("ResponseBody") + 1, x.paths.index("ResponseStatusCode") + 1
    return f"""(
        WITH g AS MATERIALIZED ({lines}),
        w AS ({walk}),
        answers AS (SELECT q.pos, CASE WHEN NOT {dup('q.j')} THEN {obj(answer)} END AS j, {dup('q.j')} AS odd
                    FROM w q JOIN (SELECT k1, k2, k3, nresp - orphans AS n, x[{body_i}] AS body, x[{status_i}] AS status
                                   FROM w WHERE resp AND NOT orphan) a
                    ON q.req AND q.k1 = a.k1 AND q.k2 IS NOT DISTINCT FROM a.k2 AND q.k3 IS NOT DISTINCT FROM a.k3 AND q.nreq = a.n)
        SELECT f.pos, coalesce(a.j::VARCHAR, f.j) AS j, CASE WHEN a.j IS NOT NULL THEN json_extract(a.j, {x.list_sql()}) ELSE f.x END AS x,
            f.odd OR coalesce(a.odd, false) OR coalesce(g.odd_key, false) AS odd
        FROM ({flat.replace('{rows}', source)}) f LEFT JOIN answers a ON a.pos = f.pos LEFT JOIN g ON g.pos = f.pos
        WHERE NOT coalesce(g.resp AND NOT g.odd_key, false))"""


def decode(v: str, where: str, fn: Functions, form: str, ok: str) -> tuple[str, str, str, str]:
    """capi_logs._body() of text `v` (a column: SQL VARCHAR), with json_valid(v) in column `ok` and the form
    parsed in column `form`: (the SQL of that form column, the value as JSON, the reject, odd). Each text is
    validated once and parsed once; json.loads' message is asked for only where DuckDB finds it invalid."""
    parse = f"CASE WHEN {lead(v)} NOT IN ('{{', '[', '') THEN {fn.form}({v}) END"
    value = f"CASE WHEN {form} IS NOT NULL THEN {form}::JSON WHEN {ok} THEN json({v}) END"
    bad = f"({form} IS NULL AND NOT {ok})"
    reason = f"CASE WHEN {bad} THEN '`' || {where} || '` is text but not JSON (' || {fn.json_error}({v}) || ')' END"
    odd = f"CASE WHEN {bad} THEN {fn.json_error}({v}) IS NULL ELSE false END"
    return parse, value, reason, odd


def _rudder(v: str) -> str:
    """capi_logs._rudder(): the part of RudderStack's {JSON, FORM, JSON_ARRAY, XML} that was sent."""
    keys = f"json_keys({v})"
    only = (f"({jkind(v)} = 'OBJECT' AND len({keys}) > 0 AND "
            f"len(list_filter({keys}, lambda k: k NOT IN ({', '.join(map(lit, RUDDER_KEYS))}))) = 0)")
    def part(k: str) -> str:
        return f"json_extract({v}, {lit('$.' + k)})"

    pick = " ".join(f"WHEN {jkind(part(k))} = 'OBJECT' AND {part(k)}::VARCHAR <> '{{}}' THEN {part(k)}" for k in RUDDER_BODY_KEYS)
    # most bodies name none of the keys: their text says so without parsing them
    named = " OR ".join(names_key(f"{v}::VARCHAR", k) for k in RUDDER_KEYS)
    return f"CASE WHEN {jkind(v)} = 'OBJECT' AND ({named} OR contains({v}::VARCHAR, '\\u')) THEN CASE WHEN {only} THEN CASE {pick} ELSE {v} END ELSE {v} END ELSE {v} END"


def unwrap_sql(records: str, x: Paths, url: str, sent: str, status: str, fn: Functions, status_of) -> str:
    """capi_logs.unwrap() per record: pos, bk, url, sent, status, wrapped, body, resp, odd, reason."""
    bk = "CASE " + " ".join(f"WHEN {kind(x(k))} IN ('OBJECT', 'VARCHAR') THEN {lit(k)}" for k in BODY_KEYS) + " END"
    bv = "CASE " + " ".join(f"WHEN {kind(x(k))} IN ('OBJECT', 'VARCHAR') THEN {x(k)}" for k in BODY_KEYS) + " END"
    response = "CASE " + " ".join(f"WHEN {kind(x(k))} IS NOT NULL THEN {x(k)}" for k in RESPONSE_KEYS) + " END"
    first = f"""
        SELECT pos, j, {bk} AS bk, {bv}::JSON AS bv, {url} AS url, {sent} AS sent, {status} AS status, {response} AS resp, odd
        FROM {records}"""
    # the body as logged: JSON text or a form decoded (a reject where it is neither)
    form1, value1, reason1, odd1 = decode("bs", "bk", fn, "form", "bok")
    step1 = f"""
        SELECT *, CASE WHEN bs IS NOT NULL THEN {value1} ELSE bv END AS b1,
            CASE WHEN bs IS NOT NULL THEN {reason1} END AS reason1,
            CASE WHEN bs IS NOT NULL THEN {odd1} ELSE false END AS odd1
        FROM (SELECT *, CASE WHEN bs IS NOT NULL THEN json_valid(bs) END AS bok, CASE WHEN bs IS NOT NULL THEN {form1} END AS form
              FROM (SELECT *, CASE WHEN bk IS NOT NULL AND {jkind('bv')} = 'VARCHAR' THEN bv->>'$' END AS bs FROM ({first})))"""
    # Segment's {"request": {"method", "url", "body"}}: the body inside, the URL if the record has none
    n = Paths("b1", "n", typed=False)
    for k in ("url", "method", *NESTED_BODY_KEYS):
        n(k)
    named = f"({names_key('b1::VARCHAR', 'url')} OR {names_key('b1::VARCHAR', 'method')} OR contains(b1::VARCHAR, '\\u'))"  # else no parse
    opened = f"coalesce({jkind('b1')} = 'OBJECT' AND ({has(n('url'))} OR {has(n('method'))}), false)"
    inner_key = "CASE " + " ".join(f"WHEN {has(n(k))} THEN {lit(k)}" for k in NESTED_BODY_KEYS) + " END"
    inner = "CASE " + " ".join(f"WHEN {has(n(k))} THEN {n(k)}" for k in NESTED_BODY_KEYS) + " END"
    step2 = f"""
        SELECT *, CASE WHEN opened THEN CASE WHEN coalesce(url, '') <> '' THEN url
                                             WHEN {kind(n('url'))} = 'VARCHAR' THEN {string(n('url'))} END
                       ELSE url END AS url2
        FROM (SELECT *, ik IS NOT NULL AS opened FROM (
            SELECT *, CASE WHEN {opened} THEN {inner_key} END AS ik, CASE WHEN {opened} THEN {inner} END AS iv
            FROM (SELECT *, CASE WHEN b1 IS NOT NULL AND {jkind('b1')} = 'OBJECT' AND {named} THEN {n.sql()} END AS n FROM ({step1}))))"""
    form2, value2, reason2, odd2 = decode("ivs", "bk || '.' || ik", fn, "form2", "ivok")
    step3 = f"""
        SELECT * EXCLUDE (url, form2), url2 AS url,
            CASE WHEN ivs IS NOT NULL THEN {value2} WHEN opened THEN iv ELSE b1 END AS b2,
            CASE WHEN ivs IS NOT NULL THEN {reason2} END AS reason2,
            CASE WHEN ivs IS NOT NULL THEN {odd2} ELSE false END AS odd2
        FROM (SELECT *, CASE WHEN ivs IS NOT NULL THEN json_valid(ivs) END AS ivok, CASE WHEN ivs IS NOT NULL THEN {form2} END AS form2
              FROM (SELECT *, CASE WHEN opened AND {jkind('iv')} = 'VARCHAR' THEN iv->>'$' END AS ivs FROM ({step2})))"""
    step4 = f"SELECT *, CASE WHEN bk IS NULL THEN {_rudder('j::JSON')} WHEN b2 IS NOT NULL THEN {_rudder('b2')} END AS b3 FROM ({step3})"
    # the response: JSON text decoded; Segment's {"status", "body"} opened
    rx = Paths("resp1", "rx", typed=False)
    for k in ("body", *STATUS_KEYS):
        rx(k)
    is_env = (f"coalesce({jkind('resp1')} = 'OBJECT' AND {has(rx('body'))} AND ("
              + " OR ".join(has(rx(k)) for k in STATUS_KEYS) + "), false)")
    rbody = rx("body")
    rstep = f"""
        SELECT *, CASE WHEN env AND {jkind(rbody)} = 'VARCHAR' AND NOT json_valid({jtext(rbody)})
                       THEN '`response.body` is text but not JSON (' || {fn.json_error}({jtext(rbody)}) || ')' END AS reason3,
            CASE WHEN env AND {jkind(rbody)} = 'VARCHAR' AND NOT json_valid({jtext(rbody)}) THEN {fn.json_error}({jtext(rbody)}) IS NULL
                 ELSE false END AS odd3,
            CASE WHEN env THEN coalesce(status, {status_of([rx(k) for k in STATUS_KEYS])}) ELSE status END AS status2,
            CASE WHEN NOT env THEN resp1 WHEN {jkind(rbody)} = 'VARCHAR' AND json_valid({jtext(rbody)}) THEN json({jtext(rbody)})
                 WHEN {jkind(rbody)} = 'VARCHAR' THEN NULL ELSE {rbody} END AS resp2
        FROM (SELECT *, {is_env} AS env FROM (SELECT *, CASE WHEN {jkind('resp1')} = 'OBJECT' THEN {rx.sql()} END AS rx FROM (
            SELECT *, CASE WHEN bk IS NULL THEN NULL
                           WHEN {jkind('resp')} = 'VARCHAR' AND json_valid(resp->>'$') THEN json(resp->>'$') ELSE resp END AS resp1,
                CASE WHEN bk IS NOT NULL AND {jkind('resp')} = 'VARCHAR' AND NOT json_valid(resp->>'$')
                     THEN {fn.json_error}(resp->>'$') IS NULL ELSE false END AS odd_resp
            FROM ({step4}))))"""
    reason = ("CASE WHEN reason1 IS NOT NULL THEN reason1 WHEN reason2 IS NOT NULL THEN reason2 "
              f"WHEN {jkind('b3')} <> 'OBJECT' THEN CASE WHEN bk IS NULL THEN 'not a JSON object' "
              "ELSE '`' || bk || '` is not a JSON object' END WHEN bk IS NOT NULL THEN reason3 END")
    return f"""
        SELECT pos, bk, url, CASE WHEN bk IS NOT NULL THEN sent END AS sent, CASE WHEN bk IS NOT NULL THEN status2 END AS status,
            bk IS NOT NULL AS wrapped, CASE WHEN reason IS NULL THEN b3 END AS body,
            CASE WHEN reason IS NULL THEN resp2 END AS resp, odd OR odd1 OR odd2 OR (bk IS NOT NULL AND (odd3 OR odd_resp)) AS odd, reason
        FROM (SELECT *, {reason} AS reason FROM ({rstep}))"""


def status_sql(values) -> str:
    """capi_logs._status() over the values of STATUS_KEYS: the first integer (or digits) from 100 to 599."""
    return "CASE " + " ".join(
        f"WHEN {kind(v)} IN ('BIGINT', 'UBIGINT') AND TRY_CAST({string(v)} AS HUGEINT) BETWEEN 100 AND 599 "
        f"THEN TRY_CAST({string(v)} AS INTEGER) "
        f"WHEN {kind(v)} = 'VARCHAR' AND regexp_full_match({string(v)}, '[0-9]{{1,9}}') "
        f"AND TRY_CAST({string(v)} AS INTEGER) BETWEEN 100 AND 599 THEN TRY_CAST({string(v)} AS INTEGER)" for v in values) + " END"
