"""Backpropagation against central differences: every activation x loss pair, random architectures
(depth 1-5, widths 1-20, batch 1-17) in float64, relative error < 1e-6."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.activations import ACTIVATIONS, Sigmoid
from chainrule.gradcheck import numerical_gradient, relative_error
from chainrule.losses import LOSSES
from chainrule.training import flatten

TOLERANCE = 1e-6
COMPONENTWISE = [name for name, cls in ACTIVATIONS.items() if cls.elementwise]


def pairs():
    """(hidden, output, loss): every activation as the output of every loss it can follow, and as
    the hidden activation; the fused losses fix their output activation."""
    for loss, cls in LOSSES.items():
        if cls.output_activation:
            for hidden in COMPONENTWISE:
                yield hidden, cls.output_activation, loss
        else:
            for activation in ACTIVATIONS:
                yield (activation if activation in COMPONENTWISE else "tanh"), activation, loss


def targets(net, m, rng):
    if net.loss.name == "cross_entropy":
        return rng.integers(0, net.n_outputs, m)
    return rng.uniform(0, 1, (m, net.n_outputs))


@pytest.mark.parametrize("hidden, output, loss", list(pairs()))
def test_every_activation_and_loss_pair(hidden, output, loss):
    rng = np.random.default_rng(7)
    net = chainrule.mlp([4, 6, 5, 3], hidden=hidden, output=output, loss=loss, seed=7)
    for dense in net.dense:  # nonzero biases, so relu units are not all on one side by symmetry
        dense.b[:] = rng.normal(0, 0.5, dense.b.shape)
    X = rng.standard_normal((6, 4))
    assert chainrule.gradcheck(net, X, targets(net, 6, rng)) < TOLERANCE


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 20), min_size=2, max_size=6), m=st.integers(1, 17),
       hidden=st.sampled_from(["sigmoid", "tanh", "identity"]),
       loss=st.sampled_from(list(LOSSES)), seed=st.integers(0, 2**16))
# the first layer's gradient is 2.2e-7 here (C = 1.96): the rounding error of the differences is
# 6.6e-6 of it at h = 1e-4 (backpropagation agrees with torch to 5.5e-14); a failure hypothesis found
@example(sizes=[1, 1, 19, 1, 17], m=1, hidden="sigmoid", loss="squared_error", seed=0)
def test_random_architectures(sizes, m, hidden, loss, seed):
    """Smooth hidden activations only: a relu kink within h of some z would make the finite
    difference, not backpropagation, wrong (the relu family is covered by the pairs above).
    h = 1e-4: in deep sigmoid networks the first layers' gradients are tiny, and the rounding error
    of the difference quotient, about eps |C| / h, reaches 8.2e-7 of them at h = 1e-5, while at
    h = 1e-4 the worst error, the O(h^2) truncation error of a tanh network, is 1.4e-7 (maxima over
    1000 draws of these ranges, docs/math.md section 5). Through layers of width 1 a gradient can be
    smaller still: where gradcheck's relative error fails, each array's error is taken relative to
    max(|g|, 1e-4 max(1, C)) instead, so that an absolute error below 1e-10 max(1, C) counts as rounding."""
    output = LOSSES[loss].output_activation or "sigmoid"
    if loss == "cross_entropy" and sizes[-1] == 1:
        sizes = [*sizes[:-1], 2]
    rng = np.random.default_rng(seed)
    net = chainrule.mlp(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    X = rng.standard_normal((m, sizes[0]))
    Y = targets(net, m, rng)
    if chainrule.gradcheck(net, X, Y, h=1e-4) < TOLERANCE:
        return
    loss_value, grads = net.loss_and_gradient(X, Y)
    floor = 1e-4 * max(1.0, loss_value)
    for g, theta in zip(flatten(grads), net.params()):
        fd = numerical_gradient(lambda: net.loss_value(X, Y), theta, h=1e-4)
        assert relative_error(g, fd, floor=floor) < TOLERANCE


def test_gradcheck_catches_a_wrong_derivative(monkeypatch):
    """The check can fail: with sigma' = sigma (a wrong derivative) the error is large."""
    net = chainrule.mlp([3, 4, 2], hidden="sigmoid", output="sigmoid")
    X, Y = np.random.default_rng(1).standard_normal((5, 3)), np.random.default_rng(2).uniform(0, 1, (5, 2))
    assert chainrule.gradcheck(net, X, Y) < TOLERANCE
    monkeypatch.setattr(Sigmoid, "derivative_from_output", lambda self, a: a)
    assert chainrule.gradcheck(net, X, Y) > 1e-2


