"""`tfhash train METHOD`: one subcommand per registered method, flags from its config."""

import click

from tfhash.cli.group import cli
from tfhash.cli.options import config_options, database_codes_option, r_option, strategy_option
from tfhash.cli.quiet import import_tensorflow


def _method_command(name):
    import_tensorflow()
    from tfhash.methods.registry import get_method  # imports TensorFlow: only when training

    method_cls = get_method(name)
    doc = (method_cls.__doc__ or name).strip().splitlines()[0]

    @click.command(name=name, help=f"{doc} Defaults follow the paper; measured departures are explained in "
                                   f"the method's docstring (and docs/methods/).")
    @click.option("--dataset", type=click.Path(dir_okay=False), default=None,
                  help="Dataset file (.h5). Default: the bundled Wikipedia benchmark.")
    @click.option("--out", "run_dir", type=click.Path(file_okay=False), default=None,
                  help="Run folder. Default: a fresh folder under runs/.")
    @click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
    @click.option("--evaluate/--no-evaluate", default=True, show_default=True, help="Score the codes after training.")
    @strategy_option
    @r_option
    @database_codes_option
    @config_options(method_cls.config_class)
    def command(dataset, run_dir, resume, evaluate, strategy, R, database_codes, **settings):
        from tfhash.data.bundled import default_dataset_path
        from tfhash.training.run import train

        config = method_cls.config_class.from_dict(settings)
        run_dir = train(name, config, dataset_path=dataset or default_dataset_path(), run_dir=run_dir,
                        strategy=strategy, resume=resume, evaluate=evaluate, R=R, database_codes=database_codes)
        _print_summary(run_dir, evaluate)

    return command


def _print_summary(run_dir, evaluated):
    if run_dir is None:  # a multi-worker run's worker other than the chief
        click.echo("trained as a worker: the chief (worker 0) writes the run folder")
        return
    click.echo(f"run: {run_dir}")
    if evaluated:
        from tfhash.eval.report import format_map_table, format_report_diagnostics
        from tfhash.training.run_folder import RunFolder

        report = RunFolder(run_dir).read_report()
        click.echo(format_map_table(report))
        click.echo(format_report_diagnostics(report))
        for name, path in sorted(report.get("figures", {}).items()):
            click.echo(f"{name.replace('_', ' ')}: {path}")


class _MethodGroup(click.Group):
    def list_commands(self, ctx):
        import_tensorflow()
        from tfhash.methods.registry import method_names

        return method_names()

    def get_command(self, ctx, name):
        return _method_command(name)  # unknown names raise a one-line TfhashError


@cli.group(cls=_MethodGroup)
def train():
    """Train a hashing method (see `tfhash train METHOD --help` for its settings)."""
