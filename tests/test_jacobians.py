"""The explicit Jacobians of the derivation: each block against central differences, and the
left-to-right vector-matrix evaluation against the explicit product and against backpropagation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule import jacobians
from chainrule.activations import get_activation
from chainrule.gradcheck import numerical_gradient

SMOOTH = ["sigmoid", "tanh", "identity"]


def numerical_jacobian(f, theta, h=1e-6):
    """d f / d theta (rows: components of f) by central differences; theta is perturbed in place."""
    n_out = np.asarray(f()).size
    return np.array([numerical_gradient(lambda: np.ravel(f())[i], theta, h).ravel() for i in range(n_out)])


@settings(max_examples=30, deadline=None)
@given(z=st.lists(st.floats(-8, 8), min_size=1, max_size=7), name=st.sampled_from(SMOOTH))
def test_sigma_prime_diag_is_the_jacobian_of_componentwise_sigma(z, name):
    z = np.array(z)
    D = jacobians.sigma_prime_diag(z, name)
    np.testing.assert_array_equal(D, np.diag(np.diag(D)))  # diagonal
    np.testing.assert_allclose(D, numerical_jacobian(lambda: get_activation(name)(z[None])[0], z), atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(n_in=st.integers(1, 5), n_out=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_affine_jacobian_is_x_transpose_repeated_on_the_diagonal_then_the_identity(n_in, n_out, seed):
    """d(W x + b) / d(W row by row, b) = [[x^T, 0, ...], [0, x^T, ...], ..., | I]."""
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal(n_in), rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    J = jacobians.affine_jacobian(x, n_out)
    block = np.zeros((n_out, n_out * n_in + n_out))
    for i in range(n_out):
        block[i, i * n_in:(i + 1) * n_in] = x
        block[i, n_out * n_in + i] = 1
    np.testing.assert_array_equal(J, block)
    theta = np.concatenate([W.ravel(), b])
    G = lambda: theta[:W.size].reshape(W.shape) @ x + theta[W.size:]  # noqa: E731
    np.testing.assert_allclose(J, numerical_jacobian(G, theta), atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(n_in=st.integers(1, 5), n_out=st.integers(1, 5), name=st.sampled_from(SMOOTH), seed=st.integers(0, 2**16))
def test_layer_jacobians_u_and_v(n_in, n_out, name, seed):
    """MAT1110's names (eq. (11)): U = dF/d(W, b) and V = dF/dx = diag(sigma'(z)) W for F(x) = sigma(W x + b)."""
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal(n_in), rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    U, V, F = jacobians.layer_jacobians(W, b, x, name)
    act = get_activation(name)
    np.testing.assert_allclose(F, act((W @ x + b)[None])[0])
    np.testing.assert_allclose(V, numerical_jacobian(lambda: act((W @ x + b)[None])[0], x), atol=1e-8)
    theta = np.concatenate([W.ravel(), b])
    F_theta = lambda: act((theta[:W.size].reshape(W.shape) @ x + theta[W.size:])[None])[0]  # noqa: E731
    np.testing.assert_allclose(U, numerical_jacobian(F_theta, theta), atol=1e-8)


def test_stage_matrix_has_the_block_structure_0_i_0_over_u_0_v():
    rng = np.random.default_rng(0)
    U, V = rng.standard_normal((2, 8)), rng.standard_normal((2, 3))
    B = jacobians.stage_matrix(U, V, n_later=4)
    assert B.shape == (4 + 2, 8 + 4 + 3)
    np.testing.assert_array_equal(B[:4, :8], 0)
    np.testing.assert_array_equal(B[:4, 8:12], np.eye(4))
    np.testing.assert_array_equal(B[:4, 12:], 0)
    np.testing.assert_array_equal(B[4:, :8], U)
    np.testing.assert_array_equal(B[4:, 8:12], 0)
    np.testing.assert_array_equal(B[4:, 12:], V)


@settings(max_examples=30, deadline=None)
@given(p=st.integers(1, 4), q=st.integers(1, 4), r=st.integers(1, 4), s=st.integers(1, 4), t=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_block_matrix_product_identity(p, q, r, s, t, seed):
    """[[I, 0, 0], [0, U, V]] [[I, 0, 0], [0, I, 0], [0, 0, X]] = [[I, 0, 0], [0, U, V X]]."""
    rng = np.random.default_rng(seed)
    U, V, X = rng.standard_normal((q, r)), rng.standard_normal((q, s)), rng.standard_normal((s, t))
    left = np.block([[np.eye(p), np.zeros((p, r)), np.zeros((p, s))], [np.zeros((q, p)), U, V]])
    right = np.block([[np.eye(p), np.zeros((p, r)), np.zeros((p, t))],
                      [np.zeros((r, p)), np.eye(r), np.zeros((r, t))],
                      [np.zeros((s, p)), np.zeros((s, r)), X]])
    expected = np.block([[np.eye(p), np.zeros((p, r)), np.zeros((p, t))], [np.zeros((q, p)), U, V @ X]])
    np.testing.assert_allclose(left @ right, expected, atol=1e-12)


def small_network(sizes, hidden, output, seed):
    net = chainrule.mlp(sizes, hidden=hidden, output=output, seed=seed)
    for dense in net.dense:
        dense.b[:] = np.random.default_rng(seed + 1).normal(0, 0.5, dense.b.shape)
    return net


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), hidden=st.sampled_from(SMOOTH),
       output=st.sampled_from(SMOOTH), seed=st.integers(0, 1000))
def test_parameter_jacobian_product_matches_central_differences(sizes, hidden, output, seed):
    net = small_network(sizes, hidden, output, seed)
    x = np.random.default_rng(seed).standard_normal(sizes[0])
    out, J = jacobians.parameter_jacobian(net, x)
    np.testing.assert_allclose(out, net.forward(x[None])[0], atol=1e-12)
    theta = jacobians.flatten([(d.W, d.b) for d in net.dense])

    def forward_at():
        k = 0
        for dense in net.dense:
            dense.W[...] = theta[k:k + dense.W.size].reshape(dense.W.shape)
            k += dense.W.size
            dense.b[...] = theta[k:k + dense.b.size]
            k += dense.b.size
        return net.forward(x[None])[0]

    np.testing.assert_allclose(J, numerical_jacobian(forward_at, theta), atol=1e-7)


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5), hidden=st.sampled_from(SMOOTH + ["relu"]),
       output=st.sampled_from(SMOOTH), seed=st.integers(0, 1000))
def test_left_to_right_equals_the_explicit_product_and_backpropagation(sizes, hidden, output, seed):
    """2 (x_r - y)^T B_r ... B_1 E evaluated from the left (vector-matrix products) equals the same
    product evaluated from the right (matrix-matrix) and the gradient of backpropagation."""
    net = small_network(sizes, hidden, output, seed)
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(sizes[0]), rng.uniform(0, 1, sizes[-1])
    left = jacobians.gradient_left_to_right(net, x, y)
    out, J = jacobians.parameter_jacobian(net, x)
    np.testing.assert_allclose(left, 2 * (out - y) @ J, rtol=1e-10, atol=1e-13)
    _, grads = net.loss_and_gradient(x[None], y[None])  # squared_error: f = |x_r - y|^2
    np.testing.assert_allclose(left, jacobians.flatten(grads), rtol=1e-10, atol=1e-13)


def test_flatten_orders_w_row_by_row_then_b_layer_by_layer():
    grads = [(np.array([[1, 2], [3, 4]]), np.array([5, 6])), (np.array([[7, 8]]), np.array([9]))]
    np.testing.assert_array_equal(jacobians.flatten(grads), np.arange(1, 10))


def test_explicit_jacobians_reject_softmax_and_dropout():
    with pytest.raises(ValueError, match="not softmax"):
        jacobians.parameter_jacobian(chainrule.mlp([2, 3], output="softmax", loss="cross_entropy"), np.zeros(2))
    with pytest.raises(ValueError, match="Dense and activation layers only"):
        jacobians.parameter_jacobian(chainrule.mlp([2, 3, 2], dropout=0.5), np.zeros(2))


def test_dense_activations_name_what_follows_each_dense_layer():
    assert jacobians.dense_activations(chainrule.mlp([2, 3, 4, 1], hidden="tanh", output="identity")) == [
        "tanh", "tanh", "identity"]
    assert jacobians.dense_activations(chainrule.mlp([2, 3, 2], hidden="relu", output="softmax", dropout=0.5,
                                                     loss="cross_entropy")) == ["relu", "softmax"]
    net = chainrule.Network([chainrule.Dense(np.ones((1, 2)), np.zeros(1))], "half_squared_error")
    assert jacobians.dense_activations(net) == ["identity"]


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), hidden=st.sampled_from(SMOOTH),
       seed=st.integers(0, 1000))
def test_a_column_vector_x_gives_what_a_flat_x_gives(sizes, hidden, seed):
    """The module's convention: one sample is a column vector, given as (n,) or (n, 1)."""
    net = small_network(sizes, hidden, "sigmoid", seed)
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(sizes[0]), rng.uniform(0, 1, sizes[-1])
    W, b = net.dense[0].W, net.dense[0].b
    for flat, column in zip(jacobians.layer_jacobians(W, b, x, hidden),
                            jacobians.layer_jacobians(W, b[:, None], x[:, None], hidden)):
        np.testing.assert_array_equal(flat, column)
    for flat, column in zip(jacobians.parameter_jacobian(net, x), jacobians.parameter_jacobian(net, x[:, None])):
        np.testing.assert_array_equal(flat, column)
    np.testing.assert_array_equal(jacobians.gradient_left_to_right(net, x, y),
                                  jacobians.gradient_left_to_right(net, x[:, None], y[:, None]))


