"""Finite-difference gradient checks.

Each parameter theta_i is moved by +-h and the loss re-evaluated; the central difference
(C(theta + h e_i) - C(theta - h e_i)) / 2h approximates dC/dtheta_i with error O(h^2).
Each parameter array is judged by the norm-wise relative error |g - g_fd| / max(|g|, |g_fd|)
(Euclidean norms), which, unlike a componentwise ratio, is not thrown off by components whose true
value is 0 up to rounding. A NaN in either gradient makes the error NaN, and so the check
``gradcheck(...) < tol`` fail.
"""

from __future__ import annotations

import numpy as np

from .arguments import is_real
from .network import Network
from .training import flatten


def numerical_gradient(f, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar function ``f()`` with respect to the array ``theta``,
    which ``f`` reads and which is perturbed in place (and restored)."""
    if not (is_real(h) and 0 < h < np.inf):
        raise ValueError(f"h must be a positive finite number, got {h!r}")
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
    """|a - b| / max(|a|, |b|, floor) in the Euclidean norm: the relative error of a against b
    (NaN if a or b holds a NaN)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b), floor)
    return float(np.linalg.norm(a - b) / scale)


def gradcheck(net: Network, X: np.ndarray, Y: np.ndarray, h: float = 1e-5) -> float:
    """The largest relative error between backpropagation's gradient and central differences with
    step ``h``, over every weight and bias of ``net`` on the non-empty batch (X, Y); NaN if either
    gradient holds a NaN, so that ``gradcheck(...) < tol`` fails. Use float64: in float32 the
    differences are swamped by rounding."""
    X = net.check_inputs(X, nonempty=True)
    Y = net.check_targets(Y, len(X))
    _, grads = net.loss_and_gradient(X, Y, check=False)
    loss = lambda: net.loss_value(X, Y, check=False)  # noqa: E731 - the function being differentiated
    errors = [relative_error(g, numerical_gradient(loss, theta, h)) for g, theta in zip(flatten(grads), net.params())]
    return float(np.max(errors))  # not max(): max(worst, nan) is worst, so a NaN gradient would pass
