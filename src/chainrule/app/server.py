"""The HTTP and WebSocket routes of the drawing program. Every route is listed in ``routes()``; a
new view adds its endpoints there and its drawing code to static/app.js.

    GET  /                 the page
    GET  /api/info         model, number of saved corrections, adaptation status, the LAN link
    GET  /api/share.svg    in LAN mode, the link for other devices (with its token) as a QR code
    POST /api/predict      {"strokes": [[[x, y], ...], ...]} or {"image": 28x28 0..255} -> prediction
    POST /api/correct      {"strokes": ..., "label": 7}  -> saves the drawing with its true label
    POST /api/uncorrect    {"saved": name} -> removes a correction this server process saved (a mis-click)
    POST /api/adapt        fine-tune a copy of the model on the corrections (background thread)
    POST /api/reset        back to the model as loaded
    WS   /ws               send {"id": n, "strokes": ...}, receive {"id": n, ...prediction}; the id, echoed
                           in the answer, is an integer within +-2^53 or a string of at most 64 characters
    /api/inspect/..., /api/confidence, /api/train/...   the "look inside" and "train live" views
                           (see inspect_routes.py, over look_inside.py and training_session.py)

Who may call them is ``access.Guard``'s to decide; how a body is read, ``requests``'. Bad input gets
a 4xx answer with {"error": "..."} (on the WebSocket, an {"error": ...} message; a binary message
is answered and the socket closed). Model work runs in ``requests.Workers``, never on the event loop,
and each WebSocket has one message in work at a time."""

from __future__ import annotations

import io
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import load
from ..corrections import default_directory
from .access import Access, Guard
from .inspect_routes import inspect_routes
from .recognizer import Recognizer
from .requests import (HEAVY, BadRequest, Workers, error_response, field, guarded, image, in_worker, label,
                       parse_json, strokes)

STATIC = Path(__file__).resolve().parent / "static"


def create_app(model_path: str | Path | None = None, data_dir: str | Path | None = None,
               net=None, adapt_steps: int = 300, access: Access | None = None) -> Starlette:
    """The Starlette app over ``net`` (or the model at ``model_path``; by default the bundled one),
    saving corrections to ``data_dir`` (by default ``corrections.default_directory()``), serving
    whom ``access`` allows (by default this machine only)."""
    recognizer = Recognizer(net if net is not None else load(model_path),
                            Path(data_dir) if data_dir is not None else default_directory(), adapt_steps)
    access = access or Access()
    app = Starlette(routes=routes(recognizer, access, Workers()), exception_handlers={HTTPException: _http_error},
                    middleware=[Middleware(Guard, access=access)])
    app.state.recognizer = recognizer
    return app


def routes(recognizer: Recognizer, access: Access, workers: Workers) -> list:
    async def index(request: Request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def info(request: Request):
        return {**recognizer.info(), "share": access.share_url(request.url.port or 80)}

    async def share(request: Request):
        url = access.share_url(request.url.port or 80)
        if url is None:
            raise BadRequest("there is no link to share: start the server with --host 0.0.0.0 for other devices", 404)
        return Response(_qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    def predict(body: dict) -> dict:
        if "image" in body:
            return recognizer.predict_image(image(body["image"]))
        return recognizer.predict_strokes(strokes(field(body, "strokes")))

    def correct(body: dict) -> dict:
        return recognizer.correct(strokes(field(body, "strokes")), label(body))

    def uncorrect(body: dict) -> dict:
        name = field(body, "saved")
        if type(name) is not str:
            raise BadRequest(f"saved must be the file name /api/correct answered, got {type(name).__name__}")
        try:
            return recognizer.uncorrect(name)
        except LookupError as err:
            raise BadRequest(str(err), 404) from None

    async def adapt(request: Request):
        return recognizer.start_adapt()

    async def reset(request: Request):
        return recognizer.reset()

    async def websocket(ws: WebSocket):
        await ws.accept()
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is None:
                    await ws.send_json({"error": "send JSON text messages, not binary ones"})
                    return await ws.close(1003, "binary messages are not accepted")
                await ws.send_text(await _ws_answer(recognizer, workers, message["text"]))
        except WebSocketDisconnect:
            pass

    return [
        Route("/", index),
        Route("/api/info", guarded(info)),
        Route("/api/share.svg", guarded(share)),
        Route("/api/predict", in_worker(workers, predict), methods=["POST"]),
        Route("/api/correct", in_worker(workers, correct), methods=["POST"]),
        Route("/api/uncorrect", in_worker(workers, uncorrect), methods=["POST"]),
        Route("/api/adapt", guarded(adapt), methods=["POST"]),
        Route("/api/reset", guarded(reset), methods=["POST"]),
        WebSocketRoute("/ws", websocket),
        *inspect_routes(recognizer, workers),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


async def _ws_answer(recognizer: Recognizer, workers: Workers, text: str) -> str:
    """The JSON text answering one WebSocket message: strict JSON (no NaN or Infinity, which the
    page's JSON.parse would refuse)."""
    def answer() -> str:
        message_id = None
        try:
            message = parse_json(text)
            message_id = _message_id(message)
            reply = {"id": message_id, **recognizer.predict_strokes(strokes(field(message, "strokes")))}
            return json.dumps(reply, allow_nan=False)
        except (BadRequest, ValueError, OverflowError) as err:
            return json.dumps({"error": " ".join(str(err).split()), "id": message_id})

    try:
        return await workers.run(answer, heavy=len(text) > HEAVY)
    except BadRequest as err:  # the workers are busy
        return json.dumps({"error": str(err), "id": None})


def _message_id(message: dict) -> int | str | None:
    """The message's "id": an integer JavaScript holds exactly (within +-2^53) or a short string."""
    value = message.get("id")
    if value is None or (type(value) is int and abs(value) <= 2**53) or (type(value) is str and len(value) <= 64):
        return value
    raise BadRequest(f"id must be an integer within +-2^53 or a string of at most 64 characters, "
                     f"got {type(value).__name__} {json.dumps(value, allow_nan=True)[:40]}")


def _qr_svg(url: str) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=6, border=2, xmldecl=False,
                                    title="link for other devices")
    return buffer.getvalue()


async def _http_error(request: Request, exc: HTTPException):
    return error_response(str(exc.detail), exc.status_code)
