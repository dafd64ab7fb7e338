"""The bundled default model: small, float32, takes raw uint8 images, and makes at most 0.65% errors
on the MNIST test set (issue 14's bar for any model that replaces it)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule.models import default_model_path


@pytest.fixture(scope="module")
def default_model():
    return chainrule.load()


def test_the_file_ships_small_and_in_float32(default_model):
    assert default_model_path().stat().st_size < 5_000_000
    assert default_model.dtype == np.float32
    assert default_model.input_shape == (28, 28) and default_model.n_outputs == 10


def test_test_error_is_at_most_0_65_percent(default_model, mnist):
    predicted = default_model.predict(mnist.test_images)
    assert predicted.shape == (10000,)
    error = np.mean(predicted != mnist.test_labels)
    assert error <= 0.0065, f"test error {100 * error:.2f}%"


def test_predict_proba_gives_distributions_that_agree_with_predict(default_model, mnist):
    images = mnist.test_images[:100]
    probabilities = default_model.predict_proba(images)
    assert probabilities.shape == (100, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), default_model.predict(images))


def test_wrong_image_size_is_a_clear_error(default_model):
    with pytest.raises(ValueError, match=r"\(m, 28, 28\)"):
        default_model.predict(np.zeros((2, 32, 32), np.uint8))
