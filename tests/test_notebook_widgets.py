"""chainrule.notebook without a browser: DrawPad turns strokes into the model's input and answer as
they change, and rejects bad input with one clear message; BackwardView's numbers are
``inspection.trace``'s and its gradient step changes only its copy of the network."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import inspection
from chainrule.digits import load_digit_model
from chainrule.notebook import BackwardView, DrawPad
from chainrule.preprocessing import digit_from_strokes

SEVEN = [[[250, 200], [750, 200], [420, 850]], [[330, 520], [640, 520]]]


@pytest.fixture(scope="module")
def model():
    return load_digit_model()


def test_pad_follows_its_strokes(model):
    pad = DrawPad(model)
    assert pad.digit is None and not pad.image.any() and pad.prediction == {}
    pad.strokes = SEVEN
    image = digit_from_strokes(SEVEN)
    assert np.array_equal(pad.image, image)
    np.testing.assert_array_equal(pad.probabilities, model.predict_proba(image[None])[0])
    assert pad.digit == pad.prediction["digit"] == model.predict(image[None])[0]
    assert pad.image_data == image.ravel().tolist()
    pad.clear()
    assert pad.digit is None and not pad.image.any()


def test_pad_reports_bad_strokes_and_recovers(model):
    pad = DrawPad(model)
    pad.strokes = [[[1, float("nan")]]]
    assert "NaN" in pad.prediction["error"] and pad.digit is None
    pad.strokes = SEVEN
    assert "error" not in pad.prediction


def test_pad_rejects_a_model_that_does_not_take_digits():
    with pytest.raises(ValueError, match="784 inputs"):
        DrawPad(chainrule.mlp([2, 3]))
    with pytest.raises(TypeError, match="chainrule Network"):
        DrawPad("model.npz")


def test_backward_view_shows_the_trace_and_steps_on_a_copy(model):
    pad = DrawPad(model)
    pad.strokes = SEVEN
    view = BackwardView(model).follow(pad)
    view.label_choice.value = 3
    reference = inspection.trace(model, pad.image[None], np.array([3]))
    assert view.trace.loss == pytest.approx(reference.loss, rel=1e-12)
    for shown, expected in zip(view.trace.layers, reference.layers):
        np.testing.assert_array_equal(shown.dW, expected.dW)
    W = model.dense[0].W.copy()
    before, after = view.step()
    assert after < before
    assert np.array_equal(model.dense[0].W, W)
    assert not np.array_equal(view.lab.dense[0].W, W)
    view.reset()
    assert np.array_equal(view.lab.dense[0].W, W)


def test_backward_view_rejects_a_wrong_image(model):
    view = BackwardView(model)
    with pytest.raises(ValueError, match="shape"):
        view.show(np.zeros((10, 10)))
    with pytest.raises(ValueError, match="draw a digit"):
        view.step()
