"""What the speed work on the training hot path must not change: the numbers fit produces, the
dtype of every array, the identity of the parameter arrays, and the memory a run holds.
(The speed itself is measured by benchmarks/train_speed.py, not here.)"""

from __future__ import annotations

import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.activations import ReLU
from chainrule.layers import Dense
from chainrule.losses import LOSSES, get_loss


def reference_fit(W1, b1, W2, b2, X, Y, epochs, batch_size, lr, seed):
    """Plain minibatch SGD for a ReLU / softmax cross-entropy network, written out without the
    library: the delta recursion in its textbook form, with fit's shuffling."""
    rng = np.random.default_rng(seed)
    m = len(X)
    for _ in range(epochs):
        order = rng.permutation(m)
        for start in range(0, m, batch_size):
            idx = order[start:start + batch_size]
            x, y = X[idx], Y[idx]
            z1 = x @ W1.T + b1
            a1 = np.where(z1 > 0, z1, 0.0)
            z2 = a1 @ W2.T + b2
            e = np.exp(z2 - z2.max(axis=1, keepdims=True))
            a2 = e / e.sum(axis=1, keepdims=True)
            delta2 = (a2 - np.eye(W2.shape[0])[y]) / len(idx)
            delta1 = (delta2 @ W2) * (z1 > 0)
            W2 = W2 - lr * delta2.T @ a1
            b2 = b2 - lr * delta2.sum(axis=0)
            W1 = W1 - lr * delta1.T @ x
            b1 = b1 - lr * delta1.sum(axis=0)
    return W1, b1, W2, b2


def small_problem(dtype=np.float64, m=300, n_in=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n_in)).astype(dtype)
    Y = (X[:, :3].sum(axis=1) > 0).astype(np.int64) + 2 * (X[:, 3] > 0)
    return X, Y


def test_fit_matches_the_textbook_loop_on_a_fixed_seed():
    X, Y = small_problem()
    net = chainrule.mlp([12, 16, 4], hidden="relu", output="softmax", loss="cross_entropy", seed=3)
    start = [p.copy() for p in net.params()]
    chainrule.fit(net, X, Y, epochs=3, batch_size=32, lr=0.2, seed=7, progress=False)
    expected = reference_fit(*start, X, Y, epochs=3, batch_size=32, lr=0.2, seed=7)
    assert not np.allclose(start[0], expected[0])  # training moved the weights
    for got, want in zip(net.params(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_fit_is_deterministic_for_a_seed_and_differs_across_seeds():
    X, Y = small_problem(np.float32)

    def train(seed):
        net = chainrule.mlp([12, 16, 4], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32)
        history = chainrule.fit(net, X, Y, epochs=2, batch_size=20, lr=0.1, seed=seed, progress=False)
        return net.params(), history.loss

    (p1, l1), (p2, l2), (p3, _) = train(1), train(1), train(2)
    assert l1 == l2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(p1[0], p3[0])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_float32_stays_float32_and_parameters_update_in_place(optimizer):
    X, Y = small_problem(np.float32)
    net = chainrule.mlp([12, 16, 4], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32)
    arrays = net.params()
    ids = [id(p) for p in arrays]
    before = [p.copy() for p in arrays]
    chainrule.fit(net, X, Y, epochs=1, batch_size=32, optimizer=optimizer, lr=0.01, weight_decay=1e-4, progress=False)
    assert [id(p) for p in net.params()] == ids
    assert all(p.dtype == np.float32 for p in net.params())
    assert all(not np.array_equal(p, q) for p, q in zip(net.params(), before))
    loss, grads = net.loss_and_gradient(X[:5], Y[:5])
    assert all(g.dtype == np.float32 for pair in grads for g in pair)
    assert net.forward(X[:5]).dtype == np.float32
    assert net.input_gradient(X[:5]).dtype == np.float32


def test_a_digit_model_keeps_float32_from_uint8_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=40)
    net = chainrule.mlp([784, 8, 10], hidden="relu", output="softmax", loss="cross_entropy",
                        dtype=np.float32, input_scaling=(33.3, 1 / 78.6, (28, 28)))
    chainrule.fit(net, images, labels, epochs=1, batch_size=16, lr=0.01, progress=False)
    assert all(p.dtype == np.float32 for p in net.params())
    assert net.predict_proba(images[:3]).dtype == np.float32
    _, grads = net.loss_and_gradient(images[:3], labels[:3])
    assert all(g.dtype == np.float32 for pair in grads for g in pair)


def test_training_skips_the_input_gradient_of_the_first_weights(monkeypatch):
    """Below a digit model's first Dense layer lies only its fixed Standardize, so the product
    delta W of that layer (as costly as dC/dW) feeds nothing and must not be computed."""
    asked = []
    backward = Dense.backward

    def spy(self, cache, grad_y, need_input_grad=True, *options):
        asked.append((self.n_in, need_input_grad))
        return backward(self, cache, grad_y, need_input_grad, *options)

    monkeypatch.setattr(Dense, "backward", spy)
    rng = np.random.default_rng(0)
    net = chainrule.mlp([784, 8, 10], dtype=np.float32, input_scaling=(0.0, 1 / 255, (28, 28)))
    chainrule.training.fit(net, rng.integers(0, 256, (20, 28, 28)).astype(np.uint8), rng.integers(0, 10, 20),
                  epochs=1, batch_size=10, progress=False)
    assert asked.count((784, False)) == 2 and asked.count((8, True)) == 2 and len(asked) == 4
    asked.clear()
    input_delta = Dense.input_delta

    def spy_input(self, cache, delta):
        asked.append((self.n_in, "delta W only"))
        return input_delta(self, cache, delta)

    monkeypatch.setattr(Dense, "input_delta", spy_input)
    net.input_gradient(np.zeros((1, 28, 28), np.uint8))  # the saliency map needs delta W, but no dC/dW
    assert asked == [(8, "delta W only"), (784, "delta W only")]


def test_training_memory_does_not_grow_across_epochs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 256)).astype(np.float32)
    Y = rng.integers(0, 10, size=512)
    net = chainrule.mlp([256, 512, 10], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32)
    held = []
    tracemalloc.start()
    try:
        chainrule.fit(net, X, Y, epochs=8, batch_size=64, optimizer="momentum", lr=0.01, progress=False,
                      callback=lambda *_: held.append(tracemalloc.get_traced_memory()[0]))
    finally:
        tracemalloc.stop()
    # a leaked weight-sized buffer per epoch would add 512 KB each time
    assert max(held[2:]) - held[2] < 128 * 1024, held


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(1, 7), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(sorted(LOSSES)), labels=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_value_and_gradient_is_value_and_gradient(m, n, seed, name, labels, dtype):
    """The fused computation a training step uses gives exactly what the two methods give."""
    rng = np.random.default_rng(seed)
    loss = get_loss(name)
    out = rng.normal(scale=5, size=(m, n)).astype(dtype)
    if name == "cross_entropy" and labels:
        y = rng.integers(0, n, size=m)
    else:
        y = rng.random((m, n)).astype(dtype)
    value, gradient = loss.value_and_gradient(out, y)
    assert value == loss.value(out, y)
    np.testing.assert_array_equal(gradient, loss.gradient(out, y))
    assert gradient.dtype == dtype


