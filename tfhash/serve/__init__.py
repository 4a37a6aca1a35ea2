"""`tfhash serve`: cross-modal search over HTTP (encode a query, search an index, describe the items), and a page.

Modules: `service` (requests -> codes -> results, no HTTP), `batching` (the
encoding queue), `indexes` (index files reloaded when replaced), `items`
(item metadata, typed text -> bag of words), `app` (the Starlette ASGI app
and uvicorn), `static/` (the page). The API is described in docs/serve.md.
"""
