"""`tfhash serve` throughput and latency (1 and 16 concurrent clients) beside `tfhash search`'s per-query time.

    nice python scripts/bench_serve.py                         # the shipped demo, saved_models/mirflickr-cca-itq
    nice python scripts/bench_serve.py --requests 400

Starts `tfhash serve MODEL` as a subprocess on 127.0.0.1 (a free port), then
for each query kind (a typed text -> images; an image feature vector ->
texts; k = 10) runs C client threads (C = 1, 16), each on its own keep-alive
HTTP connection, sending `--requests` requests in all (after a warm-up: 160 requests from 16
clients and 40 from one, per query kind).
requests/s = requests / wall time; p50 / p99 = percentiles of the per-request
latency seen by the clients (send to full JSON response). The clients run
on the same 2-CPU machine as the server, so they take CPU from it.

Beside it, `tfhash search` for one query of the same kinds: the command's
wall time (a fresh process: imports, model load, index load, encode,
search; median of 3), and the library call behind it
(`tfhash.search.query_codes_for` + `search_index`, in a warm process: it
still loads the SavedModel and the index per call, as the command does;
median of 10). Writes section `serve` of BENCHMARKS.md.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import ROOT, write_section  # noqa: E402

DEMO = os.path.join(ROOT, "saved_models", "mirflickr-cca-itq")
K = 10
TEXTS = ["sunset beach sea", "dog", "sky clouds tree", "night city lights", "flower macro", "portrait girl",
         "snow mountain", "car street", "bird nature", "food"]


def env():
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="3")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model, log_path):
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "tfhash", "serve", model, "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=env(), cwd=ROOT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tfhash serve exited: {open(log_path).read()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("tfhash serve did not start in 300 s")


def client(port, bodies, latencies, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    # As curl and urllib3 do: http.client writes headers and body separately, and Nagle's algorithm would
    # hold a small body back until the server's delayed ACK of the headers (~40 ms per request).
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for body in bodies:
        start = time.perf_counter()
        conn.request("POST", "/v1/search", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        latencies.append(time.perf_counter() - start)
        if resp.status != 200 or len(json.loads(data)["predictions"][0]["ids"]) != K:
            errors.append(resp.status)
    conn.close()


def encode_batches(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/v1/models")
    return json.loads(conn.getresponse().read())["encode_batches"]


def load(port, bodies, clients, requests):
    """(requests/s, p50 ms, p99 ms, errors, queries per encoding call) of `clients` threads, `requests` in all."""
    per = [[bodies[(c + i * clients) % len(bodies)] for i in range(requests // clients)] for c in range(clients)]
    latencies, errors = [], []
    batches = encode_batches(port)
    threads = [threading.Thread(target=client, args=(port, p, latencies, errors)) for p in per]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    batches = encode_batches(port) - batches
    ms = np.asarray(latencies) * 1000
    return (len(latencies) / wall, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(errors),
            len(latencies) / max(batches, 1))


def search_times(model, work, images, texts_bow):
    """{kind: (command wall s, library s)} of one `tfhash search` query."""
    from tfhash.search import query_codes_for, search_index

    out = {}
    for kind, modality, x, index in (("text -> images", "text", texts_bow, "index-image.h5"),
                                     ("image -> texts", "image", images, "index-text.h5")):
        path = os.path.join(work, f"{modality}.npy")
        np.save(path, x[:1])
        index_path = os.path.join(model, index)
        cmd = [sys.executable, "-m", "tfhash", "search", index_path, "--model", model, "--inputs", path,
               "--modality", modality, "-k", str(K)]
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(cmd, env=env(), cwd=ROOT, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        lib = []
        for i in range(11):
            start = time.perf_counter()
            search_index(index_path, query_codes_for(inputs=path, modality=modality, model=model), K)
            if i:  # the first call also traces the signature
                lib.append(time.perf_counter() - start)
        out[kind] = (statistics.median(walls), statistics.median(lib))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEMO)
    parser.add_argument("--requests", type=int, default=480, help="Requests per (query kind, clients) cell.")
    args = parser.parse_args()

    from tfhash.serve.items import BagOfWords

    rng = np.random.default_rng(0)
    images = rng.random((64, 1280)).astype(np.float32) * 2
    bag = BagOfWords(os.path.join(args.model, "bow-vocabulary.txt"), 1386)
    texts_bow = np.stack([bag.vector(t) for t in TEXTS])
    kinds = {
        "text -> images": [json.dumps({"modality": "text", "instances": [t], "k": K}) for t in TEXTS],
        "image -> texts": [json.dumps({"modality": "image", "instances": [x.tolist()], "k": K}) for x in images],
    }
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as work:
        proc, port = start_server(args.model, os.path.join(work, "server.log"))
        try:
            # Warm-up: a fresh server answers its first few hundred requests slower (measured: ~100 ms at one
            # client before a burst of concurrent requests, ~7 ms after), so every kind gets a burst first.
            for bodies in kinds.values():
                load(port, bodies, 16, 160)
                load(port, bodies, 1, 40)
            cells = {(kind, c): load(port, bodies, c, args.requests) for kind, bodies in kinds.items()
                     for c in (1, 16)}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        searched = search_times(args.model, work, images, texts_bow)
    load_after = os.getloadavg()
    rows = []
    for kind in kinds:
        wall, lib = searched[kind]
        for c in (1, 16):
            rps, p50, p99, errors, per_batch = cells[(kind, c)]
            rows.append(f"| {kind} | {c} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {errors} | {per_batch:.1f} | "
                        f"{wall:.2f} s / {lib * 1000:.0f} ms |")
            print(rows[-1], flush=True)
    write_section("serve", "Serving: `tfhash serve` requests/s and latency vs `tfhash search`", f"""
`tfhash serve saved_models/mirflickr-cca-itq` (the shipped demo: CCA-ITQ,
64 bits, 730 MIRFlickr images and texts in flat indexes; typed text -> bag
of words -> image index, 1,280-d feature vector -> text index; k = {K}, one
query per request). C client threads on keep-alive connections (TCP_NODELAY, as curl) on the same
2-CPU machine, {args.requests} requests per row after a warm-up (per kind: 160
requests from 16 clients, 40 from one; a fresh server is slower at first);
requests/s over the wall time, p50/p99 of the latency each client saw;
"queries / encode call" = requests / signature calls of the server's encoding
queue (`encode_batches` of /v1/models): how much it batched.
The last column is one query by `tfhash search` (`--inputs q.npy`): the
command's wall time in a fresh process (median of 3), and the library call
behind it in a warm process (model and index loaded per call, as the command
does; median of 10). Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after.

| query | clients | requests/s | p50 ms | p99 ms | failed | queries / encode call | `tfhash search`: command / library per query |
| --- | --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}
""")


if __name__ == "__main__":
    main()
