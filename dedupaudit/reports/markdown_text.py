"""Input strings as literal Markdown, for the audit report (markdown_report) and the baseline diff (diff_report).

One character set for both: backslash before every character that starts markup (code, emphasis, links, headings,
strikethrough, table cells), and HTML's `& < >` as entities, so no input string becomes a tag. Kept apart from
markdown_report because the diff views are imported by reports/summary, which markdown_report imports.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def text(value) -> str:
    """An input string as literal Markdown text on one line: no code spans, emphasis, links, table cells or HTML."""
    return _SPECIAL.sub(r"\\\1", _html(" ".join(str(value).split())))


def prose(value: str) -> str:
    """Tool text that quotes input strings: keep its `code` spans, but nothing may break out of a table or into HTML."""
    s = " ".join(value.split())
    if s.count("`") % 2:
        return text(s)
    parts = s.split("`")  # odd positions are code spans: literal there, so only the table's pipe needs escaping
    return "`".join(p.replace("|", "\\|") if i % 2 else _html(p).replace("|", "\\|") for i, p in enumerate(parts))


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
