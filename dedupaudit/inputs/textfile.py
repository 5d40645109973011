"""An input file's encoding and (for CSV) delimiter, decided once from its first bytes.

Every reader (DuckDB's, Arrow's, Python's csv and json) reads UTF-8. A file in another encoding is
transcoded, streaming, to a UTF-8 copy in the run's spill folder and read from there; reports and
rejects still name the original file. While a file is being read, `Text.of(path)` says how.

Detection looks at the first 64 KB: a byte order mark (UTF-8, UTF-16 LE/BE); else UTF-16 told by
its zero bytes (ASCII text in UTF-16 has a zero in every other byte); else UTF-8 when those bytes
decode; else CP-1252 (Excel's "ANSI" on Western Windows), with the bytes CP-1252 leaves undefined
read as Latin-1. A UTF-8 file with a non-UTF-8 byte beyond 64 KB is an error that names the byte
and asks for --encoding. The delimiter of a .csv file is the one of `,` `;` tab `|` that splits
the header into the most columns with the sample's rows agreeing; .tsv is tab.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from dedupaudit.errors import UserError

SNIFF_BYTES = 1 << 16
TEXT_RULES = (  # shown by `dedupaudit formats`
    "Text files (CSV, TSV, JSON): UTF-8 with or without BOM, UTF-16 LE/BE with or without BOM, else CP-1252",
    "(Latin-1 for its undefined bytes), detected per file from its first 64 KB; --encoding overrides.",
    "CSV delimiter: comma, semicolon, tab or pipe, sniffed per file (.tsv: tab); --delimiter overrides. In a",
    "semicolon file a value with a decimal comma (12,50; 1.234,50) is 12.5 / 1234.5. CR, LF, CRLF line ends.",
    "A line over 64 MB is a rejected line.",
)
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DELIMITER_NAMES = {**{v: k for k, v in DELIMITERS.items()}, "\\t": "\t", "tab": "\t"}
_CHUNK = 1 << 24
_CP1252 = "cp1252"  # reported name; decoded with the Latin-1 fallback below


def _latin1(exc: UnicodeDecodeError):
    """CP-1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined: read them as Latin-1 does."""
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("dedupaudit-latin1", _latin1)


@dataclass(frozen=True)
class Text:
    """How one input file's bytes are read: its encoding, its delimiter (CSV/TSV), the UTF-8 copy read instead."""

    encoding: str | None  # "utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "cp1252", a name given with --encoding; None: binary
    delimiter: str | None = None
    copy: Path | None = None

    @staticmethod
    def of(path) -> "Text | None":
        return _OPEN.get(str(path))

    @property
    def utf8(self) -> bool:
        return self.encoding in ("utf-8", "utf-8-bom")

    def describe(self) -> dict:
        """What `inspect` and the per-file accounting show."""
        out = {"encoding": self.encoding}
        if self.delimiter is not None:
            out["delimiter"] = DELIMITERS.get(self.delimiter, self.delimiter)
        return out


_OPEN: dict[str, Text] = {}


def check_encoding(name: str | None, option: str = "--encoding") -> str | None:
    """A user-given encoding name, normalised, or a UserError naming the option."""
    if name in (None, "", "auto"):
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise UserError(f"{option}: '{name}' is not a known encoding (e.g. utf-8, utf-16, cp1252, latin-1)") from None
    return "utf-8" if codec in ("utf-8", "utf-8-sig") else codec  # codecs' own spelling: utf-16-le, cp1252, iso8859-1


def check_delimiter(name: str | None, option: str = "--delimiter") -> str | None:
    """A user-given delimiter: one character, or comma / semicolon / tab / pipe."""
    if name in (None, "", "auto"):
        return None
    value = DELIMITER_NAMES.get(name.lower(), name)
    if len(value) != 1 or value in "\"\r\n":
        raise UserError(f"{option}: '{name}' is not a delimiter (one character, or comma, semicolon, tab, pipe)")
    return value


