"""Shared test helpers: run the real loaders and engine on small in-memory tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedupaudit.engine.run import run_audit
from dedupaudit.inputs.canonical import load_events, load_orders
from dedupaudit.inputs.timestamps import resolve_timezone
from dedupaudit.platforms.rules import load_rules
from dedupaudit.settings import Settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "canonical"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def audit(tmp_path):
    """audit(pixel=[...], capi=[...], orders=[...], **settings) -> AuditResult, through files and loaders."""

    def run(pixel=(), capi=(), orders=(), rules_dir=None, **settings):
        settings = Settings(**settings)
        zone = resolve_timezone(settings.timezone)
        rules = load_rules(rules_dir)
        paths = {}
        for side, rows in (("pixel", pixel), ("capi", capi), ("orders", orders)):
            paths[side] = [write_jsonl(tmp_path / f"{side}.jsonl", list(rows))] if rows else []
        return run_audit(
            load_events(paths["pixel"], "pixel", zone, None, set(rules)),
            load_events(paths["capi"], "capi", zone, None, set(rules)),
            load_orders(paths["orders"], zone),
            rules,
            settings,
        )

    return run


def platform_entry(result, platform: str, event: str = "purchase"):
    matches = [p for p in result.platforms if p.platform == platform and p.event == event]
    return matches[0] if matches else None
