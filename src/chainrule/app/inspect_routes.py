"""The routes of the "look inside" and "train live" views (``server.routes`` adds them).

    POST /api/inspect/forward   {"session", "image"}            -> each layer's z, a, b; prediction
    POST /api/inspect/backward  {"session", "image", "label"}   -> loss, deltas, dW, db, dC/dx
    POST /api/inspect/unit      {"session", "layer", "unit", ["off": bool], ["scale": f]} -> the unit
    POST /api/inspect/step      {"session", "image", "label", "eta"} -> loss before and after a step
    POST /api/inspect/reset     {"session"}                     -> a fresh lab copy of the model
    GET  /api/confidence                                        -> answered share and accuracy by threshold
    POST /api/train/start       {training settings}             -> starts the one run of this server
    POST /api/train/pause|resume|stop|use                       -> controls it; "use" gives it to the pad
    GET  /api/train/status?since=n                              -> state and reports from report n on
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from . import look_inside
from .recognizer import Recognizer
from .requests import (MAX_DIGITS, BadRequest, Workers, ascii_digits, field, guarded, image, in_worker,
                       json_body, label)
from .training_session import TrainingSession


def inspect_routes(recognizer: Recognizer, workers: Workers) -> list:
    labs = look_inside.Labs(lambda: recognizer.net)
    coverage = look_inside.Coverage()
    training = TrainingSession()

    def lab_and_image(body: dict):
        return labs.get(field(body, "session")), image(field(body, "image"))

    def forward(body: dict) -> dict:
        return look_inside.forward(*lab_and_image(body))

    def backward(body: dict) -> dict:
        return look_inside.backward(*lab_and_image(body), label(body))

    def unit(body: dict) -> dict:
        lab = labs.get(field(body, "session"))
        layer, index = field(body, "layer"), field(body, "unit")
        if "off" in body or "scale" in body:
            off = body.get("off")
            if off is not None and not isinstance(off, bool):
                raise BadRequest(f"off must be true or false, got {off!r}")
            lab.edit(layer, index, off=off, scale=body.get("scale"))
        return {**look_inside.unit(lab, layer, index), "edits": lab.edits()}

    def step(body: dict) -> dict:
        return look_inside.step(*lab_and_image(body), label(body), field(body, "eta"))

    def reset(body: dict) -> dict:
        return {"edits": labs.reset(field(body, "session")).edits()}

    async def confidence(request: Request):  # 10,000 predictions: heavy, so it never holds every worker
        return await workers.run(coverage.of, recognizer.net, heavy=True)

    async def train_start(request: Request):
        return training.start(await json_body(request))

    async def train_status(request: Request):
        since = request.query_params.get("since", "0")
        if not (ascii_digits(since) and len(since) <= MAX_DIGITS):
            raise BadRequest(f"since must be a report number >= 0 in ASCII digits, got {since[:40]!r}")
        return training.status(int(since))

    async def train_use(request: Request):
        return recognizer.use(training.trained_model(), f"drawing with the live-trained model (step {training.step})")

    def control(action):
        async def endpoint(request: Request):
            return await run_in_threadpool(action)
        return endpoint

    post = ["POST"]
    return [
        Route("/api/inspect/forward", in_worker(workers, forward), methods=post),
        Route("/api/inspect/backward", in_worker(workers, backward), methods=post),
        Route("/api/inspect/unit", in_worker(workers, unit), methods=post),
        Route("/api/inspect/step", in_worker(workers, step), methods=post),
        Route("/api/inspect/reset", in_worker(workers, reset), methods=post),
        Route("/api/confidence", guarded(confidence)),
        Route("/api/train/start", guarded(train_start), methods=post),
        Route("/api/train/pause", guarded(control(training.pause)), methods=post),
        Route("/api/train/resume", guarded(control(training.resume)), methods=post),
        Route("/api/train/stop", guarded(control(training.stop)), methods=post),
        Route("/api/train/use", guarded(train_use), methods=post),
        Route("/api/train/status", guarded(train_status)),
    ]

