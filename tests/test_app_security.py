"""The drawing server under attack: cross-site and rebinding requests, LAN mode and its token,
hostile bodies and WebSocket frames (issue 15's probes, one test each). All traffic goes to
127.0.0.1; a LAN address is only ever a Host header sent over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")
from starlette.testclient import WebSocketDenialResponse  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from chainrule.app import create_app  # noqa: E402
from chainrule.app.access import Access  # noqa: E402
from chainrule.app.requests import MAX_DEPTH  # noqa: E402

LAN = "192.0.2.2"  # a documentation address (RFC 5737): only ever a Host header here
STROKES = [[[0, 0], [10, 10], [20, 0]], [[10, 0], [10, 30]]]
WRITES = {
    "/api/correct": {"strokes": STROKES, "label": 4},
    "/api/uncorrect": {"saved": "0-4-00000000.npz"},
    "/api/adapt": {},
    "/api/reset": {},
    "/api/train/start": {"steps": 10},
    "/api/train/use": {},
    "/api/inspect/reset": {"session": "s"},
}


@pytest.fixture()
def data_dir(tmp_path):
    return tmp_path / "corrections"


@pytest.fixture()
def app(digit_model, data_dir):
    return create_app(net=digit_model, data_dir=data_dir, adapt_steps=5)


@pytest.fixture()
def client(app, local_client):
    with local_client(app) as c:
        yield c


def saved(data_dir) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error and "\n" not in error
    return error


# ---- cross-site writes and DNS rebinding ----------------------------------------------------------
def test_the_issues_cross_site_text_plain_post_saves_nothing(client, data_dir):
    """curl -X POST 127.0.0.1:8765/api/correct -H 'Origin: http://evil.example' -H 'Host: evil.example'
    -H 'Content-Type: text/plain' --data '{"strokes": ..., "label": 4}' saved a file."""
    body = json.dumps(WRITES["/api/correct"])
    for headers in ({"Origin": "http://evil.example", "Host": "evil.example", "Content-Type": "text/plain"},
                    {"Origin": "http://evil.example", "Content-Type": "text/plain"},
                    {"Origin": "http://evil.example", "Content-Type": "application/json"},
                    {"Origin": "null", "Content-Type": "application/json"},
                    {"Origin": "http://127.0.0.1:9999", "Content-Type": "application/json"},  # another local port
                    {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}):
        one_line_error(client.post("/api/correct", content=body, headers=headers), 403)
    error = one_line_error(client.post("/api/correct", content=body, headers={"Content-Type": "text/plain"}), 415)
    assert "application/json" in error
    assert saved(data_dir) == []
    assert client.post("/api/correct", content=body, headers={"Content-Type": "application/json; charset=utf-8",
                                                              "Origin": "http://127.0.0.1:8765"}).status_code == 200
    assert len(saved(data_dir)) == 1


@pytest.mark.parametrize("path", sorted(WRITES))
def test_no_write_starts_without_json_or_from_another_origin(client, path):
    body = json.dumps(WRITES[path])
    one_line_error(client.post(path, content=body, headers={"Content-Type": "text/plain"}), 415)
    one_line_error(client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    one_line_error(client.post(path, content=body, headers={"Content-Type": "application/json",
                                                            "Origin": "https://evil.example"}), 403)
    status = client.get("/api/train/status").json()
    assert status["state"] == "idle" and client.get("/api/info").json()["adapt"]["state"] == "idle"


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css", "/api/info", "/api/confidence",
                                  "/api/train/status", "/api/share.svg", "/api/nothing"])
def test_every_route_refuses_a_foreign_host_with_403_and_one_line_of_json(client, path):
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil.example:8765", ""):
        error = one_line_error(client.get(path, headers={"Host": host}), 403)
        assert "Host" in error
    one_line_error(client.get(path, headers={"Sec-Fetch-Site": "cross-site"}), 403)
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765"):
        assert client.get(path, headers={"Host": host}).status_code != 403


def test_the_page_loads_from_every_localhost_name(client):
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765"):
        page = client.get("/", headers={"Host": host, "Sec-Fetch-Site": "none"})
        assert page.status_code == 200 and 'data-testid="canvas"' in page.text


def test_the_websocket_refuses_other_origins_and_hosts(client):
    for headers in ({"Origin": "http://evil.example"}, {"Host": "evil.example:8765"},
                    {"Host": "evil.example:8765", "Origin": "http://evil.example:8765"}):
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect("ws://127.0.0.1:8765/ws", headers=headers):
                pass
        assert refused.value.status_code == 403 and "error" in json.loads(refused.value.content)
    with client.websocket_connect("ws://127.0.0.1:8765/ws", headers={"Origin": "http://127.0.0.1:8765"}) as ws:
        ws.send_text(json.dumps({"id": 1, "strokes": STROKES}))
        assert ws.receive_json()["id"] == 1


# ---- LAN mode ---------------------------------------------------------------------------------------
@pytest.fixture()
def lan(digit_model, data_dir, local_client):
    access = Access.lan([LAN])
    with local_client(create_app(net=digit_model, data_dir=data_dir, access=access)) as c:
        yield c, access


def test_lan_mode_needs_the_token_except_from_this_machine_by_its_local_name(lan, digit_model, data_dir):
    client, access = lan
    host = {"Host": f"{LAN}:8765"}
    assert len(access.token) >= 20
    for path in ("/", "/static/app.js", "/api/info"):
        assert "token" in one_line_error(client.get(path, headers=host), 403)
        one_line_error(client.get(path + "?token=wrong", headers=host), 403)
        assert client.get(path, headers={"Host": "127.0.0.1:8765"}).status_code == 200  # loopback peer, local Host
    body = json.dumps(WRITES["/api/correct"])
    json_type = {**host, "Content-Type": "application/json"}
    one_line_error(client.post("/api/correct", content=body, headers=json_type), 403)
    assert saved(data_dir) == []
    authorised = client.post("/api/correct", content=body,
                             headers={**json_type, "Authorization": f"token {access.token}"})
    assert authorised.status_code == 200 and len(saved(data_dir)) == 1
    undo = json.dumps({"saved": authorised.json()["saved"]})
    one_line_error(client.post("/api/uncorrect", content=undo, headers=json_type), 403)
    assert len(saved(data_dir)) == 1  # only the token takes a correction back, as only the token saves one
    assert client.post("/api/uncorrect", content=undo,
                       headers={**json_type, "Authorization": f"token {access.token}"}).status_code == 200
    assert saved(data_dir) == []
    with pytest.raises(WebSocketDenialResponse):
        with client.websocket_connect(f"ws://{LAN}:8765/ws", headers=host):
            pass


def test_lan_mode_from_another_device_with_the_token_link(lan, local_client, digit_model):
    """A phone opens http://LAN:8765/?token=...: the page is served and a cookie keeps the token
    for the page's own requests, the WebSocket included. Without the token, even a loopback peer
    naming the LAN address is refused, and so is a foreign peer naming localhost."""
    _, access = lan
    app = create_app(net=digit_model, data_dir="/nonexistent-corrections", access=access)
    with local_client(app) as phone:
        phone.headers["Host"] = f"{LAN}:8765"
        first = phone.get(f"/?token={access.token}")
        assert first.status_code == 200 and "HttpOnly" in first.headers["set-cookie"]
        assert "SameSite=Strict" in first.headers["set-cookie"]
        phone.cookies.set("chainrule-token-8765", access.token)
        assert phone.get("/static/app.js").status_code == 200
        assert phone.get("/api/info").json()["share"] == f"http://{LAN}:8765/?token={access.token}"
        cookie = {"Host": f"{LAN}:8765", "Cookie": f"chainrule-token-8765={access.token}"}
        with phone.websocket_connect(f"ws://{LAN}:8765/ws", headers=cookie) as ws:
            ws.send_text(json.dumps({"id": 3, "strokes": STROKES}))
            assert ws.receive_json()["id"] == 3
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1:8765", client=("192.0.2.7", 50000)) as stranger:
        assert "token" in one_line_error(stranger.get("/api/info"), 403)
        assert stranger.get(f"/api/info?token={access.token}").status_code == 200


def test_the_page_shows_the_lan_link_as_a_qr_code_made_here(lan):
    import io

    import segno

    client, access = lan
    svg = client.get("/api/share.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    expected = io.BytesIO()
    segno.make(f"http://{LAN}:8765/?token={access.token}", error="m").save(
        expected, kind="svg", scale=6, border=2, xmldecl=False, title="link for other devices")
    assert svg.content == expected.getvalue()
    assert b"href" not in svg.content and b"<image" not in svg.content  # drawn here: nothing to fetch


def test_without_lan_mode_there_is_no_link_to_share(client):
    assert client.get("/api/info").json()["share"] is None
    one_line_error(client.get("/api/share.svg"), 404)


def test_draw_picks_lan_mode_for_every_address_but_loopback():
    from chainrule.cli.draw import access_for

    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert access_for(host).token is None
    wildcard = access_for("0.0.0.0")
    assert wildcard.token and wildcard.any_address and wildcard.host_allowed("10.1.2.3")
    assert not wildcard.host_allowed("evil.example")
    named = access_for(LAN)
    assert named.token and named.hosts == (LAN,) and not named.host_allowed("10.1.2.3")
    assert access_for(LAN).token != named.token  # fresh for every start


def test_draw_prints_the_link_with_its_token(capsys):
    import argparse
    from types import SimpleNamespace

    from chainrule.cli.draw import _announce

    access = Access.lan([LAN], any_address=True)
    sockname = SimpleNamespace(getsockname=lambda: ("0.0.0.0", 8123))
    server = SimpleNamespace(started=True, should_exit=False, servers=[SimpleNamespace(sockets=[sockname])])
    _announce(server, argparse.Namespace(host="0.0.0.0", no_browser=True), access)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/" in out and f"http://{LAN}:8123/?token={access.token}" in out


def test_draw_stopped_as_it_starts_announces_nothing_and_raises_nothing(capsys):
    import argparse
    from types import SimpleNamespace

    from chainrule.cli.draw import _announce

    # a signal right after startup: uvicorn has set started but already closed its listening sockets
    server = SimpleNamespace(started=True, should_exit=True, servers=[SimpleNamespace(sockets=())])
    _announce(server, argparse.Namespace(host="127.0.0.1", no_browser=True), Access())
    assert capsys.readouterr().out == ""


# ---- hostile bodies -----------------------------------------------------------------------------------
def post(client, path, raw: bytes | str):
    return client.post(path, content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/predict", "/api/correct", "/api/inspect/forward", "/api/train/start"])
def test_json_nested_100000_deep_is_refused_before_parsing(client, path):
    for raw in ("[" * 100_000 + "]" * 100_000, '{"strokes": ' + "[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        assert "too deep" in one_line_error(post(client, path, raw), 400)
    ok = '{"strokes": [[[1, 2]]], "x": "' + "[" * 10_000 + '"}'  # brackets inside a string are text
    assert post(client, "/api/predict", ok).status_code == 200
    assert MAX_DEPTH >= 4


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80).map(lambda b: bytes(b"[]{}0123456789.e-,x"[k % 19] for k in b)))
def test_the_body_checks_agree_with_their_definitions(text):
    """nesting_depth and longest_digit_run (vectorised) against a walk over the bytes: the deepest
    running count of [{ minus ]}, and the longest run of digits not right after a "."."""
    from chainrule.app.requests import longest_digit_run, nesting_depth

    depth = deepest = run = longest = 0
    fraction = False
    for k, byte in enumerate(text):
        depth += (byte in b"[{") - (byte in b"]}")
        deepest = max(deepest, depth)
        if chr(byte).isdigit():
            fraction = fraction if run else k > 0 and text[k - 1] == ord(".")
            run += 1
            longest = longest if fraction else max(longest, run)
        else:
            run = 0
    codes = np.frombuffer(text, np.uint8)
    assert nesting_depth(codes) == deepest and longest_digit_run(codes) == longest


def test_a_401_digit_integer_is_a_400(client, data_dir):
    big = "9" * 401
    for path, raw in (("/api/predict", f'{{"strokes": [[[{big}, 1]]]}}'),
                      ("/api/predict", f'{{"image": [{big}]}}'),
                      ("/api/correct", f'{{"strokes": [[[1, 2]]], "label": {big}}}'),
                      ("/api/inspect/unit", f'{{"session": "a", "layer": 0, "unit": {big}}}')):
        assert "number too long" in one_line_error(post(client, path, raw), 400)
    assert saved(data_dir) == []


@pytest.mark.parametrize("strokes", [
    [[["7", 1], [2, 3]]], [[[True, 1], [2, 3]]], [[[1, 2], [False, 3]]], [[[None, 1]]], [[{"x": 1, "y": 2}]],
    [[[1, 2], "3,4"]], [[[1, [2]]]], "[[1, 2]]",
])
def test_strings_and_booleans_are_not_numbers(client, data_dir, strokes):
    for path in ("/api/predict", "/api/correct"):
        response = client.post(path, json={"strokes": strokes, "label": 4})
        assert 400 <= response.status_code < 500 and "\n" not in response.json()["error"]
    for label in ("7", True, 7.0, None):
        one_line_error(client.post("/api/correct", json={"strokes": STROKES, "label": label}), 400)
    image = [[0] * 28 for _ in range(28)]
    image[3][4] = True
    one_line_error(client.post("/api/predict", json={"image": image}), 400)
    image[3][4] = "255"
    one_line_error(client.post("/api/predict", json={"image": image}), 400)
    assert saved(data_dir) == []


@pytest.mark.parametrize("coordinate", ["1e308", "-1e308", "1e400", "Infinity", "NaN", "2e6"])
def test_coordinates_out_of_range_save_nothing(client, data_dir, coordinate):
    """Strokes at 1e308 used to save a blank image under a label."""
    raw = f'{{"strokes": [[[0, 0], [{coordinate}, 5]]], "label": 3}}'
    response = post(client, "/api/correct", raw)
    assert 400 <= response.status_code < 500 and "\n" not in response.json()["error"]
    assert post(client, "/api/predict", raw).status_code in (400, 422)
    assert saved(data_dir) == []


def test_a_binary_websocket_frame_gets_an_error_and_a_proper_close(client):
    with client.websocket_connect("ws://127.0.0.1:8765/ws") as ws:
        ws.send_text(json.dumps({"id": 1, "strokes": STROKES}))
        assert ws.receive_json()["id"] == 1
        ws.send_bytes(b'{"id": 2, "strokes": []}')
        assert "binary" in ws.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1003
    with client.websocket_connect("ws://127.0.0.1:8765/ws") as ws:  # the server goes on
        ws.send_text("[" * 100_000)
        assert "too deep" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"id": 5, "strokes": STROKES}))
        assert ws.receive_json()["id"] == 5


def test_the_worker_pool_refuses_with_429_beyond_its_queue():
    import anyio

    from chainrule.app.requests import MAX_WAITING, BadRequest, Workers

    release = threading.Event()
    outcomes = []

    async def main():
        workers = Workers(size=1)

        async def job():
            try:
                outcomes.append(await workers.run(release.wait, 10))
            except BadRequest as err:
                outcomes.append(err.status)

        async with anyio.create_task_group() as group:
            for _ in range(MAX_WAITING + 3):
                group.start_soon(job)
                await anyio.sleep(0.001)
            await anyio.sleep(0.05)
            release.set()

    runner = threading.Thread(target=anyio.run, args=(main,))  # its own thread: Playwright may own this one's loop
    runner.start()
    runner.join(30)
    assert outcomes.count(429) == 2 and outcomes.count(True) == MAX_WAITING + 1


def test_heavy_jobs_get_at_most_half_of_the_time_and_light_jobs_pass_them():
    """After a heavy job (a large body) the heavy lane rests as long as the job ran, so a client
    sending heavy jobs back to back holds a worker at most half of the time; a light job waits for
    no rest."""
    from functools import partial

    import anyio

    from chainrule.app.requests import Workers

    spans = {"heavy": [], "light": []}

    def job(kind: str, seconds: float) -> None:
        started = time.monotonic()
        time.sleep(seconds)
        spans[kind].append((started, time.monotonic()))

    async def main():
        workers = Workers(size=2)
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(partial(workers.run, job, "heavy", 0.2, heavy=True))
            await anyio.sleep(0.3)  # the first heavy job has run, the lane rests
            group.start_soon(workers.run, job, "light", 0.0)

    runner = threading.Thread(target=anyio.run, args=(main,))  # its own thread: Playwright may own this one's loop
    runner.start()
    runner.join(30)
    heavy = sorted(spans["heavy"])
    assert len(heavy) == 3
    for (start, end), (next_start, _) in zip(heavy, heavy[1:]):
        assert next_start - end >= (end - start) - 0.01  # rested as long as the job before ran
    (light_start, _), = spans["light"]
    assert light_start < heavy[1][0]  # started during the rest, not after the next heavy job


# ---- chainrule draw restarts at once ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_draw(port: int, data_dir) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "chainrule", "draw", "--no-browser", "--port", str(port),
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_draw_restarts_at_once_on_the_same_port(tmp_path):
    """After one served connection the port sits in TIME_WAIT; the old probe bind without
    SO_REUSEADDR said "Address already in use" for about a minute."""
    import httpx2

    port = _free_port()
    first = _start_draw(port, tmp_path)
    with httpx2.Client() as http:  # kept open, so the server closes the connection: TIME_WAIT on its port
        try:
            assert "serving on" in first.stdout.readline()
            assert http.get(f"http://127.0.0.1:{port}/api/info").status_code == 200
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=30)
    started = time.monotonic()
    second = _start_draw(port, tmp_path)
    try:
        line = second.stdout.readline()
        assert "serving on" in line, second.stderr.read() if second.poll() is not None else line
        assert time.monotonic() - started < 30
    finally:
        second.send_signal(signal.SIGINT)
        second.communicate(timeout=30)


def test_real_server_applies_the_rules_to_a_lan_host_over_loopback(digit_model, tmp_path):
    """The same rules through uvicorn's own sockets: the peer is really 127.0.0.1."""
    import httpx2

    from chainrule.app.replay import running_server

    access = Access.lan([LAN])
    with running_server(create_app(net=digit_model, data_dir=tmp_path, access=access)) as url, httpx2.Client() as http:
        port = url.rsplit(":", 1)[1].strip("/")
        assert http.get(url + "api/info").status_code == 200
        assert http.get(url + "api/info", headers={"Host": f"{LAN}:{port}"}).status_code == 403
        with_token = http.get(url + f"api/info?token={access.token}", headers={"Host": f"{LAN}:{port}"})
        assert with_token.status_code == 200 and with_token.json()["share"].endswith(access.token)
        assert http.get(url + "api/info", headers={"Host": "evil.example"}).status_code == 403


