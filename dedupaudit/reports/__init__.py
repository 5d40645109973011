"""Output formats. Each is a view of the one AuditResult, in its own module, registered here."""

from __future__ import annotations

from typing import Callable

from dedupaudit.reports import json_report, rich_report
from dedupaudit.result import AuditResult

# format name -> render(result, colour) -> text
RENDERERS: dict[str, Callable[[AuditResult, bool], str]] = {
    "json": json_report.render,
    "rich": rich_report.render,
}
