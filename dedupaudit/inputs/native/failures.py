"""Google's partial_failure_error in the compiled query, read by capi_logs._partial_failures() itself.

A google.rpc.Status ({code, message, details: [{errors: [{message, location: {fieldPathElements: [{fieldName,
index}]}}]}]}, REST camelCase or proto snake_case) names the failed conversions by their index in the request.
Only responses that hold one reach this function (a vectorised DuckDB function, called under CASE), so the
query stays in DuckDB for every other body, and what it gives is the Python reader's by construction:

    {"all": message}    no conversion named: every event of the body is refused with the message
    {"each": [...]}     per event, the message of the error naming it, or null
    {"odd": true}       Python would stop on it (a string where the errors belong, an index out of range):
                        the file goes to the Python reader, which says so

(Written in SQL with nested list lambdas the expression was 45 KB and took DuckDB a second to bind per query.)
"""

from __future__ import annotations

import json

import pyarrow as pa

from dedupaudit.inputs.native import short, text
from dedupaudit.inputs.native.capi_logs import _partial_failures


def partial_failure(failure_json: str | None, n: int | None) -> str | None:
    """capi_logs._response_outcome's reading of one partial failure (a JSON object's text) of a body of n events."""
    if failure_json is None or n is None:
        return None
    try:
        failure = json.loads(failure_json)
        failed = _partial_failures(failure, n)
        if not failed:
            return json.dumps({"all": short(text(failure.get("message")) or "partial failure")})
        out: list = [None] * n
        for index, said in failed.items():
            out[index] = short(said)
        return json.dumps({"each": out})
    except Exception:  # noqa: BLE001 - the Python reader stops here too: it reads the file and says why
        return json.dumps({"odd": True})


def register(connection) -> str:
    """The function's name on the connection."""
    name = connection.name("da_partial_failure")

    def udf(failures: pa.Array, counts: pa.Array) -> pa.Array:
        return pa.array([partial_failure(f, n) for f, n in zip(failures.to_pylist(), counts.to_pylist())], pa.string())

    connection.con.create_function(name, udf, ["VARCHAR", "BIGINT"], "VARCHAR", type="arrow", null_handling="special")
    return name
