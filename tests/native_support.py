"""Helpers for the tests of the native input formats (tests/test_native_*.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dedupaudit.inputs.detect import ReadContext, describe_input
from dedupaudit.platforms.rules import load_rules

RULES = load_rules()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, records) -> Path:
    return write(path, "".join(json.dumps(r) + "\n" for r in records))


def har(path: Path, entries: list[dict]) -> Path:
    return write(path, json.dumps({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}}, indent=1))


def entry(url: str, method: str = "GET", body: str | None = None, mime: str = "application/x-www-form-urlencoded",
          status: int = 200, at: str = "2026-10-05T09:14:22.120+02:00", error: str | None = None) -> dict:
    e = {"startedDateTime": at, "request": {"method": method, "url": url, "headers": [], "queryString": []},
         "response": {"status": status}}
    if body is not None:
        e["request"]["postData"] = {"mimeType": mime, "text": body}
    if error:
        e["response"]["_error"] = error
    return e


def read(path: Path, side: str | None, **context):
    return describe_input(path, side, ReadContext(rules=context.pop("rules", RULES), **context))


def rows(path: Path, side: str | None, **context) -> list[dict]:
    frame = read(path, side, **context).table.frame
    return [{k: v for k, v in r.items() if v is not None and not (isinstance(v, float) and pd.isna(v))}
            for r in frame.astype("object").to_dict("records")]


def values_of(frame: pd.DataFrame) -> str:
    """Every value of a frame as one string, to check that no personal data was copied."""
    return " ".join(map(str, frame.astype("object").to_numpy().ravel()))
