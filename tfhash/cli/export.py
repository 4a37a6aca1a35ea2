"""`tfhash export RUN_DIR --out saved_models/NAME`: a run's model as a TF Serving SavedModel version."""

import click

from tfhash.cli.group import cli
from tfhash.cli.quiet import import_tensorflow


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=True, file_okay=False),
              help="Model base folder (TF Serving's model_base_path); the export becomes OUT/<next version>/.")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="Version number to write (default: one more than the newest); an existing one is refused.")
@click.option("--codes/--no-codes", "with_codes", default=True, show_default=True,
              help="Ship the run's query/database codes (assets.extra/codes.h5) for `tfhash index --model`.")
def export(run_dir, out, version, with_codes):
    """Export a trained run as a SavedModel with encode_image / encode_text signatures."""
    import_tensorflow()
    from tfhash.export.saved_model import ExportedModel, export_run

    path = export_run(run_dir, out, version=version, with_codes=with_codes)
    meta = ExportedModel(path).metadata
    signatures = ", ".join(meta["signatures"])
    click.echo(f"exported {meta['method']} ({meta['bits']} bits) -> {path}")
    click.echo(f"signatures: {signatures}")
    kind = meta["inputs"]["text"]["kind"]
    click.echo(f"text input: {kind}" + (" (format: docs/export.md, or text_format in assets.extra/tfhash.json)"
                                        if kind == "strings" else ""))
