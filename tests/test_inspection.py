"""chainrule.inspection: the traced forward and backward pass equals the network's own (bit for bit),
its quantities obey the delta recursion, unit edits do what they say, and coverage counts right."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.inspection import (check_unit, coverage, gradient_norms, most_affected_units, scale_unit, silence_unit,
                                  trace)

PAIRS = [("sigmoid", "sigmoid", "squared_error"), ("tanh", "softmax", "cross_entropy"),
         ("relu", "sigmoid", "binary_cross_entropy"), ("leaky_relu", "identity", "half_squared_error")]


def network(sizes, hidden, output, loss, dtype=np.float64, seed=0):
    return chainrule.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=seed)


def targets(net, m, rng):
    if net.loss.name == "cross_entropy":
        return rng.integers(0, net.n_outputs, m)
    return rng.random((m, net.n_outputs))


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 7), min_size=2, max_size=5), pair=st.sampled_from(PAIRS),
       m=st.integers(1, 4), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 1000))
def test_trace_equals_loss_and_gradient_exactly(sizes, pair, m, dtype, seed):
    if pair[2] == "cross_entropy" and sizes[-1] < 2:
        sizes = [*sizes[:-1], 2]
    net = network(sizes, *pair, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(m, sizes[0])), targets(net, m, rng)
    result = trace(net, X, Y)
    loss, grads = net.loss_and_gradient(X, Y)
    assert result.loss == loss
    for layer, (dW, db) in zip(result.layers, grads, strict=True):
        assert np.array_equal(layer.dW, dW) and np.array_equal(layer.db, db)
    assert np.array_equal(result.output, net.forward(X))
    np.testing.assert_allclose(result.input_gradient, net.input_gradient(X, Y=Y), rtol=1e-5, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=3, max_size=5), seed=st.integers(0, 1000))
def test_quantities_obey_the_forward_formulas_and_the_delta_recursion(sizes, seed):
    net = network(sizes, "tanh", "sigmoid", "squared_error", seed=seed)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(3, sizes[0])), rng.random((3, sizes[-1]))
    result = trace(net, X, Y)
    previous = X
    for dense, layer in zip(net.dense, result.layers):
        np.testing.assert_allclose(layer.z, previous @ dense.W.T + dense.b, rtol=1e-12, atol=1e-12)  # z = W a + b
        np.testing.assert_allclose(layer.a,
                                   np.tanh(layer.z) if layer is not result.layers[-1] else 1 / (1 + np.exp(-layer.z)),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.dW, layer.delta.T @ previous, rtol=1e-12, atol=1e-12)  # dW = delta a_prev^T
        np.testing.assert_allclose(layer.db, layer.delta.sum(axis=0), rtol=1e-12, atol=1e-12)
        previous = layer.a
    for k in range(len(net.dense) - 1):  # delta^(k) = sigma'(z^(k)) * (W^(k+1))^T delta^(k+1)
        here, above = result.layers[k], result.layers[k + 1]
        np.testing.assert_allclose(here.delta, (1 - np.tanh(here.z) ** 2) * (above.delta @ net.dense[k + 1].W),
                                   rtol=1e-10, atol=1e-12)
    out = result.layers[-1]
    np.testing.assert_allclose(out.delta, 2 * (out.a - Y) * out.a * (1 - out.a), rtol=1e-12, atol=1e-12)


def test_trace_without_targets_is_the_forward_pass_only():
    net = network([4, 3, 2], "relu", "softmax", "cross_entropy")
    result = trace(net, np.ones((2, 4)))
    assert result.loss is None and result.input_gradient is None and result.layers[0].delta is None
    assert np.array_equal(result.layers[-1].a, net.forward(np.ones((2, 4))))


def test_trace_on_raw_images_goes_through_the_input_scaling():
    net = chainrule.mlp([784, 5, 10], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32,
                        input_scaling=(33.0, 1 / 78.0, (28, 28)))
    image = np.random.default_rng(0).integers(0, 256, (1, 28, 28)).astype(np.uint8)
    result = trace(net, image, np.array([3]))
    assert result.input_gradient.shape == (1, 28, 28)
    assert np.array_equal(result.input_gradient, net.input_gradient(image, Y=np.array([3])))


def test_bad_inputs_get_one_line_errors():
    net = network([4, 3, 2], "relu", "softmax", "cross_entropy")
    with pytest.raises(ValueError, match="X must have shape"):
        trace(net, np.ones((2, 5)))
    with pytest.raises(ValueError, match="labels Y must lie in"):
        trace(net, np.ones((1, 4)), np.array([7]))
    with pytest.raises(ValueError, match="layer must be an integer in \\[0, 1\\)"):
        silence_unit(net, 1, 0)
    with pytest.raises(ValueError, match="unit must be an integer in \\[0, 3\\)"):
        scale_unit(net, 0, 3, 2.0)
    with pytest.raises(ValueError, match="factor must be a finite"):
        scale_unit(net, 0, 0, float("nan"))
    with pytest.raises(ValueError, match="layer must be"):
        check_unit(net, True, 0)


@settings(max_examples=20, deadline=None)
@given(unit=st.integers(0, 5), factor=st.floats(-3, 3), seed=st.integers(0, 100))
def test_silencing_and_scaling_a_unit(unit, factor, seed):
    net = network([4, 6, 3], "sigmoid", "sigmoid", "squared_error", seed=seed)
    X = np.random.default_rng(seed).normal(size=(5, 4))
    before = trace(net, X)
    scaled = net.copy()
    scale_unit(scaled, 0, unit, factor)
    z = trace(scaled, X).layers[0].z
    w, b = net.dense[0].W[unit], net.dense[0].b[unit]
    np.testing.assert_allclose(z[:, unit], factor * (X @ w) + b, rtol=1e-12, atol=1e-12)
    others = np.arange(6) != unit
    assert np.array_equal(z[:, others], before.layers[0].z[:, others])
    silent = net.copy()
    silence_unit(silent, 0, unit)
    kept = net.copy()
    # the silenced unit's input no longer matters
    kept.dense[0].W[unit] = np.random.default_rng(seed + 1).normal(size=4)
    silence_unit(kept, 0, unit)
    assert np.array_equal(silent.forward(X), kept.forward(X))


def test_most_affected_units_and_gradient_norms():
    dW = np.array([[0.0, 1.0], [3.0, 4.0], [1.0, 1.0]])
    assert most_affected_units(dW, 2).tolist() == [1, 2]
    assert gradient_norms([(dW, np.zeros(3)), (np.eye(2), np.zeros(2))]) == [pytest.approx(np.sqrt(28)),
                                                                             pytest.approx(np.sqrt(2))]


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 50), seed=st.integers(0, 1000))
def test_coverage_counts_answers_and_their_accuracy(m, seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(4), size=m)
    labels = rng.integers(0, 4, m)
    thresholds = np.linspace(0, 1, 11)
    answered, accuracy = coverage(probabilities, labels, thresholds)
    assert answered[0] == 1 and np.all(np.diff(answered) <= 0)  # a higher threshold answers fewer
    for t, share, acc in zip(thresholds, answered, accuracy):
        mask = probabilities.max(axis=1) >= t
        assert share == mask.mean()
        if mask.any():
            assert acc == (probabilities[mask].argmax(axis=1) == labels[mask]).mean()
        else:
            assert np.isnan(acc)
