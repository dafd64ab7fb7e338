"""Drawn-digit recognition and server latency of the drawing program.

A drawn-digit test set is built from MNIST test digits: each digit's Zhang-Suen skeleton, traced into
pen paths, is replayed (1) in Python through digit_from_strokes, (2) as large images drawn with a thin,
normal or thick pen through digit_from_image, and (3) with the mouse on the real page in headless
Chromium at several sizes and positions (high-DPI desktop), and with a finger on a phone-sized page.
Then the pen collections' writers kept out of training (datasets.HELD_OUT_WRITERS): every digit's
recorded trajectory through digit_from_strokes and the model in Python (offline), and the same
trajectory replayed on the real page in Chromium (live) with the mouse on a high-DPI desktop and with
a finger on a phone, at several sizes and positions, each digit with each device; per collection,
per class and per writer, and how often the page shows what Python reads (agreement). Then the
server-side latency: the model alone (probabilities + saliency), the whole stroke request
(preprocessing included), and the WebSocket round trip through uvicorn, for the skeleton strokes and
for held-out pen digits sampled at 60 Hz as a browser reports a moving pen.

    python benchmarks/drawn_digits.py                    # bundled model, 200 digits, 60 in the browser
    python benchmarks/drawn_digits.py --model m.npz --digits 1000 --browser-digits 200
    python benchmarks/drawn_digits.py --parts pen,pen-browser --pen-devices touch   # every held-out digit, by finger
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from multiprocessing import get_context

import numpy as np

import chainrule
from chainrule.app import create_app
from chainrule.app.recognizer import Recognizer
from chainrule.app.replay import (DEVICES, digit_paths, draw_with_mouse, draw_with_touch, open_page, place, replay,
                                  running_server, settled_prediction)
from chainrule.cli import Parser, positive_int, run_reporting_errors
from chainrule.datasets import HELD_OUT_WRITERS, load_mnist, load_pendigits, load_ujipen
from chainrule.pen import resample, select_writers
from chainrule.preprocessing import _morph, digit_from_image, digit_from_strokes

PAGE_RATE = 60.0  # Hz: pointer events of a browser while the pen or finger moves

PROG = "benchmarks/drawn_digits.py"  # how errors name this script

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PARTS = ("python", "browser", "pen", "pen-browser", "latency")
PEN_LOADERS = {"pendigits": load_pendigits, "ujipen": load_ujipen}
PLACEMENTS = {  # name: (share of the pad's width the digit's 20-pixel box spans, centre)
    "medium, centre": (0.55, (0.5, 0.5)),
    "small, top-left": (0.25, (0.25, 0.25)),
    "large, centre": (0.9, (0.5, 0.5)),
    "small, bottom-right": (0.3, (0.78, 0.75)),
}


def main() -> None:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--digits", type=positive_int, default=200,
                        help="MNIST test digits for the Python rows (default 200)")
    parser.add_argument("--browser-digits", type=positive_int, default=60,
                        help="digits drawn in the browser per placement (default 60)")
    parser.add_argument("--requests", type=positive_int, default=2000, help="requests per latency row (default 2000)")
    parser.add_argument("--parts", default="python,browser,pen,pen-browser,latency",
                        help="comma-separated parts to run: python, browser, pen (held-out pen writers offline), "
                             "pen-browser (the same live on the page), latency (default all)")
    parser.add_argument("--pen-devices", default="mouse,touch",
                        help="devices that replay every held-out pen digit on the page: mouse, touch (default both)")
    parser.add_argument("--pen-digits", type=positive_int, default=None,
                        help="replay only this many held-out pen digits on the page, drawn at random (default all)")
    parser.add_argument("--pen-alternate", action="store_true",
                        help="deal the held-out pen digits to the devices in turn instead of drawing each with "
                             "every device")
    parser.add_argument("--pen-collections", default="pendigits,ujipen",
                        help="held-out pen collections to measure: pendigits, ujipen (default both)")
    parser.add_argument("--pen-workers", type=positive_int, default=2,
                        help="pages replaying side by side per device, each in its own process (default 2)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    devices = args.pen_devices.split(",")
    collections = args.pen_collections.split(",")
    for option, given, known in (("--parts", parts, PARTS), ("--pen-devices", devices, DEVICES),
                                 ("--pen-collections", collections, PEN_LOADERS)):
        if unknown := sorted(set(given) - set(known)):
            parser.error(f"{option}: unknown {', '.join(map(repr, unknown))} (choose from {', '.join(known)})")
    net = chainrule.load(args.model)
    # the pen collections are read now, so that a missing one is said before the other parts' work
    pen_data = {name: PEN_LOADERS[name]() for name in collections} if parts & {"pen", "pen-browser"} else {}
    mnist = load_mnist()
    images, labels = mnist.test_images[:args.digits], mnist.test_labels[:args.digits]
    paths = [digit_paths(image) for image in images]

    rows = [("original 28x28 MNIST", _rate(net, images, labels))]
    if "python" in parts:
        from_strokes = np.array([digit_from_strokes(p) for p in paths])
        rows.append(("skeleton strokes -> digit_from_strokes", _rate(net, from_strokes, labels)))
        for name, steps in (("thin", -2), ("normal", 0), ("thick", 6)):
            drawn = [_big_image(image, steps) for image in images]
            from_images = np.array([digit_from_image(d) for d in drawn])
            rows.append((f"8x image, {name} pen -> digit_from_image", _rate(net, from_images, labels)))
    if "browser" in parts:
        rows += _browser_rows(net, paths[:args.browser_digits], labels[:args.browser_digits])
    print(f"\nDrawn-digit recognition ({'bundled model' if args.model is None else args.model})")
    _table(["input", "digits", "recognised"], [(name, n, f"{100 * rate:.1f}%") for name, (rate, n) in rows])
    if parts & {"pen", "pen-browser"}:
        _pen_tables(net, args.model, devices if "pen-browser" in parts else [], args.pen_digits, args.pen_workers,
                    args.pen_alternate, pen_data)
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


@contextmanager
def _chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _browser_rows(net, paths, labels) -> list[tuple[str, tuple[float, int]]]:
    rows = []
    app = create_app(net=net, data_dir="/tmp/chainrule-benchmark-corrections")
    with running_server(app) as url, _chromium() as browser:
        page = open_page(browser, url, DEVICES["mouse"]["page"])
        for name, (size, centre) in PLACEMENTS.items():
            hits = 0
            for digit_paths_, label in zip(paths, labels):
                draw_with_mouse(page, place(digit_paths_, page.get_by_test_id("canvas").bounding_box(), size, centre))
                hits += settled_prediction(page) == str(label)
                page.keyboard.press("Escape")
            rows.append((f"browser, mouse, {name}", (hits / len(labels), len(labels))))
        phone = open_page(browser, url, DEVICES["touch"]["page"])
        hits = 0
        for digit_paths_, label in zip(paths, labels):
            draw_with_touch(phone, place(digit_paths_, phone.get_by_test_id("canvas").bounding_box(), 0.6))
            hits += settled_prediction(phone) == str(label)
            phone.evaluate("pad.clear()")
        rows.append(("browser, touch, phone 390x844", (hits / len(labels), len(labels))))
    return rows


def _replay_share(model, device: str, strokes: list) -> tuple[list[int], int, list[str]]:
    """Replay ``strokes`` (digits' pen trajectories) on a page of its own server: the digits the page
    shows (-1 for none), how many arrived with every point, and the page's JavaScript errors."""
    app = create_app(net=chainrule.load(model), data_dir="/tmp/chainrule-benchmark-corrections")
    with running_server(app) as url, _chromium() as browser:
        page = open_page(browser, url, DEVICES[device]["page"])
        answers = []
        for start in range(0, len(strokes), 50):
            answers += replay(page, strokes[start:start + 50], device)
            print(f"  {device}, process {os.getpid()}: {len(answers)} of {len(strokes)} digits replayed", flush=True)
        return ([int(a["digit"]) if a["digit"] else -1 for a in answers],
                sum(a["points"] == a["sent"] for a in answers), page.errors)


def _pen_tables(net, model, devices: list[str], live_digits: int | None, workers: int, alternate: bool,
               collections: dict) -> None:
    """Held-out pen writers of ``collections`` (name -> the loaded collection): offline (digit_from_strokes
    + the model) and live on the page with ``devices``, per collection, per class and per writer, and the
    page's agreement with Python."""
    strokes, names, writers, labels = [], [], [], []
    for name, data in collections.items():
        for i in np.flatnonzero(np.isin(data.writers, HELD_OUT_WRITERS[name])):
            strokes.append(data.strokes[i])
            names.append(name)
            writers.append(f"{name} {data.writers[i]:02d}")
            labels.append(int(data.labels[i]))
    names, writers, labels = np.array(names), np.array(writers), np.array(labels)
    offline = net.predict(np.array([digit_from_strokes(s) for s in strokes]))
    chosen = np.arange(len(labels))
    if live_digits is not None:
        chosen = np.sort(np.random.default_rng(0).choice(len(labels), min(live_digits, len(labels)), replace=False))
    live = {device: np.full(len(labels), -2) for device in devices}  # -2: not replayed with this device
    if devices:
        started = time.perf_counter()
        # each share of the digits in its own process, server and Chromium: a replayed point waits for
        # the page's next frames, not for a core, so the shares run side by side; no process for no digits
        dealt = {d: chosen[j::len(devices)] if alternate else chosen for j, d in enumerate(devices)}
        shares = [(device, dealt[device][w::workers]) for device in devices
                  for w in range(min(workers, len(dealt[device])))]
        # Ctrl-C and SIGTERM are this process's to handle: leaving the block, the pool ends its workers
        # (a ProcessPoolExecutor waited for every replay to finish, up to an hour)
        with get_context("spawn").Pool(len(shares), signal.signal, (signal.SIGINT, signal.SIG_IGN)) as pool:
            done = pool.starmap(_replay_share, [(model, d, [strokes[i] for i in part]) for d, part in shares])
        faithful = dict.fromkeys(devices, 0)
        for (device, part), (digits, complete, errors) in zip(shares, done):
            live[device][part] = digits
            faithful[device] += complete
            if errors:
                print(f"{device}: the page raised {errors}")
        print(f"\nreplayed {len(chosen)} held-out pen digits ({'dealt in turn to' if alternate else 'each with'} "
              f"{', '.join(devices)}) in {time.perf_counter() - started:.0f} s; every point reached the page for "
              + ", ".join(f"{faithful[d]} of {len(dealt[d])} ({d})" for d in devices))
    pooled = [(live[d], d) for d in devices] + ([(None, "all")] if len(devices) > 1 else [])

    def rates(mask, truth) -> list[str]:
        cells = []
        for answers, _ in pooled:
            if answers is None:
                hits = np.concatenate([(a == truth)[mask & (a != -2)] for a in live.values()])
            else:
                hits = (answers == truth)[mask & (answers != -2)]
            cells.append(f"{_percent(hits)} of {len(hits)}")
        return cells

    def row(name, mask):
        return [name, int(mask.sum()), _percent((offline == labels)[mask])] + rates(mask, labels)

    header = ["digits", "offline"] + [f"live, {d}" for _, d in pooled]
    kept_out = ", ".join(f"{name} {HELD_OUT_WRITERS[name][0]}-{HELD_OUT_WRITERS[name][-1]}" for name in collections)
    print(f"\nHeld-out pen writers ({kept_out}): share recognised")
    rows = [(name, names == name) for name in collections] + [("together", np.ones(len(labels), bool))]
    _table(["collection"] + header, [row(name, mask) for name, mask in rows])
    if devices:
        print("\nThe page against Python (offline) on the same digits: share with the same answer")
        _table(["collection"] + [f"{d}" for _, d in pooled],
               [[name] + rates(mask, offline) for name, mask in rows])
    print("\nPer class, the collections together")
    _table(["class"] + header, [row(str(c), labels == c) for c in range(10)])
    print("\nPer writer")
    _table(["writer"] + header, [row(w, writers == w) for w in sorted(set(writers))])


def _percent(hits: np.ndarray) -> str:
    return f"{100 * hits.mean():.1f}%" if len(hits) else "-"


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
    pen = _pen_payloads(PAGE_RATE)
    rows.append((f"request: held-out pen digits at {PAGE_RATE:g} Hz", *_timed(
        lambda k: recognizer.predict_strokes(pen[k % len(pen)]), requests)))
    rows.append((f"WebSocket round trip, pen digits at {PAGE_RATE:g} Hz", *_websocket_latency(net, pen, requests)))
    return rows


def _pen_payloads(rate: float) -> list[list]:
    """pendigits' held-out writers' digits as a browser sampling ``rate`` times a second reports
    them while the pen moves (pen.resample), in the collection's units (about 500 per side, a pad's
    pixels): a skeleton traced from a 28 x 28 image has far fewer points than a hand on a pad."""
    digits = select_writers(load_pendigits(), HELD_OUT_WRITERS["pendigits"])
    return [[resample(stroke, rate).tolist() for stroke in strokes] for strokes in digits.strokes]


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
    sys.exit(run_reporting_errors(PROG, main))
