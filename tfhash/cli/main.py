"""The `tfhash` command: a root group whose subcommands live one per module."""

import logging
import os
import sys

import click

from tfhash.errors import TfhashError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


def _register():
    from tfhash.cli import data, evaluate, export, index, serve, train  # noqa: F401  (each adds its commands)


def main():
    _register()
    cli(prog_name="tfhash")


if __name__ == "__main__":
    main()
