"""Weight initialisers: each returns W of shape (n_out, n_in) drawn with a seeded generator.

    glorot_uniform  W_ij ~ U(-r, r), r = sqrt(6 / (n_in + n_out))   (Glorot & Bengio 2010; for sigmoid, tanh)
    glorot_normal   W_ij ~ N(0, 2 / (n_in + n_out))
    he_normal       W_ij ~ N(0, 2 / n_in)                            (He et al. 2015; for ReLU)
    he_uniform      W_ij ~ U(-r, r), r = sqrt(6 / n_in)
    normal          W_ij ~ N(0, 1)                                   (Nielsen's network.py)
    uniform01       W_ij ~ U(0, 1)                                   (the MAT1110 example)
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Initializer = Callable[[int, int, np.random.Generator], np.ndarray]


def glorot_uniform(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in))


def glorot_normal(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def he_normal(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def he_uniform(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r = np.sqrt(6.0 / n_in)
    return rng.uniform(-r, r, size=(n_out, n_in))


def normal(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, 1.0, size=(n_out, n_in))


def uniform01(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n_out, n_in))


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform, normal, uniform01)
}


def get_initializer(name: str) -> Initializer:
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]


def default_initializer(activation: str) -> str:
    """He for the ReLU family, Glorot otherwise: the initialisation that keeps the variance of the
    activations roughly constant from layer to layer for that activation."""
    return "he_normal" if activation in ("relu", "leaky_relu") else "glorot_uniform"
