"""The command-line entry point: the Typer app and the one boundary where errors become exit codes.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 a user error (bad input,
option, config or rule file: one line on stderr); 3 a bug in dedupaudit. Tracebacks only with --debug.

Every module under cli/ imports pandas, pyarrow, DuckDB, numpy and the engine inside its command functions
only: Typer imports all of them to build the app, and `--version`, `--help` and shell completion must answer
without loading the heavy stack (tests/test_terminal.py checks it).
"""

from __future__ import annotations

import contextlib
import sys

import typer

from dedupaudit import __version__
from dedupaudit.errors import UserError

EXIT_FINDINGS, EXIT_USER_ERROR, EXIT_BUG = 1, 2, 3

app = typer.Typer(
    name="dedupaudit",
    help="Audit browser-pixel and server (CAPI) conversion events for broken deduplication, per ad platform.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: Typer's Rich help costs about 0.2 s of imports per call
)



def _help_labels() -> None:
    """Typer 0.2x labels each argument with its Python type (`OLD.json <path>`) and, in Rich help, each flag
    `<bool>`. The help names values by their metavar instead (FILE, FOLDER, KEY=VALUE): arguments carry it in
    their name, options beside it, flags need none. Older Typer shows metavars already."""
    from typer.core import TyperArgument, TyperOption

    if hasattr(TyperOption, "display_type_rich"):
        option_label = TyperOption.display_type_rich
        TyperArgument.display_type_rich = lambda self, ctx: None
        TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else option_label(self, ctx)


_help_labels()


@contextlib.contextmanager
def user_errors(debug: bool):
    """Turn a UserError into one line on stderr and exit 2, anything unexpected into exit 3."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except UserError as exc:
        if debug:  # the traceback, and still the exit code a CI job reads (a raised exception would exit 1: "findings")
            import traceback

            traceback.print_exc()
            raise typer.Exit(EXIT_USER_ERROR) from None
        from dedupaudit.privacy import one_line

        print(f"dedupaudit: error: {one_line(exc, 500)}", file=sys.stderr)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug: say so without a traceback unless asked
        if debug:
            import traceback

            traceback.print_exc()
            raise typer.Exit(EXIT_BUG) from None
        from dedupaudit.privacy import one_line

        print(f"dedupaudit: internal error: {type(exc).__name__}: {one_line(exc)} "
              "(run again with --debug for the traceback, and please report it)", file=sys.stderr)
        raise typer.Exit(EXIT_BUG) from None


def write_file(path, data: str | bytes, option: str = "output") -> None:
    """Write a file the user asked for: never over an input or into an input folder, atomically (see outputs.write)."""
    from dedupaudit import outputs

    outputs.write(path, data, option)


def _version(value: bool):
    if value:
        print(f"dedupaudit {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit.")):
    """Audit browser-pixel and server (CAPI) conversion events for broken deduplication, per ad platform."""


from dedupaudit.cli import check, config_cmd, rules_cmd  # noqa: E402,F401  (each registers its commands on `app`)
from dedupaudit.cli import formats, inspect  # noqa: E402,F401  (native input formats: `formats` and `inspect` commands)
from dedupaudit.cli import diff  # noqa: E402,F401  (registers the command on `app`)
from dedupaudit.cli import generate_cmd  # noqa: E402,F401  (registers `generate` on `app`)


def _whole_summaries(typer_app: typer.Typer) -> None:
    """Plain help cuts each command's summary in the command list at about 45 characters ('...'); given as
    short help, the whole first paragraph of its docstring is shown instead, wrapped to the terminal."""
    for info in typer_app.registered_commands:
        doc = info.help or (info.callback.__doc__ if info.callback else None)
        if info.short_help is None and doc:
            info.short_help = " ".join(doc.strip().split("\n\n")[0].split())
    for group in typer_app.registered_groups:
        _whole_summaries(group.typer_instance)


_whole_summaries(app)


def run() -> None:
    app()
