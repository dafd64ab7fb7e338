"""The HTTP and WebSocket routes of the drawing program. Every route is listed in ``routes()``; a
new view adds its endpoints there and its drawing code to static/app.js.

    GET  /                 the page
    GET  /api/info         model, number of saved corrections, adaptation status
    POST /api/predict      {"strokes": [[[x, y], ...], ...]} or {"image": 28x28 0..255} -> prediction
    POST /api/correct      {"strokes": ..., "label": 7}  -> saves the drawing with its true label
    POST /api/adapt        fine-tune a copy of the model on the corrections (background thread)
    POST /api/reset        back to the model as loaded
    WS   /ws               send {"id": n, "strokes": ...}, receive {"id": n, ...prediction}
    /api/inspect/..., /api/confidence, /api/train/...   the "look inside" and "train live" views
                           (see inspect_routes.py)

Bad input gets a 4xx answer with {"error": "..."} (on the WebSocket, an {"error": ...} message);
bodies and messages above MAX_BODY bytes are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .recognizer import Recognizer

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 1_000_000


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def create_app(model_path: str | Path | None = None, data_dir: str | Path | None = None,
               net=None, adapt_steps: int = 300) -> Starlette:
    """The Starlette app over ``net`` (or the model at ``model_path``; by default the bundled one),
    saving corrections to ``data_dir`` (by default ``corrections.default_directory()``)."""
    from .. import load
    from ..corrections import default_directory

    recognizer = Recognizer(net if net is not None else load(model_path),
                            Path(data_dir) if data_dir is not None else default_directory(), adapt_steps)
    app = Starlette(routes=routes(recognizer), exception_handlers={HTTPException: _http_error})
    app.state.recognizer = recognizer
    return app


def routes(recognizer: Recognizer) -> list:
    from .inspect_routes import inspect_routes  # imports this module's helpers

    async def index(request: Request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def info(request: Request):
        return JSONResponse(recognizer.info())

    async def predict(request: Request):
        body = await _json_body(request)
        if "image" in body:
            return recognizer.predict_image(_image(body["image"]))
        return recognizer.predict_strokes(_field(body, "strokes"))

    async def correct(request: Request):
        body = await _json_body(request)
        label = _field(body, "label")
        if not (isinstance(label, int) and not isinstance(label, bool) and 0 <= label <= 9):
            raise BadRequest(f"label must be a digit 0..9, got {label!r}")
        return recognizer.correct(_field(body, "strokes"), label)

    async def adapt(request: Request):
        return recognizer.start_adapt()

    async def reset(request: Request):
        return recognizer.reset()

    async def websocket(ws: WebSocket):
        await ws.accept()
        try:
            while True:
                text = await ws.receive_text()
                await ws.send_json(_ws_answer(recognizer, text))
        except WebSocketDisconnect:
            pass

    return [
        Route("/", index),
        Route("/api/info", _guarded(info)),
        Route("/api/predict", _guarded(predict), methods=["POST"]),
        Route("/api/correct", _guarded(correct), methods=["POST"]),
        Route("/api/adapt", _guarded(adapt), methods=["POST"]),
        Route("/api/reset", _guarded(reset), methods=["POST"]),
        WebSocketRoute("/ws", websocket),
        *inspect_routes(recognizer),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _guarded(handler):
    """Turn a handler's dict into JSON and its bad-input errors into a 4xx {"error": ...}."""
    async def endpoint(request: Request):
        try:
            result = await handler(request)
        except BadRequest as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        except ValueError as err:
            return JSONResponse({"error": str(err)}, status_code=422)
        return result if isinstance(result, JSONResponse) else JSONResponse(result)
    return endpoint


def _ws_answer(recognizer: Recognizer, text: str) -> dict:
    if len(text) > MAX_BODY:
        return {"error": f"message too large (more than {MAX_BODY} bytes)"}
    try:
        message = json.loads(text)
        if not isinstance(message, dict):
            raise BadRequest("send a JSON object {\"id\": n, \"strokes\": [...]}")
        answer = recognizer.predict_strokes(_field(message, "strokes"))
    except json.JSONDecodeError as err:
        return {"error": f"invalid JSON: {err}"}
    except (BadRequest, ValueError) as err:
        return {"error": str(err), "id": message.get("id") if isinstance(message, dict) else None}
    return {"id": message.get("id"), **answer}


async def _json_body(request: Request) -> dict:
    """The request's JSON object, read up to MAX_BODY bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadRequest(f"request body too large (at most {MAX_BODY} bytes)", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(f"request body too large (at most {MAX_BODY} bytes)", 413)
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadRequest(f"the body must be JSON: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(body).__name__}")
    return body


def _field(body: dict, name: str):
    if name not in body:
        raise BadRequest(f"missing field {name!r}")
    return body[name]


def _image(value) -> np.ndarray:
    """A 28x28 image given as nested lists (or a flat list of 784) of numbers 0..255."""
    try:
        image = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadRequest("image must be 28x28 numbers 0..255") from None
    if image.size != 784 or image.ndim not in (1, 2) or (image.ndim == 2 and image.shape != (28, 28)):
        raise BadRequest(f"image must be 28x28 numbers 0..255, got shape {image.shape}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 255:
        raise BadRequest("image values must be finite numbers in 0..255")
    return np.rint(image).astype(np.uint8).reshape(28, 28)


async def _http_error(request: Request, exc: HTTPException):
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
