"""chainrule's network in plain Python: lists, loops and the math module, nothing else.

The same mathematics as chainrule.network, one sample at a time, so that each line of the
derivation is a line of code. W^l[j][k] is the weight from neuron k of layer l-1 to neuron j of
layer l (W has shape (n_out, n_in), as in the NumPy core):

    z^l = W^l a^(l-1) + b^l,                 a^l = sigma(z^l),   a^0 = x
    delta^L = sigma'(z^L) * dC/da^L          (= (a^L - y) / m for softmax with cross-entropy)
    delta^l = sigma'(z^l) * (W^(l+1))^T delta^(l+1)
    dC/dW^l = sum_x delta^l (a^(l-1))^T,     dC/db^l = sum_x delta^l
    SGD:      W <- W - eta dC/dW,            b <- b - eta dC/db

The losses are chainrule.losses': squared_error C = sum_x |a(x) - y(x)|^2 (the SUM over samples,
dC/da = 2 (a - y)) and cross_entropy C = -1/m sum_x log a_y(x) (the MEAN over samples, fused with a
softmax output). For reading and for tiny networks: on MNIST an epoch is about 200-600 times slower
than NumPy over minibatches of 10 (192-616x measured by ``chainrule experiment language``,
docs/language.md).
"""

from __future__ import annotations

import math
import numbers
import random
from typing import Sequence

Vector = list[float]
Matrix = list[Vector]
Target = int | Sequence[float]


def sigmoid(z: Vector) -> Vector:
    """sigma(z) = 1 / (1 + e^-z), written so that no exponential overflows."""
    return [1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t)) for t in z]


def relu(z: Vector) -> Vector:
    """sigma(z) = max(z, 0)."""
    return [t if t > 0 else 0.0 for t in z]


def identity(z: Vector) -> Vector:
    """sigma(z) = z."""
    return list(z)


def softmax(z: Vector) -> Vector:
    """a_i = e^(z_i - max z) / sum_j e^(z_j - max z)."""
    top = max(z)
    e = [math.exp(t - top) for t in z]
    total = sum(e)
    return [t / total for t in e]


def log_softmax(z: Vector) -> Vector:
    """log a_i = z_i - max z - log sum_j e^(z_j - max z): finite even where a_i underflows to 0."""
    top = max(z)
    log_total = math.log(sum(math.exp(t - top) for t in z))
    return [t - top - log_total for t in z]


# sigma'(z) written with the output a = sigma(z), beside each sigma.
DERIVATIVES = {
    sigmoid: lambda a: [t * (1.0 - t) for t in a],
    relu: lambda a: [1.0 if t > 0 else 0.0 for t in a],
    identity: lambda a: [1.0] * len(a),
}
ACTIVATIONS = {f.__name__: f for f in DERIVATIVES}
LOSSES = ("squared_error", "cross_entropy")


