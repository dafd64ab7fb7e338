"""Checks of plain arguments shared by the library's functions. A count must be an integer and a
rate a real number; booleans are refused (True would pass as 1), and NumPy's integer and float
scalars are taken as Python's are."""

from __future__ import annotations

import numbers

import numpy as np


def is_integer(value) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's) and not a boolean."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """Whether ``value`` is a real number (an integer or a float, Python's or NumPy's) and not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_real(value) -> bool:
    """Whether ``value`` is a real number (``is_real``) other than NaN and +-inf."""
    return is_real(value) and bool(np.isfinite(value))


def positive_integer(name: str, value) -> int:
    """``value`` as an int if it is an integer >= 1; otherwise a ValueError naming the argument."""
    if not (is_integer(value) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_seed(value) -> None:
    """A ValueError unless ``value`` is None or an integer >= 0, what np.random.default_rng takes as a seed."""
    if not (value is None or (is_integer(value) and value >= 0)):
        raise ValueError(f"seed must be a non-negative integer or None, got {value!r}")


def described(value) -> str:
    """An argument as an error message shows it: a class by name (a common slip for an instance), an
    array by its shape (its values could fill the screen), anything else by a short repr."""
    if isinstance(value, type):
        return f"the class {value.__name__} (call it to make one)"
    if getattr(value, "ndim", 0) and hasattr(value, "shape"):
        return f"an array of shape {value.shape}"
    return repr(value)[:40]
