"""The one DuckDB connection an audit runs in: inputs are loaded into it and every check queries it.

Memory is bounded: DuckDB keeps at most `memory_limit` in RAM and spills the rest (large sorts,
joins, and the loaded tables themselves) to a private temp folder that is removed on close.

Storage: the audit's tables live in an in-memory database, uncompressed (fastest), or, when the
inputs would not fit in memory (`storage_for`), in a database file in that folder, compressed
(about 4x smaller than what an in-memory table spills, at about 1.7x the CPU): 100M events spill
about 100 GB uncompressed, more than a typical machine's free disk. The SQL is the same in both.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref

import duckdb

from dedupaudit.errors import UserError

DEFAULT_MEMORY_SHARE = 0.6  # of the machine's physical memory
# White space as Python's str.strip() and pandas' (pyarrow's) see it: every character whose isspace() is true, the
# separators \x1c-\x1f included (tests/test_connection.py checks the strip() macro against str.strip).
WHITESPACE = "".join(chr(c) for c in (*range(9, 14), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000))


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parse_memory(text: str | None, option: str = "--memory-limit") -> int:
    """'8GB', '8 GiB', '512MB', '60%' (of this machine) -> bytes."""
    if text is None:
        return int(machine_memory() * DEFAULT_MEMORY_SHARE)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%|[kKmMgGtT]i?[bB]?|[bB])?\s*", str(text))
    if not match:
        raise UserError(f"{option}: '{text}' is not a size (use e.g. 8GB, 512MB or 60%)")
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise UserError(f"{option}: {text} is not a share between 0% and 100%")
        return int(machine_memory() * number / 100)
    size = int(number * 1024 ** "bkmgt".index(unit[0]))
    if size < 64 * 2**20:
        raise UserError(f"{option}: {text} is too small (at least 64MB)")
    return size


STORAGES = ("auto", "memory", "disk")
# The run's tables per byte of input, measured on generated shops (1M events: 927 MiB of tables from a
# 95 MB CSV or a 23 MB Parquet file); JSON logs carry more bytes per event.
_TABLE_BYTES_PER_INPUT_BYTE = {".csv": 10, ".tsv": 10, ".txt": 10, ".parquet": 40, ".gz": 40, ".zst": 40, ".zstd": 40}


def storage_for(storage: str | None, paths, memory_bytes: int, option: str = "--storage") -> str:
    """'memory' or 'disk': as asked, or (auto) disk when the inputs' tables would not fit in `memory_bytes`."""
    storage = storage or "auto"
    if storage not in STORAGES:
        raise UserError(f"{option}: '{storage}' is not one of {', '.join(STORAGES)}")
    if storage != "auto":
        return storage
    estimate = sum(p.stat().st_size * _TABLE_BYTES_PER_INPUT_BYTE.get(p.suffix.lower(), 3) for p in paths if p.is_file())
    return "disk" if estimate > memory_bytes else "memory"


def parse_threads(value: int | None, option: str = "--threads") -> int:
    if value is None:
        return os.cpu_count() or 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{option}: expected a whole number of at least 1, got {value!r}")
    return value


class Connection:
    """A configured DuckDB connection with its own spill folder; use as a context manager or close()."""

    def __init__(self, memory_limit: str | None = None, threads: int | None = None, storage: str = "memory"):
        self.memory_bytes = parse_memory(memory_limit)
        self.threads = parse_threads(threads)
        self.storage = storage
        self.spill = tempfile.mkdtemp(prefix="dedupaudit-spill-")
        # A connection dropped without close() (a loader called on its own) still removes its folder.
        self._remove_spill = weakref.finalize(self, shutil.rmtree, self.spill, ignore_errors=True)
        self.con = duckdb.connect(config={
            "memory_limit": f"{self.memory_bytes // 2**20}MiB",
            "threads": self.threads,
            "temp_directory": self.spill,
            "preserve_insertion_order": True,  # row order = file order: rowid gives line numbers, eid input order
        })
        # ICU is built in; with the session zone UTC a TIMESTAMPTZ -> TIMESTAMP cast gives UTC wall time.
        self.con.execute("LOAD icu; SET TimeZone = 'UTC'")
        if storage == "disk":  # a scratch file: no write-ahead log, gone with the folder
            self.con.execute(f"ATTACH '{os.path.join(self.spill, 'audit.duckdb').replace(chr(39), chr(39) * 2)}' AS audit (RECOVERY_MODE no_wal_writes); USE audit")
        # strip(): Python's and Arrow's str.strip(), which trim all Unicode white space, not only spaces
        # (the first and last characters are tested first: trimming with a character list is slow, a regex
        # test four times slower than this one, and most values need none). An empty text is tested apart:
        # its first character is '', which every text contains, so it took the slow trim (45 times the cost:
        # an export's empty cells, such as most fbp, external_id and ttp: 1.7 s against 0.04 s for two calls on
        # each of 5M empty values).
        self.con.execute(f"CREATE TEMP MACRO strip(x) AS CASE WHEN x = '' THEN x "
                         f"WHEN contains('{WHITESPACE}', x[1]) OR contains('{WHITESPACE}', x[-1]) "
                         f"THEN trim(x, '{WHITESPACE}') ELSE x END")
        # earliest_eid(t, eid): in an aggregate, the eid (0 <= eid < 2^63) of the earliest event, ties to the lower
        # eid. One 128-bit min of (time, eid) packed: twice as fast at 10M events as arg_min over a (time, eid)
        # struct (engine/dialect.py writes the struct form for Spark). A product, not `<< 64`: DuckDB refuses to
        # shift a negative number (a time before 1970), and the low 64 bits of the two's complement are the eid.
        self.con.execute("CREATE TEMP MACRO earliest_eid(t, eid) AS "
                         "(min(epoch_us(t)::HUGEINT * 18446744073709551616::HUGEINT + eid) & 18446744073709551615::HUGEINT)::BIGINT")
        self._names = 0

    def name(self, stem: str) -> str:
        """A table name not used before on this connection."""
        self._names += 1
        return f"{stem}_{self._names}"

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._remove_spill()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
