"""A feed-forward network: a sequence of layers and a loss, with backpropagation.

Forward:   a^(0) = x,   z^(k) = W^(k) a^(k-1) + b^(k),   a^(k) = sigma_k(z^(k)),   output a^(L).
Backward (the delta recursion, by the chain rule), for one sample as a column:

    delta^(L) = dC/dz^(L) = sigma_L'(z^(L)) * dC/da^(L)        (or (a - y)/m for a fused loss)
    delta^(k) = sigma_k'(z^(k)) * (W^(k+1))^T delta^(k+1)
    dC/dW^(k) = delta^(k) (a^(k-1))^T,   dC/db^(k) = delta^(k)

and for a minibatch, one row per sample (delta^(k), Z^(k), A^(k) of shape (m, n_k), A^(0) = X), as
the layers compute it (``delta @ W`` and ``delta.T @ x`` in ``layers.Dense.backward``):

    delta^(k) = sigma_k'(Z^(k)) * delta^(k+1) W^(k+1)
    dC/dW^(k) = (delta^(k))^T A^(k-1),   dC/db^(k) = the sum of the rows of delta^(k)

Each product is a vector-Jacobian product evaluated from the left (reverse mode): the row vector
dC/da^(L) is multiplied by one layer's Jacobian after the other, never forming a Jacobian matrix.
Over a minibatch these are matrix-matrix products, one row per sample.
"""

from __future__ import annotations

import copy
import os
import warnings
from typing import Iterable, Sequence

import numpy as np

from . import io
from .arguments import check_seed, described, is_integer
from .init import default_initializer, get_initializer
from .layers import ActivationLayer, Dense, Dropout, Layer, Standardize, check_dropout_rate
from .losses import Loss, get_loss

Gradients = list[tuple[np.ndarray, np.ndarray]]


