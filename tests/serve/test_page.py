"""The page at / in headless Chromium: a typed query shows the retrieved pictures (and a screenshot is written).

The page runs the query in its URL (?q=TEXT, as if typed and submitted;
?item=ID, as if that picture were clicked). Skipped where Chromium is not
installed (Debian: `apt-get install chromium`).
"""

import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

from tests.serve.support import request

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="headless Chromium is not installed (apt-get install chromium)")


def _chromium(url, *args, cwd):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,900",
           "--virtual-time-budget=10000", f"--user-data-dir={cwd}/profile", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_typed_text_shows_retrieved_pictures(demo_server, tmp_path):
    base, _, _ = demo_server
    url = base + "/?" + urllib.parse.urlencode({"q": "sunset beach sea", "k": 12})
    dom = _chromium(url, "--dump-dom", cwd=str(tmp_path)).stdout
    assert 'data-state="done"' in dom, dom[-2000:]
    # The pictures shown are the API's answer to the same query, in its order.
    status, body = request(base + "/v1/search", {"modality": "text", "instances": ["sunset beach sea"], "k": 12})
    assert status == 200
    shown = re.findall(r'<div class="hit"><img src="/v1/items/([^/"]+)/image"', dom)
    assert shown == body["predictions"][0]["ids"]
    # ...and each picture loads.
    for item in shown[:3]:
        with urllib.request.urlopen(f"{base}/v1/items/{item}/image") as resp:
            assert resp.headers["content-type"] == "image/jpeg" and resp.read(3) == b"\xff\xd8\xff"

    shot = tmp_path / "page-text-query.png"
    _chromium(url, f"--screenshot={shot}", cwd=str(tmp_path))
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1200, 900)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 1000  # photographs, not a blank or error page


def test_picked_picture_shows_retrieved_texts(demo_server, tmp_path):
    base, _, _ = demo_server
    dom = _chromium(base + "/?item=im191&k=5", "--dump-dom", cwd=str(tmp_path)).stdout
    status, body = request(base + "/v1/search", {"modality": "image", "instances": [{"item": "im191"}], "k": 5})
    shown = re.findall(r'<div class="hit text-hit">.*?<span>([^<]+)</span><span title="Hamming distance">d=(\d+)',
                       dom)
    assert [(i, int(d)) for i, d in shown] == list(zip(body["predictions"][0]["ids"],
                                                       body["predictions"][0]["distances"]))
    tags = ", ".join(body["predictions"][0]["items"][0]["tags"])
    assert tags in dom
