"""Replaying pen paths through the drawing page in a real browser (Playwright), for the browser tests
and the drawn-digit benchmark: a server in a background thread, digit images and recorded pen
trajectories turned into pen paths, and mouse or touch input along those paths."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ..preprocessing import skeleton_strokes, skeletonize

DEVICES = {  # how each kind of pointer is replayed: Playwright's page options and where digits go
    "mouse": {"page": dict(viewport={"width": 1280, "height": 800}, device_scale_factor=2),
              "placements": [(0.55, (0.5, 0.5)), (0.25, (0.25, 0.25)), (0.9, (0.5, 0.5)), (0.3, (0.78, 0.75))]},
    "touch": {"page": dict(viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True,
                           is_mobile=True),
              "placements": [(0.6, (0.5, 0.5)), (0.3, (0.3, 0.7)), (0.85, (0.5, 0.5)), (0.4, (0.7, 0.3))]},
}
"""(share of the pad's width the digit's 20-pixel box spans, its centre as shares of the pad) in turn:
mouse on a high-DPI desktop, a finger on a 390x844 phone."""


@contextmanager
def running_server(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a background thread; yields its base URL."""
    import uvicorn

    from .serving import server_config

    server = uvicorn.Server(server_config(app, host, 0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the drawing server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def open_page(browser, url: str, device: dict):
    """A new page of ``browser`` (Playwright) with the ``device`` options, at ``url``, once its
    WebSocket is open; ``page.errors`` collects the page's uncaught JavaScript errors."""
    page = browser.new_page(**device)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    page.wait_for_function("net.socketReady")
    page.errors = errors
    return page


def digit_paths(image: np.ndarray, threshold: int = 100) -> list[np.ndarray]:
    """Pen paths that redraw a 28x28 digit: its Zhang-Suen skeleton traced into strokes, each
    smoothed by a 3-point moving average (the ends stay), in pixel coordinates (x, y)."""
    paths = []
    for path in skeleton_strokes(skeletonize(image > threshold)):
        if len(path) > 2:
            path = np.concatenate([path[:1], (path[:-2] + path[1:-1] + path[2:]) / 3, path[-1:]])
        paths.append(path)
    return paths


def pen_paths(strokes) -> list[np.ndarray]:
    """A recorded pen trajectory (strokes of (x, y) points in any units, y downwards) in the frame
    ``place`` takes: its bounding box's longer side 20 pixels, centred on (14, 14). A point that
    repeats the one before is left out: a pointer that has not moved sends no touch event, and
    ``digit_from_strokes`` draws the same ink without it."""
    points = np.concatenate([np.asarray(s, np.float64) for s in strokes])
    lo, hi = points.min(axis=0), points.max(axis=0)
    scale = 20 / max(float((hi - lo).max()), 1e-12)
    paths = []
    for stroke in strokes:
        stroke = np.asarray(stroke, np.float64)
        moved = np.concatenate([[True], (np.diff(stroke, axis=0) != 0).any(axis=1)])
        paths.append((stroke[moved] - (lo + hi) / 2) * scale + 14)
    return paths


def place(paths: list[np.ndarray], box: dict, size: float = 0.6,
          centre: tuple[float, float] = (0.5, 0.5)) -> list[np.ndarray]:
    """Page coordinates for ``paths`` drawn in the canvas ``box`` (Playwright's bounding box): the
    digit's 20-pixel box spans ``size`` of the canvas width, centred at ``centre`` (shares of the box)."""
    scale = size * box["width"] / 20
    origin = np.array([box["x"] + centre[0] * box["width"], box["y"] + centre[1] * box["height"]])
    return [(p - 14.0) * scale + origin for p in paths]


def draw_with_mouse(page, paths: list[np.ndarray]) -> None:
    """The mouse along each path, button down (Playwright takes Python floats only, not NumPy integers)."""
    for path in paths:
        page.mouse.move(float(path[0][0]), float(path[0][1]))
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(float(x), float(y))
        page.mouse.up()


def draw_with_touch(page, paths: list[np.ndarray]) -> None:
    """One finger along each path, through the DevTools protocol (Playwright itself only taps)."""
    cdp = page.context.new_cdp_session(page)
    for path in paths:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_touch(path[0])]})
        for point in path[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [_touch(point)]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _touch(point) -> dict:
    return {"x": float(point[0]), "y": float(point[1]), "radiusX": 2, "radiusY": 2, "force": 0.5, "id": 1}


def settled_prediction(page, timeout: float = 10_000) -> str:
    """The page's displayed digit once every stroke has been answered ('' when nothing is drawn)."""
    page.wait_for_function("!net.inFlight && !net.dirty && !net.framePending", timeout=timeout)
    return page.get_by_test_id("prediction").text_content()


def replay(page, strokes_list, device: str) -> list[dict]:
    """Draw each digit of ``strokes_list`` (recorded pen trajectories, see ``pen_paths``) on the page
    with ``device`` ("mouse" or "touch", the page opened with ``DEVICES[device]["page"]``) at the
    device's placements in turn, each on a cleared pad, and read what the page shows once it has
    answered the whole drawing. Per digit: ``digit`` (the displayed text), the ``image`` and
    ``probabilities`` of that answer, and ``points`` (how many points of each stroke the page
    recorded, against ``sent``, how many were drawn)."""
    draw = {"mouse": draw_with_mouse, "touch": draw_with_touch}[device]
    placements = DEVICES[device]["placements"]
    canvas = page.get_by_test_id("canvas")
    results = []
    for k, strokes in enumerate(strokes_list):
        size, centre = placements[k % len(placements)]
        page.evaluate("pad.clear()")
        paths = place(pen_paths(strokes), canvas.bounding_box(), size, centre)
        draw(page, paths)
        # the last pen-up is handled after every move before it; then the answer to the whole drawing
        page.wait_for_function(f"pad.strokes.length === {len(paths)} && pad.drawing === null")
        digit = settled_prediction(page)
        answer = page.evaluate("({image: lastResult.image, probabilities: lastResult.probabilities, "
                               "points: pad.strokes.map(s => s.length)})")
        results.append({"digit": digit, "image": np.array(answer["image"], np.uint8).reshape(28, 28),
                        "probabilities": np.array(answer["probabilities"]), "points": answer["points"],
                        "sent": [len(p) for p in paths]})
    return results