class Network:
    """A sequence of layers with a loss. ``net.dense`` lists its Dense layers in order."""

    def __init__(self, layers: Sequence[Layer], loss: str | Loss = "squared_error") -> None:
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {described(layer)}, not a layer: give objects such as Dense(W, b) "
                                "and ActivationLayer('relu'), or build the network with chainrule.mlp")
        self.loss = get_loss(loss)
        self.dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        self.metadata: dict = {}  # JSON-ready facts saved with the model: dataset, class names, training options
        if not self.dense:
            raise ValueError("a network needs at least one Dense layer")
        dtypes = sorted({layer.W.dtype.name for layer in self.dense})
        if len(dtypes) > 1:  # save and load keep one dtype, and a float64 layer would silently slow a float32 one
            raise ValueError(f"the Dense layers mix dtypes {' and '.join(dtypes)}: give every layer one dtype")
        for first, second in zip(self.dense, self.dense[1:]):
            if first.n_out != second.n_in:
                raise ValueError(f"layer sizes do not chain: {first!r} is followed by {second!r}")
        first = self.layers[0]
        if isinstance(first, Standardize) and first.n_out != self.dense[0].n_in:
            raise ValueError(f"{first!r} gives {first.n_out} values but {self.dense[0]!r} takes {self.dense[0].n_in}")
        if self.output_activation == "softmax" and self.n_outputs == 1:
            raise ValueError("softmax over one output is always 1: use two outputs, or one sigmoid output")
        if self.loss.takes_logits and self.output_activation != self.loss.output_activation:
            raise ValueError(
                f"loss {self.loss.name!r} needs output activation {self.loss.output_activation!r}, "
                f"got {self.output_activation!r}"
            )

    # ---- shape and kind -------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        return self.dense[0].W.dtype

    @property
    def input_shape(self) -> tuple[int, ...]:
        first = self.layers[0]
        return first.input_shape if isinstance(first, Standardize) else (self.dense[0].n_in,)

    @property
    def n_outputs(self) -> int:
        return self.dense[-1].n_out

    @property
    def output_activation(self) -> str:
        last = self.layers[-1]
        return last.name if isinstance(last, ActivationLayer) else "identity"

    @property
    def is_classifier(self) -> bool:
        """A network whose outputs are class probabilities: softmax, or sigmoid units."""
        return self.output_activation in ("softmax", "sigmoid")

    def params(self) -> list[np.ndarray]:
        """All trainable arrays, [W^(1), b^(1), W^(2), b^(2), ...], updated in place by optimisers."""
        return [p for layer in self.dense for p in layer.params]

    def copy(self) -> "Network":
        return copy.deepcopy(self)

    # ---- forward ---------------------------------------------------------------------------
    def forward(self, X: np.ndarray, check: bool = True) -> np.ndarray:
        """The output a^(L) for each row of X (``check=False``: X is already checked)."""
        X = self.check_inputs(X) if check else X
        return self.forward_pass(X, self.layers)[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The output a^(L): class probabilities for a softmax network."""
        return self.forward(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (the index of the largest output; for one sigmoid output, a >= 0.5) for a
        classifier, the output a^(L) itself for a regression network."""
        if self.output_activation == "softmax":  # softmax keeps the order within a row: argmax a = argmax z
            return self.forward_pass(self.check_inputs(X), self.layers[:-1])[0].argmax(axis=1)
        out = self.forward(X)
        if not self.is_classifier:
            return out
        if out.shape[1] == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return out.argmax(axis=1)

    def loss_value(self, X: np.ndarray, Y: np.ndarray, check: bool = True) -> float:
        """The loss C on (X, Y), a forward pass only."""
        if check:
            X, Y = self.check_inputs(X, nonempty=True), self.check_targets(Y, len(X))
        return self.loss.value(self.forward_pass(X, self.loss_layers)[0], self.loss_targets(Y))

    # ---- backward --------------------------------------------------------------------------
    def loss_and_gradient(self, X: np.ndarray, Y: np.ndarray, check: bool = True) -> tuple[float, Gradients]:
        """The loss C and its gradient: ``grads[k] == (dC/dW, dC/db)`` for ``net.dense[k]``."""
        if check:
            X, Y = self.check_inputs(X, nonempty=True), self.check_targets(Y, len(X))
        loss, grads, _ = self.backprop(X, Y)
        return loss, grads

    def backprop(self, X: np.ndarray, Y: np.ndarray, training: bool = False,
                 rng: np.random.Generator | None = None) -> tuple[float, Gradients, np.ndarray]:
        """For checked X and Y: (C, the gradients, the output the loss took), as a training step
        needs them; ``training`` switches dropout on, drawing from ``rng``."""
        out, caches = self.forward_pass(X, self.loss_layers, training, rng)
        # delta = dC/da^(L), or dC/dz^(L) for a loss fused with sigma_L
        loss, delta = self.loss.value_and_gradient(out, self.loss_targets(Y))
        grads, _ = self.backward_pass(caches, delta, self.loss_layers, need_input_grad=False)
        return loss, grads, out

    def input_gradient(self, X: np.ndarray, output: int | Sequence[int] | None = None,
                       Y: np.ndarray | None = None) -> np.ndarray:
        """d a^(L)_k / dx for each row x of X (k = ``output``: one index, one per row, or by default
        each row's largest output); with targets ``Y``, the gradient of the loss instead.
        The result has the shape of X: the saliency of each input component."""
        if Y is None:
            return self.output_and_input_gradient(X, output)[1]
        X = self.check_inputs(X)
        Y = self.loss_targets(self.check_targets(Y, len(X)))
        out, caches = self.forward_pass(X, self.loss_layers)
        return self.backward_pass(caches, self.loss.gradient(out, Y), self.loss_layers, need_param_grads=False)[1][0]

    def output_and_input_gradient(self, X: np.ndarray, output: int | Sequence[int] | None = None
                                  ) -> tuple[np.ndarray, np.ndarray]:
        """The output a^(L) and d a^(L)_k / dx (as ``input_gradient``) from one forward pass: the
        backward pass seeded with e_k reads the caches the output was computed with."""
        X = self.check_inputs(X)
        out, caches = self.forward_pass(X, self.layers)
        k = out.argmax(axis=1) if output is None else np.asarray(output)
        if k.shape not in ((), (len(X),)):
            raise ValueError(f"output must be one index or one per row of X ({len(X)}), got shape {k.shape}")
        k = np.broadcast_to(k, (len(X),))
        if not np.issubdtype(k.dtype, np.integer) or (len(k) and (k.min() < 0 or k.max() >= self.n_outputs)):
            raise ValueError(f"output must be integers in [0, {self.n_outputs}), got {output!r}")
        seed = np.zeros_like(out)
        seed[np.arange(len(X)), k] = 1
        return out, self.backward_pass(caches, seed, self.layers, need_param_grads=False)[1][0]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """The n_L x n_0 Jacobian d a^(L) / dx of the output with respect to one input x: row k is
        the gradient of output k, found by one backward pass per output (batched)."""
        x = np.asarray(x)
        if x.shape != self.input_shape and x.shape != (int(np.prod(self.input_shape)),):
            raise ValueError(f"x must have shape {self.input_shape}, got {x.shape}")
        X = np.repeat(x.reshape(1, *self.input_shape), self.n_outputs, axis=0)
        rows = self.input_gradient(X, output=np.arange(self.n_outputs))
        return rows.reshape(self.n_outputs, -1)

    # ---- the two passes --------------------------------------------------------------------
    @property
    def loss_layers(self) -> list[Layer]:
        """The layers whose output the loss takes: all but a final activation fused into the loss."""
        return self.layers[:-1] if self.loss.takes_logits else self.layers

    @staticmethod
    def forward_pass(X: np.ndarray, layers: Sequence[Layer], training: bool = False,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, list]:
        """a^(k) = layer_k(a^(k-1)) from a^(0) = X: the last output and each layer's cache."""
        caches = []
        a = X
        for layer in layers:
            a, cache = layer.forward(a, training, rng)
            caches.append(cache)
        return a, caches

    @staticmethod
    def backward_pass(caches: list, delta: np.ndarray, layers: Sequence[Layer],
                      need_input_grad: bool = True, need_param_grads: bool = True) -> tuple[Gradients, list]:
        """The delta recursion: carry delta = dC/d(output) back through the layers, left to right
        in the product dC/da^(L) J_L J_(L-1) ... Returns (dC/dW, dC/db) for each Dense layer and
        ``deltas``, where deltas[i] = dC/d(input of layer i) and deltas[-1] the delta given; without
        ``need_input_grad`` the recursion stops at the first layer with parameters (deltas below
        it stay None: a digit model's Standardize needs none); without ``need_param_grads`` only the
        deltas are carried (an input gradient needs no dC/dW) and the gradients come back empty."""
        first = next((i for i, layer in enumerate(layers) if layer.params), len(layers))
        deltas: list = [None] * len(layers) + [delta]
        grads = []
        for i in range(len(layers) - 1, -1, -1):
            needed = need_input_grad or i > first
            if need_param_grads:
                deltas[i], layer_grads = layers[i].backward(caches[i], deltas[i + 1], needed)
            else:
                deltas[i], layer_grads = layers[i].input_delta(caches[i], deltas[i + 1]), None
            if layer_grads:
                grads.append(layer_grads)
            if deltas[i] is None:
                break
        grads.reverse()
        return grads, deltas

    # ---- input checks at the public boundary ------------------------------------------------
    def check_inputs(self, X: np.ndarray, nonempty: bool = False) -> np.ndarray:
        """X as an array of shape (m, *input_shape), in the network's dtype unless the first layer
        converts it; a clear ValueError otherwise (also for m = 0 with ``nonempty``: a mean over no
        samples is undefined)."""
        X = np.asarray(X)
        shape = self.input_shape
        if X.ndim == len(shape) and X.shape == shape:
            raise ValueError(f"X must be a batch of shape (m, {', '.join(map(str, shape))}); "
                             f"got one sample {X.shape}: use X[None]")
        if X.shape[1:] != shape:
            raise ValueError(f"X must have shape (m, {', '.join(map(str, shape))}), got {X.shape}")
        if nonempty and len(X) == 0:
            raise ValueError(f"X has no samples (shape {X.shape})")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {X.dtype}")
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise ValueError(f"X contains NaN or infinite values (shape {X.shape})")
        first = self.layers[0]
        if isinstance(first, Standardize):
            # x / 255, a reflex, fed to a network standardising pixels on 0-255 read 12% of MNIST right
            if first.offset > 1 and X.dtype.kind == "f" and X.size and 0 < X.max() <= 1:
                warnings.warn(f"X lies within [0, 1], but this network's first layer standardises (x - "
                              f"{first.offset:.4g}) * {first.scale:.4g}, fitted to its training data's scale "
                              "(0-255 for digit images): pass X on that scale (X * 255 if you divided by 255)",
                              stacklevel=3)
            return X
        return X.astype(self.dtype, copy=False)

    def check_targets(self, Y: np.ndarray, m: int) -> np.ndarray:
        """Y as integer labels (m,) for a classifier, or an array (m, n_L) in the network's dtype."""
        Y = np.asarray(Y)
        n = self.n_outputs
        if Y.ndim == 1 and self.is_classifier and n > 1 and Y.dtype.kind in "fb":
            hint = ": use Y.astype(int)" if Y.dtype.kind == "f" and np.array_equal(Y, np.round(Y)) else ""
            raise ValueError(f"class labels Y must be integers, got dtype {Y.dtype}{hint}")
        if Y.ndim == 1 and Y.dtype.kind in "iu" and self.is_classifier and n > 1:
            if len(Y) != m:
                raise ValueError(f"Y has {len(Y)} labels but X has {m} rows")
            if len(Y) and (Y.min() < 0 or Y.max() >= n):
                raise ValueError(f"labels Y must lie in [0, {n}), got values from {Y.min()} to {Y.max()}")
            return Y.astype(np.intp, copy=False)
        if Y.ndim == 1 and n == 1:
            Y = Y[:, None]
        if Y.shape != (m, n):
            raise ValueError(f"Y must have shape ({m}, {n}) (or integer labels of shape ({m},) for a classifier), "
                             f"got {Y.shape}")
        if Y.dtype.kind not in "biuf":
            raise ValueError(f"Y must be numbers, got dtype {Y.dtype}")
        if not np.isfinite(Y).all():
            raise ValueError(f"Y must be finite numbers, got NaN or infinite values (dtype {Y.dtype})")
        self.loss.check_targets(Y)
        return Y.astype(self.dtype, copy=False)

    def loss_targets(self, Y: np.ndarray) -> np.ndarray:
        """Checked Y as the loss takes it: integer labels become one-hot rows, unless the loss takes
        labels (cross-entropy indexes them directly)."""
        if Y.ndim == 1 and not self.loss.takes_labels:
            onehot = np.zeros((len(Y), self.n_outputs), dtype=self.dtype)
            onehot[np.arange(len(Y)), Y] = 1
            return onehot
        return Y

    # ---- persistence -------------------------------------------------------------------------
    def config(self) -> dict:
        return {"layers": [layer.config() for layer in self.layers], "loss": self.loss.name, "dtype": self.dtype.name}

    def save(self, path, metadata: dict | None = None) -> None:
        """Write the network to ``path`` (.npz, architecture as JSON), atomically."""
        io.save(self, path, metadata)

    def __repr__(self) -> str:
        return f"Network([{', '.join(map(repr, self.layers))}], loss={self.loss.name!r})"


def load(path: str | os.PathLike | None = None) -> Network:
    """Read a network written by ``Network.save``; with no path, the bundled default digit model."""
    layers, loss, metadata = io.read(path)
    try:
        net = Network(layers, loss)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path or 'the bundled model'} does not describe a valid network: {err}") from None
    net.metadata = metadata
    return net


