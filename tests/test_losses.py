"""Losses: each value against its defining formula, each gradient against central differences."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.activations import Sigmoid, Softmax
from chainrule.gradcheck import numerical_gradient, relative_error
from chainrule.losses import LOSSES, get_loss


@st.composite
def outputs_and_targets(draw):
    """(a, y, seed): a network output of shape (m, n) and a target of the same shape."""
    m, n, seed = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, (m, n)), rng.uniform(0, 1, (m, n)), seed


def probability_rows(rng, m, n):
    y = rng.uniform(0, 1, (m, n))
    return y / y.sum(axis=1, keepdims=True)


@settings(max_examples=30, deadline=None)
@given(data=outputs_and_targets())
def test_squared_error_is_the_sum_of_squared_norms_with_gradient_2_a_minus_y(data):
    a, y, _ = data
    loss = get_loss("squared_error")
    assert loss.value(a, y) == pytest.approx(sum(np.linalg.norm(a[i] - y[i]) ** 2 for i in range(len(a))))
    np.testing.assert_array_equal(loss.gradient(a, y), 2 * (a - y))  # grad |x - y|^2 = 2 (x - y)
    fd = numerical_gradient(lambda: loss.value(a, y), a)
    np.testing.assert_allclose(fd, 2 * (a - y), atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(data=outputs_and_targets())
def test_half_and_mean_squared_error_rescale_the_squared_error(data):
    a, y, _ = data
    m, n_outputs = a.shape
    full = get_loss("squared_error").value(a, y)
    assert get_loss("half_squared_error").value(a, y) == pytest.approx(full / 2)
    assert get_loss("mean_squared_error").value(a, y) == pytest.approx(full / m)  # a mean over samples only
    # PyTorch's MSELoss and Keras also average over the n_L outputs
    assert get_loss("mean_squared_error").value(a, y) / n_outputs == pytest.approx(np.mean((a - y) ** 2))


# Each convention the course texts state, on two samples with values and gradients worked out by hand.
A = np.array([[1.0, 2.0, 0.5], [0.0, 0.5, -1.0]])
Y = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
# a - y = [[1, 2, -0.5], [-1, -0.5, -1]]; |a(x) - y(x)|^2 = 1 + 4 + 0.25 = 5.25 and 1 + 0.25 + 1 = 2.25


def test_mat1110_squared_error_by_hand():
    """000_ecdaadd94c7ab0cb.txt, eq. (6): f = sum_{i=1}^m |F(x_i) - y_i|^2, whose outer function
    x -> |x - y|^2 has gradient 2 (x - y) (Oppgave 4)."""
    loss = get_loss("squared_error")
    assert loss.value(A, Y) == 7.5  # 5.25 + 2.25
    np.testing.assert_array_equal(loss.gradient(A, Y), [[2.0, 4.0, -1.0], [-2.0, -1.0, -2.0]])


def test_fys_stk_half_squared_error_by_hand():
    """003_2b65d33d36faff62.txt, the output layer: C = 1/2 sum_{i=1}^n (a_i^L - y_i)^2 with
    dC/da^L = a^L - y, summed over the samples."""
    loss = get_loss("half_squared_error")
    assert loss.value(A, Y) == 3.75  # (5.25 + 2.25) / 2
    np.testing.assert_array_equal(loss.gradient(A, Y), [[1.0, 2.0, -0.5], [-1.0, -0.5, -1.0]])


def test_danish_report_mean_squared_error_eq_22_by_hand():
    """002_d52e423183c3ce2c.txt, eq. (22): L = 1/N sum_{i=1}^N sum_{j=1}^{10} (yhat_ij - y_ij)^2, N the
    number of data points: the mean over samples of eq. (20)'s per-sample sum over the outputs."""
    loss = get_loss("mean_squared_error")
    assert loss.value(A, Y) == 3.75  # (5.25 + 2.25) / N, N = 2 (not / (N n_L) = 6: that would be 1.25)
    # dL/dyhat_ij = 2 (yhat_ij - y_ij) / N = a - y here
    np.testing.assert_array_equal(loss.gradient(A, Y), [[1.0, 2.0, -0.5], [-1.0, -0.5, -1.0]])
    ten_outputs = np.zeros((3, 10)), np.full((3, 10), 0.5)  # three points, each (0.5)^2 * 10 = 2.5
    assert loss.value(*ten_outputs) == 2.5