def test_real_server_refuses_hostile_tokens_handshakes_and_frames_without_an_error_in_its_log(digit_model, tmp_path):
    """A token outside ASCII made compare_digest raise (500 and a traceback, no token needed), a
    refused handshake logged an ERROR and a WebSocket text frame that is not UTF-8 a traceback:
    any device or page could fill the log. Now 403, 403 and close code 1007, and no warning."""
    import logging

    import httpx2
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from chainrule.app.replay import running_server

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    kept: list[logging.LogRecord] = []
    log = logging.getLogger("uvicorn.error")
    handler = Kept(logging.WARNING)
    access = Access.lan([LAN])
    with running_server(create_app(net=digit_model, data_dir=tmp_path, access=access)) as url, httpx2.Client() as http:
        log.addHandler(handler)
        try:
            port = int(url.rsplit(":", 1)[1].strip("/"))
            lan = {"Host": f"{LAN}:{port}"}
            assert http.get(url + "api/info?token=%C3%A9", headers=lan).status_code == 403
            non_ascii = {**lan, "Authorization": "token \u00e9t\u00e9".encode()}
            assert http.get(url + "api/info", headers=non_ascii).status_code == 403
            with pytest.raises(InvalidStatus) as refused:
                connect(f"ws://127.0.0.1:{port}/ws", origin="http://evil.example", open_timeout=10)
            assert refused.value.response.status_code == 403
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
                answer = b""
                while b"\r\n\r\n" not in answer:
                    answer += raw.recv(4096)
                assert answer.startswith(b"HTTP/1.1 101")
                payload, mask = b'{"id": "\xff\xfe"}', b"\x01\x02\x03\x04"
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                raw.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)  # a text frame, masked as a client's
                frame = answer.split(b"\r\n\r\n", 1)[1]
                while len(frame) < 4:
                    frame += raw.recv(4096)
                assert frame[0] == 0x88 and int.from_bytes(frame[2:4], "big") == 1007  # close: invalid data
            time.sleep(0.5)  # what the server logs after answering
        finally:
            log.removeHandler(handler)
    assert [record.getMessage() for record in kept] == []


# ---- files ---------------------------------------------------------------------------------------------------
def test_the_server_tidies_killed_writes_and_adapts_past_a_foreign_file(digit_model, data_dir, local_client, mnist):
    """A kill -9 mid-write leaves .<name>.<random>.tmp; a foreign .npz made every adapt fail."""
    from chainrule import corrections

    corrections.save_sample(data_dir, np.full((28, 28), 200, np.uint8), 1)
    stale = data_dir / ".123-4-abcd.npz.q1w2e3r4.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    (data_dir / "holiday-photos.npz").write_bytes(b"PK not really")
    with local_client(create_app(net=digit_model, data_dir=data_dir, adapt_steps=5)) as client:
        assert not stale.exists()
        assert client.post("/api/adapt", json={}).json()["state"] == "running"
        deadline = time.monotonic() + 60
        while (state := client.get("/api/info").json()["adapt"])["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state["state"] == "done", state
        # the page shows this line: it counts what was learnt from, and says why the folder's count is larger
        assert state["message"].startswith("adapted to 1 correction in "), state
        assert state["message"].endswith("; 1 file in the folder skipped: not a saved drawing"), state
