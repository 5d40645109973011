"""Small wording helpers for messages people read: a count and its noun agree ("1 order", "2 orders").

Kept free of heavy imports: the CLI's help and progress display use it as well as the checks.
"""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 order', '2 orders', '1,250 event IDs'; `many` for a plural that is not word + 's' ('1 entry', '2 entries')."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {many or word + 's'}"


def agree(count: int, one: str, many: str) -> str:
    """The verb for a count: agree(1, 'carries', 'carry') -> 'carries'; '1 event carries', '2 events carry'."""
    return one if count == 1 else many
