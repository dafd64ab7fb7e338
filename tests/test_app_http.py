"""The drawing program's HTTP and WebSocket API: answers for good requests, a 4xx with a message
for every kind of bad one, and several clients at once."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("starlette")

from chainrule import corrections  # noqa: E402
from chainrule.app import create_app  # noqa: E402
from chainrule.app.requests import MAX_BODY  # noqa: E402
from chainrule.preprocessing import skeleton_strokes, skeletonize  # noqa: E402


@pytest.fixture()
def client(digit_model, tmp_path, local_client):
    with local_client(create_app(net=digit_model, data_dir=tmp_path / "corrections", adapt_steps=20)) as c:
        yield c


@pytest.fixture(scope="module")
def drawn(mnist):
    """Pen paths of the first 20 MNIST test digits (their skeletons, 10x the size), with labels."""
    images, labels = mnist.test_images[:20], mnist.test_labels[:20]
    return [[(p * 10).tolist() for p in skeleton_strokes(skeletonize(d > 100))] for d in images], labels


def test_predict_strokes(client, drawn, digit_model):
    hits = 0
    for strokes, label in zip(*drawn):
        r = client.post("/api/predict", json={"strokes": strokes})
        assert r.status_code == 200
        body = r.json()
        assert body["empty"] is False and 0 <= body["digit"] <= 9
        assert abs(sum(body["probabilities"]) - 1) < 1e-3
        assert body["confidence"] == pytest.approx(max(body["probabilities"]), abs=1e-4)
        assert len(body["image"]) == 784 and len(body["saliency"]) == 784
        assert max(abs(s) for s in body["saliency"]) == pytest.approx(1.0)
        hits += body["digit"] == label
    assert hits >= 17


def test_predict_image_agrees_with_the_network(client, mnist, digit_model):
    digit = mnist.test_images[0]
    body = client.post("/api/predict", json={"image": digit.tolist()}).json()
    assert body["digit"] == int(digit_model.predict(digit[None])[0])
    assert body["image"] == digit.ravel().tolist()


def test_nothing_drawn_is_no_guess(client):
    for strokes in ([], [[], []]):
        body = client.post("/api/predict", json={"strokes": strokes}).json()
        assert body["empty"] is True and body["digit"] is None


@pytest.mark.parametrize("payload, status, message", [
    (b"{not json", 400, "JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b"{}", 400, "missing field 'strokes'"),
    (b'{"strokes": "abc"}', 422, "list of strokes"),
    (b'{"strokes": [[[1, "a"]]]}', 422, "stroke 0"),
    (b'{"strokes": [[[1, NaN]]]}', 400, "NaN"),  # not JSON: refused by the parser
    (b'{"strokes": [[[1, 2, 3, 4]], [[5]]]}', 422, "stroke 1"),
    (b'{"image": [[1, 2], [3, 4]]}', 400, "28x28"),
    (b'{"image": "zz"}', 400, "28x28"),
    (json.dumps({"image": [[300] * 28] * 28}).encode(), 400, "0..255"),
    (b"\xff\xfe", 400, "JSON"),
])
def test_bad_predict_requests(client, payload, status, message):
    r = client.post("/api/predict", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert message in r.json()["error"]


def test_too_large_bodies_are_refused(client):
    json_type = {"content-type": "application/json"}
    r = client.post("/api/predict", content=b" " * (MAX_BODY + 1), headers=json_type)
    assert r.status_code == 413 and "too large" in r.json()["error"]
    r = client.post("/api/predict", content=iter([b"[" * 600_000, b"1" * 600_000]), headers=json_type)  # chunked
    assert r.status_code == 413


def test_unknown_routes_and_methods(client):
    assert client.get("/api/nothing").status_code == 404
    r = client.get("/api/predict")
    assert r.status_code == 405 and "error" in r.json()


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and 'data-testid="canvas"' in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../server.py").status_code == 404


def test_corrections_are_saved_and_adaptation_needs_them(client, drawn, tmp_path):
    r = client.post("/api/adapt", json={})
    assert r.status_code == 422 and "no corrections" in r.json()["error"]
    strokes, labels = drawn
    for bad in ({"strokes": strokes[0]}, {"strokes": strokes[0], "label": 10}, {"strokes": strokes[0], "label": True},
                {"strokes": [], "label": 3}):
        assert client.post("/api/correct", json=bad).status_code in (400, 422)
    r = client.post("/api/correct", json={"strokes": [[], []], "label": 3})
    assert r.status_code == 422 and "nothing is drawn" in r.json()["error"]
    r = client.post("/api/correct", json={"strokes": strokes[0], "label": int(labels[0])})
    assert r.status_code == 200 and r.json()["corrections"] == 1
    images, saved = corrections.load_samples(tmp_path / "corrections")
    assert saved.tolist() == [labels[0]] and images.shape == (1, 28, 28)
    assert client.get("/api/info").json()["corrections"] == 1


def test_uncorrect_removes_only_a_correction_this_server_saved_and_only_once(digit_model, drawn, tmp_path,
                                                                             local_client):
    """A label click saves at once, so a mis-click is taken back with /api/uncorrect. Every other
    name is refused with a one-line 4xx: a file of an earlier run, a foreign file, a path (even one
    leading to a file this server saved), a second removal, a name that is not a string, and a
    request from another origin. The folder's other files are left as they were."""
    folder, strokes = tmp_path / "corrections", drawn[0]
    earlier = corrections.save_sample(folder, np.full((28, 28), 200, np.uint8), 1).name
    (folder / "notes.txt").write_text("not a drawing")
    (tmp_path / "outside.npz").write_bytes(b"not the server's")
    with local_client(create_app(net=digit_model, data_dir=folder)) as client:
        kept = client.post("/api/correct", json={"strokes": strokes[0], "label": 3}).json()["saved"]
        mistaken = client.post("/api/correct", json={"strokes": strokes[1], "label": 5}).json()
        assert mistaken["corrections"] == 3
        before = {path.name: path.read_bytes() for path in folder.iterdir()}

        def refused(body, status: int, headers=None) -> None:
            response = client.post("/api/uncorrect", content=json.dumps(body),
                                   headers={"content-type": "application/json", **(headers or {})})
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"] and "\n" not in response.json()["error"]

        for name in (earlier, "notes.txt", "../outside.npz", f"../corrections/{kept}", f"./{kept}", str(folder / kept),
                     f"{kept}/", f"{kept}\x00", "", ".", ".."):
            refused({"saved": name}, 404)
        for value in (7, None, True, [kept], {"name": kept}):
            refused({"saved": value}, 400)
        refused({}, 400)
        refused({"saved": mistaken["saved"]}, 403, {"Origin": "http://evil.example"})
        refused({"saved": mistaken["saved"]}, 403, {"Host": "evil.example"})
        assert {path.name: path.read_bytes() for path in folder.iterdir()} == before

        r = client.post("/api/uncorrect", json={"saved": mistaken["saved"]})
        assert r.status_code == 200 and r.json() == {"removed": mistaken["saved"], "corrections": 2}
        del before[mistaken["saved"]]
        assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
        assert client.get("/api/info").json()["corrections"] == 2
        refused({"saved": mistaken["saved"]}, 404)
        assert (tmp_path / "outside.npz").read_bytes() == b"not the server's"


