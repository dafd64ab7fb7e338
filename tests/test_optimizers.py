"""Optimisers: each update rule against a hand computation, each lowers a loss, Armijo's condition."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.optimizers import SGD, Adam, armijo_step, make_optimizer


def quadratic_problem():
    """A small regression network, its data, and a closure giving (loss, flat gradients)."""
    rng = np.random.default_rng(0)
    net = chainrule.mlp([3, 8, 2], hidden="tanh", output="identity", loss="mean_squared_error", seed=0)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))

    def loss_and_gradient():
        loss, grads = net.loss_and_gradient(X, Y)
        return loss, [g for pair in grads for g in pair]

    return net, X, Y, loss_and_gradient


@pytest.mark.parametrize("optimizer", [
    SGD(0.1), SGD(0.1, momentum=0.9), SGD(0.1, momentum=0.9, nesterov=True), Adam(0.01), SGD(0.1, weight_decay=1e-3),
], ids=["sgd", "momentum", "nesterov", "adam", "weight_decay"])
def test_each_optimizer_lowers_the_loss(optimizer):
    net, X, Y, loss_and_gradient = quadratic_problem()
    start = loss_and_gradient()[0]
    for _ in range(50):
        optimizer.step(net.params(), loss_and_gradient()[1])
    assert loss_and_gradient()[0] < 0.8 * start


def two_steps(optimizer):
    """Apply two steps with fixed gradients g1, g2 to theta0; return theta0, g1, g2 and the result."""
    theta0 = np.array([[1.0, -2.0], [0.5, 3.0]])
    g1, g2 = np.array([[0.3, -0.1], [2.0, 0.0]]), np.array([[-0.5, 0.2], [1.0, 4.0]])
    theta = theta0.copy()
    optimizer.step([theta], [g1])
    optimizer.step([theta], [g2])
    return theta0, g1, g2, theta


def test_plain_gradient_descent_by_hand():
    theta0, g1, g2, theta = two_steps(SGD(0.1))
    np.testing.assert_allclose(theta, theta0 - 0.1 * g1 - 0.1 * g2, rtol=1e-15)


def test_momentum_by_hand():
    """v1 = -eta g1, theta1 = theta0 + v1; v2 = mu v1 - eta g2, theta2 = theta1 + v2."""
    eta, mu = 0.1, 0.9
    theta0, g1, g2, theta = two_steps(SGD(eta, momentum=mu))
    v1 = -eta * g1
    v2 = mu * v1 - eta * g2
    np.testing.assert_allclose(theta, theta0 + v1 + v2, rtol=1e-15)


def test_nesterov_by_hand():
    """v_t = mu v_(t-1) - eta g_t, theta_t = theta_(t-1) + mu v_t - eta g_t."""
    eta, mu = 0.1, 0.9
    theta0, g1, g2, theta = two_steps(SGD(eta, momentum=mu, nesterov=True))
    v1 = -eta * g1
    theta1 = theta0 + mu * v1 - eta * g1
    v2 = mu * v1 - eta * g2
    np.testing.assert_allclose(theta, theta1 + mu * v2 - eta * g2, rtol=1e-15)


def test_adam_by_hand():
    """m_t = b1 m + (1 - b1) g, s_t = b2 s + (1 - b2) g^2, theta -= eta m_hat / (sqrt(s_hat) + eps)."""
    eta, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    theta0, g1, g2, theta = two_steps(Adam(eta, b1, b2, eps))
    expected, m, s = theta0.copy(), 0.0, 0.0
    for t, g in enumerate([g1, g2], start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        expected -= eta * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    np.testing.assert_allclose(theta, expected, rtol=1e-14)


def test_weight_decay_adds_lambda_w_to_weights_but_not_biases():
    lam, eta = 0.1, 0.5
    W, b = np.array([[1.0, 2.0]]), np.array([3.0])
    gW, gb = np.array([[0.5, 0.5]]), np.array([0.5])
    SGD(eta, weight_decay=lam).step([W, b], [gW, gb])
    np.testing.assert_allclose(W, [[1.0, 2.0]] - eta * (gW + lam * np.array([[1.0, 2.0]])))
    np.testing.assert_allclose(b, [3.0 - eta * 0.5])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), alpha0=st.sampled_from([0.5, 1.0, 10.0, 100.0]))
def test_armijo_picks_the_first_halving_that_satisfies_sufficient_decrease(seed, alpha0):
    """C(theta - alpha g) <= C(theta) - c alpha |g|^2 holds for the returned alpha, and failed for 2 alpha."""
    net, X, Y, loss_and_gradient = quadratic_problem()
    rng = np.random.default_rng(seed)
    for p in net.params():
        p += rng.normal(0, 0.5, p.shape)
    c = 1e-4
    before, grads = loss_and_gradient()
    norm2 = sum(float(np.vdot(g, g)) for g in grads)
    start = [p.copy() for p in net.params()]
    loss_at = lambda: net.loss_value(X, Y)  # noqa: E731
    alpha, reported_before, after = armijo_step(loss_and_gradient, loss_at, net.params(), alpha0=alpha0, c=c)
    assert alpha > 0 and reported_before == before and after == loss_at()
    assert after <= before - c * alpha * norm2
    for p, p0, g in zip(net.params(), start, grads):
        np.testing.assert_allclose(p, p0 - alpha * g)
    if alpha < alpha0:
        for p, p0, g in zip(net.params(), start, grads):
            p[...] = p0 - 2 * alpha * g
        assert loss_at() > before - c * 2 * alpha * norm2


def test_armijo_leaves_the_parameters_alone_when_no_step_decreases():
    theta = np.array([1.0, 2.0])
    alpha, before, after = armijo_step(lambda: (1.0, [np.array([1.0, 1.0])]), lambda: 2.0, [theta], max_halvings=5)
    assert alpha == 0 and before == after == 1.0
    np.testing.assert_array_equal(theta, [1.0, 2.0])


@pytest.mark.parametrize("name, kind, momentum, nesterov", [
    ("sgd", SGD, 0.0, False), ("momentum", SGD, 0.9, False), ("nesterov", SGD, 0.9, True), ("adam", Adam, None, None),
])
def test_make_optimizer_by_name(name, kind, momentum, nesterov):
    optimizer = make_optimizer(name, lr=0.05)
    assert type(optimizer) is kind and optimizer.lr == 0.05
    if kind is SGD:
        assert optimizer.momentum == momentum and optimizer.nesterov == nesterov


@pytest.mark.parametrize("make, match", [
    (lambda: SGD(0), "learning rate must be a positive finite number, got 0"),
    (lambda: SGD(math.nan), "learning rate"),
    (lambda: Adam(-1e-3), "learning rate"),
    (lambda: SGD(0.1, momentum=1.0), r"momentum must lie in \[0, 1\), got 1.0"),
    (lambda: SGD(0.1, nesterov=True), "nesterov needs a momentum > 0"),
    (lambda: SGD(0.1, weight_decay=-1), "weight_decay must be a finite number >= 0"),
    (lambda: make_optimizer("rmsprop", 0.1), "unknown optimizer 'rmsprop'"),
])
def test_bad_optimizer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9), lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
], ids=["sgd", "momentum", "nesterov"])
def test_step_leaves_the_gradients_alone_and_takes_the_step_of_the_formulas(make):
    """step(g) must not touch the caller's gradients and is the update of the formulas written out
    over whole arrays."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((301, 250)), rng.standard_normal(301)]
    a, c = [p.copy() for p in start], [p.copy() for p in start]
    v = [np.zeros_like(p) for p in start]
    opt_a = make()
    for _ in range(3):
        grads = [rng.standard_normal(p.shape) for p in start]
        kept = [g.copy() for g in grads]
        opt_a.step(a, grads, 0.05)
        for g, k in zip(grads, kept):
            np.testing.assert_array_equal(g, k)
        mu, lam = opt_a.momentum, opt_a.weight_decay
        for i, (p, g) in enumerate(zip(c, grads)):
            g = g + lam * p if p.ndim == 2 else g
            v[i] = mu * v[i] - 0.05 * g
            c[i] = p + (mu * v[i] - 0.05 * g if opt_a.nesterov else v[i])
    for p, r in zip(a, c):
        np.testing.assert_allclose(p, r, rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"beta1": 1.0}, "beta1 and beta2 must lie in \\[0, 1\\)"),
    ({"beta2": 1.0}, "beta1 and beta2 must lie in \\[0, 1\\)"),
    ({"beta1": 1.5}, "beta1 and beta2"),
    ({"beta1": float("nan")}, "beta1 and beta2"),
    ({"eps": 0.0}, "eps must be a positive finite number"),
    ({"eps": float("nan")}, "eps must be"),
])
def test_adam_refuses_hyperparameters_that_divide_by_zero_or_give_nan(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam(0.1, **kwargs)


def test_numpy_scalars_are_numbers_and_booleans_are_not():
    assert SGD(np.float32(0.5), np.float64(0.9)).lr == 0.5
    with pytest.raises(ValueError, match="learning rate"):
        SGD(True)


def test_a_step_needs_one_gradient_per_parameter_array():
    params = [np.zeros(3), np.zeros(2)]
    with pytest.raises(ValueError, match="one gradient per parameter array"):
        SGD(0.1).step(params, [np.ones(3)])


@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_adam_adds_eps_to_the_bias_corrected_root_of_s(eps):
    """theta -= eta m_hat / (sqrt(s_hat) + eps), eps added after the bias correction of s (Kingma & Ba,
    Algorithm 1; torch.optim.Adam): with gradients of the size of eps the place of eps decides the step."""
    eta, b1, b2 = 0.01, 0.9, 0.999
    theta = np.array([[1.0, -2.0], [0.5, 3.0]])
    expected, m, s = theta.copy(), 0.0, 0.0
    optimizer = Adam(eta, b1, b2, eps)
    rng = np.random.default_rng(0)
    for t in range(1, 5):
        g = eps * rng.standard_normal(theta.shape)
        optimizer.step([theta], [g])
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        expected -= eta * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    np.testing.assert_allclose(theta, expected, rtol=1e-13)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_make_optimizer_passes_on_the_momentum_and_weight_decay_it_is_given(name):
    optimizer = make_optimizer(name, lr=0.05, momentum=0.0 if name == "adam" else 0.5, weight_decay=0.01)
    assert optimizer.lr == 0.05 and optimizer.weight_decay == 0.01
    if name != "adam":
        assert optimizer.momentum == 0.5 and optimizer.nesterov == (name == "nesterov")


@pytest.mark.parametrize("c, expected", [(0.9, 0.125), (0.6, 0.5), (0.4, 1.0)])
def test_armijo_demands_the_sufficient_decrease_c_alpha_g_squared_not_any_decrease(c, expected):
    """On C = |theta|^2 / 2 (g = theta) the step theta - alpha g gives C (1 - alpha)^2, which meets
    C (1 - alpha)^2 <= C - c alpha |g|^2 exactly when alpha <= 2 (1 - c): from alpha0 = 1, halving, the
    first alpha that does is 0.125 for c = 0.9, 0.5 for c = 0.6 and 1 for c = 0.4."""
    theta = np.array([3.0, -4.0])
    loss_at = lambda: 0.5 * float(theta @ theta)  # noqa: E731
    alpha, before, after = armijo_step(lambda: (loss_at(), [theta.copy()]), loss_at, [theta], alpha0=1.0, c=c)
    assert alpha == expected and before == 12.5
    assert after == pytest.approx(12.5 * (1 - expected) ** 2) and after == loss_at()
    np.testing.assert_allclose(theta, (1 - expected) * np.array([3.0, -4.0]))
