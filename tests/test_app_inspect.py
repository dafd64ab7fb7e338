"""The "look inside" and "train live" HTTP API: the JSON equals the library's arrays for the same
28x28 input, lab copies are per session and never touch the pad's model, a gradient step lowers the
loss, coverage is the MNIST test set's, live training reports a falling loss and can be paused,
stopped and used for drawing, and bad requests get a 4xx with a one-line message."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("starlette")

from chainrule.app import create_app  # noqa: E402
from chainrule.inspection import coverage, trace  # noqa: E402


@pytest.fixture()
def client(digit_model, tmp_path, local_client):
    with local_client(create_app(net=digit_model, data_dir=tmp_path / "corrections")) as c:
        yield c


@pytest.fixture(scope="module")
def image(mnist):
    return mnist.test_images[0]


def as_float64(array):
    return np.asarray(array).astype(np.float64)


def test_forward_equals_the_library(client, image, digit_model):
    answer = client.post("/api/inspect/forward", json={"session": "a", "image": image.tolist()}).json()
    expected = trace(digit_model, image[None])
    assert len(answer["layers"]) == len(digit_model.dense)
    for shown, layer in zip(answer["layers"], expected.layers):
        assert np.array_equal(shown["z"], as_float64(layer.z[0]))
        assert np.array_equal(shown["a"], as_float64(layer.a[0]))
        assert np.array_equal(shown["b"], as_float64(layer.b))
    assert np.array_equal(answer["probabilities"], as_float64(digit_model.predict_proba(image[None])[0]))
    assert answer["digit"] == digit_model.predict(image[None])[0]
    assert answer["formulas"]["z"] == "z^(k) = W^(k) a^(k-1) + b^(k)"


@pytest.mark.parametrize("label", [0, 7])
def test_backward_equals_loss_and_gradient(client, image, digit_model, label):
    answer = client.post("/api/inspect/backward", json={"session": "a", "image": image.tolist(), "label": label}).json()
    loss, grads = digit_model.loss_and_gradient(image[None], np.array([label]))
    expected = trace(digit_model, image[None], np.array([label]))
    assert answer["loss"] == loss
    for k, (shown, (dW, db)) in enumerate(zip(answer["layers"], grads, strict=True)):
        assert np.array_equal(shown["delta"], as_float64(expected.layers[k].delta[0]))
        assert np.array_equal(shown["db"], as_float64(db))
        if k == 0:
            assert np.array_equal(shown["dW_rows"], as_float64(dW[shown["dW_units"]]))
            norms = np.linalg.norm(dW, axis=1)
            assert min(norms[shown["dW_units"]]) >= np.sort(norms)[-len(shown["dW_units"])]  # the most affected
        else:
            assert np.array_equal(shown["dW"], as_float64(dW))
    input_gradient = digit_model.input_gradient(image[None], Y=np.array([label]))[0].ravel()
    assert np.array_equal(answer["input_gradient"], as_float64(input_gradient))
    assert "delta^(k) = sigma_k'(z^(k)) * (W^(k+1))^T delta^(k+1)" == answer["formulas"]["delta"]


def test_unit_edits_change_only_that_sessions_lab_copy(client, image, digit_model):
    original = [p.copy() for p in digit_model.params()]
    body = {"session": "mine", "image": image.tolist()}
    before = client.post("/api/inspect/forward", json=body).json()
    unit = int(np.argmax(before["layers"][0]["a"]))
    answer = client.post("/api/inspect/unit", json={"session": "mine", "layer": 0, "unit": unit, "off": True}).json()
    assert answer["off"] and answer["edits"]["off"] == [[0, unit]]
    assert np.array_equal(answer["weights"], as_float64(digit_model.dense[0].W[unit]))
    after = client.post("/api/inspect/forward", json=body).json()
    assert after["probabilities"] != before["probabilities"]
    silenced = digit_model.copy()
    silenced.dense[1].W[:, unit] = 0
    assert np.array_equal(after["probabilities"], as_float64(silenced.predict_proba(image[None])[0]))
    client.post("/api/inspect/unit", json={"session": "mine", "layer": 0, "unit": unit, "scale": 0.0})
    scaled = client.post("/api/inspect/forward", json=body).json()
    assert scaled["layers"][0]["z"][unit] == pytest.approx(float(digit_model.dense[0].b[unit]))  # z = 0 w.a + b
    other = client.post("/api/inspect/forward", json={**body, "session": "other"}).json()
    assert other["probabilities"] == before["probabilities"]  # another session's lab is untouched
    assert all(np.array_equal(p, q) for p, q in zip(digit_model.params(), original))  # and so is the model
    client.post("/api/inspect/unit", json={"session": "mine", "layer": 0, "unit": unit, "off": False, "scale": 1.0})
    assert client.post("/api/inspect/forward", json=body).json()["probabilities"] == before["probabilities"]


def test_a_gradient_step_lowers_the_loss_on_the_lab_copy_only(client, image, digit_model):
    original = [p.copy() for p in digit_model.params()]
    body = {"session": "s", "image": image.tolist(), "label": 3}
    answer = client.post("/api/inspect/step", json={**body, "eta": 0.05}).json()
    loss = float(digit_model.loss_value(image[None], np.array([3])))
    assert answer["before"]["loss"] == pytest.approx(loss, rel=1e-6)
    assert answer["after"]["loss"] < answer["before"]["loss"]
    backward = client.post("/api/inspect/backward", json=body).json()
    assert backward["loss"] == pytest.approx(answer["after"]["loss"], rel=1e-6)
    assert all(np.array_equal(p, q) for p, q in zip(digit_model.params(), original))
    predicted = client.post("/api/predict", json={"image": image.tolist()}).json()["digit"]
    assert predicted == digit_model.predict(image[None])[0]
    client.post("/api/inspect/reset", json={"session": "s"})
    assert client.post("/api/inspect/backward", json=body).json()["loss"] == answer["before"]["loss"]


def test_confidence_coverage_is_measured_on_the_mnist_test_set(client, digit_model, mnist):
    answer = client.get("/api/confidence").json()
    assert answer["available"] and answer["samples"] == 10_000
    thresholds = np.array(answer["thresholds"])
    answered, accuracy = coverage(digit_model.predict_proba(mnist.test_images), mnist.test_labels, thresholds)
    assert np.allclose(answer["answered"], answered)
    assert np.allclose([np.nan if a is None else a for a in answer["accuracy"]], accuracy, equal_nan=True)
    assert answer["answered"][0] == 1.0 and answer["accuracy"][-1] >= answer["accuracy"][0]


def test_confidence_says_when_mnist_is_missing(digit_model, tmp_path, monkeypatch, local_client):
    monkeypatch.setattr("chainrule.datasets.candidate_dirs", lambda name, path=None: [tmp_path / name])
    with local_client(create_app(net=digit_model, data_dir=tmp_path)) as c:
        answer = c.get("/api/confidence").json()
    assert answer["available"] is False and "MNIST is not available" in answer["message"]


@pytest.mark.parametrize("path, payload, message", [
    ("/api/inspect/forward", {"image": [0] * 784}, "missing field 'session'"),
    ("/api/inspect/forward", {"session": "", "image": [0] * 784}, "session must be a string"),
    ("/api/inspect/forward", {"session": "a", "image": [0] * 10}, "image must be 28x28"),
    ("/api/inspect/backward", {"session": "a", "image": [0] * 784}, "missing field 'label'"),
    ("/api/inspect/backward", {"session": "a", "image": [0] * 784, "label": 10}, "label must be a digit"),
    ("/api/inspect/step", {"session": "a", "image": [0] * 784, "label": 1, "eta": -1}, "step length eta"),
    ("/api/inspect/unit", {"session": "a", "layer": 9, "unit": 0}, "layer must be an integer"),
    ("/api/inspect/unit", {"session": "a", "layer": 0, "unit": 100000}, "unit must be an integer"),
    ("/api/inspect/unit", {"session": "a", "layer": 0, "unit": 0, "off": "yes"}, "off must be true or false"),
    ("/api/inspect/unit", {"session": "a", "layer": 0, "unit": 0, "scale": "big"}, "scale must be a number"),
    ("/api/train/start", {"lr": -1}, "lr must be a number"),
    ("/api/train/start", {"width": 0}, "width must be an integer"),
    ("/api/train/start", {"activation": "cube"}, "activation must be one of"),
    ("/api/train/start", {"colour": "red"}, "unknown training settings"),
    ("/api/train/use", {}, "there is no trained model yet"),
])
def test_bad_requests_get_a_one_line_message(client, path, payload, message):
    response = client.post(path, json=payload)
    assert 400 <= response.status_code < 500
    assert message in response.json()["error"] and "\n" not in response.json()["error"]


def wait_for(client, condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/api/train/status").json()
        if condition(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"training did not reach the expected state: {status}")


def test_live_training_reports_a_falling_loss_and_can_be_used_for_drawing(client, image, digit_model):
    settings = {"width": 16, "steps": 400, "report_every": 100, "lr": 0.01, "momentum": 0.9}
    client.post("/api/train/start", json=settings)
    assert "already going" in client.post("/api/train/start", json=settings).json()["error"]
    status = wait_for(client, lambda s: s["state"] in ("done", "error"))
    assert status["state"] == "done", status["message"]
    reports = status["reports"]
    assert [r["step"] for r in reports] == [100, 200, 300, 400]
    assert reports[-1]["loss"] < reports[0]["loss"] and reports[-1]["val_accuracy"] > 0.7
    assert len(reports[-1]["grad_norms"]) == 2 and len(status["weights"]) == 16 and len(status["weights"][0]) == 784
    assert client.get("/api/train/status?since=3").json()["reports"] == reports[3:]
    client.post("/api/train/use", json={})
    info = client.get("/api/info").json()
    assert info["layers"] == [784, 16, 10] and info["adapt"]["adapted"]
    forward = client.post("/api/inspect/forward", json={"session": "a", "image": image.tolist()}).json()
    assert len(forward["layers"][0]["a"]) == 16  # the lab follows the pad's new model
    client.post("/api/reset", json={})
    assert client.get("/api/info").json()["layers"] == [784, *(dense.n_out for dense in digit_model.dense)]


def test_live_training_pauses_resumes_and_stops_and_never_blocks_drawing(client, image):
    client.post("/api/train/start", json={"width": 64, "steps": 100_000, "report_every": 50})
    wait_for(client, lambda s: s["state"] == "running" and s["step"] > 0)
    for _ in range(10):  # drawing clients are served while the worker trains
        started = time.perf_counter()
        assert client.post("/api/predict", json={"image": image.tolist()}).status_code == 200
        assert time.perf_counter() - started < 1.0
    paused = client.post("/api/train/pause", json={}).json()
    assert paused["state"] == "paused"
    time.sleep(0.1)
    step = client.get("/api/train/status").json()["step"]
    time.sleep(0.2)
    assert client.get("/api/train/status").json()["step"] <= step + 1  # at most the step under way
    assert client.post("/api/train/resume", json={}).json()["state"] == "running"
    wait_for(client, lambda s: s["step"] > step + 5)
    stopped = client.post("/api/train/stop", json={}).json()
    assert stopped["state"] == "stopped" and stopped["step"] < 100_000


def test_edits_of_one_lab_sent_at_once_are_all_kept(digit_model):
    """The page sends a unit's switch and the next without waiting: 24 at once kept only 18-22."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chainrule.app.look_inside import Lab

    lab, start = Lab(digit_model), threading.Barrier(8)

    def switch_off(unit: int) -> None:
        if unit < 8:
            start.wait()
        lab.edit(0, unit, off=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(switch_off, range(24)))
    assert lab.off == {(0, unit) for unit in range(24)} and lab.version == 24
    assert not lab.net.dense[1].W[:, :24].any() and lab.net.dense[1].W[:, 24:].any()  # their outgoing weights
