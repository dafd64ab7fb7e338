"""Every quantity of one forward and backward pass, kept for looking at (the drawing program's
"look inside" views). The passes are the network's own: the same layers' ``forward`` and
``backward`` calls, in the same order, as ``Network.loss_and_gradient``, so the numbers are equal.

    forward    z^(k) = W^(k) a^(k-1) + b^(k),   a^(k) = sigma_k(z^(k)),   a^(0) = x (scaled)
    backward   delta^(L) = dC/dz^(L),   delta^(k) = sigma_k'(z^(k)) * (W^(k+1))^T delta^(k+1)
    gradients  dC/dW^(k) = delta^(k) (a^(k-1))^T,   dC/db^(k) = delta^(k),   dC/dx = (W^(1))^T delta^(1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arguments import is_integer
from .layers import Dense
from .network import Network

FORMULAS = {
    "z": "z^(k) = W^(k) a^(k-1) + b^(k)",
    "a": "a^(k) = sigma(z^(k))",
    "loss": {
        "cross_entropy": "C = -1/m sum_x sum_i y_i log a_i^(L),  a^(L) = softmax(z^(L))",
        "binary_cross_entropy": "C = -1/m sum_x sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)]",
        "squared_error": "C = sum_x |a^(L)(x) - y(x)|^2",
        "half_squared_error": "C = 1/2 sum_x |a^(L)(x) - y(x)|^2",
        "mean_squared_error": "C = 1/m sum_x |a^(L)(x) - y(x)|^2",
    },
    "delta_output": {
        "fused": "delta^(L) = dC/dz^(L) = (a^(L) - y) / m",
        "other": "delta^(L) = sigma_L'(z^(L)) * dC/da^(L)",
    },
    "delta": "delta^(k) = sigma_k'(z^(k)) * (W^(k+1))^T delta^(k+1)",
    "dW": "dC/dW^(k) = delta^(k) (a^(k-1))^T",
    "db": "dC/db^(k) = delta^(k)",
    "input_gradient": "dC/dx = (W^(1))^T delta^(1)  (times the input scaling)",
}


@dataclass
class LayerTrace:
    """One Dense layer k and the activation after it, for a batch of rows: z^(k), a^(k), b^(k) and,
    after a backward pass, delta^(k) = dC/dz^(k), dC/dW^(k) and dC/db^(k)."""

    z: np.ndarray
    a: np.ndarray
    b: np.ndarray
    delta: np.ndarray | None = None
    dW: np.ndarray | None = None
    db: np.ndarray | None = None


@dataclass
class Trace:
    """A forward pass (and, with targets, a backward pass) of ``net`` on a batch X."""

    layers: list[LayerTrace]
    output: np.ndarray
    loss: float | None = None
    input_gradient: np.ndarray | None = None


def trace(net: Network, X: np.ndarray, Y: np.ndarray | None = None) -> Trace:
    """z^(k) and a^(k) of every Dense layer for the rows of X; with targets Y (labels for a
    classifier) also the loss C, every delta^(k), (dC/dW^(k), dC/db^(k)) exactly as
    ``net.loss_and_gradient(X, Y)`` returns them, and dC/dx (shape of X)."""
    X = net.check_inputs(X)
    outputs, caches = [], []
    a = X
    for layer in net.layers:
        a, cache = layer.forward(a)
        outputs.append(a)
        caches.append(cache)
    dense_at = [i for i, layer in enumerate(net.layers) if isinstance(layer, Dense)]
    ends = [*dense_at[1:], len(net.layers)]
    layers = [LayerTrace(z=outputs[i], a=outputs[end - 1], b=net.layers[i].b) for i, end in zip(dense_at, ends)]
    result = Trace(layers=layers, output=outputs[-1])
    if Y is None:
        return result
    Y = net.check_targets(Y, len(X))
    n = len(net.loss_layers)
    result.loss, delta = net.loss.value_and_gradient(outputs[n - 1], net.loss_targets(Y))
    grads, deltas = net.backward_pass(caches[:n], delta, net.loss_layers)
    for i, layer, (dW, db) in zip(dense_at, layers, grads):
        layer.delta, layer.dW, layer.db = deltas[i + 1], dW, db
    result.input_gradient = deltas[0]
    return result


def most_affected_units(dW: np.ndarray, count: int) -> np.ndarray:
    """The indices of the ``count`` rows of dW with the largest norm |dC/dW_j|, largest first: the
    units whose incoming weights a gradient step would change most."""
    norms = np.linalg.norm(dW, axis=1)
    return np.argsort(-norms, kind="stable")[:count]


def gradient_norms(grads: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """The Frobenius norm |dC/dW^(k)| of each layer's weight gradient: vanishing gradients show as
    norms that shrink towards the input."""
    return [float(np.linalg.norm(dW)) for dW, _ in grads]


def silence_unit(net: Network, layer: int, unit: int) -> None:
    """Switch off unit ``unit`` of hidden layer ``layer`` (0-based) in place: its outgoing weights,
    column ``unit`` of W^(layer+2) in the 1-based notation, become 0, so a_unit no longer reaches
    the next layer."""
    check_unit(net, layer, unit, hidden=True)
    net.dense[layer + 1].W[:, unit] = 0


def scale_unit(net: Network, layer: int, unit: int, factor: float) -> None:
    """Multiply the incoming weights of unit ``unit`` of layer ``layer`` (row ``unit`` of W) by
    ``factor`` in place: z_unit = factor w_unit . a_prev + b_unit."""
    check_unit(net, layer, unit)
    if not np.isfinite(factor):
        raise ValueError(f"factor must be a finite number, got {factor!r}")
    net.dense[layer].W[unit] *= factor


def coverage(probabilities: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each threshold t: the share of samples answered (largest probability >= t) and the
    accuracy on those (NaN where none is answered). A classifier that says "not sure" below t."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    answered = confidence[None, :] >= np.asarray(thresholds)[:, None]
    counts = answered.sum(axis=1)
    hits = (answered & correct[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / len(labels), np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def check_unit(net: Network, layer: int, unit: int, hidden: bool = False) -> None:
    """A ValueError unless ``unit`` is a unit of Dense layer ``layer`` (0-based; with ``hidden``,
    of a hidden layer)."""
    count = len(net.dense) - 1 if hidden else len(net.dense)
    if not (is_integer(layer) and 0 <= layer < count):
        kind = "hidden layers" if hidden else "Dense layers"
        raise ValueError(f"layer must be an integer in [0, {count}) ({kind}), got {layer!r}")
    size = net.dense[layer].n_out
    if not (is_integer(unit) and 0 <= unit < size):
        raise ValueError(f"unit must be an integer in [0, {size}) for layer {layer}, got {unit!r}")