class PureNetwork:
    """A feed-forward network of lists: ``weights[l]`` is W^(l+1) (n_out rows of n_in numbers),
    ``biases[l]`` is b^(l+1). Hidden layers use ``hidden`` (sigmoid, relu or identity); the output
    layer uses ``output``, which must be "softmax" exactly when ``loss`` is "cross_entropy"."""

    def __init__(self, weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]],
                 hidden: str = "sigmoid", output: str = "sigmoid", loss: str = "squared_error") -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if hidden not in ACTIVATIONS:
            raise ValueError(f"hidden must be one of {', '.join(ACTIVATIONS)}, got {hidden!r}")
        if (output == "softmax") != (loss == "cross_entropy") or output not in (*ACTIVATIONS, "softmax"):
            raise ValueError(f"output {output!r} does not fit loss {loss!r}: cross_entropy needs softmax, "
                             f"squared_error one of {', '.join(ACTIVATIONS)}")
        self.weights = [[[float(w) for w in row] for row in W] for W in weights]
        self.biases = [[float(t) for t in b] for b in biases]
        if not self.weights or len(self.weights) != len(self.biases):
            raise ValueError(f"need one bias vector per weight matrix, got {len(self.weights)} and {len(self.biases)}")
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            n_in = len(W[0]) if W else 0
            if not W or any(len(row) != n_in for row in W) or len(b) != len(W):
                raise ValueError(f"layer {l + 1}: W must be an (n_out, n_in) list of rows and b have n_out entries")
            if l and n_in != len(self.weights[l - 1]):
                raise ValueError(f"layer {l + 1} takes {n_in} inputs but layer {l} has "
                                 f"{len(self.weights[l - 1])} outputs")
        self.sigmas = [ACTIVATIONS[hidden]] * (len(self.weights) - 1)
        self.sigmas.append(softmax if output == "softmax" else ACTIVATIONS[output])
        self.loss = loss

    @classmethod
    def random(cls, sizes: Sequence[int], seed: int = 0, **kwargs) -> "PureNetwork":
        """Layer sizes [n_0, ..., n_L]; W_jk ~ N(0, 1/n_in), b = 0."""
        rng = random.Random(seed)
        weights = [[[rng.gauss(0.0, 1.0 / math.sqrt(n_in)) for _ in range(n_in)] for _ in range(n_out)]
                   for n_in, n_out in zip(sizes, sizes[1:])]
        return cls(weights, [[0.0] * n for n in sizes[1:]], **kwargs)

    def feedforward(self, x: Sequence[float]) -> Vector:
        """The output a^L for one input x."""
        return self._forward(x)[0][-1]

    def predict(self, x: Sequence[float]) -> int:
        """The class of one input x: the index of its largest output."""
        a = self.feedforward(x)
        return a.index(max(a))

    def loss_and_gradient(self, X: Sequence[Sequence[float]],
                          Y: Sequence[Target]) -> tuple[float, list[tuple[Matrix, Vector]]]:
        """The loss C over the samples X (targets Y: class labels or target vectors) and its
        gradient, ``grads[l] == (dC/dW, dC/db)`` for layer l + 1, summed over the samples."""
        if len(X) != len(Y) or not X:
            raise ValueError(f"X and Y must hold the same positive number of samples, got {len(X)} and {len(Y)}")
        grads = [([[0.0] * len(W[0]) for _ in W], [0.0] * len(W)) for W in self.weights]
        loss = 0.0
        for x, y in zip(X, Y):
            loss += self._backprop(x, y, len(X), grads)
        return loss, grads

    def sgd_step(self, X: Sequence[Sequence[float]], Y: Sequence[Target], lr: float) -> float:
        """One step of gradient descent on the minibatch (X, Y); returns the loss before the step."""
        loss, grads = self.loss_and_gradient(X, Y)
        for W, b, (dW, db) in zip(self.weights, self.biases, grads):
            for row, grad_row in zip(W, dW):
                for k, g in enumerate(grad_row):
                    row[k] -= lr * g
            for j, g in enumerate(db):
                b[j] -= lr * g
        return loss

    def _forward(self, x: Sequence[float]) -> tuple[list[Vector], Vector]:
        """The activations [a^0, a^1, ..., a^L] of one input, and z^L."""
        if len(x) != len(self.weights[0][0]):
            raise ValueError(f"an input must have {len(self.weights[0][0])} numbers, got {len(x)}")
        activations = [[float(t) for t in x]]
        for W, b, sigma in zip(self.weights, self.biases, self.sigmas):
            z = [sum(w * a for w, a in zip(row, activations[-1])) + bj for row, bj in zip(W, b)]
            activations.append(sigma(z))
        return activations, z

    def _backprop(self, x: Sequence[float], y: Target, m: int, grads: list[tuple[Matrix, Vector]]) -> float:
        """Add this sample's dC/dW and dC/db to ``grads``; return its share of the loss."""
        activations, z = self._forward(x)
        a = activations[-1]
        y = self._target(y, len(a))
        if self.loss == "cross_entropy":  # a = softmax(z): C_x = -y . log a / m, delta^L = (a - y) / m
            log_a = log_softmax(z)
            loss = -sum(t * s for t, s in zip(y, log_a) if t) / m
            delta = [(p - t) / m for p, t in zip(a, y)]
        else:  # C_x = |a - y|^2, delta^L = sigma'(z^L) * 2 (a - y)
            loss = sum((p - t) ** 2 for p, t in zip(a, y))
            delta = [d * 2.0 * (p - t) for d, p, t in zip(DERIVATIVES[self.sigmas[-1]](a), a, y)]
        for l in range(len(self.weights) - 1, -1, -1):
            dW, db = grads[l]
            a_prev = activations[l]
            for j, d in enumerate(delta):  # dC/dW^l += delta a_prev^T,  dC/db^l += delta
                dW[j] = [g + d * a for g, a in zip(dW[j], a_prev)]
                db[j] += d
            if l:  # delta^(l-1) = sigma'(z^(l-1)) * (W^l)^T delta^l
                back = [sum(w * d for w, d in zip(column, delta)) for column in zip(*self.weights[l])]
                delta = [s * t for s, t in zip(DERIVATIVES[self.sigmas[l - 1]](a_prev), back)]
        return loss

    @staticmethod
    def _target(y: Target, n: int) -> Vector:
        """A class label becomes a one-hot vector; a target vector must have n entries."""
        if isinstance(y, numbers.Integral):
            if not 0 <= y < n:
                raise ValueError(f"a label must lie in [0, {n}), got {y}")
            return [1.0 if i == y else 0.0 for i in range(n)]
        if len(y) != n:
            raise ValueError(f"a target vector must have {n} numbers, got {len(y)}")
        return [float(t) for t in y]
