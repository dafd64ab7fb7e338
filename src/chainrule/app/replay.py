"""Replaying pen paths through the drawing page in a real browser (Playwright), for the browser tests
and the drawn-digit benchmark: a server in a background thread, digit images turned into pen paths,
and mouse or touch input along those paths."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ..preprocessing import skeleton_strokes, skeletonize


@contextmanager
def running_server(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a background thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning"))
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


def place(paths: list[np.ndarray], box: dict, size: float = 0.6, centre: tuple[float, float] = (0.5, 0.5)) -> list[np.ndarray]:
    """Page coordinates for ``paths`` drawn in the canvas ``box`` (Playwright's bounding box): the
    digit's 20-pixel box spans ``size`` of the canvas width, centred at ``centre`` (shares of the box)."""
    scale = size * box["width"] / 20
    origin = np.array([box["x"] + centre[0] * box["width"], box["y"] + centre[1] * box["height"]])
    return [(p - 14.0) * scale + origin for p in paths]


def draw_with_mouse(page, paths: list[np.ndarray]) -> None:
    for path in paths:
        page.mouse.move(*path[0])
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(x, y)
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
