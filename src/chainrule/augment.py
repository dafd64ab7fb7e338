"""Data augmentation for digit images: random affine warps, elastic distortions (Simard, Steinkraus &
Platt 2003) and stroke-width changes, each applied to a whole batch (m, h, w) at once, NumPy only.

Every warp is an inverse map: output pixel p takes the input's value at the source point s(p),
found by bilinear interpolation of the four pixels around it (zero outside the image):

    affine    s(p) = A (p - c) + c - t,   A = R(theta) / zoom,  c the image centre, t the shift
    elastic   s(p) = p + alpha * (G_sigma * U)(p),   U uniform in [-1, 1]^2 per pixel, G a Gaussian
    stroke    x' = (1 - w) x + w D(x),   D the 3 x 3 grey-level dilation (max) or erosion (min)

Functions take uint8 or float images and return float32 images on the same 0-255 scale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .arguments import is_finite_real

MAX_SIGMA = 1000.0  # pixels: far wider than any image smoothed here; the kernel holds 6 sigma + 1 taps


def bilinear(images: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    """Sample each image of ``images`` (m, h, w) at its source points (sy, sx), finite arrays of shape
    (m, ...), bilinearly; points outside the image read zeros. The result has the shape of sy.

    With (y0, x0) = floor(s) and weights (wy, wx) = s - (y0, x0), the four neighbours a, b (top
    row) and c, d (bottom row) give  top = a + wx (b - a),  bottom = c + wx (d - c),
    out = top + wy (bottom - top). Coordinates are float32 (exact to 1e-5 pixel on digit images)."""
    m, h, w = images.shape
    shape = np.shape(sy)
    if m == 0:  # nothing to sample, and reshape(0, -1) below cannot infer a row length
        return np.zeros(shape, np.float32)
    row = w + 4  # two zero pixels around: any clipped point reads 0
    padded = np.zeros((m, h + 4, row), np.float32)
    padded[:, 2:-2, 2:-2] = images
    wy = np.clip(np.asarray(sy, np.float32).reshape(m, -1), -1.5, h + 0.5)  # the source point, a new array
    wx = np.clip(np.asarray(sx, np.float32).reshape(m, -1), -1.5, w + 0.5)
    y0, x0 = np.floor(wy), np.floor(wx)
    wy -= y0  # now the weights
    wx -= x0
    if (h + 4) * row > 1 << 24:  # past float32's consecutive integers: form the index below in float64
        y0, x0 = y0.astype(np.float64), x0.astype(np.float64)
    y0 *= row  # y0 row + x0, the top-left neighbour within its image, an exact integer
    y0 += x0
    # clip keeps NaN, which would become index -2^63, brought into range by np.take(mode="wrap") one
    # array length at a time, for ever; NaN in sy or sx reaches y0 and wins np.max: one reduction checks both
    if np.isnan(y0.max()):
        raise ValueError("bilinear needs finite source points, got NaN in sy or sx")
    index = y0.astype(np.intp)  # in the flattened padded batch
    index += (np.arange(m) * ((h + 4) * row) + 2 * row + 2)[:, None]
    flat = padded.ravel()
    # the four neighbours through one index into views that start 0, 1, row and row + 1 further on
    # (np.take of a flat array, not flat[index], which goes through NumPy's general indexing machinery;
    # every index is in range, so mode="wrap" wraps nothing and skips the bounds check that "raise" makes)
    top, b, bottom, d = (np.take(flat[offset:], index, mode="wrap") for offset in (0, 1, row, row + 1))
    b -= top
    b *= wx
    top += b
    d -= bottom
    d *= wx
    bottom += d
    bottom -= top
    bottom *= wy
    top += bottom
    return top.reshape(shape)


def affine(images: np.ndarray, rng: np.random.Generator, rotation: float = 10.0, scale: float = 0.1,
           shift: float = 2.0) -> np.ndarray:
    """Rotate each image by a uniform angle in [-rotation, rotation] degrees, zoom it by a factor in
    [1 - scale, 1 + scale] and shift it by up to ``shift`` pixels along each axis, about its centre."""
    images = _check_batch(images)
    check_generator(rng)
    _check_parameter("rotation", rotation)
    _check_parameter("scale", scale, below=1)
    _check_parameter("shift", shift)
    m, h, w = images.shape
    theta = np.deg2rad(rng.uniform(-rotation, rotation, m))
    zoom = rng.uniform(1 - scale, 1 + scale, m)
    ty, tx = rng.uniform(-shift, shift, (2, m))
    cos, sin = np.cos(theta) / zoom, np.sin(theta) / zoom
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # s = A (p - c) + c - t for every pixel p of every image at once, as the product of the rows
    # (A_y, c_y - t_y) and (A_x, c_x - t_x) of each image with the columns (p - c, 1)
    rows = np.stack([np.stack([cos, -sin, cy - ty], 1), np.stack([sin, cos, cx - tx], 1)]).astype(np.float32)
    sy, sx = rows @ _centred_pixels(h, w)
    return bilinear(images, sy.reshape(m, h, w), sx.reshape(m, h, w))


@functools.lru_cache(maxsize=8)
def _centred_pixels(h: int, w: int) -> np.ndarray:
    """The columns (p - c, 1) of every pixel p of an h x w image, row by row (3, h w), float32; the
    same for every batch, so built once (read-only)."""
    cy, cx = (h - 1) / 2, (w - 1) / 2
    py, px = np.mgrid[0:h, 0:w]
    columns = np.stack([py.ravel() - cy, px.ravel() - cx, np.ones(h * w)]).astype(np.float32)
    columns.flags.writeable = False
    return columns


def gaussian_smooth(fields: np.ndarray, sigma: float) -> np.ndarray:
    """Convolve each (h, w) slice of ``fields`` with a Gaussian of width ``sigma`` pixels, separably
    (rows, then columns), with zero padding; the kernel is cut at 3 sigma and sums to 1.

    With zero padding the convolution along an axis of length n is the product with the banded
    Toeplitz matrix G (n x n), G[i, j] = g(j - i) for |j - i| <= 3 sigma, so each slice F becomes
    G_h F G_w^T: two matrix products instead of a pass over the slices per kernel tap."""
    _check_parameter("sigma", sigma, positive=True, below=MAX_SIGMA)
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    fields = np.asarray(fields)
    dtype = fields.dtype if fields.dtype.kind == "f" else np.float64
    h, w = fields.shape[-2:]
    return _band(h, taps).astype(dtype) @ (fields.astype(dtype, copy=False) @ _band(w, taps).astype(dtype).T)


def _band(n: int, taps: np.ndarray) -> np.ndarray:
    """The n x n matrix G[i, j] = taps[j - i + r] (zero where |j - i| > r), r = len(taps) // 2."""
    offset = np.arange(n)[None, :] - np.arange(n)[:, None] + len(taps) // 2
    inside = (offset >= 0) & (offset < len(taps))
    return np.where(inside, taps[np.clip(offset, 0, len(taps) - 1)], 0.0)


