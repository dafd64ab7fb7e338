"""Layers. Each has ``forward(x, ...) -> (y, cache)`` and ``backward(cache, grad_y) -> (grad_x, grads)``,
the vector-Jacobian product of the layer: given grad_y = dC/dy it returns dC/dx and the gradient of C
with respect to the layer's own parameters. Layers keep no per-call state, so one network can serve
several threads. With ``overwrite=True`` the caller says that x (or grad_y) is a temporary of the
pass that nothing else holds, so the layer may write its result over it instead of into a new array.

Samples are rows: x has shape (m, n_in).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import Activation, get_activation
from .blas import DIRECT_MIN

Grads = tuple[np.ndarray, ...]


class OuterProducts(NamedTuple):
    """The weight gradient dC/dW = delta^T X (the sum over samples of delta_i x_i^T) kept as its
    two factors: an SGD step applies it with one gemm (``blas.gemm_update``) instead of forming
    the matrix and then making a second pass over W to subtract it."""

    delta: np.ndarray
    x: np.ndarray

    def matrix(self) -> np.ndarray:
        """delta^T X itself."""
        return outer_products(self.delta, self.x)


def outer_products(delta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """delta^T X, the sum over samples of delta_i x_i^T. For one sample an elementwise broadcast
    (gemm with inner dimension 1 is several times slower); when delta is row-major and X
    column-major (an output layer's delta from the loss, its input from the layer below), as
    (X^T delta)^T, whose factors then lie as BLAS reads them: 2x faster for a 10 x 800 layer."""
    if len(x) == 1:
        return delta.T * x
    if delta.flags.c_contiguous and x.flags.f_contiguous and not delta.flags.f_contiguous:
        return (x.T @ delta).T
    return delta.T @ x


class Layer:
    """Base class of all layers."""

    params: tuple[np.ndarray, ...] = ()

    def forward(self, x: np.ndarray, training: bool = False, rng: np.random.Generator | None = None,
                overwrite: bool = False):
        raise NotImplementedError

    def backward(self, cache, grad_y: np.ndarray, need_input_grad: bool = True,
                 overwrite: bool = False) -> tuple[np.ndarray | None, Grads]:
        raise NotImplementedError

    def config(self) -> dict:
        """The layer's architecture as JSON-ready data (its arrays are saved separately)."""
        raise NotImplementedError


class Dense(Layer):
    """The affine map z = W a_prev + b, for a batch of rows Z = X W^T + b.

    W has shape (n_out, n_in) and b shape (n_out,) (Higham & Higham's convention). With
    delta = dC/dz (one row per sample) the chain rule gives

        dC/dW = delta^T X     (the sum over samples of delta z^T, z the layer's input)
        dC/db = sum over samples of delta
        dC/dX = delta W       (what the previous layer receives)
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        W = np.asarray(W)
        b = np.asarray(b, dtype=W.dtype)
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"Dense needs W of shape (n_out, n_in) and b of shape (n_out,), got W {W.shape} and b {b.shape}")
        self.W = W
        self.b = b

    @property
    def params(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.W, self.b)

    @property
    def n_in(self) -> int:
        return self.W.shape[1]

    @property
    def n_out(self) -> int:
        return self.W.shape[0]

    def forward(self, x, training=False, rng=None, overwrite=False):
        # Computed as Z^T = W X^T, samples as columns (Higham & Higham's own layout): OpenBLAS runs
        # that product up to 1.8x faster than X W^T. Z is its transpose, a column-major view, and
        # the next layer's W Z^T reads it as it lies.
        z = (self.W @ x.T).T
        z += self.b
        return z, x

    def backward(self, cache, grad_y, need_input_grad=True, overwrite=False, factored=False):
        """With ``factored`` a large dW comes as OuterProducts(delta, X), for an SGD step to apply
        unformed."""
        x = cache
        # factored only where the one-gemm update pays: for a small W the call costs more than the pass
        dW = OuterProducts(grad_y, x) if factored and self.W.size >= DIRECT_MIN else outer_products(grad_y, x)
        db = np.ones(len(grad_y), grad_y.dtype) @ grad_y  # delta^T 1: a BLAS gemv, 4x faster than .sum(axis=0)
        grad_x = (self.W.T @ grad_y.T).T if need_input_grad else None  # (W^T delta^T)^T, column-major like Z
        return grad_x, (dW, db)

    def config(self) -> dict:
        return {"type": "dense", "n_in": self.n_in, "n_out": self.n_out}

    def __repr__(self) -> str:
        return f"Dense({self.n_in} -> {self.n_out})"


class ActivationLayer(Layer):
    """a = sigma(z) componentwise (softmax row-wise); backward gives dC/dz = dC/da * sigma'(z)."""

    def __init__(self, activation: str | Activation) -> None:
        self.activation = get_activation(activation)

    @property
    def name(self) -> str:
        return self.activation.name

    def forward(self, x, training=False, rng=None, overwrite=False):
        a = self.activation.forward_in_place(x) if overwrite else self.activation.forward(x)
        return a, a

    def backward(self, cache, grad_y, need_input_grad=True, overwrite=False):
        if overwrite:
            return self.activation.backward_in_place(cache, grad_y), ()
        return self.activation.backward(cache, grad_y), ()

    def config(self) -> dict:
        cfg = {"type": "activation", "name": self.name}
        if self.name == "leaky_relu":
            cfg["slope"] = self.activation.slope
        return cfg

    def __repr__(self) -> str:
        return f"Activation({self.name})"


class Dropout(Layer):
    """Inverted dropout: while training, y = x * mask / (1 - rate) with mask_ij ~ Bernoulli(1 - rate);
    at prediction time y = x. dC/dx = dC/dy * mask / (1 - rate)."""

    def __init__(self, rate: float) -> None:
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must lie in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def forward(self, x, training=False, rng=None, overwrite=False):
        if not training or self.rate == 0:
            return x, None
        keep = (rng.random(x.shape, dtype=np.float32) >= self.rate).astype(x.dtype)
        keep /= 1 - self.rate
        return np.multiply(x, keep, out=x if overwrite else None), keep

    def backward(self, cache, grad_y, need_input_grad=True, overwrite=False):
        if cache is None:
            return grad_y, ()
        return np.multiply(grad_y, cache, out=grad_y if overwrite else None), ()

    def config(self) -> dict:
        return {"type": "dropout", "rate": self.rate}

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


class Standardize(Layer):
    """Fixed input scaling stored with the model: y = (flatten(x) - offset) * scale.

    A digit model starts with it so that ``predict`` takes raw uint8 images of shape (m, 28, 28)
    as the IDX files hold them. dC/dx = dC/dy * scale, reshaped to the input's shape."""

    def __init__(self, offset: float, scale: float, input_shape: tuple[int, ...], dtype=np.float64) -> None:
        self.offset = float(offset)
        self.scale = float(scale)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.dtype = np.dtype(dtype)

    @property
    def n_out(self) -> int:
        return int(np.prod(self.input_shape))

    def forward(self, x, training=False, rng=None, overwrite=False):
        x2 = x.reshape(x.shape[0], -1)
        if self.offset == 0:  # x / 255: one pass instead of two
            return np.multiply(x2, self.scale, dtype=self.dtype), x.shape
        y = np.subtract(x2, self.offset, dtype=self.dtype)
        y *= self.scale
        return y, x.shape

    def backward(self, cache, grad_y, need_input_grad=True, overwrite=False):
        return (grad_y * self.scale).reshape(cache) if need_input_grad else None, ()

    def config(self) -> dict:
        return {"type": "standardize", "offset": self.offset, "scale": self.scale, "input_shape": list(self.input_shape)}

    def __repr__(self) -> str:
        return f"Standardize(offset={self.offset:g}, scale={self.scale:g}, input_shape={self.input_shape})"
