"""chainrule.fused: the fast training step must take the textbook step, for every optimiser and
dtype, and its in-place passes must give what the plain layers give without touching what they keep."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import chainrule
from chainrule import fused, training
from chainrule.activations import get_activation
from chainrule.blas import DIRECT_MIN
from chainrule.optimizers import SGD

matrices = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
                  elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False))

OPTIMIZERS = {
    "sgd": dict(optimizer="sgd"),
    "sgd+decay": dict(optimizer="sgd", weight_decay=1e-2),
    "momentum": dict(optimizer="momentum", momentum=0.9),
    "nesterov": dict(optimizer="nesterov", momentum=0.9, weight_decay=1e-3),
    "adam": dict(optimizer="adam", weight_decay=1e-3),
}


@pytest.mark.parametrize("options", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", [300, 9], ids=["one-gemm", "formed"])
def test_the_fused_fit_takes_the_textbook_steps(options, dtype, hidden):
    """chainrule.fit (fused steps) against training.fit (train_step): the same parameters after two
    epochs with dropout and a cosine schedule, for a first W above and below the one-gemm size."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 250)).astype(dtype)
    Y = rng.integers(0, 4, 96)
    nets = [chainrule.mlp([250, hidden, 4], hidden="relu", output="softmax", loss="cross_entropy", dtype=dtype,
                          dropout=0.2, seed=1) for _ in range(2)]
    assert (nets[0].dense[0].W.size >= DIRECT_MIN) == (hidden == 300)
    args = dict(epochs=2, batch_size=16, lr=0.05 if options["optimizer"] != "adam" else 1e-3, schedule="cosine",
                seed=3, progress=False, **options)
    fast = chainrule.fit(nets[0], X, Y, **args)
    plain = training.fit(nets[1], X, Y, **args)
    tol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(fast.loss, plain.loss, rtol=tol)
    for p, q in zip(*(net.params() for net in nets)):
        assert p.dtype == dtype
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)


