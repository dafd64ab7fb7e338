"""Layers. Each has ``forward(x) -> (y, cache)`` and ``backward(cache, delta) -> (delta_prev, grads)``,
the vector-Jacobian product of the layer: given delta = dC/dy it returns dC/dx and the gradient of C
with respect to the layer's own parameters. Layers keep no per-call state, so one network can serve
several threads.

Samples are rows: x has shape (m, n_in).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation, get_activation
from .arguments import described, is_finite_real, is_integer, is_real

Grads = tuple[np.ndarray, ...]


class Layer:
    """Base class of all layers. ``forward`` takes ``training`` (and a generator ``rng``) for the
    layers that act only while training; ``backward`` skips dC/dx when ``need_input_grad`` is
    False (nothing below needs it) and returns None in its place."""

    params: tuple[np.ndarray, ...] = ()

    def forward(self, x: np.ndarray, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, object]:
        raise NotImplementedError

    def backward(self, cache, delta: np.ndarray, need_input_grad: bool = True) -> tuple[np.ndarray | None, Grads]:
        raise NotImplementedError

    def input_delta(self, cache, delta: np.ndarray) -> np.ndarray:
        """dC/dx alone, for callers that want no parameter gradient (saliency, input gradients)."""
        return self.backward(cache, delta)[0]

    def config(self) -> dict:
        """The layer's architecture as JSON-ready data (its arrays are saved separately)."""
        raise NotImplementedError


class Dense(Layer):
    """The affine map z = W a_prev + b, for a batch of rows Z = X W^T + b.

    W has shape (n_out, n_in) and b shape (n_out,) (Higham & Higham's convention). With
    delta = dC/dz (one row per sample) the chain rule gives

        dC/dW = delta^T X     (the sum over samples of delta a_prev^T, a_prev the layer's input)
        dC/db = sum over samples of delta
        dC/dX = delta W       (what the previous layer receives)
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        W = np.asarray(W)
        if W.dtype not in (np.float32, np.float64):  # integer weights would round every product
            raise ValueError(f"Dense needs float32 or float64 weights, got dtype {W.dtype}")
        b = np.asarray(b, dtype=W.dtype)
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"Dense needs W of shape (n_out, n_in) and b of shape (n_out,), "
                             f"got W {W.shape} and b {b.shape}")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"Dense weights must be finite, got NaN or infinite values in W {W.shape} or b")
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

    def forward(self, x, training=False, rng=None):
        # Computed as Z^T = W X^T, samples as columns (Higham & Higham's own layout), which OpenBLAS
        # runs faster than X W^T. Z is its transpose, a column-major view, and the next layer's
        # W Z^T reads it as it lies.
        z = (self.W @ x.T).T
        z += self.b
        return z, x

    def backward(self, cache, delta, need_input_grad=True):
        delta, x = self.weight_gradient_factors(cache, delta)
        dW = delta.T @ x  # the sum over samples of delta_i x_i^T
        db = delta.sum(axis=0)
        delta_prev = self.input_delta(cache, delta) if need_input_grad else None
        return delta_prev, (dW, db)

    def input_delta(self, cache, delta):
        return delta @ self.W  # dC/dx = delta W, without the outer product dC/dW costs

    def weight_gradient_factors(self, cache, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dC/dW = delta^T X as its two factors (delta, X): an optimiser that applies the product
        without forming it (``chainrule.fused``) asks for these instead of dC/dW."""
        return delta, cache

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

    def forward(self, x, training=False, rng=None):
        a = self.activation.forward(x)
        return a, a

    def backward(self, cache, delta, need_input_grad=True):
        return self.activation.backward(cache, delta), ()

    def config(self) -> dict:
        return {"type": "activation", "name": self.name, **self.activation.arguments()}

    def __repr__(self) -> str:
        return f"Activation({self.name})"


def check_dropout_rate(rate: float) -> None:
    """A ValueError unless ``rate`` is a number in [0, 1): at 1 every unit would be dropped."""
    if not (is_real(rate) and 0 <= rate < 1):
        raise ValueError(f"dropout rate must lie in [0, 1), got {rate!r}")


class Dropout(Layer):
    """Inverted dropout: while training, y = x * mask / (1 - rate) with mask_ij ~ Bernoulli(1 - rate);
    at prediction time y = x. dC/dx = dC/dy * mask / (1 - rate)."""

    def __init__(self, rate: float) -> None:
        check_dropout_rate(rate)
        self.rate = float(rate)

    def forward(self, x, training=False, rng=None):
        if not training or self.rate == 0:
            return x, None
        keep = self.mask(x, rng)
        return x * keep, keep

    def mask(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """mask / (1 - rate) for a batch like x: each entry 0 with probability ``rate``."""
        keep = (rng.random(x.shape, dtype=np.float32) >= self.rate).astype(x.dtype)
        keep /= 1 - self.rate
        return keep

    def backward(self, cache, delta, need_input_grad=True):
        if cache is None:
            return delta, ()
        return delta * cache, ()

    def config(self) -> dict:
        return {"type": "dropout", "rate": self.rate}

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


class Standardize(Layer):
    """Fixed input scaling stored with the model: y = (flatten(x) - offset) * scale.

    A digit model starts with it so that ``predict`` takes raw uint8 images of shape (m, 28, 28)
    as the IDX files hold them. dC/dx = dC/dy * scale, reshaped to the input's shape."""

    def __init__(self, offset: float, scale: float, input_shape: tuple[int, ...], dtype=np.float64) -> None:
        if not (is_finite_real(offset) and is_finite_real(scale) and scale != 0):
            raise ValueError(f"Standardize needs two numbers, a finite offset and a finite nonzero scale (one for "
                             f"every pixel), got {described(offset)}, {described(scale)}")
        if not (isinstance(input_shape, (tuple, list)) and input_shape
                and all(is_integer(n) and n >= 1 for n in input_shape)):
            raise ValueError(f"Standardize needs the input's shape as a tuple of positive integers, such as "
                             f"(28, 28), got {described(input_shape)}")
        self.offset = float(offset)
        self.scale = float(scale)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Standardize needs dtype float32 or float64, got {self.dtype}")

    @property
    def n_out(self) -> int:
        return int(np.prod(self.input_shape))

    def forward(self, x, training=False, rng=None):
        x2 = x.reshape(x.shape[0], self.n_out)
        if self.offset == 0:  # x / 255: one pass instead of two
            return np.multiply(x2, self.scale, dtype=self.dtype), x.shape
        y = np.subtract(x2, self.offset, dtype=self.dtype)
        y *= self.scale
        return y, x.shape

    def backward(self, cache, delta, need_input_grad=True):
        return (delta * self.scale).reshape(cache) if need_input_grad else None, ()

    def config(self) -> dict:
        return {"type": "standardize", "offset": self.offset, "scale": self.scale,
                "input_shape": list(self.input_shape)}

    def __repr__(self) -> str:
        return f"Standardize(offset={self.offset:g}, scale={self.scale:g}, input_shape={self.input_shape})"


def standard_scaling(images: np.ndarray) -> tuple[float, float, tuple[int, ...]]:
    """(offset, scale, input_shape) of the Standardize layer that maps ``images`` (m, *shape) to
    values of mean 0 and standard deviation 1 over all their pixels: offset = mean, scale = 1 / std."""
    return float(images.mean()), 1.0 / float(images.std()), tuple(images.shape[1:])
