"""One declarative type for every setting: the config file's keys, check options, baseline tolerances,
rule-file values and mappings are each an `Option` (default, what is valid, doc).

One validator and one error style, so every bad value reads the same wherever it was written:

    <source>: <key.path>: <what is wrong> (valid: <what is>)

and `explain CODE` / `config show` print the same docs and ranges the validator enforces.
"""

from __future__ import annotations

import difflib
import math
import reprlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from dedupaudit.errors import UserError

# kind -> (noun used in "valid: ...", accepts the Python value?)
_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "integer": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)
                or isinstance(v, float) and v.is_integer()),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "text": ("text", lambda v: isinstance(v, str) and v.strip() != ""),
    "texts": ("a list of text", lambda v: isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)),
    "path": ("a path", lambda v: isinstance(v, str) and v.strip() != ""),
    "paths": ("a list of paths", lambda v: isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)),
    "mapping": ("a mapping", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "any": ("a value", lambda v: True),
}


def fail(source: str, key: str, problem: str, valid: str | None = None) -> UserError:
    """The one error style: `source: key: problem (valid: ...)`."""
    where = f"{source}: {key}" if key else source
    return UserError(f"{where}: {problem}" + (f" (valid: {valid})" if valid else ""))


def shown(value) -> str:
    """A user's value as quoted in errors; reprlib cuts a huge one short."""
    return reprlib.repr(value)


@dataclass(frozen=True)
class Option:
    """One setting: its default, what is valid (kind, range or choices, null allowed), and its doc.

    `minimum`/`maximum` are inclusive unless `above` is set (then the value must be strictly above
    `minimum`). Numbers must be finite (nan and inf make no sense for any setting so far). `valid` overrides the generated
    "valid: ..." text; `test` is a further check returning a problem sentence or None.
    """

    default: Any
    kind: str
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    choices: tuple = ()
    nullable: bool = False
    valid: str | None = None
    test: Callable[[Any], str | None] | None = None

    def describe(self) -> str:
        """What is valid, in words: 'a number of at least 0', 'one of error, warning'."""
        if self.valid:
            return self.valid
        if self.choices:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        else:
            text = _KINDS[self.kind][0]
            low = None if self.minimum is None else _num(self.minimum)
            high = None if self.maximum is None else _num(self.maximum)
            if low is not None and high is not None:
                text += f" from {low} to {high}" if not self.above else f" above {low}, at most {high}"
            elif low is not None:
                text += f" above {low}" if self.above else f" of at least {low}"
            elif high is not None:
                text += f" of at most {high}"
        return text + (", or null" if self.nullable else "")

    def check(self, value, source: str, key: str):
        """`value` if valid (ints kept as ints, whole floats for an integer kind made int), else UserError."""
        if value is None and self.nullable:
            return None
        if self.choices:
            if isinstance(value, bool) or value not in self.choices:
                raise fail(source, key, f"{shown(value)} is not a valid value", self.describe())
            return value
        noun, accepts = _KINDS[self.kind]
        if value is None or not accepts(value):
            raise fail(source, key, f"{shown(value)} is not {noun}", self.describe())
        if self.kind in ("number", "integer"):
            if not math.isfinite(value):
                raise fail(source, key, f"{shown(value)} is not a finite number", self.describe())
            if self.kind == "integer" and isinstance(value, float):
                value = int(value)
            too_low = self.minimum is not None and (value <= self.minimum if self.above else value < self.minimum)
            if too_low or (self.maximum is not None and value > self.maximum):
                raise fail(source, key, f"{shown(value)} is out of range", self.describe())
        if self.test is not None:
            problem = self.test(value)
            if problem:
                raise fail(source, key, problem, self.describe())
        return value


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def split_where(where: str) -> tuple[str, str]:
    """'dedupaudit.yaml: waivers[0]' -> ('dedupaudit.yaml', 'waivers[0]'): a combined label as source and key path."""
    source, sep, key = where.rpartition(": ")
    return (source, key) if sep else (where, "")


def unknown(source: str, key: str, valid: Iterable[str]) -> UserError:
    """An unknown key, with the nearest valid one suggested and every valid one listed."""
    valid = sorted(valid)
    close = difflib.get_close_matches(key.rpartition(".")[2], valid, n=1)
    hint = f"unknown key; did you mean '{close[0]}'?" if close else "unknown key"
    return fail(source, key, hint, ", ".join(valid) or "none")


def check_mapping(data, spec: dict[str, Option], source: str, prefix: str, required: Iterable[str] = ()) -> dict:
    """Validate a flat mapping against `spec`: unknown keys refused, each value checked; returns the
    given keys' checked values (defaults are not filled in, so callers can layer)."""
    if not isinstance(data, dict):
        raise fail(source, prefix, f"{shown(data)} is not a mapping", "a mapping with " + ", ".join(sorted(spec)))
    out = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in spec:
            raise unknown(source, dotted, spec)
        out[key] = spec[key].check(value, source, dotted)
    for key in required:
        if key not in data:
            raise fail(source, f"{prefix}.{key}" if prefix else key, "required key is missing")
    return out


def doc_lines(spec: dict[str, Option], indent: str = "  ") -> list[str]:
    """Each option with its doc, default and what is valid (for `explain` and `config show`)."""
    lines = []
    for name, option in spec.items():
        default = "none" if option.default is None else repr(option.default)
        lines.append(f"{indent}{name}: {option.doc}" if option.doc else f"{indent}{name}")
        lines.append(f"{indent}    default {default}; valid: {option.describe()}")
    return lines
