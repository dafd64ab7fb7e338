"""The same training steps as ``training.train_step``, taken with fewer passes over memory.

The textbook step forms every dC/dW, hands the list to the optimiser, and each layer and update
allocates its result. A step here makes the same updates, arranged for the machine:

- gradient descent (plain, momentum, Nesterov) needs g only through eta g, so the output's delta is
  scaled by eta once (m x n_L numbers) and every gradient below comes out as eta dC/dtheta;
- a Dense layer gives its weight gradient as the factors of delta^T X
  (``Dense.weight_gradient_factors``); plain SGD applies W <- (1 - eta lambda) W - (eta delta)^T X as
  one gemm with its beta (``blas.gemm_update``) instead of forming the product and then passing over W
  again; momentum and Nesterov fold it into v <- mu v - (eta delta)^T X with the same gemm and
  update W from v with BLAS's axpy (one pass each, no temporaries); small arrays (biases, an output
  layer) are updated in blocks of rows that stay in the core's cache;
- activations and dropout write over the temporaries of the pass (an affine layer's output, a delta
  that nothing else holds) instead of allocating new arrays.

``core`` modules never import this one; ``chainrule.fit`` is ``training.fit`` with this step, and a
test pins its parameters to the textbook step's for every optimiser.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import training
from .blas import DIRECT_MIN, axpy, gemm_update
from .layers import ActivationLayer, Dense, Dropout, Layer
from .network import Network
from .optimizers import SGD, Optimizer
from .training import History, check_finite


def _relu_in_place(z: np.ndarray) -> np.ndarray:
    # against a row of zeros broadcast over the rows, a loop NumPy vectorises (as ReLU.forward)
    return np.maximum(z, np.zeros(z.shape[-1:], z.dtype), out=z)


def _tanh_in_place(z: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=z)


def _relu_backward_in_place(a: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return np.multiply(delta, a > 0, out=delta)


# sigma(z) written over z, and delta * sigma'(z) written over delta, where the activation has one
FORWARD_IN_PLACE: dict[str, Callable[[np.ndarray], np.ndarray]] = {"relu": _relu_in_place, "tanh": _tanh_in_place}
BACKWARD_IN_PLACE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {"relu": _relu_backward_in_place}


def fit(net: Network, X: np.ndarray, Y: np.ndarray, **options) -> History:
    """``training.fit`` (the same arguments) taking each step with ``train_step`` below."""
    return training.fit(net, X, Y, step=train_step, **options)


def train_step(net: Network, optimizer: Optimizer, X: np.ndarray, Y: np.ndarray, lr: float | None = None,
               rng: np.random.Generator | None = None, where: str = "") -> tuple[float, np.ndarray]:
    """``training.train_step`` (without its ``objective``): the same update of the parameters, the
    loss and the output the loss took."""
    lr = optimizer.lr if lr is None else lr
    layers = net.loss_layers
    out, caches = forward_pass(layers, X, rng)
    loss, delta = net.loss.value_and_gradient(out, net.loss_targets(Y))
    check_finite(loss, lr, where)
    descent = isinstance(optimizer, SGD)
    factored = backward_pass(layers, caches, delta * lr if descent else delta)
    if not optimizer.state:
        optimizer.state = [{} for _ in net.params()]
    if descent:
        for k, (layer, (D, x), db) in enumerate(factored):
            _descend_weights(optimizer, layer.W, D, x, optimizer.state[2 * k], lr)
            _descend(optimizer, layer.b, db, optimizer.state[2 * k + 1], 0.0)
    else:
        optimizer.step(net.params(), [g for _, (D, x), db in factored for g in (outer_products(D, x), db)], lr)
    return loss, out


def forward_pass(layers: list[Layer], X: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, list]:
    """``Network.forward_pass`` while training; an activation after a Dense layer writes over its
    input z, which no cache holds (the Dense layer keeps its own input)."""
    caches = []
    a = X
    for i, layer in enumerate(layers):
        in_place = isinstance(layer, ActivationLayer) and FORWARD_IN_PLACE.get(layer.name)
        if in_place and i > 0 and isinstance(layers[i - 1], Dense):
            a = cache = in_place(a)
        else:
            a, cache = layer.forward(a, True, rng)
        caches.append(cache)
    return a, caches


def backward_pass(layers: list[Layer], caches: list, delta: np.ndarray) -> list[tuple[Dense, tuple, np.ndarray]]:
    """The delta recursion of ``Network.backward_pass`` down to the first Dense layer, each Dense
    layer's gradient kept as (layer, (delta, X), dC/db), first layer first. Every delta below the
    top is a new array of this pass that only the layer receiving it holds, so activations and
    dropout write over it; the delta the caller gives is not written over."""
    first = next(i for i, layer in enumerate(layers) if isinstance(layer, Dense))
    factored = []
    for i in range(len(layers) - 1, first - 1, -1):
        layer, cache = layers[i], caches[i]
        if isinstance(layer, Dense):
            factors = layer.weight_gradient_factors(cache, delta)
            db = np.ones(len(delta), delta.dtype) @ delta  # delta^T 1 as a gemv, cheaper than a column sum
            factored.append((layer, factors, db))
            # (W^T delta^T)^T: column-major, as the forward pass's z, which the layer below reads
            delta = (layer.W.T @ delta.T).T if i > first else None
        elif factored and isinstance(layer, ActivationLayer) and layer.name in BACKWARD_IN_PLACE:
            delta = BACKWARD_IN_PLACE[layer.name](cache, delta)
        elif factored and isinstance(layer, Dropout) and cache is not None:
            delta = np.multiply(delta, cache, out=delta)
        else:
            delta = layer.input_delta(cache, delta)
    factored.reverse()
    return factored


def outer_products(delta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """delta^T X, the sum over samples of delta_i x_i^T, in the layout BLAS reads fastest: for one
    sample a broadcast (a gemm with inner dimension 1 is slow); for delta row-major and X
    column-major (an output layer's delta from the loss, its input from the layer below) as
    (X^T delta)^T, whose factors then lie as BLAS reads them."""
    if len(x) == 1:
        return delta.T * x
    if delta.flags.c_contiguous and x.flags.f_contiguous and not delta.flags.f_contiguous:
        return (x.T @ delta).T
    return delta.T @ x


def _descend_weights(optimizer: SGD, W: np.ndarray, D: np.ndarray, x: np.ndarray, state: dict, lr: float) -> None:
    """The gradient-descent update of W from eta dC/dW = D^T X (D = eta delta)."""
    decay = lr * optimizer.weight_decay
    if W.size < DIRECT_MIN:  # below this the gemm call costs more than the pass it saves
        _descend(optimizer, W, outer_products(D, x), state, decay)
    elif not optimizer.momentum:
        gemm_update(W, D.T, x, -1.0, 1.0 - decay)  # W <- (1 - eta lambda) W - (eta delta)^T X
    else:
        _momentum_weights(optimizer, W, D, x, state, decay)


def _momentum_weights(optimizer: SGD, W: np.ndarray, D: np.ndarray, x: np.ndarray, state: dict,
                      decay: float) -> None:
    """v <- mu v - eta (g + lambda W) with the gemm that forms eta g = D^T X (its beta scales v), then
    W <- W + v (momentum) or, for Nesterov, W + mu v - eta (g + lambda W) = W - mu v_old + (1 + mu) v,
    each as an axpy: three passes over W and v where forming eta g first takes seven."""
    mu = optimizer.momentum
    v = state.get("v")
    if v is None:
        v = state["v"] = np.zeros_like(W)
    if optimizer.nesterov:
        axpy(-mu, v, W)  # W' = W - mu v_old, so that -lambda W = -lambda W' - lambda mu v_old below
        gemm_update(v, D.T, x, -1.0, mu * (1.0 - decay))
        if decay:
            axpy(-decay, W, v)
        axpy(1.0 + mu, v, W)
    else:
        gemm_update(v, D.T, x, -1.0, mu)
        if decay:
            axpy(-decay, W, v)
        axpy(1.0, v, W)


def _descend(optimizer: SGD, p: np.ndarray, s: np.ndarray, state: dict, decay: float) -> None:
    """SGD's update from s = eta g (a scratch array, overwritten), with decay = eta lambda."""
    if not optimizer.momentum and not decay:
        p -= s
        return
    v = None
    if optimizer.momentum:
        v = state.get("v")
        if v is None:
            v = state["v"] = np.zeros_like(p)
    # in blocks of rows of about 256 kB, so that the update's five to seven passes over theta, v and
    # eta g find them in the core's cache instead of streaming each whole matrix from memory
    rows = max(1, _BLOCK_BYTES // max(1, p[:1].nbytes))
    for a in range(0, len(p), rows):
        block = slice(a, a + rows)
        _update_block(optimizer, p[block], s[block], None if v is None else v[block], decay)


_BLOCK_BYTES = 256 * 1024


def _update_block(optimizer: SGD, p: np.ndarray, s: np.ndarray, v: np.ndarray | None, decay: float) -> None:
    """SGD.update on one block: v <- mu v - eta g, then theta <- theta + v (momentum) or
    theta <- theta + mu v - eta g (Nesterov), with g including lambda W."""
    mu = optimizer.momentum
    if decay:
        s += decay * p  # eta (g + lambda W)
    if v is None:
        p -= s
        return
    v *= mu
    v -= s
    if optimizer.nesterov:
        p -= s
        p += np.multiply(v, mu, out=s)
    else:
        p += v
