"""Network: forward as the composition of the layers, gradients of the input, the Jacobian, and the
checks at the public boundary."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.activations import get_activation
from chainrule.gradcheck import numerical_gradient, relative_error

rng = np.random.default_rng(0)


def manual_forward(net, X):
    """a^(k) = sigma_k(W^(k) a^(k-1) + b^(k)), one column vector at a time."""
    names = [layer.name for layer in net.layers if isinstance(layer, chainrule.ActivationLayer)]
    out = []
    for x in X:
        a = x
        for dense, name in zip(net.dense, names):
            a = get_activation(name)((dense.W @ a + dense.b)[None])[0]
        out.append(a)
    return np.array(out)


def test_mlp_builds_dense_and_activation_layers_in_order():
    net = chainrule.mlp([4, 5, 3], hidden="relu", output="softmax", loss="cross_entropy")
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "ActivationLayer", "Dense", "ActivationLayer"]
    assert [d.W.shape for d in net.dense] == [(5, 4), (3, 5)]
    assert [d.b.shape for d in net.dense] == [(5,), (3,)]
    assert net.params() == [net.dense[0].W, net.dense[0].b, net.dense[1].W, net.dense[1].b]
    assert net.input_shape == (4,) and net.n_outputs == 3 and net.is_classifier


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 8), min_size=2, max_size=5),
       hidden=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu", "identity"]),
       output=st.sampled_from(["sigmoid", "tanh", "identity", "softmax"]), m=st.integers(1, 9))
def test_forward_is_the_composition_of_the_layers(sizes, hidden, output, m):
    assume(output != "softmax" or sizes[-1] > 1)  # one softmax output is refused (always 1)
    net = chainrule.mlp(sizes, hidden=hidden, output=output, seed=m)
    X = rng.standard_normal((m, sizes[0]))
    np.testing.assert_allclose(net.forward(X), manual_forward(net, X), atol=1e-12)


def test_predict_gives_labels_for_classifiers_and_outputs_for_regression():
    X = rng.standard_normal((6, 3))
    softmax_net = chainrule.mlp([3, 4, 5], output="softmax", loss="cross_entropy")
    np.testing.assert_array_equal(softmax_net.predict(X), softmax_net.forward(X).argmax(axis=1))
    one_unit = chainrule.mlp([3, 4, 1], output="sigmoid")
    np.testing.assert_array_equal(one_unit.predict(X), (one_unit.forward(X)[:, 0] >= 0.5).astype(int))
    regression = chainrule.mlp([3, 4, 2], output="identity", loss="half_squared_error")
    assert not regression.is_classifier
    np.testing.assert_array_equal(regression.predict(X), regression.forward(X))


def test_loss_and_gradient_pairs_each_dense_layer_with_its_dw_db():
    net = chainrule.mlp([3, 7, 4, 2], hidden="tanh", output="identity", loss="half_squared_error")
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    loss, grads = net.loss_and_gradient(X, Y)
    assert loss == pytest.approx(0.5 * np.sum((net.forward(X) - Y) ** 2))
    assert len(grads) == len(net.dense)
    for dense, (dW, db) in zip(net.dense, grads):
        assert dW.shape == dense.W.shape and db.shape == dense.b.shape


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4), m=st.integers(1, 5), data=st.data())
def test_input_gradient_of_output_k_matches_central_differences(sizes, m, data):
    net = chainrule.mlp(sizes, hidden="tanh", output="sigmoid", seed=m)
    X = rng.standard_normal((m, sizes[0]))
    k = data.draw(st.integers(0, sizes[-1] - 1))
    fd = numerical_gradient(lambda: net.forward(X)[:, k].sum(), X)  # rows are independent
    assert relative_error(net.input_gradient(X, output=k), fd) < 1e-7


def test_input_gradient_for_a_single_output_network():
    """grad a^(L)(x) when n_L = 1: the default (top class) is the only output."""
    net = chainrule.mlp([4, 6, 6, 1], hidden="sigmoid", output="identity", loss="half_squared_error")
    X = rng.standard_normal((3, 4))
    fd = numerical_gradient(lambda: net.forward(X).sum(), X)
    assert relative_error(net.input_gradient(X), fd) < 1e-8
    assert relative_error(net.input_gradient(X, output=0), fd) < 1e-8


@pytest.mark.parametrize("loss, output", [("cross_entropy", "softmax"), ("squared_error", "sigmoid")])
def test_input_gradient_of_the_loss_matches_central_differences(loss, output):
    net = chainrule.mlp([5, 4, 3], hidden="tanh", output=output, loss=loss)
    X, labels = rng.standard_normal((4, 5)), np.array([0, 2, 1, 2])
    fd = numerical_gradient(lambda: net.loss_value(X, labels), X)
    assert relative_error(net.input_gradient(X, Y=labels), fd) < 1e-8


def test_input_gradient_default_is_each_rows_top_class():
    net = chainrule.mlp([3, 5, 4], output="softmax", loss="cross_entropy", seed=3)
    X = rng.standard_normal((6, 3))
    top = net.predict(X)
    np.testing.assert_allclose(net.input_gradient(X), net.input_gradient(X, output=top))


def test_output_and_input_gradient_give_the_forward_output_and_the_input_gradient():
    net = chainrule.mlp([3, 5, 4], hidden="relu", output="softmax", loss="cross_entropy", seed=4)
    X = rng.standard_normal((6, 3))
    out, gradient = net.output_and_input_gradient(X, output=2)
    np.testing.assert_array_equal(out, net.forward(X))
    fd = numerical_gradient(lambda: net.forward(X)[:, 2].sum(), X)
    assert relative_error(gradient, fd) < 1e-8


def test_backward_pass_without_parameter_gradients_carries_the_same_deltas():
    """need_param_grads=False (what input_gradient asks) skips every dC/dW but changes no delta."""
    net = chainrule.mlp([4, 6, 5, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=1)
    X = rng.standard_normal((7, 4))
    out, caches = net.forward_pass(X, net.layers)
    seed = rng.standard_normal(out.shape)
    grads, deltas = net.backward_pass(caches, seed, net.layers)
    no_grads, same = net.backward_pass(caches, seed, net.layers, need_param_grads=False)
    assert len(grads) == 3 and no_grads == []
    for full, alone in zip(deltas, same):
        np.testing.assert_array_equal(full, alone)


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3), n_out=st.integers(2, 6), seed=st.integers(0, 100))
def test_jacobian_is_the_full_n_l_by_n_0_matrix_of_partial_derivatives(sizes, n_out, seed):
    sizes = [*sizes, n_out]  # softmax needs two outputs or more
    net = chainrule.mlp(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=seed)
    x = np.random.default_rng(seed).standard_normal(sizes[0])
    J = net.jacobian(x)
    assert J.shape == (sizes[-1], sizes[0])
    fd = np.array([numerical_gradient(lambda: net.forward(x[None])[0, k], x) for k in range(sizes[-1])])
    np.testing.assert_allclose(J, fd, atol=1e-8)


def test_a_float32_network_computes_in_float32():
    net = chainrule.mlp([3, 4, 2], output="softmax", loss="cross_entropy", dtype=np.float32)
    X = rng.standard_normal((5, 3))  # float64 input is converted
    assert net.forward(X).dtype == np.float32
    loss, grads = net.loss_and_gradient(X, np.array([0, 1, 1, 0, 1]))
    assert all(g.dtype == np.float32 for pair in grads for g in pair)
    assert net.input_gradient(X).dtype == np.float32


def test_input_scaling_takes_raw_uint8_images():
    net = chainrule.mlp([4, 3, 2], output="softmax", loss="cross_entropy", input_scaling=(127.5, 1 / 127.5, (2, 2)))
    images = np.array([[[0, 255], [128, 7]]], dtype=np.uint8)
    assert net.input_shape == (2, 2)
    scaled = (images.reshape(1, 4) - 127.5) / 127.5
    plain = chainrule.Network(net.layers[1:], net.loss)
    np.testing.assert_allclose(net.forward(images), plain.forward(scaled))
    assert net.input_gradient(images).shape == (1, 2, 2)


# ---- bad input: a ValueError naming the argument and the shapes ------------------------------

@pytest.fixture
def classifier():
    return chainrule.mlp([3, 4, 5], output="softmax", loss="cross_entropy")


@pytest.mark.parametrize("X, match", [
    (np.zeros((4, 2)), r"X must have shape \(m, 3\), got \(4, 2\)"),
    (np.zeros(3), r"X must be a batch of shape \(m, 3\); got one sample \(3,\): use X\[None\]"),
    (np.array([[0.0, np.nan, 1.0]]), r"X contains NaN or infinite values \(shape \(1, 3\)\)"),
    (np.array([["a", "b", "c"]]), r"X must be numeric"),
])
def test_bad_inputs_name_the_argument_and_shapes(classifier, X, match):
    with pytest.raises(ValueError, match=match):
        classifier.forward(X)
    with pytest.raises(ValueError, match=match):
        classifier.loss_and_gradient(X, np.zeros(len(np.atleast_2d(X)), dtype=int))


@pytest.mark.parametrize("Y, match", [
    (np.array([0, 5]), r"labels Y must lie in \[0, 5\), got values from 0 to 5"),
    (np.array([-1, 2]), r"labels Y must lie in \[0, 5\), got values from -1 to 2"),
    (np.array([0, 1, 2]), r"Y has 3 labels but X has 2 rows"),
    (np.zeros((2, 4)), r"Y must have shape \(2, 5\).*got \(2, 4\)"),
    (np.full((2, 5), np.nan), r"Y must be finite numbers"),
])
def test_bad_targets_name_the_argument_and_shapes(classifier, Y, match):
    with pytest.raises(ValueError, match=match):
        classifier.loss_and_gradient(np.zeros((2, 3)), Y)


def test_input_gradient_rejects_outputs_out_of_range(classifier):
    with pytest.raises(ValueError, match=r"output must be integers in \[0, 5\), got 5"):
        classifier.input_gradient(np.zeros((2, 3)), output=5)
    with pytest.raises(ValueError, match=r"output must be integers"):
        classifier.input_gradient(np.zeros((2, 3)), output=1.5)


def test_jacobian_rejects_a_wrong_sized_input(classifier):
    with pytest.raises(ValueError, match=r"x must have shape \(3,\), got \(4,\)"):
        classifier.jacobian(np.zeros(4))


@pytest.mark.parametrize("kwargs, match", [
    ({"sizes": [3, 4, 2], "hidden": "sigmod"}, r"unknown activation 'sigmod'"),
    ({"sizes": [3, 4, 2], "loss": "l2"}, r"unknown loss 'l2'"),
    ({"sizes": [3]}, r"sizes must list at least two positive layer sizes, got \[3\]"),
    ({"sizes": [3, 0, 2]}, r"sizes must list at least two positive layer sizes"),
    ({"sizes": [3, 2], "dtype": np.int32}, r"dtype must be float32 or float64, got int32"),
    ({"sizes": [3, 2], "init": "zeros"}, r"unknown initializer 'zeros'"),
    ({"sizes": [3, 2], "output": "sigmoid", "loss": "cross_entropy"},
     r"loss 'cross_entropy' needs output activation 'softmax', got 'sigmoid'"),
    ({"sizes": [5, 2], "input_scaling": (0, 1, (2, 2))}, r"input_scaling shape \(2, 2\) does not hold sizes\[0\] = 5"),
    # each of these was a TypeError from inside NumPy or Python, or accepted
    ({"sizes": 784, "hidden": 10}, r"sizes must list at least two positive layer sizes, got \[784\]"),
    ({"sizes": [3, 2.5]}, r"sizes must be a list of whole numbers, such as \[784, 100, 10\], got \[3, 2.5\]"),
    ({"sizes": [3, 2], "seed": "a"}, r"seed must be a non-negative integer or None, got 'a'"),
    ({"sizes": [3, 2], "seed": 0.5}, r"seed must be a non-negative integer or None, got 0.5"),
    ({"sizes": [4, 3], "dropout": 5}, r"dropout rate must lie in \[0, 1\), got 5"),
    ({"sizes": [4, 3, 3], "dropout": "0.5"}, r"dropout rate must lie in \[0, 1\), got '0.5'"),
    ({"sizes": [784, 2], "input_scaling": (0, 1 / 255, 784)},
     r"input.s shape as a tuple of positive integers, such as \(28, 28\), got 784"),
    ({"sizes": [4, 2], "input_scaling": (np.zeros(4), 1.0, (2, 2))},
     r"two numbers, a finite offset and a finite nonzero scale \(one for every pixel\), got an array of shape \(4,\)"),
    ({"sizes": [784, 2], "input_scaling": (0, 1, (-28, -28))}, r"tuple of positive integers.*got \(-28, -28\)"),
    ({"sizes": [4, 2], "input_scaling": (0, 1)},
     r"input_scaling must be a tuple \(offset, scale, input_shape\), got 2"),
])
def test_mlp_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        chainrule.mlp(**kwargs)


def test_network_rejects_layers_that_do_not_chain():
    with pytest.raises(ValueError, match=r"do not chain: Dense\(3 -> 4\) is followed by Dense\(5 -> 2\)"):
        chainrule.Network([chainrule.Dense(np.zeros((4, 3)), np.zeros(4)),
                           chainrule.Dense(np.zeros((2, 5)), np.zeros(2))])


@pytest.mark.parametrize("layer, match", [
    ("sigmoid", r"layer 1 is 'sigmoid', not a layer: give objects such as Dense\(W, b\)"),
    (chainrule.ActivationLayer, r"layer 1 is the class ActivationLayer \(call it to make one\), not a layer"),
])
def test_network_refuses_what_is_not_a_layer(layer, match):
    """A Keras habit: accepted, then an AttributeError at the first forward pass."""
    with pytest.raises(TypeError, match=match):
        chainrule.Network([chainrule.Dense(np.ones((3, 4)), np.zeros(3)), layer])


def test_float_class_labels_are_named_as_the_problem():
    """Labels read with np.loadtxt are floats: the message blamed the shape, (20,), which was right."""
    net = chainrule.mlp([4, 5, 3], output="softmax", loss="cross_entropy")
    X, y = np.zeros((20, 4)), np.arange(20) % 3
    with pytest.raises(ValueError, match=r"class labels Y must be integers, got dtype float64: use Y.astype\(int\)"):
        chainrule.fit(net, X, y.astype(float), progress=False)
    with pytest.raises(ValueError, match=r"class labels Y must be integers, got dtype bool$"):
        chainrule.accuracy(chainrule.mlp([4, 2], output="softmax", loss="cross_entropy"), X, y == 1)
    with pytest.raises(ValueError, match=r"must be integers, got dtype float64$"):
        chainrule.accuracy(net, X, y + 0.5)


def test_copy_is_independent():
    net = chainrule.mlp([2, 3, 1])
    twin = net.copy()
    twin.dense[0].W += 1
    assert not np.allclose(twin.dense[0].W, net.dense[0].W)


# ---- initialisation ----------------------------------------------------------------------------

@pytest.mark.parametrize("init, variance", [
    ("glorot_uniform", lambda n_in, n_out: 2 / (n_in + n_out)),  # U(-r, r) has variance r^2 / 3
    ("glorot_normal", lambda n_in, n_out: 2 / (n_in + n_out)),
    ("he_normal", lambda n_in, n_out: 2 / n_in),
    ("he_uniform", lambda n_in, n_out: 2 / n_in),
    ("normal", lambda n_in, n_out: 1.0),
    ("uniform01", lambda n_in, n_out: 1 / 12),
])
def test_initializers_draw_weights_with_the_stated_variance_and_zero_biases(init, variance):
    net = chainrule.mlp([300, 200], init=init, seed=1)
    W = net.dense[0].W
    assert W.var() == pytest.approx(variance(300, 200), rel=0.03)
    np.testing.assert_array_equal(net.dense[0].b, 0)


def test_default_initializer_is_he_for_relu_and_glorot_otherwise():
    relu, tanh = chainrule.mlp([400, 400], hidden="relu", seed=0), chainrule.mlp([400, 400], hidden="tanh", seed=0)
    assert relu.dense[0].W.var() == pytest.approx(2 / 400, rel=0.03)
    assert tanh.dense[0].W.var() == pytest.approx(2 / 800, rel=0.03)


def test_initialization_is_reproducible_from_the_seed():
    a, b, c = (chainrule.mlp([5, 4, 3], seed=s) for s in (7, 7, 8))
    for x, y in zip(a.params(), b.params()):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.dense[0].W, c.dense[0].W)


def test_networks_that_cannot_compute_what_they_claim_are_refused():
    with pytest.raises(ValueError, match="softmax over one output is always 1"):
        chainrule.mlp([2, 3, 1], output="softmax", loss="cross_entropy")
    with pytest.raises(ValueError, match="float32 or float64 weights, got dtype int64"):
        chainrule.Network([chainrule.Dense(np.ones((2, 3), int), np.ones(2, int))])
    with pytest.raises(ValueError, match="weights must be finite"):
        chainrule.Network([chainrule.Dense(np.full((2, 3), np.nan), np.zeros(2))])
    with pytest.raises(ValueError, match="finite nonzero scale"):
        chainrule.mlp([4, 2], input_scaling=(0.0, np.nan, (4,)))
    with pytest.raises(ValueError, match="gives 5 values but Dense"):
        chainrule.Network([chainrule.Standardize(0, 1, (5,)), chainrule.Dense(np.ones((2, 3)), np.zeros(2))])
    for sizes in ([3, 2.5, 2], "12", [3, True, 2]):
        with pytest.raises(ValueError, match="sizes must be a list of whole numbers"):
            chainrule.mlp(sizes)
    assert chainrule.mlp(np.array([3, 4, 2])).n_outputs == 2


def test_an_empty_batch_predicts_nothing_and_has_no_loss():
    digits = chainrule.mlp([4, 3, 2], output="softmax", loss="cross_entropy", input_scaling=(1.0, 0.5, (2, 2)))
    assert digits.predict(np.zeros((0, 2, 2), np.uint8)).shape == (0,)
    with pytest.raises(ValueError, match="X has no samples"):
        digits.loss_value(np.zeros((0, 2, 2)), np.zeros(0, int))


def test_jacobian_and_input_gradient_check_their_shapes():
    net = chainrule.mlp([8, 3, 2], output="softmax", loss="cross_entropy", input_scaling=(0.0, 1.0, (2, 4)))
    x = rng.standard_normal((2, 4))
    np.testing.assert_array_equal(net.jacobian(x), net.jacobian(x.ravel()))
    with pytest.raises(ValueError, match="x must have shape \\(2, 4\\), got \\(4, 2\\)"):
        net.jacobian(x.T)
    with pytest.raises(ValueError, match="one index or one per row of X \\(3\\), got shape \\(2,\\)"):
        net.input_gradient(rng.standard_normal((3, 2, 4)), output=[1, 0])


def test_a_digit_model_warns_when_fed_images_divided_by_255(mnist):
    """x / 255 is a reflex: the bundled model then read 12% of the test digits right, without a word."""
    net = chainrule.load()
    images, labels = mnist.test_images[:500], mnist.test_labels[:500]
    with pytest.warns(UserWarning, match=r"X lies within \[0, 1\].*\(X \* 255 if you divided by 255\)"):
        assert chainrule.accuracy(net, images / 255.0, labels) < 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert chainrule.accuracy(net, images, labels) > 0.97  # uint8 images
        assert chainrule.accuracy(net, images.astype(np.float32), labels) > 0.97  # float on 0-255
        net.predict(np.zeros((2, 28, 28)))  # a blank image is no sign of the wrong scale


def test_dense_layers_of_two_dtypes_are_refused():
    """One network, one dtype: save and load keep only one, so a mixed network would come back changed."""
    W32, W64 = np.ones((3, 2), np.float32), np.ones((1, 3))
    with pytest.raises(ValueError, match="mix dtypes float32 and float64: give every layer one dtype"):
        chainrule.Network([chainrule.Dense(W32, np.zeros(3)), chainrule.ActivationLayer("relu"),
                           chainrule.Dense(W64, np.zeros(1))])


@pytest.mark.parametrize("loss, output", [("half_squared_error", "identity"), ("binary_cross_entropy", "sigmoid")])
def test_a_float32_network_takes_float64_targets_and_still_computes_in_float32(loss, output):
    """Targets read as float64 are converted like X: the loss gradient, every dC/dW and dC/db and the
    input gradient of the loss stay float32."""
    net = chainrule.mlp([3, 4, 2], output=output, loss=loss, dtype=np.float32)
    X, Y = rng.standard_normal((5, 3)), rng.uniform(0, 1, (5, 2))
    _, grads = net.loss_and_gradient(X, Y)
    assert all(g.dtype == np.float32 for pair in grads for g in pair)
    assert net.input_gradient(X, Y=Y).dtype == np.float32


def test_leaky_relu_hidden_layers_default_to_he_initialisation():
    """He et al.'s variance 2 / n_in suits the whole ReLU family, leaky ReLU included."""
    net = chainrule.mlp([400, 400], hidden="leaky_relu", seed=0)
    assert net.dense[0].W.var() == pytest.approx(2 / 400, rel=0.03)


def test_one_sigmoid_output_of_exactly_one_half_is_class_1_for_predict_and_accuracy_alike():
    """predict's a >= 1/2 is the threshold accuracy and fit count with: at a = 1/2 (z = 0) both say 1."""
    net = chainrule.Network([chainrule.Dense(np.zeros((1, 2)), np.zeros(1)), chainrule.ActivationLayer("sigmoid")])
    X = rng.standard_normal((4, 2))
    np.testing.assert_array_equal(net.forward(X), 0.5)
    np.testing.assert_array_equal(net.predict(X), [1, 1, 1, 1])
    assert chainrule.accuracy(net, X, np.ones(4, int)) == 1.0
