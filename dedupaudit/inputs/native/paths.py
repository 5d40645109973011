"""Paths into JSON values and request parameters, as the rule files write them.

A path is dotted keys (`custom_data.order_id`); a key ending in `[]` takes the first element of a
list (`data[].event_name`, used to recognise a body); `.` is the value itself. Request parameters
are looked up by their literal name first (`cd[value]`, `m.conversionId`), then as `param.key`
into a parameter that holds JSON (`ed.order_id` inside Pinterest's `ed={...}`).

A path that steps into text holding JSON (`custom_data` sent as a JSON string, Pinterest's `ed`
parameter) reads inside it; text that starts like JSON but does not parse (a truncated `ed`)
raises `Malformed`, which the readers turn into a reject with the reason, never empty fields.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from dedupaudit.platforms.rules import FieldSpec


class Malformed(ValueError):
    """A nested field that is text starting like JSON but not JSON (e.g. cut off by a length limit)."""


def get(value, path: str):
    """The value at `path`, or None."""
    if path == ".":
        return value
    previous = "the value"
    for key, first in _parts(path):
        if not isinstance(value, dict):
            if not isinstance(value, str):  # stepping into text: it holds JSON, or there is nothing here
                return None
            value = json_text(value, previous)
            if not isinstance(value, dict):
                return None
        if key not in value:
            return None
        value, previous = value[key], key
        if first:
            if isinstance(value, str):
                value = json_text(value, key)
            if not isinstance(value, list) or not value:
                return None
            value = value[0]
    return value


@lru_cache(maxsize=4096)
def _parts(path: str) -> tuple[tuple[str, bool], ...]:
    return tuple((part[:-2], True) if part.endswith("[]") else (part, False) for part in path.split("."))


def json_text(value: str, name: str):
    """Text that holds a JSON object or list, decoded; other text as it is. Broken JSON raises Malformed."""
    head = value.lstrip()[:1]
    if head not in ("{", "["):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise Malformed(f"{name.removesuffix('[]')} is not valid JSON (cut off or broken)") from exc


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
    if found is None and spec.template:
        found = fill(spec.template, lambda name: get(value, name))
    return found if found is not None else spec.value


def fill(template: str, lookup):
    """`AW-{path.2}/{label}` with each {name} looked up; None when any of them is empty."""
    names = re.findall(r"\{([^{}]+)\}", template)
    found = {name: lookup(name) for name in names}
    if not all(filled(v) and isinstance(v, (str, int, float)) for v in found.values()):
        return None
    return re.sub(r"\{([^{}]+)\}", lambda m: str(found[m.group(1)]), template)


def list_at(value, paths) -> tuple[list | None, str | None]:
    """The list of events at the first of `paths` that holds one ('.' = the value is one event)."""
    for path in paths:
        if path == ".":
            return ([value] if isinstance(value, dict) else None), "."
        found = get(value, path)
        if isinstance(found, str):  # Meta's form encoding: data=<the events as a JSON string>
            found = json_text(found, path)
        if isinstance(found, list):
            return found, path
    return None, None


def param(params: dict[str, str], path: str):
    """A request parameter by literal name, else `name.key...` into a parameter holding JSON."""
    if path in params:
        return params[path]
    return get(params, path) if "." in path else None


def param_field(params: dict[str, str], spec: FieldSpec):
    for path in spec.paths:
        found = param(params, path)
        if filled(found):
            return found
    if spec.template:
        found = fill(spec.template, lambda name: param(params, name))
        if found is not None:
            return found
    return spec.value
