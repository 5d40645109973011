"""Paths into JSON values and request parameters, as the rule files write them.

A path is dotted keys (`custom_data.order_id`); a key ending in `[]` takes the first element of a
list (`data[].event_name`, used to recognise a body); `.` is the value itself. Request parameters
are looked up by their literal name first (`cd[value]`, `m.conversionId`), then as `param.key`
into a parameter that holds JSON (`ed.order_id` inside Pinterest's `ed={...}`).
"""

from __future__ import annotations

import json

from dedupaudit.platforms.rules import FieldSpec


def get(value, path: str):
    """The value at `path`, or None."""
    if path == ".":
        return value
    for part in path.split("."):
        first = part.endswith("[]")
        key = part[:-2] if first else part
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
        if first:
            if not isinstance(value, list) or not value:
                return None
            value = value[0]
    return value


def filled(value) -> bool:
    """Present and not empty: None, '', whitespace, [] and {} are empty; 0 and false are values."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (list, dict)):
        return len(value) > 0
    return True


def first(value, paths) -> tuple[object, str | None]:
    """The first filled value among `paths`, and the path it came from."""
    for path in paths:
        found = get(value, path)
        if filled(found):
            return found, path
    return None, None


def present(value, path: str) -> bool:
    return get(value, path) is not None


def field(value, spec: FieldSpec):
    found, _ = first(value, spec.paths)
    return found if found is not None else spec.value


def list_at(value, paths) -> tuple[list | None, str | None]:
    """The list of events at the first of `paths` that holds one ('.' = the value is one event)."""
    for path in paths:
        if path == ".":
            return ([value] if isinstance(value, dict) else None), "."
        found = get(value, path)
        if isinstance(found, list):
            return found, path
    return None, None


def param(params: dict[str, str], path: str):
    """A request parameter by literal name, else `name.key...` into a parameter holding JSON."""
    if path in params:
        return params[path]
    if "." in path:
        name, rest = path.split(".", 1)
        raw = params.get(name)
        if isinstance(raw, str) and raw.lstrip()[:1] in ("{", "["):
            try:
                return get(json.loads(raw), rest)
            except json.JSONDecodeError:
                return None
    return None


def param_field(params: dict[str, str], spec: FieldSpec):
    for path in spec.paths:
        found = param(params, path)
        if filled(found):
            return found
    return spec.value
