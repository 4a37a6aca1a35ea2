"""`tfhash benchmark`: train a grid of methods x bits x seeds (cached), then write results, table and plots."""

import click

from tfhash.cli.group import cli
from tfhash.cli.quiet import import_tensorflow


@cli.command()
@click.option("--dataset", "datasets", multiple=True, type=click.Path(dir_okay=False),
              help="Dataset file (.h5); repeat for several. Default: the bundled Wikipedia benchmark.")
@click.option("--methods", default="cca-itq,uch,ugach", show_default=True,
              help="Comma-separated method names; LABEL=METHOD benchmarks METHOD under its own label and --set.")
@click.option("--bits", default="16,32,64,128", show_default=True, help="Comma-separated code lengths.")
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True, help="Runs per cell: seeds 0..N-1.")
@click.option("--out", default="runs/benchmark", show_default=True, type=click.Path(file_okay=False),
              help="Benchmark folder: run folders, results.json, table.md, plots. Rerun to reuse finished runs.")
@click.option("--set", "sets", multiple=True, metavar="METHOD.SETTING=VALUE", help="A setting for every run of METHOD.")
@click.option("--validation", is_flag=True, help="Score on a validation split carved from the training pairs.")
@click.option("--unified", is_flag=True,
              help="Also score methods that learn database codes B (UCH, SDCH) with B as the database.")
@click.option("--reference", default=None, help="Method the others are compared with (default: cca-itq if listed).")
def benchmark(datasets, methods, bits, seeds, out, sets, validation, unified, reference):
    """Benchmark methods over code lengths and seeds: mean ± std per cell, paired differences against a reference."""
    import_tensorflow()
    from tfhash.benchmark.harness import benchmark_command, parse_bits, parse_methods, run_benchmark
    from tfhash.cli.options import parse_settings
    from tfhash.data.bundled import default_dataset_path
    from tfhash.methods.registry import get_method

    methods = [m.strip() for m in methods.split(",") if m.strip()]
    bits = parse_bits(bits)
    kinds = parse_methods(methods)
    settings = parse_settings(sets, lambda m: get_method(kinds.get(m, m)).config_class)
    command = benchmark_command(datasets, methods, bits, seeds, out, sets, validation, reference, unified)
    table = run_benchmark(list(datasets) or [default_dataset_path()], methods, bits, seeds, out, settings=settings,
                          validation=validation, unified=unified, reference=reference, command=command,
                          echo=click.echo)
    click.echo(table)