def test_uncorrect_of_a_file_removed_by_hand_is_a_clear_404(client, drawn, tmp_path):
    saved = client.post("/api/correct", json={"strokes": drawn[0][0], "label": 4}).json()["saved"]
    (tmp_path / "corrections" / saved).unlink()
    r = client.post("/api/uncorrect", json={"saved": saved})
    assert r.status_code == 404 and "no longer in" in r.json()["error"]
    assert client.get("/api/info").json()["corrections"] == 0


def test_saves_and_removals_at_once_keep_the_count_and_every_other_file(client, drawn, tmp_path):
    strokes, labels = drawn

    def save(k):
        return client.post("/api/correct", json={"strokes": strokes[k], "label": int(labels[k])}).json()["saved"]

    def remove(name):
        return client.post("/api/uncorrect", json={"saved": name}).status_code

    first = [save(k) for k in range(8)]
    with ThreadPoolExecutor(8) as pool:
        added = pool.map(save, range(8, 16))
        removed = pool.map(remove, first[:4])
        added, removed = list(added), list(removed)
    assert removed == [200] * 4
    assert sorted(path.name for path in (tmp_path / "corrections").iterdir()) == sorted(first[4:] + added)
    assert client.get("/api/info").json()["corrections"] == 12


def test_websocket_predicts_and_survives_bad_messages(client, drawn):
    strokes, labels = drawn
    with client.websocket_connect("ws://127.0.0.1:8765/ws") as ws:
        ws.send_text(json.dumps({"id": 7, "strokes": strokes[1]}))
        answer = ws.receive_json()
        assert answer["id"] == 7 and answer["digit"] == labels[1]
        for bad, message in (("nope", "invalid JSON"), ("[1]", "JSON object"), ('{"id": 8}', "strokes"),
                             ('{"id": 9, "strokes": [[[1, "x"]]]}', "stroke 0"), ("x" * (MAX_BODY + 1), "too large")):
            ws.send_text(bad)
            assert message in ws.receive_json()["error"]
        ws.send_text(json.dumps({"id": 10, "strokes": strokes[2]}))
        assert ws.receive_json()["digit"] == labels[2]


