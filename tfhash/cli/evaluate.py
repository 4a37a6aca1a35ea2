"""`tfhash evaluate RUN_DIR`: rewrite a run's report and plots from its codes, and the method's figures."""

import click

from tfhash.cli.group import cli
from tfhash.cli.options import database_codes_option, r_option
from tfhash.cli.quiet import import_tensorflow


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@r_option
@database_codes_option
def evaluate(run_dir, R, database_codes):
    """Score a run's codes.h5: MAP@all, MAP@R, PR curve, P@K (JSON + PNG), and the method's own figures."""
    import_tensorflow()
    from tfhash.eval.report import format_map_table
    from tfhash.training.run import evaluate_run

    report = evaluate_run(run_dir, R=R, database_codes=database_codes)
    click.echo(format_map_table(report))
    click.echo(f"report: {run_dir}/report.json")
    for name, path in sorted(report.get("figures", {}).items()):
        click.echo(f"{name.replace('_', ' ')}: {path}")