def test_numerical_gradient_is_exact_to_o_h2_on_a_quadratic():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    theta = np.array([0.5, -1.0])
    g = numerical_gradient(lambda: 0.5 * theta @ A @ theta, theta)
    np.testing.assert_allclose(g, A @ theta, atol=1e-9)
    np.testing.assert_array_equal(theta, [0.5, -1.0])  # restored


def test_numerical_gradient_error_shrinks_like_h2_on_exp():
    """On C = sum exp(theta) the central difference is off by h^2 e^theta / 6 + O(h^4), so halving h
    divides the error by about 4 (rounding, eps |C| / h ~ 1e-13 here, is far below it)."""
    theta = np.array([0.5, -1.0, 2.0])
    exact = np.exp(theta)
    errors = [np.linalg.norm(numerical_gradient(lambda: np.exp(theta).sum(), theta, h) - exact) for h in (1e-2, 5e-3)]
    assert 3.5 < errors[0] / errors[1] < 4.5
    np.testing.assert_allclose(errors[0], 1e-4 * np.linalg.norm(exact) / 6, rtol=1e-3)


def test_relative_error_is_normwise_and_safe_at_zero():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0
    assert relative_error(np.array([1.0, 0.0]), np.array([1.0, 1e-20])) < 1e-19
    assert relative_error(np.array([3.0, 4.0]), np.array([0.0, 0.0])) == 1


def test_a_nan_gradient_makes_gradcheck_nan_and_fail(monkeypatch):
    """max(worst, nan) is worst: the check must not drop a NaN, or a NaN gradient would pass."""
    net = chainrule.mlp([3, 4, 2], hidden="sigmoid", output="sigmoid")
    X, Y = np.random.default_rng(1).standard_normal((5, 3)), np.random.default_rng(2).uniform(0, 1, (5, 2))
    monkeypatch.setattr(Sigmoid, "derivative_from_output", lambda self, a: a * np.nan)
    error = chainrule.gradcheck(net, X, Y)
    assert np.isnan(error) and not error < TOLERANCE


@pytest.mark.parametrize("h", [float("nan"), 0, -1e-5, float("inf"), "1e-5", True])
def test_gradcheck_refuses_a_step_that_is_not_a_positive_finite_number(h):
    net = chainrule.mlp([3, 2])
    X, Y = np.ones((2, 3)), np.zeros((2, 2))
    with pytest.raises(ValueError, match="h must be a positive finite number"):
        chainrule.gradcheck(net, X, Y, h=h)


@pytest.mark.parametrize("output, loss, Y", [("sigmoid", "squared_error", np.zeros((0, 2))),
                                             ("softmax", "cross_entropy", np.zeros(0, dtype=int))])
def test_gradcheck_refuses_an_empty_batch(output, loss, Y):
    """With no samples nothing is checked (the result would be 0.0), and a mean loss divides by 0."""
    net = chainrule.mlp([3, 2], output=output, loss=loss)
    with pytest.raises(ValueError, match=r"X has no samples \(shape \(0, 3\)\)"):
        chainrule.gradcheck(net, np.zeros((0, 3)), Y)


@pytest.mark.parametrize("broken", [0, 1, 2, 3])
def test_gradcheck_reports_the_worst_array_when_only_one_gradient_is_wrong(broken, monkeypatch):
    """One wrong array among four (dC/dW or dC/db of either layer scaled by 1.5) is enough to fail:
    the check is the largest error over the arrays, not a typical one."""
    net = chainrule.mlp([3, 4, 2], hidden="tanh", output="identity", loss="half_squared_error", seed=1)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    assert chainrule.gradcheck(net, X, Y) < TOLERANCE
    right = net.loss_and_gradient

    def one_wrong(*args, **kwargs):
        loss, grads = right(*args, **kwargs)
        grads = [list(pair) for pair in grads]
        grads[broken // 2][broken % 2] = 1.5 * grads[broken // 2][broken % 2]
        return loss, [tuple(pair) for pair in grads]

    monkeypatch.setattr(net, "loss_and_gradient", one_wrong)
    assert chainrule.gradcheck(net, X, Y) == pytest.approx(1 / 3, rel=1e-6)  # |1.5 g - g| / |1.5 g|
