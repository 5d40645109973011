"""Which reader turns a file into rows with canonical column names.

Today every file is read as a canonical table (`files.read_table`). Native formats (CAPI request
logs, HAR captures, shop order exports, mapped exports) plug in here: each returns a RawTable whose
columns carry canonical names, so parsing, rejects and the audit stay in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dedupaudit.inputs.files import RawTable, read_table


@dataclass(frozen=True)
class ReadContext:
    """What readers may need besides the file: platform rules, a column mapping, forced formats."""

    rules: dict = field(default_factory=dict)
    mapping: object | None = None
    formats: dict[str, str] = field(default_factory=dict)  # side ("pixel", "capi", "orders") -> format name


def read_input(path: Path, side: str, context: ReadContext) -> RawTable:
    """Read one file of the given side ("pixel", "capi" or "orders") into canonical column names."""
    return read_table(path)