@settings(max_examples=40, deadline=None)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 6)), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_relu_backward_passes_the_gradient_exactly_where_the_unit_is_active(shape, seed, dtype):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape).astype(dtype)
    z[rng.random(shape) < 0.2] = 0  # the kink counts as inactive
    grad_a = rng.normal(size=shape).astype(dtype)
    relu = ReLU()
    grad_z = relu.backward(relu.forward(z), grad_a)
    assert grad_z.dtype == dtype
    np.testing.assert_array_equal(grad_z, np.where(z > 0, grad_a, 0))


def test_one_network_predicts_from_several_threads_at_once():
    X, Y = small_problem(np.float32, m=400)
    net = chainrule.mlp([12, 32, 4], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32)
    chainrule.fit(net, X, Y, epochs=2, batch_size=32, lr=0.1, progress=False)
    parts = np.array_split(np.arange(len(X)), 16)
    serial = [net.predict_proba(X[idx]) for idx in parts]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda idx: net.predict_proba(X[idx]), parts * 4))
    for k, got in enumerate(threaded):
        np.testing.assert_array_equal(got, serial[k % len(parts)])


@pytest.mark.parametrize("output, loss, n_out", [("softmax", "cross_entropy", 4),
                                                 ("sigmoid", "binary_cross_entropy", 1),
                                                 ("sigmoid", "squared_error", 4)])
def test_validation_scores_from_one_pass_equal_the_public_functions(output, loss, n_out):
    """fit scores the validation set with one forward pass; it must agree with accuracy and loss_value."""
    X, Y = small_problem()
    if n_out == 1:
        Y = (Y > 1).astype(np.int64)
    net = chainrule.mlp([12, 8, n_out], hidden="tanh", output=output, loss=loss)
    Xv, Yv = X[200:], Y[200:]
    history = chainrule.fit(net, X[:200], Y[:200], epochs=2, batch_size=25, lr=0.05, validation_data=(Xv, Yv),
                            progress=False)
    assert history.val_accuracy[-1] == chainrule.accuracy(net, Xv, Yv)
    assert history.val_loss[-1] == pytest.approx(net.loss_value(Xv, Yv), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 20), loss=st.sampled_from(["cross_entropy", "squared_error"]))
def test_predict_skips_softmax_without_changing_the_labels(seed, m, loss):
    """predict takes argmax z instead of argmax softmax(z): the same labels, softmax keeping the order."""
    net = chainrule.mlp([6, 9, 5], hidden="relu", output="softmax", loss=loss, seed=seed % 1000)
    X = np.random.default_rng(seed).normal(scale=3, size=(m, 6))
    np.testing.assert_array_equal(net.predict(X), net.forward(X).argmax(axis=1))
