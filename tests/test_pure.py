"""chainrule.pure, the plain-Python network, computes what the NumPy core computes: the same loss,
the same gradient and the same SGD step, to 1e-12 in float64, on random small networks."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from chainrule import pure
from chainrule.pure import PureNetwork

# (hidden, output, loss) combinations the pure module supports, as the core names them.
KINDS = [
    ("sigmoid", "sigmoid", "squared_error"),
    ("relu", "sigmoid", "squared_error"),
    ("sigmoid", "identity", "squared_error"),
    ("relu", "relu", "squared_error"),
    ("sigmoid", "softmax", "cross_entropy"),
    ("relu", "softmax", "cross_entropy"),
]


@st.composite
def problems(draw):
    """A random core network, the same network as lists, and a random batch with targets."""
    hidden, output, loss = draw(st.sampled_from(KINDS))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    net = chainrule.mlp(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    for layer in net.dense:  # nonzero biases, so that their gradient path is exercised too
        layer.b[...] = rng.normal(size=layer.b.shape)
    m = draw(st.integers(1, 5))
    X = rng.normal(scale=2.0, size=(m, sizes[0]))
    if draw(st.booleans()) and sizes[-1] > 1 and output in ("sigmoid", "softmax"):
        Y = rng.integers(0, sizes[-1], size=m)
    elif loss == "cross_entropy":
        Y = rng.dirichlet(np.ones(sizes[-1]), size=m)  # soft targets: rows that sum to 1
    else:
        Y = rng.uniform(size=(m, sizes[-1]))
    twin = PureNetwork([d.W.tolist() for d in net.dense], [d.b.tolist() for d in net.dense],
                       hidden=hidden, output=output, loss=loss)
    return net, twin, X, Y


def close(pure_value, numpy_value) -> None:
    np.testing.assert_allclose(np.asarray(pure_value, dtype=float), numpy_value, rtol=1e-12, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_loss_and_gradient_equal_the_cores(problem):
    net, twin, X, Y = problem
    loss, grads = net.loss_and_gradient(X, Y)
    pure_loss, pure_grads = twin.loss_and_gradient(X.tolist(), Y.tolist())
    close(pure_loss, loss)
    assert len(pure_grads) == len(grads)
    for (pdW, pdb), (dW, db) in zip(pure_grads, grads):
        close(pdW, dW)
        close(pdb, db)


@settings(max_examples=100, deadline=None)
@given(problems(), st.floats(1e-3, 1.0))
def test_one_sgd_step_equals_the_cores(problem, lr):
    net, twin, X, Y = problem
    loss, grads = net.loss_and_gradient(X, Y)
    chainrule.SGD(lr).step(net.params(), [g for pair in grads for g in pair])
    close(twin.sgd_step(X.tolist(), Y.tolist(), lr), loss)
    for W, b, dense in zip(twin.weights, twin.biases, net.dense):
        close(W, dense.W)
        close(b, dense.b)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_feedforward_and_predict_equal_the_cores(problem):
    net, twin, X, _ = problem
    out = net.forward(X)
    for x, row in zip(X.tolist(), out):
        close(twin.feedforward(x), row)
    if net.is_classifier and net.n_outputs > 1:
        assert [twin.predict(x) for x in X.tolist()] == list(net.predict(X))


@given(st.lists(st.floats(-700, 700), min_size=1, max_size=8))
def test_activations_obey_their_identities(z):
    s, minus = pure.sigmoid(z), pure.sigmoid([-t for t in z])
    assert all(0.0 <= a <= 1.0 and math.isclose(a + b, 1.0, abs_tol=1e-12) for a, b in zip(s, minus))
    a = pure.softmax(z)
    assert math.isclose(sum(a), 1.0, rel_tol=1e-12)
    assert all(math.isclose(math.exp(la), p, rel_tol=1e-9, abs_tol=1e-300) for la, p in zip(pure.log_softmax(z), a))
    assert pure.relu(z) == [max(t, 0.0) for t in z]


def test_training_learns_xor():
    """Plain-Python SGD alone, with no NumPy, fits XOR: the loss falls and all four are right."""
    X, Y = [[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0]
    net = PureNetwork.random([2, 8, 2], seed=1, hidden="sigmoid", output="softmax", loss="cross_entropy")
    first = net.sgd_step(X, Y, lr=2.0)
    for _ in range(1500):
        last = net.sgd_step(X, Y, lr=2.0)
    assert last < first / 10
    assert [net.predict(x) for x in X] == Y


def test_module_uses_only_the_standard_library():
    import sys

    tree = ast.parse(open(pure.__file__).read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="hinge"), "loss must be one of"),
    (dict(hidden="softmax"), "hidden must be one of"),
    (dict(output="softmax"), "does not fit loss"),
    (dict(output="sigmoid", loss="cross_entropy"), "does not fit loss"),
])
def test_bad_settings_are_rejected_with_a_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PureNetwork([[[1.0, 2.0]]], [[0.0]], **kwargs)


def test_bad_shapes_are_rejected_with_a_message():
    with pytest.raises(ValueError, match="layer 2 takes 3 inputs but layer 1 has 1 outputs"):
        PureNetwork([[[1.0, 2.0]], [[1.0, 2.0, 3.0]]], [[0.0], [0.0]])
    with pytest.raises(ValueError, match="one bias vector per weight matrix"):
        PureNetwork([[[1.0]]], [])
    net = PureNetwork.random([3, 2, 2])
    with pytest.raises(ValueError, match="an input must have 3 numbers, got 2"):
        net.feedforward([1.0, 2.0])
    with pytest.raises(ValueError, match="same positive number of samples"):
        net.loss_and_gradient([[1.0, 2.0, 3.0]], [0, 1])
    with pytest.raises(ValueError, match=r"a label must lie in \[0, 2\)"):
        net.loss_and_gradient([[1.0, 2.0, 3.0]], [2])


def test_random_draws_weights_of_variance_1_over_n_in_and_zero_biases():
    """PureNetwork.random: W_jk ~ N(0, 1/n_in) (the docstring's scaling), b = 0, reproducible from the seed."""
    net = PureNetwork.random([400, 300, 2], seed=3)
    first = np.array(net.weights[0])
    assert first.shape == (300, 400)
    assert first.var() == pytest.approx(1 / 400, rel=0.03) and abs(first.mean()) < 1e-3
    assert np.array(net.weights[1]).shape == (2, 300)
    assert net.biases == [[0.0] * 300, [0.0] * 2]
    assert PureNetwork.random([400, 300, 2], seed=3).weights == net.weights


@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_softmax_and_cross_entropy_stay_finite_at_huge_logits_as_the_cores_do(scale):
    """softmax and log_softmax shift by max z: at logits of +-1000, where e^z overflows (or every e^z
    underflows to 0), the loss, the gradient and the output equal the core's, all finite."""
    W, b = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0.0, 0.0, 0.0]
    twin = PureNetwork([W], [b], output="softmax", loss="cross_entropy")
    net = chainrule.Network([chainrule.Dense(np.array(W), np.array(b)), chainrule.ActivationLayer("softmax")],
                            loss="cross_entropy")
    X, Y = [[scale, 0.5 * scale], [0.2 * scale, scale]], [0, 1]
    loss, grads = net.loss_and_gradient(np.array(X), np.array(Y))
    pure_loss, pure_grads = twin.loss_and_gradient(X, Y)
    assert math.isfinite(pure_loss)
    close(pure_loss, loss)
    close(pure_grads[0][0], grads[0][0])
    close(pure_grads[0][1], grads[0][1])
    close(twin.feedforward(X[0]), net.forward(np.array(X[:1]))[0])
