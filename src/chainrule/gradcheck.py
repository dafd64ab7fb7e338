"""Finite-difference gradient checks.

Each parameter theta_i is moved by +-h and the loss re-evaluated; the central difference
(C(theta + h e_i) - C(theta - h e_i)) / 2h approximates dC/dtheta_i with error O(h^2).
Each parameter array is judged by the norm-wise relative error |g - g_fd| / max(|g|, |g_fd|)
(Euclidean norms), which, unlike a componentwise ratio, is not thrown off by components whose true
value is 0 up to rounding.
"""

from __future__ import annotations

import numpy as np

from .network import Network


def numerical_gradient(f, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar function ``f()`` with respect to the array ``theta``,
    which ``f`` reads and which is perturbed in place (and restored)."""
    grad = np.zeros_like(theta, dtype=np.float64)
    flat, gflat = theta.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """|a - b| / max(|a|, |b|, floor) in the Euclidean norm: the relative error of a against b."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor)
    return float(np.linalg.norm(a - b) / scale)


def gradcheck(net: Network, X: np.ndarray, Y: np.ndarray, h: float = 1e-5) -> float:
    """The largest relative error between backpropagation's gradient and central differences,
    over every weight and bias of ``net`` on the batch (X, Y). Use float64: in float32 the
    differences are swamped by rounding."""
    X, Y = net.check_inputs(X), net.check_targets(Y, len(X))
    _, grads = net.loss_and_gradient(X, Y, check=False)
    loss = lambda: net.loss_value(X, Y, check=False)  # noqa: E731 - the function being differentiated
    worst = 0.0
    for layer, (dW, db) in zip(net.dense, grads):
        worst = max(worst, relative_error(dW, numerical_gradient(loss, layer.W, h)))
        worst = max(worst, relative_error(db, numerical_gradient(loss, layer.b, h)))
    return worst
