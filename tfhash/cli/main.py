"""The `tfhash` command: the root group (`group.py`) with every command module's commands."""

from tfhash.cli import benchmark, data, evaluate, export, index, serve, train  # noqa: F401  (each adds its commands)
from tfhash.cli.group import cli


def main():
    cli(prog_name="tfhash")


if __name__ == "__main__":
    main()
