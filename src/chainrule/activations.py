"""Activation functions sigma, each beside its derivative.

A layer computes a = sigma(z) componentwise (softmax row-wise). Backpropagation needs the
vector-Jacobian product grad_z = grad_a * sigma'(z); every derivative here is written in terms of
the output a = sigma(z) as well, so the forward pass need not keep z:

    sigmoid      sigma(z) = 1 / (1 + e^-z)          sigma'(z) = a (1 - a)
    tanh         sigma(z) = tanh z                  sigma'(z) = 1 - a^2
    relu         sigma(z) = max(z, 0)               sigma'(z) = [z > 0] = [a > 0]
    leaky_relu   sigma(z) = z if z > 0 else c z     sigma'(z) = 1 if a > 0 else c
    identity     sigma(z) = z                       sigma'(z) = 1
    softmax      a_i = e^{z_i} / sum_j e^{z_j}      da_i/dz_j = a_i (delta_ij - a_j)

Samples are rows: z has shape (m, n). The dtype of the result follows the input. ``backward``
refuses a grad_a whose shape is not that of a (an (m, 1) against an (m,) would broadcast to (m, m)).
"""

from __future__ import annotations

import numpy as np


class Activation:
    """Base class: ``forward(z)`` gives sigma(z); ``derivative(z)`` gives sigma'(z) componentwise;
    ``backward(a, grad_a)`` gives the vector-Jacobian product grad_z from the output a = sigma(z)."""

    name = "activation"
    elementwise = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """sigma'(z) componentwise, from z (the diagonal of the Jacobian d sigma / dz)."""
        return self.derivative_from_output(self.forward(z))

    def derivative_from_output(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """grad_z = grad_a * sigma'(z), the vector-Jacobian product of a componentwise sigma."""
        _check_same_shape(a, grad_a)
        return grad_a * self.derivative_from_output(a)

    def arguments(self) -> dict:
        """The constructor's arguments beyond the name (what a saved model must keep), as JSON data."""
        return {}

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(z)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """sigma(z) = 1 / (1 + e^-z), computed as e^{-|z|}-based branches so that no exp overflows:
    for z >= 0, 1 / (1 + e^-z); for z < 0, e^z / (1 + e^z). sigma'(z) = sigma(z) (1 - sigma(z))."""

    name = "sigmoid"

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows; underflow to 0 is exact enough
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(_float_dtype(z), copy=False)

    def derivative_from_output(self, a: np.ndarray) -> np.ndarray:
        return a * (1 - a)


class Tanh(Activation):
    """sigma(z) = tanh z, sigma'(z) = 1 - tanh^2 z."""

    name = "tanh"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def derivative_from_output(self, a: np.ndarray) -> np.ndarray:
        return 1 - a * a


class ReLU(Activation):
    """sigma(z) = max(z, 0), sigma'(z) = 1 for z > 0 and 0 otherwise (0 at the kink)."""

    name = "relu"

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        # max(z, 0) against a row of zeros broadcast over the rows: NumPy vectorises that loop, not
        # the one against the scalar 0
        return np.maximum(z, np.zeros(z.shape[-1:], z.dtype))

    def derivative_from_output(self, a: np.ndarray) -> np.ndarray:
        return (a > 0).astype(a.dtype)

    def backward(self, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        _check_same_shape(a, grad_a)
        # grad_z = grad_a where a > 0, else 0: a product with the boolean mask, cheaper than np.where
        return grad_a * (a > 0)


class LeakyReLU(Activation):
    """sigma(z) = z for z > 0 and c z otherwise (c = ``slope``, 0 < c < 1);
    sigma'(z) = 1 for z > 0 and c otherwise."""

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        if not 0 < slope < 1:
            raise ValueError(f"slope must lie in (0, 1), got {slope!r}")
        self.slope = float(slope)

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        return np.where(z > 0, z, self.slope * z).astype(_float_dtype(z), copy=False)

    def derivative_from_output(self, a: np.ndarray) -> np.ndarray:
        return np.where(a > 0, 1, self.slope).astype(a.dtype)

    def arguments(self) -> dict:
        return {"slope": self.slope}

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope})"


class Identity(Activation):
    """sigma(z) = z, sigma'(z) = 1 (the output layer of a regression network)."""

    name = "identity"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z)

    def derivative_from_output(self, a: np.ndarray) -> np.ndarray:
        return np.ones_like(a)

    def backward(self, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        _check_same_shape(a, grad_a)
        return grad_a


class Softmax(Activation):
    """Row-wise softmax a_i = e^{z_i - max z} / sum_j e^{z_j - max z} (shifting by max z changes
    nothing mathematically and keeps every exponent <= 0, so nothing overflows).

    Its Jacobian is not diagonal: da_i/dz_j = a_i (delta_ij - a_j), so the vector-Jacobian product
    is grad_z = a * (grad_a - <grad_a, a>) row by row."""

    name = "softmax"
    elementwise = False

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e

    def derivative(self, z: np.ndarray) -> np.ndarray:
        raise TypeError("softmax has no componentwise derivative; use jacobian(z) or backward(a, grad_a)")

    def jacobian(self, z: np.ndarray) -> np.ndarray:
        """The Jacobian diag(a) - a a^T of one sample z of shape (n,)."""
        z = np.asarray(z)
        if z.ndim != 1:
            raise ValueError(f"jacobian takes one sample z of shape (n,), got {z.shape}; for a batch use backward")
        a = self.forward(z)
        return np.diag(a) - np.outer(a, a)

    def backward(self, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        _check_same_shape(a, grad_a)
        return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


def _check_same_shape(a: np.ndarray, grad_a: np.ndarray) -> None:
    """A ValueError naming both shapes unless grad_a = dC/da has the shape of a."""
    if np.shape(a) != np.shape(grad_a):
        raise ValueError(f"grad_a must have the shape of the output a, got a {np.shape(a)} "
                         f"and grad_a {np.shape(grad_a)}")


def _float_dtype(z: np.ndarray) -> np.dtype:
    return z.dtype if np.issubdtype(z.dtype, np.floating) else np.dtype(np.float64)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)
}


def get_activation(name: str | Activation, **arguments) -> Activation:
    """The activation called ``name`` (one of ACTIVATIONS) built with ``arguments`` (as
    ``Activation.arguments()`` lists them), or ``name`` itself if it is one."""
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name](**arguments)
