"""Output formats. Each is a view of the one AuditResult, in its own module, registered here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dedupaudit.errors import UserError
from dedupaudit.reports import github_report, html_report, json_report, junit_report, markdown_report, rich_report, sarif_report
from dedupaudit.result import AuditResult


@dataclass(frozen=True)
class RenderOptions:
    colour: bool = False  # ANSI colour (terminal only)
    title: str | None = None  # report title (HTML, Markdown)
    client: str | None = None  # who the audit is for (HTML, Markdown)
    fail_on: str = "error"  # the severity at which a check counts as failed (JUnit, GitHub)
    width: int | None = None  # terminal report's columns; None: the terminal's (COLUMNS), 100 when not a terminal


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]  # a report file's format comes from its extension
    render: Callable[[AuditResult, RenderOptions], str]


# The one list of report formats: `check --format/-o`, the config file and the Python API's `write` read it.
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("rich", (".txt",), rich_report.render),
    Format("json", (".json",), json_report.render),
    Format("markdown", (".md", ".markdown"), markdown_report.render),
    Format("html", (".html", ".htm"), html_report.render),
    Format("junit", (".xml",), junit_report.render),
    Format("github", (), github_report.render),
    Format("sarif", (".sarif",), sarif_report.render),
)}
RENDERERS: dict[str, Callable[[AuditResult, RenderOptions], str]] = {name: f.render for name, f in FORMATS.items()}
EXTENSIONS: dict[str, str] = {ext: f.name for f in FORMATS.values() for ext in f.extensions}


def format_of(path, option: str = "--output") -> str:
    """The report format a file name asks for, by its extension; UserError naming the option otherwise."""
    kind = EXTENSIONS.get(Path(path).suffix.lower())
    if kind is None:
        raise UserError(f"{option} {path}: cannot tell the format from the extension (use {', '.join(sorted(EXTENSIONS))})")
    return kind
