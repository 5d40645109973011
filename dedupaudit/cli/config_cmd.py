"""`dedupaudit config show` and `dedupaudit init`: see the merged settings, start a config file."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dedupaudit.cli.main import app, user_errors, write_file
from dedupaudit.errors import UserError

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")


@config_app.command("show")
def show(
    config_file: Path = typer.Option(None, "--config", metavar="FILE", help="Config file (default: dedupaudit.yaml here or in a parent folder).", show_default=False),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Print the merged settings (defaults, then the config file) and where each value came from."""
    from dedupaudit import config

    with user_errors(debug):
        path = config.find_config(config_file)
        merged = config.merge(config.DEFAULTS, config.load_file(path) if path else {})
        print(f"# config file: {path if path else 'none found (built-in defaults only)'}")
        sys.stdout.write(config.show(merged))


@app.command()
def init(
    path: Path = typer.Argument(Path("dedupaudit.yaml"), metavar="PATH", help="Where to write the starter config."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors."),
):
    """Write a commented starter dedupaudit.yaml."""
    from dedupaudit import config

    with user_errors(debug):
        if path.exists() and not force:
            raise UserError(f"{path} exists already (use --force to overwrite)")
        write_file(path, config.STARTER)
        print(f"dedupaudit: wrote {path}; edit it, then `dedupaudit config show`", file=sys.stderr)
