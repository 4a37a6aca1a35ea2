"""`tfhash index` and `tfhash search`: a FAISS binary index over a run's or an exported model's codes."""

import click

from tfhash.cli.group import cli
from tfhash.cli.quiet import import_tensorflow
from tfhash.errors import require

MODALITIES = click.Choice(["image", "text"])

_model_option = click.option(
    "--model", "model_path", type=click.Path(file_okay=False), default=None,
    help="An exported model (`tfhash export` folder, newest version, or one version folder) instead of a run.")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False), required=False)
@_model_option
@click.option("--modality", type=MODALITIES, default="text", show_default=True,
              help="Which database codes to index (text: for image queries, I->T).")
@click.option("--kind", type=click.Choice(["flat", "ivf", "hnsw", "multihash"]), default="flat", show_default=True,
              help="FAISS binary index type (flat is exact).")
@click.option("--inputs", type=click.Path(dir_okay=False), default=None,
              help="With --model: a .npy of raw database items (features, BoW or token ids) to encode and index.")
@click.option("--texts", type=click.Path(dir_okay=False), default=None,
              help="With --model (string-taking token models): a text file, one database text per line.")
@click.option("--ids", type=click.Path(dir_okay=False), default=None,
              help="With --inputs/--texts: a text file of item ids, one per line (default 0..N-1).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Index file. Default: RUN_DIR/index-MODALITY.h5 or MODEL/index-MODALITY.h5.")
def index(run_dir, model_path, modality, kind, inputs, texts, ids, out):
    """Build a Hamming index over database codes.

    From a run: RUN_DIR's database codes. From an exported model alone
    (--model): the database codes shipped with it, or the items of --inputs
    / --texts encoded by its SavedModel.
    """
    require(bool(run_dir) != bool(model_path), "give RUN_DIR or --model MODEL (one of them)")
    if run_dir:
        require(not (inputs or texts or ids), "--inputs, --texts and --ids go with --model")
        from tfhash.search import build_run_index

        path, count, bits = build_run_index(run_dir, modality=modality, kind=kind, out=out)
    else:
        import_tensorflow()
        from tfhash.search import build_model_index

        path, count, bits = build_model_index(model_path, modality=modality, kind=kind, out=out, inputs=inputs,
                                              texts=texts, ids=ids)
    click.echo(f"indexed {count} {modality} codes ({bits} bits, {kind}) -> {path}")


@cli.command()
@click.argument("index_path", type=click.Path(dir_okay=False))
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Run whose model encodes --inputs, or whose query codes --query picks from.")
@_model_option
@click.option("--query", "query_positions", type=int, multiple=True,
              help="Position(s) of the run's (or export's shipped) query items to search with (repeatable).")
@click.option("--inputs", type=click.Path(dir_okay=False), default=None,
              help="A .npy of raw inputs (features, BoW or token ids) to encode with the run's or export's model.")
@click.option("--texts", type=click.Path(dir_okay=False), default=None,
              help="A text file, one query text per line (--model of a token model; see docs/export.md).")
@click.option("--codes", "codes_path", type=click.Path(dir_okay=False), default=None,
              help="A .npy of ±1 query codes.")
@click.option("--modality", type=MODALITIES, default="image", show_default=True,
              help="Modality of the queries (image queries search text codes).")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
def search(index_path, run_dir, model_path, query_positions, inputs, texts, codes_path, modality, k):
    """Search an index; prints, per query, the top-k item ids and Hamming distances."""
    if model_path or inputs or texts:
        import_tensorflow()  # a model encodes the queries
    from tfhash.search import query_codes_for, search_index

    codes = query_codes_for(run_dir=run_dir, positions=query_positions, inputs=inputs, codes_path=codes_path,
                            modality=modality, model=model_path, texts=texts)
    for qi, hits in enumerate(search_index(index_path, codes, k)):
        click.echo(f"query {qi}: " + "  ".join(f"{item}:{dist}" for item, dist in hits))
