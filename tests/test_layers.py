"""Layers: each forward against its formula, each backward against central differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.gradcheck import numerical_gradient, relative_error
from chainrule.layers import ActivationLayer, Dense, Dropout, Standardize


@st.composite
def dense_problem(draw):
    m, n_in, n_out = draw(st.integers(1, 7)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    layer = Dense(rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out))
    return layer, rng.standard_normal((m, n_in)), rng.standard_normal((m, n_out))


@settings(max_examples=40, deadline=None)
@given(problem=dense_problem())
def test_dense_forward_is_x_w_transpose_plus_b_row_by_row(problem):
    layer, X, _ = problem
    Z, _ = layer.forward(X)
    assert Z.shape == (len(X), layer.n_out)
    for x, z in zip(X, Z):
        np.testing.assert_allclose(z, layer.W @ x + layer.b, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(problem=dense_problem())
def test_dense_backward_gives_delta_transpose_x_sum_delta_and_delta_w(problem):
    """With C = <G, Z(X)> for a fixed G (so dC/dZ = G): dC/dW = G^T X, dC/db = sum of rows of G,
    dC/dX = G W, each checked by central differences."""
    layer, X, G = problem
    C = lambda: float(np.vdot(G, layer.forward(X)[0]))  # noqa: E731
    grad_x, (dW, db) = layer.backward(layer.forward(X)[1], G)
    np.testing.assert_allclose(dW, G.T @ X, atol=1e-12)
    np.testing.assert_allclose(db, G.sum(axis=0), atol=1e-12)
    assert relative_error(dW, numerical_gradient(C, layer.W)) < 1e-8
    assert relative_error(db, numerical_gradient(C, layer.b)) < 1e-8
    assert relative_error(grad_x, numerical_gradient(C, X)) < 1e-8


def test_dense_backward_skips_the_input_gradient_when_not_needed():
    layer = Dense(np.ones((2, 3)), np.zeros(2))
    grad_x, (dW, db) = layer.backward(np.ones((4, 3)), np.ones((4, 2)), need_input_grad=False)
    assert grad_x is None and dW.shape == (2, 3) and db.shape == (2,)


@pytest.mark.parametrize("W, b", [(np.ones(3), np.ones(3)), (np.ones((2, 3)), np.ones(3)),
                                  (np.ones((2, 3)), np.ones((2, 1)))])
def test_dense_rejects_mismatched_shapes_naming_them(W, b):
    with pytest.raises(ValueError, match=rf"W {W.shape}.*b {b.shape}".replace("(", r"\(").replace(")", r"\)")):
        Dense(W, b)


def test_activation_layer_backward_multiplies_by_sigma_prime():
    layer = ActivationLayer("tanh")
    z = np.array([[-1.0, 0.5, 2.0]])
    a, cache = layer.forward(z)
    grad_z, params = layer.backward(cache, np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(grad_z, [1.0, 2.0, 3.0] * (1 - np.tanh(z) ** 2))
    assert params == ()


def test_dropout_is_the_identity_at_prediction_time():
    X = np.arange(12.0).reshape(3, 4)
    y, _ = Dropout(0.5).forward(X, training=False)
    np.testing.assert_array_equal(y, X)


def test_inverted_dropout_keeps_the_mean_and_backward_uses_the_same_mask():
    rate = 0.3
    X = np.ones((400, 50))
    y, mask = Dropout(rate).forward(X, training=True, rng=np.random.default_rng(0))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - rate))
    assert abs(kept.mean() - (1 - rate)) < 0.01
    assert abs(y.mean() - 1) < 0.02
    grad, _ = Dropout(rate).backward(mask, np.full(X.shape, 2.0))
    np.testing.assert_array_equal(grad, 2 * y)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_rates_outside_0_1(rate):
    with pytest.raises(ValueError, match="dropout rate"):
        Dropout(rate)


@pytest.mark.parametrize("offset, scale", [(0.1307 * 255, 1 / (0.3081 * 255)), (0.0, 1 / 255)])
def test_standardize_flattens_and_scales_raw_images_and_backward_restores_the_shape(offset, scale):
    layer = Standardize(offset=offset, scale=scale, input_shape=(2, 3), dtype=np.float32)
    X = np.arange(250, 238, -1, dtype=np.uint8).reshape(2, 2, 3)
    y, cache = layer.forward(X)
    assert y.shape == (2, 6) and y.dtype == np.float32
    np.testing.assert_allclose(y, (X.reshape(2, 6) - layer.offset) * layer.scale, rtol=1e-6)
    grad, _ = layer.backward(cache, np.ones((2, 6), np.float32))
    assert grad.shape == (2, 2, 3)
    np.testing.assert_allclose(grad, layer.scale, rtol=1e-6)


def test_standard_scaling_gives_the_layer_that_maps_the_images_to_mean_0_and_standard_deviation_1():
    """offset = mean and scale = 1 / std over all pixels: the Standardize layer built from them
    turns the images it was fitted to into values of mean 0 and standard deviation 1."""
    from chainrule.layers import standard_scaling

    images = np.random.default_rng(0).integers(0, 256, (50, 4, 3)).astype(np.uint8)
    offset, scale, shape = standard_scaling(images)
    assert shape == (4, 3)
    y, _ = Standardize(offset, scale, shape).forward(images)
    assert y.mean() == pytest.approx(0, abs=1e-12) and y.std() == pytest.approx(1, rel=1e-12)
