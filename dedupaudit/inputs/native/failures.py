"""Google's partial_failure_error in SQL, as capi_logs._partial_failures() reads it.

A google.rpc.Status ({code, message, details: [{errors: [{message, location: {fieldPathElements: [{fieldName,
index}]}}]}]}, REST camelCase or proto snake_case) names the failed conversions by their index in the request.
`found` is the list of {i, m}: each failed conversion's index and its error's message (in the order Python
assigns them, so the last one for an index wins), from the JSON value `pf` of one body's response.

Python's reading walks the value with `or` and `.get`: a value of another type is skipped where Python skips it
and marked `odd` where Python would stop with an error (a string where a list of errors belongs, a
conversion without an index) or where SQL would not give Python's text (a message that is an object, an index
given as true or below zero): the file then goes to the Python reader.
"""

from __future__ import annotations

from dedupaudit.inputs.native.jsonsql import jkind, jtext, lit, text


def _at(v: str, key: str) -> str:
    return f"json_extract({v}, {lit('$.' + key)})"


def py_true(v: str) -> str:
    """Python's truth of a JSON value (None, False, 0, '', [] and {} are false); false when absent."""
    return (f"coalesce(CASE {jkind(v)} WHEN 'NULL' THEN false WHEN 'BOOLEAN' THEN {v}::VARCHAR = 'true' "
            f"WHEN 'BIGINT' THEN TRY_CAST({v}::VARCHAR AS DOUBLE) <> 0 WHEN 'DOUBLE' THEN TRY_CAST({v}::VARCHAR AS DOUBLE) <> 0 "
            f"WHEN 'VARCHAR' THEN {jtext(v)} <> '' WHEN 'ARRAY' THEN {v}::VARCHAR <> '[]' "
            f"WHEN 'OBJECT' THEN {v}::VARCHAR <> '{{}}' END, false)")


def _items(v: str) -> str:
    """`v or []` iterated: the elements of a list (a false value gives none)."""
    return f"CASE WHEN {jkind(v)} = 'ARRAY' THEN json_extract({v}, '$[*]') ELSE []::JSON[] END"


def _nonlist(v: str) -> str:
    """A true value that is not a list where Python iterates and then calls .get on the elements: it stops there."""
    return f"({py_true(v)} AND {jkind(v)} <> 'ARRAY')"


def _any(items: str, cond: str, var: str) -> str:
    return f"coalesce(list_bool_or(list_transform({items}, lambda {var}: {cond})), false)"


def _message(v: str) -> str:
    """text(v) or NULL when it is empty (Python's `or` moves on)."""
    return f"nullif({text(v)}, '')"


def partial_failure_sql(pf: str) -> tuple[str, str, str]:
    """(found: a list of {i, m}, odd, the message for all events when `found` is empty) of the failure `pf`
    (a JSON object), against the body's number of events `n`."""
    details = _at(pf, "details")
    errors_of = f"CASE WHEN {jkind('d')} = 'OBJECT' THEN {_items(_at('d', 'errors'))} ELSE []::JSON[] END"
    errors = f"flatten(list_transform({_items(details)}, lambda d: {errors_of}))"
    location = _at("e", "location")
    first = _at(location, "fieldPathElements")
    elements_value = f"CASE WHEN {py_true(first)} THEN {first} ELSE {_at(location, 'field_path_elements')} END"
    elements = f"CASE WHEN {jkind(location)} = 'OBJECT' THEN {_items(elements_value)} ELSE []::JSON[] END"
    name_first = _at("el", "fieldName")
    name = f"CASE WHEN {py_true(name_first)} THEN {name_first} ELSE {_at('el', 'field_name')} END"
    conversions = f"coalesce({jkind(name)} = 'VARCHAR' AND {jtext(name)} = 'conversions', false)"
    index = _at("el", "index")
    index_value = f"TRY_CAST({index}::VARCHAR AS HUGEINT)"
    message = f"coalesce({_message(_at('e', 'message'))}, {_message(_at(pf, 'message'))}, 'partial failure')"
    found = (f"flatten(list_transform({errors}, lambda e: list_transform(list_filter({elements}, lambda el: "
             f"{conversions} AND {jkind(index)} = 'BIGINT' AND {index_value} < n), "
             f"lambda el: {{'i': {index_value}, 'm': {message}}})))")
    bad_element = (f"{jkind('el')} <> 'OBJECT' OR ({conversions} AND ({index} IS NULL OR {jkind(index)} = 'BOOLEAN' "
                   f"OR ({jkind(index)} = 'BIGINT' AND {index_value} < 0)))")
    bad_error = (f"{jkind('e')} <> 'OBJECT' OR ({py_true(location)} AND {jkind(location)} <> 'OBJECT') "
                 f"OR coalesce({jkind(_at('e', 'message'))} IN ('OBJECT', 'ARRAY'), false) "
                 f"OR ({jkind(location)} = 'OBJECT' AND ({_nonlist(elements_value)} OR {_any(elements, bad_element, 'el')}))")
    bad_detail = f"{jkind('d')} = 'OBJECT' AND {_nonlist(_at('d', 'errors'))}"
    odd = (f"(coalesce({jkind(details)} IN ('BIGINT', 'DOUBLE', 'BOOLEAN'), false) AND {py_true(details)}) "
           f"OR {_any(_items(details), bad_detail, 'd')} OR {_any(errors, bad_error, 'e')} "
           f"OR coalesce({jkind(_at(pf, 'message'))} IN ('OBJECT', 'ARRAY'), false)")
    whole = f"coalesce({_message(_at(pf, 'message'))}, 'partial failure')"
    return found, odd, whole
