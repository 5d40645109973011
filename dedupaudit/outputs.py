"""Every file dedupaudit writes goes through `write`: never over an input, never half-written.

Before a run reads anything, the command registers its inputs with `protect`; `check_target`
then refuses an output that is an input file or lies inside an input folder (the next run would
read it as events), naming both. `write` puts the bytes in a temporary file beside the target and
renames it over the target, so a crash or a full disk never leaves a truncated report. Tables
meant for spreadsheets have every cell cleaned (privacy.clean) and cells a spreadsheet would run as
a formula defused: `csv_text` for a frame, `write_table` for a query's rows (--rejects,
--export-failures), streamed batch by batch without holding the table in memory.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dedupaudit.errors import UserError
from dedupaudit.privacy import clean, clean_batch, clean_table

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Inputs:
    """One run's inputs: files read, folders and globs given. An output may be none of them, nor land inside."""

    files: frozenset = frozenset()
    folders: frozenset = frozenset()
    patterns: frozenset = frozenset()

    def check(self, path, option: str) -> None:
        target = _resolved(path)
        for source in sorted(self.files):
            if target == source:
                raise UserError(f"{option} {path}: this is the input file {source}; write the output somewhere else")
        for folder in sorted(self.folders):
            if target == folder or folder in target.parents:
                raise UserError(f"{option} {path}: lies inside the input folder {folder}; the next run would read it as input")
        for pattern in sorted(self.patterns):
            if fnmatch.fnmatch(str(target), pattern) or fnmatch.fnmatch(os.path.abspath(path), pattern):
                raise UserError(f"{option} {path}: matches the input pattern {pattern}; the next run would read it as input")


_current = Inputs()  # the inputs of the run in progress (the CLI runs one per process)


def _resolved(path) -> Path:
    return Path(path).expanduser().resolve()


def protect(files=(), folders=(), patterns=()) -> Inputs:
    """Declare this run's inputs (files read, folders and globs given as inputs); replaces any earlier declaration.
    Returns them, so a result written later (the Python API) is checked against its own run's inputs."""
    global _current
    _current = Inputs(frozenset(_resolved(p) for p in files), frozenset(_resolved(p) for p in folders),
                      frozenset(os.path.abspath(os.path.expanduser(p)) for p in patterns))
    return _current


def check_target(path, option: str = "output", inputs: Inputs | None = None) -> None:
    """UserError when writing `path` would replace an input or put a file inside an input folder."""
    (inputs or _current).check(path, option)


def check_folder(path, option: str) -> None:
    """A folder to write into must not be an input folder, lie in one, or hold an input file."""
    check_target(path, option)
    folder = _resolved(path)
    for source in sorted(_current.files):
        if folder in source.parents:
            raise UserError(f"{option} {path}: holds the input file {source}; write the output somewhere else")


