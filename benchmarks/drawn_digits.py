"""Drawn-digit recognition and server latency of the drawing program.

A drawn-digit test set is built from MNIST test digits: each digit's Zhang-Suen skeleton, traced into
pen paths, is replayed (1) in Python through digit_from_strokes, (2) as large images drawn with a thin,
normal or thick pen through digit_from_image, and (3) with the mouse on the real page in headless
Chromium at several sizes and positions (high-DPI desktop), and with a finger on a phone-sized page.
Then the server-side latency: the model alone (probabilities + saliency), the whole stroke request
(preprocessing included), and the WebSocket round trip through uvicorn.

    python benchmarks/drawn_digits.py                    # bundled model, 200 digits, 60 in the browser
    python benchmarks/drawn_digits.py --model m.npz --digits 1000 --browser-digits 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import chainrule
from chainrule.app import create_app
from chainrule.app.recognizer import Recognizer
from chainrule.app.replay import digit_paths, draw_with_mouse, draw_with_touch, place, running_server, settled_prediction
from chainrule.datasets import load_mnist
from chainrule.preprocessing import _morph, digit_from_image, digit_from_strokes

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PLACEMENTS = {  # name: (share of the pad's width the digit's 20-pixel box spans, centre)
    "medium, centre": (0.55, (0.5, 0.5)),
    "small, top-left": (0.25, (0.25, 0.25)),
    "large, centre": (0.9, (0.5, 0.5)),
    "small, bottom-right": (0.3, (0.78, 0.75)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--digits", type=int, default=200, help="MNIST test digits for the Python rows (default 200)")
    parser.add_argument("--browser-digits", type=int, default=60, help="digits drawn in the browser per placement (default 60)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per latency row (default 2000)")
    parser.add_argument("--parts", default="python,browser,latency",
                        help="comma-separated parts to run: python, browser, latency (default all)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    net = chainrule.load(args.model)
    mnist = load_mnist()
    images, labels = mnist.test_images[:args.digits], mnist.test_labels[:args.digits]
    paths = [digit_paths(image) for image in images]

    rows = [("original 28x28 MNIST", _rate(net, images, labels))]
    if "python" in parts:
        rows.append(("skeleton strokes -> digit_from_strokes", _rate(net, np.array([digit_from_strokes(p) for p in paths]), labels)))
        for name, steps in (("thin", -2), ("normal", 0), ("thick", 6)):
            drawn = [_big_image(image, steps) for image in images]
            rows.append((f"8x image, {name} pen -> digit_from_image", _rate(net, np.array([digit_from_image(d) for d in drawn]), labels)))
    if "browser" in parts:
        rows += _browser_rows(net, paths[:args.browser_digits], labels[:args.browser_digits])
    print(f"\nDrawn-digit recognition ({'bundled model' if args.model is None else args.model})")
    _table(["input", "digits", "recognised"], [(name, n, f"{100 * rate:.1f}%") for name, (rate, n) in rows])
    if "latency" in parts:
        print("\nServer-side latency per prediction (ms)")
        _table(["what", "p50", "p90", "p99", "max"], _latency_rows(net, paths, args.requests))


def _rate(net, images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    return float((net.predict(images) == labels).mean()), len(labels)


def _big_image(image: np.ndarray, steps: int) -> np.ndarray:
    """The digit drawn 8x larger, dark on light paper, its strokes eroded (steps < 0) or dilated."""
    ink = np.kron(image / 255.0, np.ones((8, 8)))
    if steps:
        ink = _morph(ink, abs(steps), np.maximum if steps > 0 else np.minimum)
    return np.rint(250 - 230 * np.pad(ink, 40)).astype(np.uint8)


def _browser_rows(net, paths, labels) -> list[tuple[str, tuple[float, int]]]:
    from playwright.sync_api import sync_playwright

    rows = []
    with running_server(create_app(net=net, data_dir="/tmp/chainrule-benchmark-corrections")) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=2)
        page.goto(url)
        page.wait_for_function("net.socketReady")
        for name, (size, centre) in PLACEMENTS.items():
            hits = 0
            for digit_paths_, label in zip(paths, labels):
                draw_with_mouse(page, place(digit_paths_, page.get_by_test_id("canvas").bounding_box(), size, centre))
                hits += settled_prediction(page) == str(label)
                page.keyboard.press("Escape")
            rows.append((f"browser, mouse, {name}", (hits / len(labels), len(labels))))
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True, is_mobile=True)
        phone.goto(url)
        phone.wait_for_function("net.socketReady")
        hits = 0
        for digit_paths_, label in zip(paths, labels):
            draw_with_touch(phone, place(digit_paths_, phone.get_by_test_id("canvas").bounding_box(), 0.6))
            hits += settled_prediction(phone) == str(label)
            phone.evaluate("clearPad()")
        rows.append(("browser, touch, phone 390x844", (hits / len(labels), len(labels))))
        browser.close()
    return rows


def _latency_rows(net, paths, requests: int) -> list[tuple]:
    recognizer = Recognizer(net, data_dir="/tmp/chainrule-benchmark-corrections")
    payloads = [[(p * 12).tolist() for p in digit_paths_] for digit_paths_ in paths]
    images = [digit_from_strokes(p) for p in payloads]
    for k in range(50):  # warm up
        recognizer.predict_strokes(payloads[k % len(payloads)])
    model = _timed(lambda k: recognizer.predict_image(images[k % len(images)]), requests)
    whole = _timed(lambda k: recognizer.predict_strokes(payloads[k % len(payloads)]), requests)
    rows = [("model: probabilities + saliency", *model), ("request: strokes -> 28x28 -> model", *whole)]
    rows.append(("WebSocket round trip (uvicorn)", *_websocket_latency(net, payloads, requests)))
    return rows


def _timed(call, n: int) -> list[str]:
    times = []
    for k in range(n):
        started = time.perf_counter()
        call(k)
        times.append(1000 * (time.perf_counter() - started))
    return [f"{v:.2f}" for v in (*np.percentile(times, [50, 90, 99]), max(times))]


def _websocket_latency(net, payloads, n: int) -> list[str]:
    from websockets.sync.client import connect

    with running_server(create_app(net=net, data_dir="/tmp/chainrule-benchmark-corrections")) as url:
        with connect(url.replace("http", "ws") + "ws", max_size=None) as ws:
            def ask(k):
                ws.send(json.dumps({"id": k, "strokes": payloads[k % len(payloads)]}))
                json.loads(ws.recv())
            return _timed(ask, n)


def _table(header: list[str], rows: list[tuple]) -> None:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for i, row in enumerate(cells):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