def test_cross_entropy_of_the_danish_softmax_example_by_hand():
    """002_d52e423183c3ce2c.txt, eq. (23) and its example: softmax([2.0, 1.0, 0.1]) = [65.9%, 24.2%,
    9.9%]. The texts define no cross-entropy; ours is the usual mean log-loss
    C = -1/m sum_x log a_label(x), with dC/dz = (a - y) / m."""
    z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2])
    s = np.e**2 + np.e + np.e**0.1  # = 11.2125088...
    a_first = np.array([np.e**2, np.e, np.e**0.1]) / s
    np.testing.assert_allclose(a_first, [0.659, 0.242, 0.099], atol=6e-4)  # the report's percentages
    # -log a_0 = log s - 2 = 0.41703..., and the uniform row gives -log(1/3) = log 3 = 1.09861...
    loss = get_loss("cross_entropy")
    assert loss.value(z, labels) == pytest.approx((np.log(s) - 2 + np.log(3)) / 2, rel=1e-14)
    assert loss.value(z, labels) == pytest.approx(0.7578211524729715, rel=1e-14)
    expected = np.array([[a_first[0] - 1, a_first[1], a_first[2]], [1 / 3, 1 / 3, 1 / 3 - 1]]) / 2
    np.testing.assert_allclose(loss.gradient(z, labels), expected, rtol=1e-14)
    np.testing.assert_allclose(expected[0], [-0.17049943, 0.12121649, 0.04928295], atol=1e-8)


@pytest.mark.parametrize("name", list(LOSSES))
@settings(max_examples=20, deadline=None)
@given(data=outputs_and_targets())
# near the minimum of cross-entropy: |dC/da| = 3.8e-4, and the rounding error of the central
# differences, 1.7e-10 (about eps |C| / h), is 4.4e-7 of it (a failure hypothesis found)
@example(data=(np.array([[-0.97886557, -0.19431546]]), np.array([[0.60321206, 0.01905861]]), 1495))
def test_gradient_matches_central_differences(name, data):
    """The error is relative to |dC/da|, or where that is tiny to 0.1 max(1, |C|): the differences'
    rounding error is absolute, about eps |C| / h, so an error below 1e-8 max(1, |C|) is rounding."""
    a, y, seed = data
    loss = get_loss(name)
    if name == "cross_entropy":
        y = probability_rows(np.random.default_rng(seed), *a.shape)
    fd = numerical_gradient(lambda: loss.value(a, y), a, h=1e-6)
    floor = 0.1 * max(1.0, abs(loss.value(a, y)))
    assert relative_error(loss.gradient(a, y), fd, floor=floor) < 1e-7


