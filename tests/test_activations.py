"""Activations: the identities of the derivation as properties, stability at large |z|, bad names."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from chainrule.activations import ACTIVATIONS, LeakyReLU, Sigmoid, Softmax, get_activation
from chainrule.gradcheck import numerical_gradient

finite = st.floats(-30, 30, allow_nan=False)
matrices = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite)
COMPONENTWISE = [name for name, cls in ACTIVATIONS.items() if cls.elementwise]


@settings(max_examples=50, deadline=None)
@given(z=matrices)
def test_sigmoid_prime_equals_sigma_times_one_minus_sigma(z):
    """sigma'(z) = e^-z / (1 + e^-z)^2 (the quotient rule; written with |z|, as sigma' is even)
    equals sigma (1 - sigma), and central differences agree where they are not swamped by rounding."""
    s = Sigmoid()
    a = s(z)
    e = np.exp(-np.abs(z))
    np.testing.assert_allclose(e / (1 + e) ** 2, a * (1 - a), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(s.derivative(z), e / (1 + e) ** 2, rtol=1e-9, atol=1e-15)
    h = 1e-6
    central = (s(z + h) - s(z - h)) / (2 * h)
    np.testing.assert_allclose(central, a * (1 - a), rtol=0, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(z=matrices)
def test_sigmoid_is_symmetric_bounded_and_monotone(z):
    s = Sigmoid()
    np.testing.assert_allclose(s(-z), 1 - s(z), atol=1e-15)
    assert np.all((s(z) >= 0) & (s(z) <= 1))
    flat = np.sort(z.ravel())
    assert np.all(np.diff(s(flat)) >= 0)


@pytest.mark.parametrize("name", COMPONENTWISE)
@settings(max_examples=25, deadline=None)
@given(z=matrices)
def test_derivative_matches_central_differences(name, z):
    act = get_activation(name)
    # keep away from the kink of relu and leaky relu, where sigma' does not exist
    z = np.where(np.abs(z) < 1e-3, 0.5, z)
    h = 1e-6
    central = (act(z + h) - act(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z), central, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", COMPONENTWISE)
@settings(max_examples=25, deadline=None)
@given(z=arrays(np.float64, st.integers(1, 6), elements=finite))
def test_jacobian_of_componentwise_sigma_is_diagonal(name, z):
    """d sigma(z) / dz, column by column by central differences, equals diag(sigma'(z))."""
    act = get_activation(name)
    z = np.where(np.abs(z) < 1e-3, 0.5, z)
    J = np.column_stack([numerical_gradient(lambda: act(z)[i], z, h=1e-6) for i in range(z.size)]).T
    np.testing.assert_allclose(J, np.diag(act.derivative(z)), atol=1e-8)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@settings(max_examples=25, deadline=None)
@given(z=matrices, seed=st.integers(0, 2**16))
def test_backward_is_the_vector_jacobian_product(name, seed, z):
    """backward(a, g) = g J row by row, with J found by central differences of forward."""
    act = get_activation(name)
    z = np.where(np.abs(z) < 1e-3, 0.5, z)
    g = np.random.default_rng(seed).standard_normal(z.shape)
    vjp = act.backward(act(z), g)
    for row in range(z.shape[0]):
        zr = z[row].copy()
        J = np.column_stack([numerical_gradient(lambda: act(zr[None])[0, i], zr, h=1e-6) for i in range(zr.size)]).T
        np.testing.assert_allclose(vjp[row], g[row] @ J, rtol=1e-6, atol=1e-8)


@settings(max_examples=50, deadline=None)
@given(z=matrices, shift=finite)
def test_softmax_rows_are_probabilities_and_shift_invariant(z, shift):
    a = Softmax()(z)
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=1e-12)
    assert np.all(a >= 0)
    np.testing.assert_allclose(Softmax()(z + shift), a, rtol=1e-9, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(z=arrays(np.float64, st.integers(1, 6), elements=finite))
def test_softmax_jacobian_is_diag_a_minus_a_a_transpose(z):
    J = np.column_stack([numerical_gradient(lambda: Softmax()(z[None])[0, i], z, h=1e-6) for i in range(z.size)]).T
    np.testing.assert_allclose(Softmax().jacobian(z), J, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(dtype):
    z = np.array([[-1e4, -1000.0, 0.0, 1000.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            a = Sigmoid()(z)
    assert a.dtype == dtype
    np.testing.assert_array_equal(a, np.array([[0, 0, 0.5, 1, 1]], dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_saturates_exactly_without_warnings(dtype):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1e4, 1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            a = Softmax()(z)
    assert a.dtype == dtype
    np.testing.assert_array_equal(a, np.array([[1, 0, 0], [0, 0, 1], [0.5, 0.5, 0]], dtype=dtype))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_input(name, dtype):
    z = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    act = get_activation(name)
    assert act(z).dtype == dtype
    assert act.backward(act(z), np.ones_like(z)).dtype == dtype


def test_leaky_relu_slope_scales_negative_inputs():
    act = LeakyReLU(0.2)
    np.testing.assert_array_equal(act(np.array([[-2.0, 3.0]])), [[-0.4, 3.0]])
    np.testing.assert_array_equal(act.derivative(np.array([[-2.0, 3.0]])), [[0.2, 1.0]])


def test_unknown_activation_name_is_a_value_error_listing_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'sigmoidd'.*sigmoid"):
        get_activation("sigmoidd")


@pytest.mark.parametrize("slope", [0, 1, -0.5])
def test_leaky_relu_rejects_slopes_outside_the_open_unit_interval(slope):
    with pytest.raises(ValueError, match="slope"):
        LeakyReLU(slope)


def test_softmax_has_no_componentwise_derivative():
    with pytest.raises(TypeError, match="jacobian"):
        Softmax().derivative(np.zeros((1, 3)))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_refuses_a_gradient_of_another_shape(name):
    """grad_a of shape (m,) against a of shape (m, 1) would broadcast into an (m, m) grad_z."""
    act = get_activation(name)
    a = act(np.linspace(-1, 1, 4)[:, None])
    with pytest.raises(ValueError, match=r"shape of the output a, got a \(4, 1\) and grad_a \(4,\)"):
        act.backward(a, np.ones(4))


def test_softmax_jacobian_refuses_a_batch():
    """jacobian is the n x n matrix of one sample; a (1, n) batch would give a wrong matrix."""
    z = np.array([0.5, -1.0, 2.0])
    with pytest.raises(ValueError, match=r"one sample z of shape \(n,\), got \(1, 3\)"):
        Softmax().jacobian(z[None])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_forward_takes_a_list_as_an_array(name):
    """Every activation reads a nested list as np.asarray would (leaky_relu compared the list with 0)."""
    act = get_activation(name)
    z = [[0.5, -1.0, 2.0]]
    np.testing.assert_array_equal(act.forward(z), act.forward(np.asarray(z)))


@pytest.mark.parametrize("name, slope", [("relu", 0.0), ("leaky_relu", 0.01)])
def test_the_derivative_at_the_kink_is_the_documented_left_one(name, slope):
    """At z = 0 (and -0.0) sigma' of relu is 0 and of leaky relu c, as documented ("1 for z > 0 and c
    otherwise") and as torch's autograd takes it: derivative, derivative_from_output and backward agree."""
    act = get_activation(name)
    z = np.array([[-1.0, 0.0, -0.0, 1.0]])
    expected = np.array([[slope, slope, slope, 1.0]])
    np.testing.assert_array_equal(act.derivative(z), expected)
    np.testing.assert_array_equal(act.derivative_from_output(act(z)), expected)
    np.testing.assert_array_equal(act.backward(act(z), np.full(z.shape, 3.0)), 3 * expected)


@pytest.mark.parametrize("name", COMPONENTWISE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_derivative_follows_the_dtype_and_shape_of_the_input(name, dtype):
    """sigma'(z) (and sigma' from the output a) is an array like z: float32 in, float32 out."""
    z = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    act = get_activation(name)
    for d in (act.derivative(z), act.derivative_from_output(act(z))):
        assert d.dtype == dtype and d.shape == z.shape
