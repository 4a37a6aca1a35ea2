"""`tfhash index` and `tfhash search`: a FAISS binary index over a run's database codes."""

import click

from tfhash.cli.main import cli

MODALITIES = click.Choice(["image", "text"])


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--modality", type=MODALITIES, default="text", show_default=True,
              help="Which database codes to index (text: for image queries, I->T).")
@click.option("--kind", type=click.Choice(["flat", "ivf", "hnsw", "multihash"]), default="flat", show_default=True,
              help="FAISS binary index type (flat is exact).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Index file. Default: RUN_DIR/index-MODALITY.h5.")
def index(run_dir, modality, kind, out):
    """Build a Hamming index over a run's database codes."""
    from tfhash.search import build_run_index

    path, count, bits = build_run_index(run_dir, modality=modality, kind=kind, out=out)
    click.echo(f"indexed {count} {modality} codes ({bits} bits, {kind}) -> {path}")


@cli.command()
@click.argument("index_path", type=click.Path(dir_okay=False))
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Run whose model encodes --inputs, or whose query codes --query picks from.")
@click.option("--query", "query_positions", type=int, multiple=True,
              help="Position(s) of the run's query items to search with (repeatable).")
@click.option("--inputs", type=click.Path(dir_okay=False), default=None,
              help="A .npy of raw inputs (features, BoW or token ids) to encode with the run's model.")
@click.option("--codes", "codes_path", type=click.Path(dir_okay=False), default=None,
              help="A .npy of ±1 query codes.")
@click.option("--modality", type=MODALITIES, default="image", show_default=True,
              help="Modality of the queries (image queries search text codes).")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
def search(index_path, run_dir, query_positions, inputs, codes_path, modality, k):
    """Search an index; prints, per query, the top-k item ids and Hamming distances."""
    from tfhash.search import query_codes_for, search_index

    codes = query_codes_for(run_dir=run_dir, positions=query_positions, inputs=inputs, codes_path=codes_path,
                            modality=modality)
    for qi, hits in enumerate(search_index(index_path, codes, k)):
        click.echo(f"query {qi}: " + "  ".join(f"{item}:{dist}" for item, dist in hits))
