"""The ASGI app (Starlette) over a `SearchService`, its encoding queue, and the uvicorn server.

Routes: ``POST /v1/search``, ``GET /healthz``, ``GET /v1/models``,
``GET /v1/items`` (ids of an index, with their records: the page's picker),
``GET /v1/items/{id}/image`` (an item's local picture), ``GET /`` and
``/static/*`` (the page). Every error is ``{"error": "..."}``: 400 for bad
input, 404, 405, 413 for a body over `max_body` bytes, 503 when the encoding
queue is full, 504 past the per-request `timeout`, 500 (logged, no stack
trace in the response) for a bug.
"""

import asyncio
import contextlib
import json
import logging
import os

import numpy as np

from tfhash.errors import TfhashError, require
from tfhash.serve.batching import EncodeBatcher, QueueFull
from tfhash.serve.indexes import WatchedIndex
from tfhash.serve.items import BagOfWords, Items
from tfhash.serve.service import OTHER, SearchService

log = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
DEFAULT_MAX_BODY = 8 * 1024 * 1024


class _TooLarge(Exception):
    pass


def _model_base(model_dir):
    """The folder next to the versions (where `tfhash index --model` writes index-*.h5)."""
    path = os.path.abspath(model_dir)
    return os.path.dirname(path) if os.path.exists(os.path.join(path, "saved_model.pb")) else path


def parse_index_args(model_dir, index_args):
    """--index values ("[image=|text=]PATH") -> {items' modality: path}; default MODEL/index-{image,text}.h5."""
    if not index_args:
        base = _model_base(model_dir)
        found = {m: os.path.join(base, f"index-{m}.h5") for m in ("image", "text")}
        found = {m: p for m, p in found.items() if os.path.isfile(p)}
        require(found, f"no --index given and no index-image.h5 / index-text.h5 in {base} "
                       f"(build one with `tfhash index --model {model_dir}`)")
        return found
    out = {}
    for arg in index_args:
        modality, sep, path = arg.partition("=")
        if not sep or modality not in ("image", "text"):
            path = arg
            name = os.path.basename(path)
            guesses = [m for m in ("image", "text") if m in name]
            require(len(guesses) == 1, f"cannot tell whether {arg} indexes images or texts: "
                                       f"write --index image={arg} or --index text={arg}")
            modality = guesses[0]
        require(modality not in out, f"two {modality} indexes given; give one per modality")
        out[modality] = path
    return out


def build_service(model_dir, *, index_args=(), items_path=None, vocabulary_path=None, max_k=100,
                  max_instances=256):
    """Load the newest version of an export, its indexes, items and vocabulary into a `SearchService`.

    `index_args` are --index values (see `parse_index_args`). Defaults look
    next to the versions: index-image.h5 / index-text.h5, items.jsonl,
    bow-vocabulary.txt (the layout of saved_models/mirflickr-cca-itq).
    """
    from tfhash.export.saved_model import ExportedModel

    model = ExportedModel(model_dir)
    base = _model_base(model_dir)
    paths = parse_index_args(model_dir, index_args)
    indexes = {m: WatchedIndex(p, model.bits) for m, p in paths.items()}
    if items_path is None and os.path.isfile(os.path.join(base, "items.jsonl")):
        items_path = os.path.join(base, "items.jsonl")
    if vocabulary_path is None and os.path.isfile(os.path.join(base, "bow-vocabulary.txt")):
        vocabulary_path = os.path.join(base, "bow-vocabulary.txt")
    bag = None
    if vocabulary_path is not None:
        spec = model.input_spec("text")
        require(spec["dtype"] == "float32" and len(spec["shape"]) == 1,
                "--bow-vocabulary is for bag-of-words models; this model takes text "
                + ("strings already" if spec["dtype"] == "string" else f"of shape {spec['shape']}"))
        bag = BagOfWords(vocabulary_path, spec["shape"][0])
    return SearchService(model, indexes, Items(items_path), bag, max_k=max_k, max_instances=max_instances)


def warm_up(service):
    """One encoding per input, so the first request does not pay for tracing the signatures."""
    for name, spec in service.model.metadata["inputs"].items():
        x = np.array([""], dtype=object) if spec["dtype"] == "string" else np.zeros([1] + spec["shape"], spec["dtype"])
        service.model.hash(name, x)