@contextmanager
def opened(path: Path, kind: str | None, encoding: str | None = None, delimiter: str | None = None, folder: str | None = None):
    """Decide how `path` is read (kind: its format by extension) and make it readable as UTF-8 while inside."""
    key = str(path)
    if kind == "parquet" or key in _OPEN:
        yield _OPEN.get(key)
        return
    head = _read_head(path)
    found = encoding or sniff_encoding(head)
    copy = None if found in ("utf-8", "utf-8-bom") else _transcode(path, found, folder)
    if kind in ("csv", "tsv"):
        sample = head.decode("utf-8-sig", errors="ignore") if copy is None else _read_copy_head(copy)
        delimiter = delimiter or ("\t" if kind == "tsv" else sniff_delimiter(sample))
    text = Text(found, delimiter if kind in ("csv", "tsv") else None, copy)
    _OPEN[key] = text
    try:
        yield text
    finally:
        del _OPEN[key]
        if copy is not None:
            copy.unlink(missing_ok=True)


def _read_head(path: Path) -> bytes:
    from dedupaudit.inputs.files import COMPRESSIONS  # files imports this module

    try:
        with pa.input_stream(str(path), compression=COMPRESSIONS.get(path.suffix.lower())) as stream:
            return stream.read(SNIFF_BYTES)
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: cannot read the file ({str(exc).strip().splitlines()[0]})") from exc


def _read_copy_head(copy: Path) -> str:
    with open(copy, "rb") as stream:
        return stream.read(SNIFF_BYTES).decode("utf-8", errors="ignore")


def sniff_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-bom"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    pairs = len(head) // 2
    if pairs >= 2:
        even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
        if odd >= 0.5 * pairs and even <= 0.05 * pairs:
            return "utf-16-le"
        if even >= 0.5 * pairs and odd <= 0.05 * pairs:
            return "utf-16-be"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and len(head) == SNIFF_BYTES:  # a character cut at the sniffing limit
            return "utf-8"
    return _CP1252


def _decoder(encoding: str):
    """An incremental decoder; CP-1252 falls back to Latin-1 for the bytes it leaves undefined."""
    return codecs.getincrementaldecoder(encoding)(errors="dedupaudit-latin1" if encoding == _CP1252 else "strict")


def _transcode(path: Path, encoding: str, folder: str | None) -> Path:
    """A UTF-8 copy of the (decompressed) file, written chunk by chunk; the caller removes it."""
    from dedupaudit.inputs.files import COMPRESSIONS

    decoder = _decoder(encoding)
    handle, name = tempfile.mkstemp(prefix="utf8-", suffix=".txt", dir=folder)
    copy, offset, started = Path(name), 0, False
    try:
        with os.fdopen(handle, "wb") as out, pa.input_stream(str(path), compression=COMPRESSIONS.get(path.suffix.lower())) as stream:
            while True:
                block = stream.read(_CHUNK)
                text = decoder.decode(block, final=not block)
                if text and not started:  # utf-16-le/-be keep a byte order mark as U+FEFF: not part of the header
                    text, started = text.removeprefix("\ufeff"), True
                out.write(text.encode("utf-8"))
                offset += len(block)
                if not block:
                    break
    except UnicodeDecodeError as exc:
        copy.unlink(missing_ok=True)
        raise UserError(f"{path}: not valid {encoding} text (byte {offset + exc.start}); give the file's encoding with --encoding") from None
    except (OSError, pa.ArrowException) as exc:
        copy.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot read the file ({str(exc).strip().splitlines()[0]})") from exc
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return copy


def sniff_delimiter(sample: str, lines: int = 50) -> str:
    """The delimiter that splits the header into the most columns while the sample's rows agree with it."""
    rows = sample.splitlines(keepends=True)
    if len(sample) >= SNIFF_BYTES - 4 and len(rows) > 1:
        rows = rows[:-1]  # the last line may be cut
    text = "".join(rows[:lines])
    best, best_key = ",", None
    for order, candidate in enumerate(DELIMITERS):
        try:
            widths = [len(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=candidate) if r]
        except csv.Error:
            continue
        if not widths:
            continue
        agree = sum(w == widths[0] for w in widths) / len(widths)
        key = (widths[0] > 1, agree, widths[0], -order)
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    return best
