"""`python -m tfhash` runs the CLI."""

from tfhash.cli.main import main

main()
