"""Optimisers: each updates the parameter arrays theta in place from their gradients g = dC/dtheta.

    SGD            theta <- theta - eta g
    momentum       v <- mu v - eta g,            theta <- theta + v
    Nesterov       v <- mu v - eta g,            theta <- theta + mu v - eta g   (look-ahead form)
    Adam           m <- b1 m + (1 - b1) g,  s <- b2 s + (1 - b2) g^2,
                   theta <- theta - eta m_hat / (sqrt(s_hat) + eps),  m_hat = m/(1 - b1^t), s_hat = s/(1 - b2^t)
    L2 weight decay adds lambda W to the gradient of every weight matrix (not the biases):
    the gradient of C + lambda/2 sum |W|^2.

``armijo_step`` is gradient descent whose step length is chosen by backtracking line search.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .arguments import is_real


class Optimizer:
    """Base class. ``step(params, grads, lr)`` updates ``params`` in place, each through
    ``update(p, g, state, lr)`` with g including weight decay; ``state`` holds one dict per array."""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        if not (is_real(lr) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive finite number, got {lr!r}")
        if not (is_real(weight_decay) and math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: list[dict[str, np.ndarray]] = []

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        if not self.state:
            self.state = [{} for _ in params]
        if not len(params) == len(grads) == len(self.state):
            raise ValueError(f"step needs one gradient per parameter array ({len(self.state)}), "
                             f"got {len(params)} arrays and {len(grads)} gradients")
        for p, g, state in zip(params, grads, self.state):
            if self.weight_decay and p.ndim == 2:
                g = g + self.weight_decay * p
            self.update(p, g, state, lr)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain, momentum (mu > 0) or Nesterov momentum gradient descent."""

    def __init__(self, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov needs a momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def update(self, p, g, state, lr):
        if not self.momentum:
            p -= lr * g
            return
        v = state.get("v")
        if v is None:
            v = state["v"] = np.zeros_like(p)
        v *= self.momentum
        v -= lr * g  # v = mu v - eta g
        if self.nesterov:
            p += self.momentum * v - lr * g
        else:
            p += v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias-corrected first and second moments."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        # beta = 1 divides by 1 - beta^t = 0 in the bias correction; eps > 0 keeps m / sqrt(s) finite at g = 0
        if not all(is_real(beta) and 0 <= beta < 1 for beta in (beta1, beta2)):
            raise ValueError(f"Adam's beta1 and beta2 must lie in [0, 1), got {beta1!r} and {beta2!r}")
        if not (is_real(eps) and math.isfinite(eps) and eps > 0):
            raise ValueError(f"Adam's eps must be a positive finite number, got {eps!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def update(self, p, g, state, lr):
        if "m" not in state:
            state["m"], state["s"], state["t"] = np.zeros_like(p), np.zeros_like(p), 0
        state["t"] += 1
        m, s, t = state["m"], state["s"], state["t"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        s *= self.beta2
        s += (1 - self.beta2) * g * g
        step = lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        p -= step * m / (np.sqrt(s) + self.eps * math.sqrt(1 - self.beta2**t))  # = eta m_hat / (sqrt(s_hat) + eps)


def make_optimizer(name: str, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> Optimizer:
    """``sgd``, ``momentum``, ``nesterov`` or ``adam`` by name."""
    if name == "sgd":
        return SGD(lr, momentum, weight_decay=weight_decay)
    if name == "momentum":
        return SGD(lr, momentum or 0.9, weight_decay=weight_decay)
    if name == "nesterov":
        return SGD(lr, momentum or 0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return Adam(lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of sgd, momentum, nesterov, adam")


def armijo_step(
    loss_and_gradient: Callable[[], tuple[float, Sequence[np.ndarray]]],
    loss_at: Callable[[], float],
    params: Sequence[np.ndarray],
    alpha0: float = 1.0,
    c: float = 1e-4,
    shrink: float = 0.5,
    max_halvings: int = 40,
) -> tuple[float, float, float]:
    """One gradient-descent step theta <- theta - alpha g with the step length alpha chosen by
    Armijo backtracking: start at alpha0 and shrink alpha until the sufficient-decrease condition
    C(theta - alpha g) <= C(theta) - c alpha |g|^2 holds.

    ``loss_and_gradient()`` gives C and g at the current parameters (in the order of ``params``);
    ``loss_at()`` gives C at the current parameters. Returns (alpha, C before, C after); alpha is 0
    (and nothing changes) when no step length within ``max_halvings`` decreases C enough."""
    before, grads = loss_and_gradient()
    grads = [np.array(g) for g in grads]
    norm2 = float(sum(np.vdot(g, g) for g in grads))
    start = [p.copy() for p in params]
    alpha = alpha0
    for _ in range(max_halvings):
        for p, p0, g in zip(params, start, grads):
            np.subtract(p0, alpha * g, out=p)
        after = loss_at()
        if after <= before - c * alpha * norm2:
            return alpha, before, after
        alpha *= shrink
    for p, p0 in zip(params, start):
        p[...] = p0
    return 0.0, before, before