def test_several_clients_at_once(client, drawn):
    strokes, labels = drawn

    def ask(k):
        return client.post("/api/predict", json={"strokes": strokes[k % 20]}).json()["digit"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(64)))
    single = [ask(k) for k in range(20)]
    assert answers == [single[k % 20] for k in range(64)]


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "--port"),
    (["--model", "/nonexistent/model.npz"], "no model file"),
    (["--adapt-steps", "0"], "--adapt-steps"),
    (["--data-dir", __file__], "is a file: give a folder for the corrections"),  # the first correction failed
    # an address of another machine (TEST-NET-1) or a name that does not resolve: the fix is --host, not --port
    (["--host", "192.0.2.1"], "give --host an address of this machine"),
    (["--host", "no-such-host.invalid"], "give --host an address of this machine"),
])
def test_draw_command_reports_bad_arguments_in_one_line(argv, message):
    run = subprocess.run([sys.executable, "-m", "chainrule", "draw", "--no-browser", *argv],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith("chainrule draw: error:") and message in run.stderr and "Traceback" not in run.stderr


def test_draw_takes_the_empty_host_as_every_address_as_uvicorn_does():
    """--host "" (listed as every address) failed the free-port probe: "cannot listen on :0"."""
    from chainrule.cli.draw import WILDCARDS, _check_free

    assert "" in WILDCARDS
    _check_free("", 0)  # binds the probe only: no server starts


def test_no_other_model_is_taken_while_an_adaptation_runs(client, drawn, monkeypatch):
    """"Use the trained model" during an adaptation was answered "done", and the adaptation then
    replaced the user's choice when it ended, without a word."""
    import threading
    import time

    from chainrule import corrections
    from chainrule.app.training_session import TrainingSession

    release, real = threading.Event(), corrections.adapt

    def held(*args, **kwargs):
        release.wait(30)
        return real(*args, **{**kwargs, "steps": 1})

    monkeypatch.setattr(corrections, "adapt", held)
    strokes, labels = drawn
    client.post("/api/correct", json={"strokes": strokes[0], "label": int(labels[0])})
    recognizer = client.app.state.recognizer
    assert client.post("/api/adapt", json={}).json()["state"] == "running"
    other = recognizer.original.copy()  # stands in for a live-trained model
    monkeypatch.setattr(TrainingSession, "trained_model", lambda self: other)
    for path in ("/api/train/use", "/api/reset"):
        refused = client.post(path, json={})
        assert refused.status_code == 422 and "adaptation is still running" in refused.json()["error"]
    release.set()
    deadline = time.monotonic() + 60
    while client.get("/api/info").json()["adapt"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "live-trained model" in client.post("/api/train/use", json={}).json()["message"]
    assert recognizer.net is other


def test_adapt_switches_to_a_fine_tuned_copy_and_reset_goes_back(client, drawn, mnist):
    import time

    strokes, labels = drawn
    for k in range(3):
        assert client.post("/api/correct", json={"strokes": strokes[k], "label": int(labels[k])}).status_code == 200
    recognizer = client.app.state.recognizer
    assert client.post("/api/adapt", json={}).json()["state"] == "running"
    deadline = time.monotonic() + 60
    while (status := client.get("/api/info").json()["adapt"])["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status["state"] == "done" and status["adapted"] is True, status
    assert recognizer.net is not recognizer.original
    assert any(not np.array_equal(a, b) for a, b in zip(recognizer.net.params(), recognizer.original.params()))
    assert client.post("/api/reset", json={}).json()["adapted"] is False
    assert recognizer.net is recognizer.original
