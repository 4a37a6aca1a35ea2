"""The root `tfhash` group; each command module adds its commands to `cli` (main.py imports them)."""

import errno
import logging
import sys

import click

from tfhash.errors import TfhashError


def _fail(message):
    click.echo("error: " + " ".join(str(message).split()), err=True)  # always one line
    sys.exit(2)


class _Root(click.Group):
    """Turns library errors, and option errors, into one clean `error:` line and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        # click's own handling prints a usage block; one line is enough (`--help` shows the usage).
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:  # bare `tfhash` / `tfhash data`: the help, as before
            click.echo(err.ctx.get_help(), err=True)
            sys.exit(2)
        except click.UsageError as err:
            where = f"{err.ctx.command_path}: " if err.ctx is not None else ""
            _fail(f"{where}{err.format_message()} (see --help)")
        except click.ClickException as err:
            _fail(err.format_message())
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        except BrokenPipeError:  # e.g. `tfhash search ... | head`: stop quietly, as click itself does
            sys.stdout = click.utils.PacifyFlushWrapper(sys.stdout)
            sys.exit(1)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result

    def invoke(self, ctx):
        from tfhash.atomic import write_error

        try:
            return super().invoke(ctx)
        except TfhashError as err:
            _fail(err)
        except FileNotFoundError as err:
            _fail(f"file not found: {err.filename or err}")
        except BrokenPipeError:
            raise
        except OSError as err:  # full disk, read-only folder, unreadable file: named, on one line
            if err.filename and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                _fail(write_error(err.filename, err))
            _fail(f"{err.filename + ': ' if err.filename else ''}{err.strerror or err}")
        except MemoryError:
            _fail("out of memory; use fewer bits, a smaller batch or a smaller dataset")
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