async def _read_body(request, limit):
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(service, *, max_body=DEFAULT_MAX_BODY, timeout=10.0, max_batch=256, batch_wait=0.002):
    """The Starlette app serving `service`; encoding runs in an `EncodeBatcher` worker thread."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool

    batcher = EncodeBatcher(service.model.hash, max_batch=max_batch, max_wait=batch_wait)

    def error(message, status):
        return JSONResponse({"error": message}, status_code=status)

    async def _search(request):
        try:
            body = json.loads(await _read_body(request, max_body))
        except _TooLarge:
            return error(f"request body larger than {max_body} bytes", 413)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return error(f"the request body is not valid JSON: {err}", 400)
        modality, k, snapshot, queries = await run_in_threadpool(service.parse, body)
        futures = [None if kind == "code" else asyncio.wrap_future(batcher.submit(kind, x)) for kind, x in queries]
        codes = [x if f is None else await f for (kind, x), f in zip(queries, futures)]
        result = await run_in_threadpool(service.respond, snapshot, k, np.concatenate(codes))
        return JSONResponse(result)

    async def search(request):
        try:
            async with asyncio.timeout(timeout):
                return await _search(request)
        except TimeoutError:
            return error(f"the request took longer than {timeout:g} s", 504)
        except QueueFull as err:
            return error(str(err), 503)
        except TfhashError as err:
            return error(str(err), 400)
        except Exception:  # noqa: BLE001  (a bug: logged here, never shown to the client)
            log.exception("search failed")
            return error("internal error (see the server log)", 500)

    async def healthz(request):
        return JSONResponse({"status": "ok"})

    async def models(request):
        info = await run_in_threadpool(service.describe)
        info["limits"].update({"max_body": max_body, "timeout": timeout, "max_batch": max_batch})
        info["encode_batches"] = batcher.batches
        return JSONResponse(info)

    async def items(request):
        q = request.query_params
        modality = q.get("modality", "image")
        try:
            offset, limit = int(q.get("offset", 0)), int(q.get("limit", 60))
            require(offset >= 0 and 1 <= limit <= 1000, "offset >= 0 and 1 <= limit <= 1000")
            return JSONResponse(await run_in_threadpool(service.items_page, modality, offset, limit))
        except ValueError as err:  # TfhashError too
            return error(str(err), 400)

    async def item_image(request):
        path = service.items.images.get(request.path_params["item"])
        if path is None or not os.path.isfile(path):
            return error("no image for this item", 404)
        return FileResponse(path)

    async def page(request):
        return FileResponse(os.path.join(STATIC_DIR, "index.html"))

    async def http_error(request, exc):
        return error(exc.detail, exc.status_code)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        batcher.close()

    app = Starlette(routes=[
        Route("/", page),
        Route("/healthz", healthz),
        Route("/v1/models", models),
        Route("/v1/search", search, methods=["POST"]),
        Route("/v1/items", items),
        Route("/v1/items/{item:path}/image", item_image),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ], exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.service, app.state.batcher = service, batcher
    return app


def describe_service(service):
    """Lines saying what is served (the CLI prints them at start-up)."""
    meta = service.model.metadata
    lines = [f"model: {meta['method']}, {service.model.bits} bits, {service.model.path}"]
    for m, w in sorted(service.indexes.items()):
        lines.append(f"{m} index: {w.current().index.ntotal} items ({OTHER[m]} queries) from {w.path}")
    if len(service.items):
        lines.append(f"items: {len(service.items)} from {service.items.path}")
    if service.bag_of_words is not None:
        lines.append(f"typed text -> bag of words over {service.bag_of_words.dim} words")
    return lines


def run(service, *, host="127.0.0.1", port=8080, max_body=DEFAULT_MAX_BODY, timeout=10.0, max_batch=256,
        batch_wait=0.002, log_level="info"):
    """Warm the model up, then serve `service` with uvicorn on host:port until interrupted."""
    import uvicorn

    warm_up(service)
    app = create_app(service, max_body=max_body, timeout=timeout, max_batch=max_batch, batch_wait=batch_wait)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, timeout_keep_alive=5)
