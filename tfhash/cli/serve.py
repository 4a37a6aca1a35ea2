"""`tfhash serve MODEL_DIR`: cross-modal search over HTTP, with a page at / (see docs/serve.md)."""

import click

from tfhash.cli.group import cli
from tfhash.cli.quiet import import_tensorflow


@cli.command()
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--index", "indexes", multiple=True, metavar="[image=|text=]PATH",
              help="An index of image or text items (repeatable; the modality is read from the file name, e.g. "
                   "index-text.h5, unless given). Default: MODEL_DIR/index-image.h5 and index-text.h5.")
@click.option("--items", type=click.Path(dir_okay=False), default=None,
              help="Item metadata, JSON or JSONL (id -> text/tags, image path or URL). Default: MODEL_DIR/items.jsonl "
                   "if present.")
@click.option("--bow-vocabulary", type=click.Path(dir_okay=False), default=None,
              help="Bag-of-words models: the word of each text column, one a line, so typed text can be searched. "
                   "Default: MODEL_DIR/bow-vocabulary.txt if present.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--max-body", type=click.IntRange(min=1), default=8 * 1024 * 1024, show_default=True,
              help="Largest request body, bytes (413 beyond).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Seconds per request (504 beyond).")
@click.option("--max-k", type=click.IntRange(min=1), default=100, show_default=True,
              help="Largest k a request may ask for (also at most the index size).")
@click.option("--max-batch", type=click.IntRange(min=1), default=256, show_default=True,
              help="Queries of concurrent requests encoded in one call, at most.")
@click.option("--batch-wait-ms", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="How long the encoder waits for more requests to batch.")
def serve(model_dir, indexes, items, bow_vocabulary, host, port, max_body, timeout, max_k, max_batch, batch_wait_ms):
    """Serve search over an exported model and its indexes: POST /v1/search, GET /healthz, /v1/models, page at /."""
    import_tensorflow()
    from tfhash.serve.app import build_service, describe_service, run

    service = build_service(model_dir, index_args=indexes, items_path=items,
                            vocabulary_path=bow_vocabulary, max_k=max_k)
    for line in describe_service(service):
        click.echo(line)
    run(service, host=host, port=port, max_body=max_body, timeout=timeout, max_batch=max_batch,
        batch_wait=batch_wait_ms / 1000)