def elastic(images: np.ndarray, rng: np.random.Generator, alpha: float = 34.0, sigma: float = 4.0) -> np.ndarray:
    """Simard et al.'s elastic distortion: a random displacement field, uniform in [-1, 1] per pixel,
    smoothed by a Gaussian of width ``sigma`` and scaled by ``alpha`` (pixels)."""
    images = _check_batch(images)
    check_generator(rng)
    _check_parameter("alpha", alpha)
    m, h, w = images.shape
    uniform = 2 * rng.random((2, m, h, w), np.float32) - 1  # float32 as bilinear's coordinates
    dy, dx = np.float32(alpha) * gaussian_smooth(uniform, sigma)
    py, px = np.mgrid[0:h, 0:w].astype(np.float32)
    return bilinear(images, py + dy, px + dx)


def stroke_width(images: np.ndarray, rng: np.random.Generator, fraction: float = 0.5) -> np.ndarray:
    """Thicken or thin the strokes of a random ``fraction`` of the images: blend each with its 3 x 3
    grey-level dilation (max) or erosion (min), with a weight uniform in [0, 1]."""
    images = _check_batch(images).astype(np.float32)
    check_generator(rng)
    m, h, w = images.shape
    chosen = np.flatnonzero(rng.random(m) < fraction)
    if chosen.size == 0:
        return images
    picked = images[chosen]
    padded = np.pad(picked, ((0, 0), (1, 1), (1, 1)))
    windows = np.stack([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)])
    thicker = rng.random(chosen.size) < 0.5
    morphed = np.where(thicker[:, None, None], windows.max(axis=0), windows.min(axis=0))
    weight = rng.random(chosen.size).astype(np.float32)[:, None, None]
    images[chosen] = (1 - weight) * picked + weight * morphed
    return images


@dataclass
class Augmenter:
    """A batch transform for ``fit(augment=...)``: stroke-width changes, then an affine warp, then
    (if ``elastic_alpha`` > 0) an elastic distortion. Zero switches a part off."""

    rotation: float = 10.0
    scale: float = 0.1
    shift: float = 2.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0
    stroke: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rotation", "scale", "shift", "elastic_alpha", "elastic_sigma", "stroke"):
            _check_parameter(name, getattr(self, name), positive=name == "elastic_sigma",
                             below={"scale": 1, "elastic_sigma": MAX_SIGMA}.get(name, np.inf))
        if self.stroke > 1:
            raise ValueError(f"augmentation stroke must be <= 1, got {self.stroke!r}")

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = stroke_width(images, rng, self.stroke) if self.stroke else images
        if self.rotation or self.scale or self.shift:
            out = affine(out, rng, self.rotation, self.scale, self.shift)
        if self.elastic_alpha:
            out = elastic(out, rng, self.elastic_alpha, self.elastic_sigma)
        return np.asarray(out, np.float32)


def _check_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be a batch of shape (m, height, width), got {images.shape}")
    return images


def check_generator(rng: object) -> None:
    """Raise TypeError unless ``rng`` is a NumPy Generator. The augmentations draw on the caller's
    generator, so that one seed fixes a whole training run: an int seed taken here would give every
    batch the same warps, and None a run that cannot be repeated."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator such as np.random.default_rng(seed), "
                        f"got {type(rng).__name__}")


def _check_parameter(name: str, value: float, positive: bool = False, below: float = np.inf) -> None:
    """Raise ValueError unless ``value`` is a finite number >= 0 (> 0 if ``positive``) and < ``below``."""
    if not (is_finite_real(value) and (value > 0 if positive else value >= 0) and value < below):
        bounds = ("> 0" if positive else ">= 0") + (f" and < {below}" if below < np.inf else "")
        raise ValueError(f"augmentation {name} must be a finite number {bounds}, got {value!r}")
