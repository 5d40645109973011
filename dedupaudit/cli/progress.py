"""The progress display for long runs: on stderr, only on a terminal, never with --quiet.

    with progress(not quiet, stages=3) as tracker:
        tracker.stage("reading the inputs")
        tracker.file_read(path, rows)          # after each file
        tracker.stage("auditing")
        ...
    write the report here, after the block: the display is gone by then

The display is one line: stage k/N and its name, a bar over the stages, files and rows read so far,
and the time elapsed. It is transient: leaving the block erases it, so nothing of it is left before
the report on the terminal. Disabled, `tracker` is a no-op with the same methods.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Iterator

from dedupaudit.wording import plural

if TYPE_CHECKING:
    from rich.console import Console


class Tracker:
    """What a run reports while it works; this base does nothing (no terminal, or --quiet)."""

    def stage(self, text: str) -> None:
        """Advance to the next named stage."""

    def file_read(self, path, rows: int) -> None:
        """One input file finished reading, with how many rows it had."""

    def __call__(self, text: str) -> None:
        """The older one-argument form: show `text` as what is happening now, without advancing the stage."""


class _Display(Tracker):
    def __init__(self, bar, task, stages: int | None):
        self.bar, self.task, self.stages = bar, task, stages
        self.current, self.files, self.rows = 0, 0, 0

    def stage(self, text: str) -> None:
        self.current += 1
        self.bar.update(self.task, completed=self.current - 1, label=self._label(text), refresh=True)

    def file_read(self, path, rows: int) -> None:
        from dedupaudit.privacy import clean  # the run has loaded pandas by now

        self.files += 1
        self.rows += int(rows)
        counts = f"{plural(self.files, 'file')}, {plural(self.rows, 'row')} read (last: {clean(str(path))})"
        self.bar.update(self.task, counts=counts, refresh=True)

    def __call__(self, text: str) -> None:
        self.bar.update(self.task, label=self._label(text), refresh=True)

    def _label(self, text: str) -> str:
        of = f"/{self.stages}" if self.stages else ""
        return f"stage {self.current}{of}: {text}" if self.current else str(text)


@contextlib.contextmanager
def progress(enabled: bool, stages: int | None = None, console: Console | None = None) -> Iterator[Tracker]:
    """Yield a Tracker; a live display on stderr when `enabled` and stderr (or the given console) is a terminal."""
    if not enabled or not (console.is_terminal if console is not None else sys.stderr.isatty()):
        yield Tracker()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # redirect_stdout off: Rich would otherwise send the report printed meanwhile to the display's stderr.
    # redirect_stderr on: a note printed to stderr meanwhile goes above the display instead of through it.
    with Progress(SpinnerColumn(), TextColumn("{task.fields[label]}"), BarColumn(bar_width=20),
                  TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                  console=console or Console(stderr=True), transient=True, redirect_stdout=False,
                  redirect_stderr=True) as bar:
        task = bar.add_task("", total=stages, label="starting", counts="")
        yield _Display(bar, task, stages)
