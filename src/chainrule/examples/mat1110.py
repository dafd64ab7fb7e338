"""MAT1110's network: r = 10 square layers F_i(x) = sigma(W^(i) x + b^(i)) on R^n, n = 10, with
W^(i), b^(i), x and y drawn uniformly from [0, 1], and f = |F(x) - y|^2 where F = F_r o ... o F_1.
One gradient-descent step theta <- theta - alpha grad f(theta) lowers f; both values are printed,
as the original Matlab script does.

About the original script. The task asked us to find the bugs of the printed MAT1110 Matlab script
and to name them with their fixes here. The printed text was not available to us (a search of the
stored public sources did not find it), so we do not quote it and cannot say which of its lines fail.
What follows are the classic ways such a script fails, as pitfalls this implementation avoids:

1. Matrix versus elementwise operations. sigma(z) = 1 ./ (1 + exp(-z)) needs the elementwise ./
   (a plain / solves a linear system), and sigma'(z) = sigma .* (1 - sigma) needs .*, not *.
   Here NumPy's * and / are elementwise and @ is the matrix product, so the two cannot be confused.
2. Order of operations in a layer. The layer is sigma(W x + b): sigma is applied to the whole
   affine map, not sigma(W) x + b or W sigma(x) + b.
3. The gradient of W. With delta = df/dz (a column), df/dW = delta x^T (n_out x n_in, like W):
   delta * x' in Matlab, not x * delta' (that is its transpose, which has the right shape for a
   square W and therefore fails silently).
4. A missing transpose in the backward step. delta^(i-1) = sigma'(z^(i-1)) .* (W^(i))^T delta^(i):
   the row vector of the chain rule, written as a column, needs W', not W (again silent for square W).
5. The step length. A fixed step (say 1 or 10) can overshoot and raise f. Here alpha is chosen by
   Armijo backtracking (chainrule.optimizers.armijo_step): start at alpha0 and halve until
   f(theta - alpha g) <= f(theta) - c alpha |g|^2, so the printed step provably lowers f.

The gradient comes from backpropagation (chainrule.Network.loss_and_gradient) and is checked against
the explicit product of the block matrices of the derivation, 2 (x_r - y)^T B_r ... B_1 E, evaluated
from the left (chainrule.jacobians.gradient_left_to_right).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..jacobians import flatten, gradient_left_to_right
from ..layers import ActivationLayer, Dense
from ..network import Network
from ..optimizers import armijo_step

N = 10  # width of every layer
R = 10  # number of layers


def build(seed: int = 0, n: int = N, r: int = R) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network F = F_r o ... o F_1 with F_i(x) = sigma(W^(i) x + b^(i)), and x, y: all entries
    drawn uniformly from [0, 1]."""
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(r):
        layers += [Dense(rng.uniform(0, 1, (n, n)), rng.uniform(0, 1, n)), ActivationLayer("sigmoid")]
    x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    return Network(layers, "squared_error"), x, y


def gradient_step(net: Network, x: np.ndarray, y: np.ndarray, alpha0: float = 10.0) -> tuple[float, float, float]:
    """One gradient step on f = |F(x) - y|^2 with an Armijo step length; returns (alpha, f before, f after)."""
    X, Y = x[None, :], y[None, :]

    def loss_and_gradient():
        loss, grads = net.loss_and_gradient(X, Y)
        return loss, [g for pair in grads for g in pair]

    return armijo_step(loss_and_gradient, lambda: net.loss_value(X, Y), net.params(), alpha0=alpha0)


def main(out: str | Path = ".", seed: int = 0) -> None:
    """Print f before and after one gradient step (no files are written; ``out`` is unused)."""
    net, x, y = build(seed)
    _, grads = net.loss_and_gradient(x[None, :], y[None, :])
    explicit = gradient_left_to_right(net, x, y)
    backprop = flatten(grads)
    print(f"MAT1110 network: r = {R} layers of n = {N} sigmoid units, {backprop.size} parameters, seed {seed}")
    print(f"|grad f| = {np.linalg.norm(backprop):.6e}; backpropagation vs the explicit block-matrix product: "
          f"max difference {np.max(np.abs(backprop - explicit)):.1e}")
    alpha, before, after = gradient_step(net, x, y)
    if alpha == 0:
        print(f"f = {before:.10f}: no step length lowered f (the gradient is zero to rounding)")
        return
    print(f"f before the step: {before:.10f}")
    print(f"f after the step:  {after:.10f}   (step length alpha = {alpha:g}, Armijo backtracking from 10)")
    print(f"f decreased by {before - after:.3e}")