def mlp(
    sizes: Sequence[int],
    hidden: str = "sigmoid",
    output: str = "sigmoid",
    loss: str = "squared_error",
    dtype=np.float64,
    seed: int | None = 0,
    init: str | None = None,
    dropout: float = 0.0,
    input_scaling: tuple[float, float, tuple[int, ...]] | None = None,
) -> Network:
    """A fully connected network with layer sizes ``sizes = [n_0, n_1, ..., n_L]``.

    Hidden layers use ``hidden``, the last ``output``. Weights come from ``init`` (by default He for
    ReLU-like hidden layers, Glorot otherwise), biases start at zero. ``input_scaling = (offset,
    scale, input_shape)`` puts a fixed Standardize layer first (digit models take raw images)."""
    sizes = list(sizes) if isinstance(sizes, Iterable) and not isinstance(sizes, (str, bytes)) else [sizes]
    if not all(is_integer(n) for n in sizes):
        raise ValueError(f"sizes must be a list of whole numbers, such as [784, 100, 10], got {sizes!r}")
    check_seed(seed)
    check_dropout_rate(dropout)  # here too: a network without hidden layers makes no Dropout layer
    if input_scaling is not None and not (isinstance(input_scaling, (tuple, list)) and len(input_scaling) == 3):
        raise ValueError("input_scaling must be a tuple (offset, scale, input_shape), got "
                         + (f"{len(input_scaling)} values" if isinstance(input_scaling, (tuple, list))
                            else type(input_scaling).__name__))
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    draw = get_initializer(init or default_initializer(hidden))
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    if input_scaling is not None:
        offset, scale, shape = input_scaling
        layers.append(Standardize(offset, scale, shape, dtype))
        if layers[0].n_out != sizes[0]:
            raise ValueError(f"input_scaling shape {tuple(shape)} does not hold sizes[0] = {sizes[0]} values")
    last = len(sizes) - 2
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Dense(draw(n_in, n_out, rng).astype(dtype), np.zeros(n_out, dtype)))
        layers.append(ActivationLayer(output if k == last else hidden))
        if dropout and k < last:
            layers.append(Dropout(dropout))
    return Network(layers, loss)