@settings(max_examples=30, deadline=None)
@given(data=outputs_and_targets())
def test_cross_entropy_is_minus_the_mean_log_softmax_and_labels_equal_one_hot(data):
    z, _, seed = data
    rng = np.random.default_rng(seed)
    m, n = z.shape
    labels = rng.integers(0, n, m)
    onehot = np.eye(n)[labels]
    loss = get_loss("cross_entropy")
    expected = -np.mean(np.log(Softmax()(z)[np.arange(m), labels]))
    assert loss.value(z, labels) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert loss.value(z, onehot) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(loss.gradient(z, labels), (Softmax()(z) - onehot) / m, atol=1e-15)
    np.testing.assert_allclose(loss.gradient(z, onehot), loss.gradient(z, labels), atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(data=outputs_and_targets())
def test_binary_cross_entropy_is_the_mean_of_minus_y_log_a_minus_1_minus_y_log_1_minus_a(data):
    z, y, _ = data
    a = Sigmoid()(z)
    expected = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / len(z)
    loss = get_loss("binary_cross_entropy")
    assert loss.value(z, y) == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(loss.gradient(z, y), (a - y) / len(z), atol=1e-15)


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_losses_stay_finite_at_huge_logits(name, dtype):
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype=dtype)
    y = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=dtype)
    loss = get_loss(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            value, grad = loss.value(z, y), loss.gradient(z, y)
    # the first row is confidently wrong (-log a = 2000), the second right (0): the mean is 1000
    assert np.isfinite(value) and value == pytest.approx(1000.0, rel=1e-3)
    assert np.all(np.isfinite(grad)) and grad.dtype == dtype


def test_unknown_loss_name_is_a_value_error_listing_the_choices():
    with pytest.raises(ValueError, match=r"unknown loss 'mse'.*squared_error"):
        get_loss("mse")


def test_cross_entropy_targets_must_be_probability_rows():
    """dC/dz = (a - y) / m holds only when each row of y sums to 1 (in general a sum_i y_i - y), so a
    network refuses other targets rather than train on a wrong gradient."""
    net = chainrule.mlp([2, 3, 3], output="softmax", loss="cross_entropy")
    X = np.ones((4, 2))
    soft = np.full((4, 3), 1 / 3)
    assert chainrule.gradcheck(net, X, soft) < 1e-6
    for bad, message in ((2 * soft, "sum to 1"), (np.eye(3)[[0, 1, 2, 0]] * 5, "lie in \\[0, 1\\]"),
                         (np.array([[1.5, -0.5, 0]] * 4), "lie in \\[0, 1\\]")):
        with pytest.raises(ValueError, match=message):
            net.loss_and_gradient(X, bad)
    binary = chainrule.mlp([2, 3, 1], output="sigmoid", loss="binary_cross_entropy")
    with pytest.raises(ValueError, match="lie in \\[0, 1\\]"):
        binary.loss_value(X, np.full(4, 5.0))
    assert binary.loss_value(X, np.array([0.0, 1.0, 0.25, 1.0])) > 0


@pytest.mark.parametrize("name", [name for name in LOSSES if name != "cross_entropy"])
@pytest.mark.parametrize("method", ["value", "gradient", "value_and_gradient"])
def test_an_output_and_target_of_different_shapes_are_refused(name, method):
    """An (m, 1) output against (m,) targets would broadcast into an (m, m) difference: mean squared
    error 1.37 here instead of 0.0675, with an (m, m) gradient."""
    a, y = np.array([[0.1], [0.9], [0.4], [0.7]]), np.array([0.0, 1.0, 0.0, 1.0])
    loss = get_loss(name)
    with pytest.raises(ValueError, match=r"same shape.*output \(4, 1\) and y \(4,\)"):
        getattr(loss, method)(a, y)


@pytest.mark.parametrize("method", ["value", "gradient", "value_and_gradient"])
def test_cross_entropy_refuses_labels_out_of_range_or_not_integers(method):
    """A label -1 would silently index the last class; float labels would fail deep in NumPy."""
    z = np.random.default_rng(0).standard_normal((4, 3))
    loss = getattr(get_loss("cross_entropy"), method)
    for labels, message in (([0, 1, -1, 0], r"lie in \[0, 3\), got values from -1 to 1"),
                            ([0, 3, 2, 0], r"lie in \[0, 3\), got values from 0 to 3"),
                            (np.array([0.0, 1.0, 2.0, 0.0]), "labels y must be integers, got dtype float64"),
                            (np.zeros((4, 1)), r"integer labels of shape \(4,\) or rows of the shape of z \(4, 3\)")):
        with pytest.raises(ValueError, match=message):
            loss(z, labels)
    with pytest.raises(ValueError, match=r"logits z of shape \(m, n\), got \(3,\)"):
        loss(z[0], [0])


def test_cross_entropy_takes_labels_as_a_list():
    z = np.random.default_rng(0).standard_normal((4, 3))
    loss = get_loss("cross_entropy")
    assert loss.value(z, [0, 1, 2, 0]) == loss.value(z, np.array([0, 1, 2, 0]))


def test_cross_entropy_targets_summing_to_one_only_up_to_rounding_are_accepted_and_others_refused():
    """Rows off 1 by 1% would train on a gradient off by 1% of a (a sum_i y_i - y): refused; rows
    off by rounding (1e-6, float32 one-hot rows normalised) are accepted."""
    net = chainrule.mlp([2, 3, 3], output="softmax", loss="cross_entropy")
    X = np.ones((4, 2))
    soft = np.full((4, 3), 1 / 3)
    for scale in (0.99, 0.9):
        with pytest.raises(ValueError, match="sum to 1"):
            net.loss_and_gradient(X, soft * scale)
    net.loss_and_gradient(X, soft * (1 + 1e-6))


@pytest.mark.parametrize("bad", [1.2, 1.01, -0.01])
def test_binary_cross_entropy_refuses_targets_just_outside_0_1(bad):
    """A target y = 1.2 would make -[y log a + (1 - y) log(1 - a)] unbounded below: refused, however close."""
    binary = chainrule.mlp([2, 3, 1], output="sigmoid", loss="binary_cross_entropy")
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="lie in \\[0, 1\\]"):
        binary.loss_value(X, np.array([0.0, 1.0, bad, 1.0]))
    assert binary.loss_value(X, np.array([0.0, 1.0, 1.0, 0.0])) > 0
