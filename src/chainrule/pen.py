"""Pen trajectories as training images: augmentation in trajectory space, then rendering by the
drawing page's own function, ``preprocessing.digit_from_strokes``, once per training run (NumPy only).

A digit is a list of strokes, each an (n, 2) array of points p_0 .. p_{n-1} (x right, y down).
One augmented copy applies, in order:

    resample   the pen as a device with ``rate`` samples a second would report it: the stroke is the
               uniform Catmull-Rom curve through its points, p(u) on u in [0, n-1] with
               p(i) = p_i and tangents m_i = (p_{i+1} - p_{i-1}) / 2 (one-sided at the ends),
               read at u_k = phase + k r, r = source_rate / rate, plus both endpoints
               (a 60 Hz browser gives 6 points per 10 Hz point, smooth; a 10 Hz tablet a polygon
               whose corners fall elsewhere). pendigits has a point every 100 ms; UJI has no timing,
               and its points are about as far apart along the path (median step 4.4% of the
               digit's size, pendigits' 5.8%), so its points are taken by index as 10 Hz too.
    affine     p' = A p,  A = R(theta) [[1, shear], [0, 1]] diag(e^s, e^-s): rotation, slant and
               aspect; translation and overall size do not matter, digit_from_strokes removes them
    jitter     p' + sigma d N(0, I),  d the longer side of the digit's bounding box
    pen width  the pen digit_from_strokes draws with, uniform in [lo, hi] output pixels

With zero rotation, shear, stretch and jitter, the source rate, phase 0 and the page's pen width, a
copy is the digit as drawn.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from .arguments import is_finite_real
from .augment import check_generator
from .datasets import PenDigits
from .preprocessing import MAX_POINTS, PEN_WIDTH, digit_from_strokes

SOURCE_RATE = 10.0  # points a second in both collections (pendigits: measured; UJI: by index, see above)


def resample(stroke: np.ndarray, rate: float, phase: float = 0.0, source_rate: float = SOURCE_RATE) -> np.ndarray:
    """The stroke as a device sampling ``rate`` times a second would report it: the Catmull-Rom
    curve through the points (one every 1 / source_rate s) read at u = phase + k source_rate / rate
    (in units of source points, phase in [0, 1)), plus the first and the last point; at most
    MAX_POINTS points, the most digit_from_strokes takes."""
    stroke = np.asarray(stroke, np.float64)
    if stroke.ndim != 2:
        raise ValueError(f"resample needs a stroke of shape (n, 2), one point (x, y) a row, got shape {stroke.shape}")
    n = len(stroke)
    if not (0 < rate < np.inf and 0 < source_rate < np.inf and 0 <= phase < 1):
        raise ValueError(f"resample needs finite rate > 0 and source_rate > 0 and phase in [0, 1), "
                         f"got {rate}, {source_rate}, {phase}")
    if n < 2:
        return stroke.copy()
    step = source_rate / rate
    reads = np.ceil((n - 1 - phase) / step) + 1  # u_k for k < reads, the last at or past the end point
    if reads + 1 > MAX_POINTS:  # at most reads - 1 of them inside the stroke, and its two endpoints
        raise ValueError(f"resample at rate {rate:g} Hz would turn this stroke of {n} points into {reads + 1:.6g} "
                         f"points, more than the {MAX_POINTS} digit_from_strokes takes")
    inner = phase + step * np.arange(int(reads))
    inner = inner[(inner > 1e-6) & (inner < n - 1 - 1e-6)]  # no copies of the endpoints
    u = np.concatenate([[0.0], inner, [n - 1.0]])
    tangents = np.empty_like(stroke)
    tangents[1:-1] = (stroke[2:] - stroke[:-2]) / 2
    tangents[0], tangents[-1] = stroke[1] - stroke[0], stroke[-1] - stroke[-2]
    i = np.minimum(np.floor(u).astype(np.intp), n - 2)
    s = (u - i)[:, None]
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * stroke[i] + h10 * tangents[i] + h01 * stroke[i + 1] + h11 * tangents[i + 1]


def affine_matrix(rotation: float, shear: float, stretch: float) -> np.ndarray:
    """A = R(rotation) [[1, shear], [0, 1]] diag(e^stretch, e^-stretch), rotation in degrees."""
    theta = np.deg2rad(rotation)
    c, s = np.cos(theta), np.sin(theta)
    R, shearing = np.array([[c, -s], [s, c]]), np.array([[1.0, shear], [0.0, 1.0]])
    return R @ shearing @ np.diag([np.exp(stretch), np.exp(-stretch)])


@dataclass(frozen=True)
class PenAugmenter:
    """Random augmentation of one pen digit (see the module's docstring): rotation uniform in
    [-rotation, rotation] degrees, shear in [-shear, shear], stretch s in [-stretch, stretch], one of
    ``rates`` (Hz) with a random phase, Gaussian jitter of ``jitter`` times the digit's size and a pen
    width uniform in ``pen_width``. Zero switches a part off."""

    rotation: float = 12.0
    shear: float = 0.25
    stretch: float = 0.15
    rates: tuple[float, ...] = (60.0, 10.0)
    jitter: float = 0.006
    pen_width: tuple[float, float] = (2.0, 2.8)

    def __post_init__(self) -> None:
        for name in ("rotation", "shear", "stretch", "jitter"):
            value = getattr(self, name)
            if not (is_finite_real(value) and value >= 0):
                raise ValueError(f"pen augmentation {name} must be a finite number >= 0, got {value!r}")
        rates = self.rates
        if not (isinstance(rates, (tuple, list)) and rates and all(is_finite_real(r) and r > 0 for r in rates)):
            raise ValueError(f"pen augmentation rates must be a tuple of sampling rates in Hz, finite and > 0, "
                             f"such as (60.0, 10.0), got {rates!r}")
        try:
            lo, hi = self.pen_width
        except (TypeError, ValueError):  # not a pair: a single width, say, fails the test below
            lo = hi = None
        if not (is_finite_real(lo) and is_finite_real(hi) and 0 < lo <= hi < 20):
            raise ValueError(f"pen augmentation pen_width must be a pair (lo, hi) of numbers with 0 < lo <= hi < 20, "
                             f"got {self.pen_width!r}")

    def __call__(self, strokes: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[list[np.ndarray], float]:
        """An augmented copy of the digit ``strokes`` and the pen width to render it with."""
        check_generator(rng)
        rate = self.rates[rng.integers(len(self.rates))]
        phase = rng.uniform(0, 1)
        paths = [resample(s, rate, phase) for s in strokes]
        matrix = affine_matrix(rng.uniform(-self.rotation, self.rotation), rng.uniform(-self.shear, self.shear),
                               rng.uniform(-self.stretch, self.stretch))
        paths = [p @ matrix.T for p in paths]
        if self.jitter:
            points = np.concatenate(paths)
            size = float(np.ptp(points, axis=0).max())
            paths = [p + rng.normal(0, self.jitter * size, p.shape) for p in paths]
        return paths, float(rng.uniform(*self.pen_width))


class PenImages(NamedTuple):
    """Rendered pen digits: images uint8 (m, 28, 28), labels uint8 (m,), writers int (m,)."""

    images: np.ndarray
    labels: np.ndarray
    writers: np.ndarray


def select_writers(pen: PenDigits, writers: Sequence[int], keep: bool = True) -> PenDigits:
    """The digits of ``writers`` (keep=True) or of every other writer (keep=False)."""
    if isinstance(writers, (str, bytes)) or not isinstance(writers, Iterable):
        raise TypeError(f"writers must be a collection of writer ids such as [1, 2], got {writers!r}")
    chosen = np.isin(pen.writers, list(writers)) == keep
    return PenDigits([pen.strokes[i] for i in np.flatnonzero(chosen)], pen.labels[chosen], pen.writers[chosen])


def render_pen_digits(pen: PenDigits, copies: int = 0, rng: np.random.Generator | None = None,
                      augmenter: PenAugmenter | None = None, workers: int = 1) -> PenImages:
    """The digits of ``pen`` as the drawing page renders them (digit_from_strokes): with copies = 0
    each digit once, as drawn, with the page's pen; with copies = k >= 1, k augmented copies of each
    (``augmenter``, default PenAugmenter(), drawing on ``rng``), in the order digit 0's copies, digit 1's,
    ... The random draws happen here, so the result depends on ``rng`` only, not on ``workers``
    (processes that share the rendering, worth it for the tens of thousands of copies of a full recipe)."""
    if not (isinstance(copies, (int, np.integer)) and copies >= 0):
        raise ValueError(f"copies must be an integer >= 0, got {copies!r}")
    if copies == 0:
        jobs = [(strokes, PEN_WIDTH) for strokes in pen.strokes]
        repeat = 1
    else:
        if rng is None:
            raise ValueError("augmented copies need a random generator rng")
        augmenter = augmenter or PenAugmenter()
        jobs = [augmenter(strokes, rng) for strokes in pen.strokes for _ in range(copies)]
        repeat = copies
    workers = max(1, min(workers, os.cpu_count() or 1))
    if workers > 1 and len(jobs) > 500:
        pool = ProcessPoolExecutor(workers, initializer=_leave_interrupts_to_the_parent)
        try:
            images = list(pool.map(_render, jobs, chunksize=256))
        finally:  # on Ctrl-C, drop the jobs not started instead of rendering them all first
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        images = [_render(job) for job in jobs]
    images = np.stack(images) if images else np.zeros((0, 28, 28), np.uint8)
    return PenImages(images, np.repeat(pen.labels, repeat), np.repeat(pen.writers, repeat))


def _leave_interrupts_to_the_parent() -> None:
    # Ctrl-C reaches every process of the terminal's group: each worker printed a traceback of its
    # own before the command's one line; the parent stops the pool instead
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _render(job: tuple[Sequence[np.ndarray], float]) -> np.ndarray:
    strokes, pen_width = job
    return digit_from_strokes(list(strokes), pen_width)



def accuracy_rows(collection: str, predicted: np.ndarray, labels: np.ndarray, writers: np.ndarray) -> list[dict]:
    """The share of digits read right, overall, per class and per writer: rows of collection, by
    ("all", "class" or "writer"), key, digits, correct and accuracy = correct / digits."""
    hits = np.asarray(predicted) == np.asarray(labels)
    groups = [("all", "all", np.ones(len(hits), bool))]
    groups += [("class", str(k), labels == k) for k in np.unique(labels)]
    groups += [("writer", str(w), writers == w) for w in np.unique(writers)]
    return [{"collection": collection, "by": by, "key": key, "digits": int(mask.sum()),
             "correct": int(hits[mask].sum()), "accuracy": float(hits[mask].mean())} for by, key, mask in groups]
