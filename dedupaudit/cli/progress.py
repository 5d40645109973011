"""The progress display for long runs: on stderr, only on a terminal, never with --quiet."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextlib.contextmanager
def progress(enabled: bool):
    """Yield `step(text)`, which shows what the run is doing now (a file being read, a stage)."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda text: None
        return
    # redirect_stdout off: Rich would otherwise send the report printed meanwhile to the display's stderr.
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("starting")
        yield lambda text: bar.update(task, description=str(text))
