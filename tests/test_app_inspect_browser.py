"""The "look inside" and "train live" views of the drawing page in Debian's Chromium: the forward
view follows the pen, unit edits change the lab copy's prediction, the backward view shows the
library's numbers for the drawing, a gradient step lowers the loss, the confidence view reports the
MNIST coverage, and live training shows a falling loss. Screenshots (desktop and phone) go to
artifacts/."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("starlette")

from chainrule.app import create_app  # noqa: E402
from chainrule.app.replay import (digit_paths, draw_with_mouse, draw_with_touch, open_page, place,  # noqa: E402
                                  running_server, settled_prediction)
from chainrule.inspection import coverage, trace  # noqa: E402
from chainrule.preprocessing import digit_from_strokes  # noqa: E402

pytestmark = pytest.mark.browser

DESKTOP = dict(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True, is_mobile=True)
SETTLED = "!net.inFlight && !net.dirty && !net.framePending && !inside.busy && !inside.dirty"


@pytest.fixture(scope="module")
def url(digit_model, tmp_path_factory):
    with running_server(create_app(net=digit_model, data_dir=tmp_path_factory.mktemp("corrections"))) as address:
        yield address


@pytest.fixture(scope="module")
def sample(mnist, digit_model):
    """Pen paths of an MNIST test digit the model recognises, and its label."""
    for image, label in zip(mnist.test_images, mnist.test_labels):
        paths = digit_paths(image)
        if digit_model.predict(digit_from_strokes(paths)[None])[0] == label:
            return paths, int(label)


def settle(page):
    page.wait_for_function(SETTLED, timeout=10_000)


def drawn_image(page) -> np.ndarray:
    return np.array(page.evaluate("inside.image"), dtype=np.uint8).reshape(28, 28)


def test_forward_view_follows_the_pen_and_unit_edits_change_the_lab_prediction(browser, url, sample, digit_model,
                                                                                artifacts):
    page = open_page(browser, url, DESKTOP)
    paths, label = sample
    points = np.concatenate(place(paths, page.get_by_test_id("canvas").bounding_box()))
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:len(points) // 2]:
        page.mouse.move(x, y)
    settle(page)
    half = page.evaluate("inside.forward.probabilities")  # shown before the pen is lifted
    for x, y in points[len(points) // 2:]:
        page.mouse.move(x, y)
    page.mouse.up()
    settle(page)
    forward = page.evaluate("inside.forward")
    assert forward["probabilities"] != half
    expected = trace(digit_model, drawn_image(page)[None])
    for shown, layer in zip(forward["layers"], expected.layers):
        assert np.array_equal(np.array(shown["a"]), layer.a[0].astype(np.float64))
    cells = page.get_by_test_id("fw-layer-0").locator(".unit")
    assert cells.count() == digit_model.dense[0].n_out
    unit = int(np.argmax(expected.layers[0].a[0]))  # the most active first-layer unit
    cells.nth(unit).click()
    shown_z = float(page.get_by_test_id("fw-z").text_content())
    assert shown_z == pytest.approx(float(expected.layers[0].z[0, unit]), abs=1e-4)
    page.wait_for_function("document.querySelector('[data-testid=fw-weights]') && inside.weights.size > 0")
    before = forward["probabilities"]
    page.get_by_test_id("fw-scale").evaluate("(s) => { s.value = '0.5'; s.dispatchEvent(new Event('change')); }")
    page.wait_for_function("inside.forward.edits.scale.length === 1")
    settle(page)
    assert page.evaluate("inside.forward.probabilities") != before  # the lab copy changed at once
    assert "1 scaled" in page.get_by_test_id("fw-verdict").text_content()
    assert page.get_by_test_id("prediction").text_content() == str(label)  # the pad's model did not
    page.get_by_test_id("forward-view").screenshot(path=artifacts / "inspect-forward-desktop.png")
    page.screenshot(path=artifacts / "inspect-desktop-full.png", full_page=True)
    assert not page.errors
    page.close()


def test_backward_view_shows_the_library_numbers_and_a_step_lowers_the_loss(browser, url, sample, digit_model,
                                                                            artifacts):
    page = open_page(browser, url, DESKTOP)
    paths, label = sample
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    settled_prediction(page)
    target = (label + 1) % 10  # a digit it is not: large deltas
    page.get_by_test_id(f"bw-label-{target}").click()
    page.wait_for_function(f"inside.backward && inside.backward.label === {target}")
    settle(page)
    shown = page.evaluate("inside.backward")
    image = drawn_image(page)
    expected = trace(digit_model, image[None], np.array([target]))
    loss, grads = digit_model.loss_and_gradient(image[None], np.array([target]))
    assert shown["loss"] == loss == expected.loss
    for k, (layer, (dW, db)) in enumerate(zip(shown["layers"], grads)):
        assert np.array_equal(np.array(layer["delta"]), expected.layers[k].delta[0].astype(np.float64))
        assert np.array_equal(np.array(layer["db"]), db.astype(np.float64))
        if k == 0:
            assert np.array_equal(np.array(layer["dW_rows"]), dW[layer["dW_units"]].astype(np.float64))
        else:
            assert np.array_equal(np.array(layer["dW"]), dW.astype(np.float64))
    assert np.array_equal(np.array(shown["input_gradient"]), expected.input_gradient[0].ravel().astype(np.float64))
    assert page.get_by_test_id("bw-loss").text_content() == f"C = {loss:.5f}"
    page.get_by_test_id("backward-view").screenshot(path=artifacts / "inspect-backward-desktop.png")
    page.get_by_test_id("bw-step").click()
    page.wait_for_function("inside.lastStep !== null")
    step = page.evaluate("inside.lastStep")
    assert step["after"]["loss"] < step["before"]["loss"]
    assert step["before"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert "after one step" in page.get_by_test_id("bw-step-result").text_content()
    assert not page.errors
    page.close()


def test_confidence_view_reports_coverage_on_mnist(browser, url, sample, digit_model, mnist, artifacts):
    page = open_page(browser, url, DESKTOP)
    page.wait_for_function("inside.coverage !== null", timeout=20_000)
    answered, accuracy = coverage(digit_model.predict_proba(mnist.test_images), mnist.test_labels, np.array([0.8]))
    text = page.get_by_test_id("conf-stats").text_content()
    assert f"{100 * answered[0]:.1f}%" in text and f"{100 * accuracy[0]:.2f}%" in text
    draw_with_mouse(page, place(sample[0], page.get_by_test_id("canvas").bounding_box()))
    settle(page)
    confidence = page.evaluate("lastResult.confidence")
    page.get_by_test_id("conf-threshold").fill("0.99")
    verdict = page.get_by_test_id("conf-verdict").text_content()
    assert verdict == ("not sure" if confidence < 0.99 else str(sample[1]))
    page.get_by_test_id("conf-threshold").fill("0")
    assert page.get_by_test_id("conf-verdict").text_content() == str(sample[1])
    page.get_by_test_id("conf-threshold").fill("0.9")
    page.get_by_test_id("conf-threshold").blur()
    page.get_by_test_id("confidence-view").screenshot(path=artifacts / "inspect-confidence-desktop.png")
    assert not page.errors
    page.close()


def test_live_training_shows_a_falling_loss_and_its_model_can_draw(browser, digit_model, mnist, tmp_path, artifacts):
    with running_server(create_app(net=digit_model, data_dir=tmp_path)) as address:
        page = open_page(browser, address, DESKTOP)
        form = page.get_by_test_id("train-form")
        for name, value in {"width": "24", "steps": "600", "report_every": "100"}.items():
            form.locator(f"[name={name}]").fill(value)
        page.get_by_test_id("train-start").click()
        page.wait_for_function("training.state === 'done'", timeout=30_000)
        reports = page.evaluate("training.reports")
        assert [r["step"] for r in reports] == [100, 200, 300, 400, 500, 600]
        assert reports[-1]["loss"] < reports[0]["loss"] and reports[-1]["val_loss"] < reports[0]["val_loss"]
        assert len(reports[-1]["grad_norms"]) == 2 and min(reports[-1]["grad_norms"]) > 0
        assert page.evaluate("document.getElementById('train-weights').width") > 100  # 16 weight images drawn
        page.get_by_test_id("train-view").screenshot(path=artifacts / "train-live-desktop.png")
        page.get_by_test_id("train-use").click()
        page.wait_for_function("document.getElementById('model-info').textContent.includes('adapted copy 784–24–10')")
        assert not page.errors
        page.close()


def test_phone_views_fit_the_screen_and_answer_taps(browser, url, sample, artifacts):
    page = open_page(browser, url, PHONE)
    canvas = page.get_by_test_id("canvas")
    draw_with_touch(page, place(sample[0], canvas.bounding_box(), 0.6))
    settle(page)
    page.wait_for_timeout(400)  # a tap right after a touch stroke would read as a double tap
    page.get_by_test_id("fw-layer-0").locator(".unit").nth(5).tap()
    page.wait_for_function("inside.selected && inside.selected[1] === 5")
    assert page.get_by_test_id("fw-z").text_content() != ""
    page.get_by_test_id(f"bw-label-{sample[1]}").tap()
    page.wait_for_function("inside.backward !== null")
    settle(page)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    page.get_by_test_id("nav-forward").tap()
    page.screenshot(path=artifacts / "inspect-phone-forward.png")
    page.get_by_test_id("backward-view").scroll_into_view_if_needed()
    page.get_by_test_id("backward-view").screenshot(path=artifacts / "inspect-phone-backward.png")
    page.screenshot(path=artifacts / "inspect-phone-full.png", full_page=True)
    assert not page.errors
    page.close()
