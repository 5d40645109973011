"""The JSON report: the result model itself, the machine-readable contract (docs/json-schema.md)."""

from __future__ import annotations

import json

from dedupaudit.result import AuditResult


def render(result: AuditResult, options=None) -> str:
    return json.dumps(json_native(result.to_dict()), indent=2, ensure_ascii=False) + "\n"


def json_native(value):
    """Make every value JSON-native (numpy scalars from the query engine become Python numbers)."""
    if isinstance(value, dict):
        return {k: json_native(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_native(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value