def test_wrong_lengths_and_target_shapes_are_value_errors_naming_the_shapes():
    net = small_network([3, 4, 2], "sigmoid", "sigmoid", 0)
    W, b = net.dense[0].W, net.dense[0].b
    wrong_x = r"x must have shape \(3,\) or be a column \(3, 1\), got shape \(4,\)"
    with pytest.raises(ValueError, match=wrong_x):
        jacobians.layer_jacobians(W, b, np.zeros(4))
    with pytest.raises(ValueError, match=wrong_x):
        jacobians.parameter_jacobian(net, np.zeros(4))
    with pytest.raises(ValueError, match=wrong_x):
        jacobians.gradient_left_to_right(net, np.zeros(4), np.zeros(2))
    with pytest.raises(ValueError, match=r"x must have shape \(3,\) or be a column \(3, 1\), got shape \(1, 3\)"):
        jacobians.layer_jacobians(W, b, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\) or be a column \(4, 1\), got shape \(1,\)"):
        jacobians.layer_jacobians(W, b[:1], np.zeros(3))
    for y, shape in ((1, r"\(\)"), (np.zeros(3), r"\(3,\)"), (np.zeros((1, 2)), r"\(1, 2\)")):
        with pytest.raises(ValueError, match=r"y must have shape \(2,\) or be a column \(2, 1\), got shape " + shape):
            jacobians.gradient_left_to_right(net, np.zeros(3), y)
