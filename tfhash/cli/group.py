"""The root `tfhash` group; each command module adds its commands to `cli` (main.py imports them)."""

import logging
import sys

import click

from tfhash.errors import TfhashError


class _Root(click.Group):
    """Turns library errors into one clean line and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TfhashError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except FileNotFoundError as err:
            click.echo(f"error: file not found: {err.filename or err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Root)
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Logging verbosity.")
@click.version_option(package_name="tfhash")
def cli(log_level):
    """Deep cross-modal hashing: train, evaluate, index, search, export."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