def write(path, data: str | bytes, option: str = "output", inputs: Inputs | None = None) -> None:
    """Write atomically (temporary file + rename) after `check_target`; an unwritable path is a user error."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _atomic(Path(path), option, inputs) as handle:
        handle.write(payload)


@contextmanager
def _atomic(path: Path, option: str, inputs: Inputs | None = None):
    """A binary handle on a temporary file beside `path`, renamed over it only when the block succeeds."""
    check_target(path, option, inputs)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
        with os.fdopen(fd, "wb") as handle:
            yield handle
            os.fchmod(handle.fileno(), _mode(path))  # mkstemp makes 0600; a report gets the usual permissions
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _mode(path: Path) -> int:
    """The replaced file's permissions, else what a plain open() would give (0666 less the umask)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def defuse_formula(value):
    """A cell a spreadsheet would evaluate (=, +, -, @, tab, CR first) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _spreadsheet_cell(value):
    return defuse_formula(clean(value))


def csv_text(frame: pd.DataFrame) -> str:
    """A table as CSV with every text cell (and header) cleaned and defused."""
    return clean_table(frame, _spreadsheet_cell).to_csv(index=False)


def write_table(path, reader: pa.RecordBatchReader, fmt: str, option: str = "output") -> None:
    """Stream `reader` to a CSV (cleaned and defused, as `csv_text`) or Parquet (cleaned) file, atomically.

    Memory stays at one batch whatever the table's size: each batch is cleaned and appended to the
    temporary file, which replaces `path` only once every batch is written.
    """
    cell = _spreadsheet_cell if fmt == "csv" else clean
    with _atomic(Path(path), option) as handle:
        if fmt == "csv":
            handle.write(pd.DataFrame(columns=[cell(str(n)) for n in reader.schema.names]).to_csv(index=False).encode("utf-8"))
            for batch in reader:
                # Integers as Int64, so a batch with a null does not turn 7 into 7.0.
                frame = clean_batch(batch, cell).to_pandas(types_mapper=lambda t: pd.Int64Dtype() if pa.types.is_integer(t) else None)
                handle.write(frame.to_csv(index=False, header=False).encode("utf-8"))
        else:
            schema = clean_batch(pa.RecordBatch.from_pylist([], schema=reader.schema)).schema
            with pq.ParquetWriter(handle, schema) as writer:
                for batch in reader:
                    writer.write_batch(clean_batch(batch))


class FailureExport:
    """--export-failures: the audit hands each finding and a reader over its rows; one file per finding, named by
    code, check and platform, streamed (personal data redacted). Format and folder are checked before anything is read.

    On Spark the audit hands a DataFrame instead: Spark's writers write it where the executors are, as a folder
    of part files per finding (`<name>.csv/part-*.csv`), cleaned batch by batch on the executors; the folder may
    be a lake URI (s3a://...)."""

    def __init__(self, folder: Path | str, fmt: str):
        from dedupaudit.inputs.lake import is_lake_path

        if fmt not in ("csv", "parquet"):
            raise UserError(f"--export-format: '{fmt}' is not one of csv, parquet")
        self.lake = is_lake_path(str(folder))
        if not self.lake:
            folder = Path(folder)
            check_folder(folder, "--export-failures")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"--export-failures {folder}: cannot create the folder ({exc.strerror})") from exc
        self.folder, self.fmt, self.names = folder, fmt, set()

    def __call__(self, finding, rows) -> None:
        stem = "-".join(clean(part) for part in (finding.code, finding.name, finding.platform, finding.event) if part)
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:120]  # no dots or separators: the name cannot leave the folder
        name, n = stem, 2
        while name in self.names:
            name, n = f"{stem}-{n}", n + 1
        self.names.add(name)
        if not isinstance(rows, pa.RecordBatchReader):  # a Spark DataFrame
            write_frame(f"{str(self.folder).rstrip('/')}/{name}.{self.fmt}", rows, self.fmt)
            return
        target = self.folder / f"{name}.{self.fmt}"
        if target.resolve().parent != self.folder.resolve():  # cannot happen with the name above; a guard, not a hope
            raise UserError(f"--export-failures: refusing to write {target} outside {self.folder}")
        write_table(target, rows, self.fmt, "--export-failures")


def write_frame(path: str, frame, fmt: str, option: str = "--export-failures") -> None:
    """A Spark DataFrame written by Spark's writers to the folder `path`, replaced whole, each batch cleaned (and
    for CSV defused) by `clean_batch` on the executors, as `write_table` does on this machine."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    cell = _spreadsheet_cell if fmt == "csv" else clean
    # Spark hands mapInArrow its times as UTC instants (the run's session zone is UTC: engine/spark.RUN_CONF).
    schema = clean_batch(pa.RecordBatch.from_pylist([], schema=to_arrow_schema(frame.schema, timezone="UTC")), cell).schema

    def cleaned(batches):
        for batch in batches:
            yield clean_batch(batch, cell)

    writer = frame.mapInArrow(cleaned, from_arrow_schema(schema)).write.mode("overwrite")
    try:
        if fmt == "csv":
            writer.option("header", True).option("timestampFormat", "yyyy-MM-dd HH:mm:ss[.SSSSSS]").csv(path)
        else:
            writer.parquet(path)
    except Exception as exc:  # a folder Spark cannot write
        raise UserError(f"{option} {path}: cannot write ({str(exc).strip().splitlines()[0][:300]})") from None
