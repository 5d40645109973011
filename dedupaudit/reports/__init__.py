"""Output formats. Each is a view of the one AuditResult, in its own module, registered here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dedupaudit.reports import github_report, html_report, json_report, junit_report, markdown_report, rich_report, sarif_report
from dedupaudit.result import AuditResult


@dataclass(frozen=True)
class RenderOptions:
    colour: bool = False  # ANSI colour (terminal only)
    title: str | None = None  # report title (HTML, Markdown)
    client: str | None = None  # who the audit is for (HTML, Markdown)
    fail_on: str = "error"  # the severity at which a check counts as failed (JUnit, GitHub)


# format name -> render(result, options) -> text
RENDERERS: dict[str, Callable[[AuditResult, RenderOptions], str]] = {
    "json": json_report.render,
    "rich": rich_report.render,
    "markdown": markdown_report.render,
    "html": html_report.render,
    "junit": junit_report.render,
    "github": github_report.render,
    "sarif": sarif_report.render,
}