@pytest.mark.parametrize("layers", [
    lambda: chainrule.mlp([300, 256, 5, 3], hidden="relu", output="softmax", loss="cross_entropy", dropout=0.3).layers,
    lambda: chainrule.mlp([300, 9, 5, 3], hidden="tanh", output="sigmoid", loss="half_squared_error").layers,
    lambda: [chainrule.ActivationLayer("relu"), chainrule.ActivationLayer("tanh")]
    + chainrule.mlp([300, 256, 3], hidden="relu", output="identity", loss="half_squared_error").layers,
], ids=["relu-dropout-softmax", "tanh-sigmoid", "activations-first"])
def test_the_in_place_passes_give_the_network_gradients_and_keep_x(layers):
    """The fused passes (activations and dropout writing over the pass's own temporaries, dC/dW as
    its factors) give what the network's passes give, and leave X and every cached input intact."""
    rng = np.random.default_rng(0)
    built = layers()
    loss_name = "cross_entropy" if built[-1].name == "softmax" else "half_squared_error"
    net = chainrule.Network(built, loss=loss_name)
    X = rng.standard_normal((8, 300))
    Y = rng.integers(0, 3, 8) if loss_name == "cross_entropy" else rng.standard_normal((8, 3))
    kept = X.copy()
    loss, grads, out = net.backprop(X, Y, training=True, rng=np.random.default_rng(1))
    fast_out, caches = fused.forward_pass(net.loss_layers, X, np.random.default_rng(1))
    fast_loss, delta = net.loss.value_and_gradient(fast_out, net.loss_targets(Y))
    factored = fused.backward_pass(net.loss_layers, caches, delta)
    np.testing.assert_array_equal(X, kept)
    assert fast_loss == loss
    np.testing.assert_allclose(fast_out, out, rtol=1e-12)
    for (dW, db), (_, (D, x), db_fast) in zip(grads, factored):
        np.testing.assert_allclose(D.T @ x, dW, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(db_fast, db, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(fused.FORWARD_IN_PLACE.keys() | fused.BACKWARD_IN_PLACE.keys()))
@settings(max_examples=25, deadline=None)
@given(z=matrices, seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float32, np.float64]))
def test_in_place_activations_give_what_the_plain_ones_give(name, seed, z, dtype):
    act = get_activation(name)
    z = z.astype(dtype)
    g = np.random.default_rng(seed).standard_normal(z.shape).astype(dtype)
    a = act.forward(z)
    if name in fused.FORWARD_IN_PLACE:
        written = z.copy()
        assert fused.FORWARD_IN_PLACE[name](written) is written
        np.testing.assert_array_equal(written, a)
    if name in fused.BACKWARD_IN_PLACE:
        written = g.copy()
        assert fused.BACKWARD_IN_PLACE[name](a, written) is written
        np.testing.assert_array_equal(written, act.backward(a, g))


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1), lambda: SGD(0.1, weight_decay=0.01), lambda: SGD(0.1, momentum=0.9),
    lambda: SGD(0.1, momentum=0.9, weight_decay=0.01), lambda: SGD(0.1, momentum=0.9, nesterov=True),
    lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
], ids=["sgd", "sgd+decay", "momentum", "momentum+decay", "nesterov", "nesterov+decay"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [40, 301], ids=["formed", "one-gemm"])
def test_a_factored_weight_step_is_the_step_of_the_matrix_it_stands_for(make, dtype, rows):
    """eta dC/dW given as its factors (eta delta, X) moves W as SGD.step moves it with the matrix
    delta^T X, with weight decay and momentum too (a 301-row W in blocks of rows)."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((rows, 250)).astype(dtype), rng.standard_normal(rows).astype(dtype)]
    a, b = [p.copy() for p in start], [p.copy() for p in start]
    opt_a, opt_b = make(), make()
    state = [{}, {}]
    for _ in range(3):
        delta = np.asfortranarray(rng.standard_normal((16, rows)).astype(dtype))
        X = rng.standard_normal((16, 250)).astype(dtype)
        db = delta.sum(axis=0)
        fused._descend_weights(opt_a, a[0], delta * dtype(0.05), X, state[0], 0.05)
        fused._descend(opt_a, a[1], db * dtype(0.05), state[1], 0.0)
        opt_b.step(b, [delta.T @ X, db], 0.05)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for p, q in zip(a, b):
        assert p.dtype == dtype
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)
    assert not np.allclose(a[0], start[0])


def test_the_core_does_not_import_the_fused_module():
    import ast
    import pathlib

    root = pathlib.Path(chainrule.__file__).parent
    for name in ("activations", "losses", "layers", "network", "optimizers", "training", "io", "gradcheck"):
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not any(module and ("fused" in module or "blas" in module) for module in imported), name


def test_the_fused_step_stops_the_delta_recursion_at_the_first_weights(monkeypatch):
    """Below a digit model's first Dense layer lies only its fixed Standardize: the fused step, like
    the textbook one, computes no delta for it (neither delta W^(1) nor the Standardize backward)."""
    from chainrule.layers import Standardize

    called = []
    monkeypatch.setattr(Standardize, "backward", lambda self, *args: called.append(args))
    factored = []
    real = fused.backward_pass
    monkeypatch.setattr(fused, "backward_pass", lambda *args: factored.append(real(*args)) or factored[-1])
    rng = np.random.default_rng(0)
    net = chainrule.mlp([784, 8, 10], dtype=np.float32, input_scaling=(0.0, 1 / 255, (28, 28)))
    chainrule.fit(net, rng.integers(0, 256, (20, 28, 28)).astype(np.uint8), rng.integers(0, 10, 20),
                  epochs=1, batch_size=10, progress=False)
    assert not called and len(factored) == 2
    assert [layer.n_in for layer, _, _ in factored[0]] == [784, 8]


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1, weight_decay=0.01), lambda: SGD(0.1, momentum=0.9),
    lambda: SGD(0.1, momentum=0.9, weight_decay=0.01), lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
], ids=["sgd+decay", "momentum", "momentum+decay", "nesterov+decay"])
@pytest.mark.parametrize("shape", [(40000,), (4, 16000)], ids=["long-bias", "wide-weights"])
def test_an_update_in_blocks_of_rows_is_the_step_of_sgd_on_every_row(make, shape):
    """_descend updates arrays below the one-gemm size in blocks of rows that fit the cache: a bias
    of 40000 and a 4 x 16000 W span several blocks, and every block must take SGD.step's update."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal(shape)
    a, b = start.copy(), start.copy()
    assert a.size < DIRECT_MIN and fused._BLOCK_BYTES // a[:1].nbytes < len(a)  # more than one block
    opt_a, opt_b = make(), make()
    state = {}
    for _ in range(3):
        g = rng.standard_normal(shape)
        decay = 0.05 * opt_a.weight_decay if a.ndim == 2 else 0.0  # step decays weight matrices only
        fused._descend(opt_a, a, 0.05 * g, state, decay)
        opt_b.step([b], [g], 0.05)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
