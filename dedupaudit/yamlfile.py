"""Read a user's YAML file (config, mapping) safely: plain data only, no aliases, one-line errors.

Safe loading builds only plain data. Aliases are refused outright: a few hundred bytes of nested
anchors ("billion laughs") expand to gigabytes once anything walks the data, and a settings file
never needs them. A YAML error becomes one short line naming the file and the place.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dedupaudit.errors import UserError
from dedupaudit.privacy import one_line


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in this file; write the value out", mark)
        return super().compose_node(parent, index)


def load(path: Path, option: str = ""):
    """The data in `path`; UserError (one line) when it cannot be read or is not plain YAML without aliases."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise UserError(f"{option + ' ' if option else ''}{path}: not a readable YAML file ({one_line(_problem(exc), 200)})") from None


def _problem(exc: Exception) -> str:
    """'expected ',' or ']' at line 2, column 1': the problem and where, without the echoed source."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else exc.problem
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
