"""The progress display for long runs: on stderr, only on a terminal, never with --quiet."""

from __future__ import annotations

import contextlib
import sys


class _Off:
    def stage(self, text: str) -> None:
        pass

    def file_read(self, path, rows: int) -> None:
        pass


@contextlib.contextmanager
def progress(enabled: bool, stages: int = 1):
    """Yield a tracker: `stage(text)` names what the run does now, `file_read(path, rows)` counts a file read.
    The display is removed when the block ends."""
    if not (enabled and sys.stderr.isatty()):
        yield _Off()
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from dedupaudit.privacy import clean

    # redirect_stdout off: Rich would otherwise send the report printed meanwhile to the display's stderr.
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("starting")

        class Tracker:
            def stage(self, text: str) -> None:
                bar.update(task, description=text)

            def file_read(self, path, rows: int) -> None:
                bar.update(task, description=f"read {clean(str(path))}: {rows:,} rows")

        yield Tracker()
