"""Reading a request of the drawing server as hostile: every body is bounded in size and in nesting
depth before it is parsed, parsed into plain JSON (UTF-8 only; no NaN, no Infinity, no number of more
than MAX_DIGITS digits in a row), and every number a route takes must be a JSON integer or float
(never a boolean or a string). A body must arrive within BODY_SECONDS. Anything else is a
``BadRequest``, which the routes answer with a 4xx and {"error": "<one line>"}. Model work runs in a
small pool of worker threads (``Workers``) so that the event loop, and with it every other client, is
never blocked by one request."""

from __future__ import annotations

import json
import os
import re
from functools import partial
from typing import Any, Awaitable, Callable

import anyio
import numpy as np
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

MAX_BODY = 1_000_000  # bytes of an HTTP body or a WebSocket message
MAX_DEPTH = 8  # nesting of JSON arrays and objects; the deepest real request (strokes) has 4
MAX_DIGITS = 18  # in a row, in a number's integer part or exponent: an int64 holds 18 digits
BODY_SECONDS = 10  # to send a body of at most MAX_BODY bytes, which a slow phone link does in a second or two
MAX_WAITING = 32  # model jobs queued for a worker beyond which a request gets 429 "busy"
HEAVY = 64_000  # bytes: a body this large (a drawing of thousands of points) is a heavy job
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NUMBERS = (int, float)  # type(v) in ...: bool is a subclass of int, and is refused


class BadRequest(Exception):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_json(data: bytes | str) -> dict:
    """The JSON object in ``data``: at most MAX_BODY bytes of UTF-8, nested at most MAX_DEPTH deep
    and with no number whose integer part or exponent has more than MAX_DIGITS digits, all checked
    on the text before parsing, so that no parser recursion or giant number can be driven from
    outside; NaN and Infinity are refused. Only UTF-8 is read: ``json.loads`` would also decode
    UTF-16 and UTF-32 bytes, whose digits the byte-wise checks do not see as digits in a row."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_BODY:
        raise BadRequest(f"request too large (at most {MAX_BODY} bytes)", 413)
    try:
        text = data if isinstance(data, str) else raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(f"invalid JSON: the body must be UTF-8 text ({err.reason} at byte {err.start})") from None
    codes = np.frombuffer(_STRINGS.sub(b'""', raw), np.uint8)  # emptied strings cannot nest or hold numbers
    if nesting_depth(codes) > MAX_DEPTH:
        raise BadRequest(f"JSON nested too deep (at most {MAX_DEPTH} levels)")
    if (digits := longest_digit_run(codes)) > MAX_DIGITS:
        raise BadRequest(f"number too long ({digits} digits in a row; at most {MAX_DIGITS})")
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise BadRequest(f"invalid JSON: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(body).__name__}")
    return body


def nesting_depth(codes: np.ndarray) -> int:
    """The deepest nesting of [ and { in the bytes ``codes`` of JSON text whose strings were emptied
    (an unterminated string is counted as text, which can only overestimate)."""
    step = (codes == ord("[")).view(np.int8) + (codes == ord("{")).view(np.int8)  # +1 opens, -1 closes
    step -= (codes == ord("]")).view(np.int8)
    step -= (codes == ord("}")).view(np.int8)
    return int(np.cumsum(step[step != 0], dtype=np.int64).max(initial=0))  # the depth after each bracket


def longest_digit_run(codes: np.ndarray) -> int:
    """The most decimal digits in a row in the bytes ``codes``, not counting a fraction (a run right
    after "."): only the integer part and the exponent make a number big, while a float such as
    0.0044017862683820574 has 19 digits after the point. Runs begin and end where the digit indicator
    (padded with a non-digit on both sides) changes."""
    digit = np.zeros(len(codes) + 2, bool)
    digit[1:-1] = (codes >= ord("0")) & (codes <= ord("9"))
    change = digit[1:] != digit[:-1]
    starts = np.flatnonzero(change & digit[1:])  # the index of each run's first digit in codes
    ends = np.flatnonzero(change & digit[:-1])  # and one past its last
    fraction = (starts > 0) & (codes[np.maximum(starts - 1, 0)] == ord("."))
    return int((ends - starts)[~fraction].max(initial=0))


def _refuse_constant(name: str):
    raise BadRequest(f"numbers must be finite, got {name}")


async def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 as soon as it passes MAX_BODY bytes (declared or streamed) and
    with 408 if it has not all arrived BODY_SECONDS after the request began: a client that stops
    sending would otherwise hold its connection and buffers for ever."""
    declared = request.headers.get("content-length")
    if declared is not None and (not ascii_digits(declared) or int(declared) > MAX_BODY):
        raise BadRequest(f"request body too large (at most {MAX_BODY} bytes)", 413)
    chunks, size = [], 0
    try:
        with anyio.fail_after(BODY_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise BadRequest(f"request body too large (at most {MAX_BODY} bytes)", 413)
                chunks.append(chunk)
    except TimeoutError:
        raise BadRequest(f"the request body did not arrive within {BODY_SECONDS} s", 408) from None
    except ClientDisconnect:
        raise BadRequest("the client went away before sending the whole body") from None
    return b"".join(chunks)


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is a non-negative decimal integer in ASCII digits (str.isdigit also takes
    "²" and "٣", on which int() fails or which no client means)."""
    return text.isascii() and text.isdigit()


async def json_body(request: Request) -> dict:
    """The request's JSON object (``read_body``, then ``parse_json``)."""
    return parse_json(await read_body(request))


def field(body: dict, name: str):
    if name not in body:
        raise BadRequest(f"missing field {name!r}")
    return body[name]


def label(body: dict) -> int:
    """The body's "label": a digit 0..9 as a JSON integer (not 7.0, "7" or true)."""
    value = field(body, "label")
    if type(value) is not int or not 0 <= value <= 9:
        raise BadRequest(f"label must be a digit 0..9, got {value!r}")
    return value


def strokes(value) -> list:
    """Pen strokes as JSON gives them, checked to be lists of points of plain numbers; the rest
    (shape, finiteness, range, the number of points) is ``preprocessing.parse_strokes``'s."""
    if not isinstance(value, list):
        raise BadRequest(f"strokes must be a list of strokes (lists of [x, y] points), got {type(value).__name__}", 422)
    for i, stroke in enumerate(value):
        if not (isinstance(stroke, list) and all(type(point) is list for point in stroke)
                and {type(v) for point in stroke for v in point} <= set(_NUMBERS)):
            raise BadRequest(f"stroke {i} must be a list of [x, y] points of numbers", 422)
    return value


def image(value) -> np.ndarray:
    """A 28x28 image given as nested lists (or a flat list of 784) of numbers 0..255."""
    rows = value if isinstance(value, list) and all(type(row) is list for row in value) else [value]
    if not all(isinstance(row, list) and {type(v) for v in row} <= set(_NUMBERS) for row in rows):
        raise BadRequest("image must be 28x28 numbers 0..255")
    try:
        image = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise BadRequest("image values must be finite numbers in 0..255") from None
    except ValueError:  # rows of different lengths
        raise BadRequest("image must be 28x28 numbers 0..255, in rows of equal length") from None
    if image.size != 784 or image.ndim not in (1, 2) or (image.ndim == 2 and image.shape != (28, 28)):
        raise BadRequest(f"image must be 28x28 numbers 0..255, got shape {image.shape}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 255:
        raise BadRequest("image values must be finite numbers in 0..255")
    return np.rint(image).astype(np.uint8).reshape(28, 28)


class Workers:
    """The bounded pool that runs model work (preprocessing, predictions, saving) off the event
    loop: at most ``size`` jobs at once, heavy ones (bodies over HEAVY bytes) one at a time and for at
    most half of the time, so that they never hold every worker nor the interpreter lock, and at
    most MAX_WAITING jobs queued in each lane before requests are refused with 429, so that a flood
    costs its sender, not everyone."""

    def __init__(self, size: int | None = None) -> None:
        self.limiter = anyio.CapacityLimiter(size or max(2, min(4, os.cpu_count() or 1)))
        self.heavy = anyio.CapacityLimiter(1)
        self.heavy_rests_until = 0.0  # anyio.current_time() before which no heavy job starts

    async def run(self, function: Callable, *args: Any, heavy: bool = False):
        for lane in (self.heavy, self.limiter) if heavy else (self.limiter,):
            stats = lane.statistics()
            if stats.borrowed_tokens >= stats.total_tokens and stats.tasks_waiting >= MAX_WAITING:
                raise BadRequest("the server is busy: try again in a moment", 429)
        if heavy:
            async with self.heavy:
                # after each heavy job the lane rests as long as the job ran: heavy jobs get at most
                # half of the time, however cheap each one is, and the rest is left to the others (a
                # worker thread parsing a large body holds the interpreter lock while it does)
                await anyio.sleep_until(self.heavy_rests_until)
                started = anyio.current_time()
                try:
                    return await anyio.to_thread.run_sync(partial(function, *args), limiter=self.limiter)
                finally:
                    self.heavy_rests_until = 2 * anyio.current_time() - started
        return await anyio.to_thread.run_sync(partial(function, *args), limiter=self.limiter)


def guarded(handler: Callable[[Request], Awaitable]) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Turn a handler's dict into JSON (a Response passes as it is) and its bad-input errors into a
    4xx {"error": ...}."""
    async def endpoint(request: Request) -> JSONResponse:
        try:
            result = await handler(request)
        except BadRequest as err:
            return error_response(str(err), err.status)
        except OverflowError as err:  # an integer too large for a float, where a number is converted
            return error_response(f"a number is out of range ({err})", 400)
        except ValueError as err:
            return error_response(str(err), 422)
        except OSError as err:  # the data folder: full, gone, not writable (the write itself is atomic)
            return error_response(f"the server could not save or read its files: {err.strerror or err}", 500)
        if isinstance(result, Response):
            return result
        try:
            return JSONResponse(result)
        except ValueError:  # JSON has no NaN or Infinity, and JSONResponse refuses them
            return error_response("the answer holds NaN or infinite numbers, which JSON cannot carry: "
                                  "the model overflows on this input", 422)
    return endpoint


def in_worker(workers: Workers, answer: Callable[[dict], dict]) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A POST endpoint whose body is read on the event loop (bounded) and parsed, checked and
    answered by ``answer(body: dict) -> dict`` in a worker thread."""
    async def handler(request: Request):
        raw = await read_body(request)
        return await workers.run(lambda: answer(parse_json(raw)), heavy=len(raw) > HEAVY)
    return guarded(handler)


def error_response(message: str, status: int) -> JSONResponse:
    """{"error": message} on one line."""
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)
