"""Any drawing -> the 28x28 MNIST convention (NumPy only).

MNIST's digits were made like this: the ink's bounding box is scaled, keeping its aspect ratio, so
that its longer side is 20 pixels (with antialiasing), and the result is placed in a 28x28 field so
that its centre of mass sits at the centre (row 14, column 14 in index coordinates). Ink is white
(255) on black (0).

Two entry points follow that convention:

* ``digit_from_image(gray)``: a photo, scan or bitmap of either polarity, any size and dtype. The
  strokes are also brought to MNIST's width: the mean stroke width (``stroke_width``) is estimated
  as ink mass / skeleton length, and a stroke much thinner (down to a hairline in a large image) or
  thicker than MNIST's is dilated or eroded toward it; the box of the result is the one scaled to 20.
* ``digit_from_strokes(strokes)``: the pen paths the drawing page sends. They are rasterised
  directly in the 28x28 field with a pen whose width is fixed in output pixels, so the same digit
  drawn small, large, off-centre, with a thin or a thick pen gives the same input.

``skeletonize`` (Zhang-Suen thinning) and ``skeleton_strokes`` turn a digit image back into pen
paths, which the tests and the drawn-digit benchmark replay through the drawing page.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .arguments import is_real

SIZE = 28
BOX = 20
CENTRE = 14.0  # MNIST's mean centre of mass, in index coordinates (pixel i spans [i - 0.5, i + 0.5])
WORK = 4  # digit_from_image normalises stroke width at WORK x the output resolution
STROKE_WIDTH = 2.4  # digit_from_image's target width, the pen's (MNIST's median is 2.66 by stroke_width)
PEN_WIDTH = 2.4  # the width of the pen that rasterises drawn strokes, in output pixels
MAX_POINTS = 20_000
MAX_SEGMENTS = 2_000  # after simplification; real digits have at most a few hundred (pen data: under 200)
MAX_COORDINATE = 1e6  # in the caller's units: canvas pixels or tablet units are far below
MIN_EXTENT = 1e-9  # a drawing smaller than this is a dot: at MAX_COORDINATE, a few float64 rounding steps
RENDER_CHUNK = 256  # segments per block in _render: at most 256 x 784 (segment, pixel) pairs in memory


# ---- images ----------------------------------------------------------------------------------
def digit_from_image(gray: np.ndarray) -> np.ndarray:
    """A (28, 28) uint8 MNIST-style digit (white ink on black) from an image of one digit.

    ``gray`` is (H, W) of any numeric dtype (or (H, W, 3|4) RGB(A), turned to gray), dark ink on a
    light background or light ink on a dark one: the border's median decides which is background.
    An image without ink gives all zeros."""
    ink = ink_map(gray)
    box = _ink_box(ink)
    if box is None:
        return np.zeros((SIZE, SIZE), np.uint8)
    (y0, y1), (x0, x1) = box
    work = np.pad(_fit_box(ink[y0:y1, x0:x1], BOX * WORK), WORK)  # room for the strokes to thicken
    work = _normalise_width(work, STROKE_WIDTH * WORK)
    (y0, y1), (x0, x1) = _ink_box(work, 0.3 * work.max())  # the thickened ink is what fills the 20 pixels
    return _centre(_block_mean(_fit_box(work[y0:y1, x0:x1], BOX * WORK), WORK))


def ink_map(gray: np.ndarray) -> np.ndarray:
    """The amount of ink in [0, 1] at each pixel of ``gray``: 0 for the background, 1 for full ink."""
    g = _as_gray(gray)
    lo, hi = float(g.min()), float(g.max())
    if hi - lo < 1e-12:
        return np.zeros(g.shape)
    g = (g / 2 - lo / 2) / (hi / 2 - lo / 2)  # halving is exact, and keeps hi - lo finite for +-1e308
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper
        g, background = 1.0 - g, 1.0 - background
    return np.clip((g - background) / max(1.0 - background, 1e-12), 0.0, 1.0)


def _as_gray(gray: np.ndarray) -> np.ndarray:
    g = np.asarray(gray)
    if g.dtype.kind not in "biuf":
        raise ValueError(f"gray must be a numeric image, got dtype {g.dtype}")
    g = g.astype(np.float64)
    if g.ndim == 3 and g.shape[2] in (3, 4):
        if g.shape[2] == 4:  # composite onto white, so a transparent background reads as paper
            alpha = g[..., 3:] / (255.0 if g[..., 3].max() > 1 else 1.0)
            g = g[..., :3] * alpha + g[..., :3].max(initial=1.0) * (1 - alpha)
        g = g[..., :3] @ np.array([0.299, 0.587, 0.114])
    if g.ndim != 2 or min(g.shape) < 1:
        raise ValueError(f"gray must be an image of shape (H, W) or (H, W, 3|4), got {np.shape(gray)}")
    if not np.isfinite(g).all():
        raise ValueError(f"gray contains NaN or infinite values (shape {g.shape})")
    return g


def _ink_box(ink: np.ndarray, threshold: float = 0.3) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Rows and columns [start, stop) of the pixels with ink above ``threshold``, or None."""
    rows, cols = np.nonzero(ink > threshold)
    if len(rows) == 0:
        return None
    return (int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1)


def area_matrix(n_in: int, n_out: int, start: float, length: float) -> np.ndarray:
    """The (n_out, n_in) matrix of area averaging: output pixel i covers the source interval
    [start + i s, start + (i+1) s) with s = length / n_out, and takes the mean of the source over it
    (weight of source pixel j = overlap of [j, j+1) with that interval, divided by s)."""
    step = length / n_out
    edges = start + step * np.arange(n_out + 1)
    j = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
    return np.clip(overlap, 0.0, None) / step


def _fit_box(crop: np.ndarray, side: int) -> np.ndarray:
    """Area-resample ``crop`` so that its longer side becomes ``side`` pixels, keeping the aspect
    ratio; the shorter side is padded to a whole multiple of WORK pixels, centred."""
    h, w = crop.shape
    step = max(h, w) / side
    shape = [max(WORK, WORK * int(np.ceil(n / step / WORK))) for n in (h, w)]
    rows = area_matrix(h, shape[0], h / 2 - shape[0] * step / 2, shape[0] * step)
    cols = area_matrix(w, shape[1], w / 2 - shape[1] * step / 2, shape[1] * step)
    return rows @ crop @ cols.T


def _block_mean(image: np.ndarray, k: int) -> np.ndarray:
    h, w = image.shape
    return image.reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` (at most 28x28, ink in [0, 1]) in a 28x28 field with its centre of mass at
    (14, 14), as far as it fits, and convert to uint8."""
    h, w = digit.shape
    mass = digit.sum()
    out = np.zeros((SIZE, SIZE))
    if mass <= 0:
        return out.astype(np.uint8)
    cy = (digit.sum(axis=1) @ np.arange(h)) / mass
    cx = (digit.sum(axis=0) @ np.arange(w)) / mass
    oy = int(np.clip(round(CENTRE - cy), 0, SIZE - h))
    ox = int(np.clip(round(CENTRE - cx), 0, SIZE - w))
    out[oy:oy + h, ox:ox + w] = digit
    return np.rint(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)


# ---- stroke width --------------------------------------------------------------------------------
def stroke_width(ink: np.ndarray) -> float:
    """The mean stroke width in pixels of an image of ink in [0, 1]: ink mass / skeleton length, the
    skeleton that of the pixels with at least a quarter of the peak ink (a stroke straddling two
    pixels leaves half its ink in each, a crossing up to twice a stroke's); 0 without ink. A stroke
    thinner than a pixel (a thin pen in a large image), which downsampling spreads below any fixed
    threshold, is measured so too."""
    return _width_and_skeleton(ink)[0]


def _width_and_skeleton(ink: np.ndarray) -> tuple[float, np.ndarray]:
    skeleton = skeletonize(ink >= ink.max() / 4)
    length = skeleton.sum()
    return (float(ink.sum() / length) if length else 0.0), skeleton


def _normalise_width(ink: np.ndarray, target: float) -> np.ndarray:
    """Dilate strokes much thinner than ``target`` and erode strokes much thicker (widths as
    ``stroke_width`` measures them), by the number of pixels that halves the difference on each
    side. Erosion keeps the skeleton, so no part of the digit disappears; a hairline is dilated from
    its skeleton at full ink, so that it comes out as wide as a thicker stroke. ``ink`` must hold
    some ink."""
    width, skeleton = _width_and_skeleton(ink)
    steps = int(round(abs(target - max(width, 1.0)) / 2))
    if width < target / 1.4 and steps:
        return _morph(np.maximum(ink, skeleton), steps, np.maximum)
    if width > target * 1.4 and steps:
        return np.maximum(_morph(ink, steps, np.minimum), _morph(skeleton.astype(float), WORK // 2, np.maximum))
    return ink


def _morph(image: np.ndarray, steps: int, op) -> np.ndarray:
    """Grey dilation (op=np.maximum) or erosion (np.minimum) by ``steps`` pixels, alternating the
    3x3 square and the plus sign so the structuring element grows as an octagon, close to a disc."""
    out = image
    fill = 0.0 if op is np.maximum else 1.0
    for k in range(steps):
        padded = np.pad(out, 1, constant_values=fill)
        h, w = out.shape
        shifted = [padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if k % 2 == 0 or dy == 0 or dx == 0]
        out = op.reduce(shifted)
    return out


def skeletonize(binary: np.ndarray) -> np.ndarray:
    """The one-pixel-wide skeleton of a binary image by Zhang-Suen thinning: alternately delete the
    south-east and the north-west boundary pixels that have 2..6 neighbours, exactly one 0->1
    transition around them, and whose deletion cannot break the shape, until nothing changes."""
    image = np.pad(np.asarray(binary, bool), 1).astype(np.uint8)
    while True:
        changed = False
        for first in (True, False):
            p = _neighbours(image)  # P2..P9: N, NE, E, SE, S, SW, W, NW
            count = sum(p)
            ring = p + [p[0]]
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            n, e, s, w = p[0], p[2], p[4], p[6]
            if first:
                keep_out = (n * e * s == 0) & (e * s * w == 0)
            else:
                keep_out = (n * e * w == 0) & (n * s * w == 0)
            delete = (image[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & keep_out
            delete &= ~_last_of_a_vanishing_group(image, delete)
            if delete.any():
                image[1:-1, 1:-1][delete] = 0
                changed = True
        if not changed:
            return image[1:-1, 1:-1].astype(bool)


def _last_of_a_vanishing_group(image: np.ndarray, delete: np.ndarray) -> np.ndarray:
    """Zhang-Suen deletes a 2x2 block whole, since each of its pixels passes the tests at once: of
    the candidates with no 8-neighbour surviving this sub-iteration, the first in reading order
    (none such to its N, NE, W or NW) stays, so that no blob vanishes from the skeleton."""
    survivors = _neighbours(np.pad((image[1:-1, 1:-1] == 1) & ~delete, 1).astype(np.uint8))
    alone = delete & (sum(survivors) == 0)
    before = _neighbours(np.pad(alone, 1).astype(np.uint8))
    return alone & ((before[0] | before[1] | before[6] | before[7]) == 0)


def _neighbours(image: np.ndarray) -> list[np.ndarray]:
    h, w = image.shape[0] - 2, image.shape[1] - 2
    offsets = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    return [image[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in offsets]


def skeleton_strokes(skeleton: np.ndarray) -> list[np.ndarray]:
    """Pen paths along a skeleton: arrays of (x, y) pixel coordinates, one per stroke. Each path
    starts at an end point where there is one (else anywhere), walks to unvisited 8-neighbours
    (straight ones first) until it is stuck, and starts from a visited neighbour so the strokes join."""
    remaining = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeleton))}
    visited: set[tuple[int, int]] = set()
    steps = [(-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1)]

    def free(p):
        return [(p[0] + dy, p[1] + dx) for dy, dx in steps if (p[0] + dy, p[1] + dx) in remaining]

    strokes = []
    while remaining:
        start = min(remaining, key=lambda p: (len(free(p)) != 1, p))
        joined = [(start[0] + dy, start[1] + dx) for dy, dx in steps if (start[0] + dy, start[1] + dx) in visited]
        path = joined[:1] + [start]
        remaining.discard(start)
        visited.add(start)
        while nxt := free(path[-1]):
            path.append(nxt[0])
            remaining.discard(nxt[0])
            visited.add(nxt[0])
        strokes.append(np.array([(x, y) for y, x in path], dtype=np.float64))
    return strokes


# ---- strokes -------------------------------------------------------------------------------------
def digit_from_strokes(strokes: Sequence[Sequence[Sequence[float]]], pen_width: float = PEN_WIDTH) -> np.ndarray:
    """A (28, 28) uint8 MNIST-style digit from pen paths: ``strokes`` is a list of strokes, each a
    list of points (x, y[, ...]) in any units (canvas pixels, say; extra columns such as pressure are
    ignored). The paths' bounding box is scaled so that, drawn with a round pen ``pen_width`` output
    pixels wide, the ink's longer side is 20 pixels; the ink is antialiased (coverage = clip(r + 1/2 - d,
    0, 1) at distance d from the path, r = pen_width / 2) and its centre of mass moved to (14, 14).
    No strokes (or only empty ones) give all zeros."""
    paths = parse_strokes(strokes)
    if not (is_real(pen_width) and 0 < pen_width < BOX):
        raise ValueError(f"pen_width must be a number in (0, {BOX}) output pixels, got {pen_width!r}")
    if not paths:
        return np.zeros((SIZE, SIZE), np.uint8)
    points = np.concatenate(paths)
    lo, hi = points.min(axis=0), points.max(axis=0)
    extent = float((hi - lo).max())
    scale = (BOX - pen_width) / extent if extent > MIN_EXTENT else 0.0  # 1 / (a subnormal extent) is inf
    paths = _within_budget([(p - (lo + hi) / 2) * scale + CENTRE for p in paths])
    ink = _render(paths, pen_width / 2)
    mass = ink.sum()
    grid = np.arange(SIZE)
    shift = CENTRE - np.array([ink.sum(axis=0) @ grid, ink.sum(axis=1) @ grid]) / mass
    ink = _render([p + shift for p in paths], pen_width / 2)
    return np.rint(ink * 255).astype(np.uint8)


def parse_strokes(strokes) -> list[np.ndarray]:
    """Validate pen paths: a list of strokes, each a list of at least one point of >= 2 finite
    numbers within +-MAX_COORDINATE; at most MAX_POINTS points in all. Returns (n, 2) float arrays, empty
    strokes dropped."""
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"strokes must be a list of strokes (lists of [x, y] points), got {type(strokes).__name__}")
    paths, total = [], 0
    for i, stroke in enumerate(strokes):
        try:
            p = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"stroke {i} must be a list of [x, y] number pairs") from None
        if p.size == 0:
            continue
        if p.ndim != 2 or p.shape[1] < 2:
            raise ValueError(f"stroke {i} must be a list of [x, y] points, got shape {p.shape}")
        total += len(p)
        if total > MAX_POINTS:
            raise ValueError(f"too many points: at most {MAX_POINTS} in all strokes")
        if not np.isfinite(p[:, :2]).all():
            raise ValueError(f"stroke {i} contains NaN or infinite coordinates")
        if np.abs(p[:, :2]).max() > MAX_COORDINATE:
            raise ValueError(f"stroke {i} has a coordinate beyond +-{MAX_COORDINATE:g}")
        paths.append(p[:, :2])
    return paths


def _simplify(path: np.ndarray, tolerance: float = 0.3) -> np.ndarray:
    """Keep about one point per ``tolerance`` output pixels of arc length (the pixels cannot show
    more, and every segment costs rendering time); the first and last points always stay."""
    if len(path) < 3:
        return path
    arc = np.concatenate([[0.0], np.cumsum(np.sqrt((np.diff(path, axis=0) ** 2).sum(axis=1)))])
    bucket = np.floor(arc / tolerance)
    keep = np.concatenate([[True], bucket[1:] != bucket[:-1]])
    keep[-1] = True
    return path[keep]


def _within_budget(paths: list[np.ndarray], tolerance: float = 0.3) -> list[np.ndarray]:
    """The paths simplified (``_simplify``) and, if that leaves more than MAX_SEGMENTS segments,
    thinned to fit, so that the cost of rendering is bounded whatever was sent. Ordinary drawings
    stay far below the budget (real pen digits: under 200 segments) and get the plain simplification.
    Beyond it (a zig-zag of 20,000 points, thousands of dots) at most MAX_SEGMENTS / 4 strokes are
    kept (every k-th) and each keeps its ends and a stratified random share of its other points."""
    simplified = [_simplify(p, tolerance) for p in paths]
    if _segments(simplified) <= MAX_SEGMENTS:
        return simplified
    most = MAX_SEGMENTS // 4
    if len(simplified) > most:
        simplified = simplified[::-(-len(simplified) // most)]
    share = (MAX_SEGMENTS - 2 * len(simplified)) / sum(len(p) for p in simplified)
    rng = np.random.default_rng(0)  # the same drawing always gives the same image
    return [_thin(p, share, rng) for p in simplified]


def _thin(path: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The ends of ``path`` and about ``share`` of its points, one drawn at random from each run of
    1 / share points (a regular pick would alias a zig-zag into a straight line)."""
    count = int(len(path) * share)
    if len(path) <= 2 or share >= 1:
        return path
    picks = np.floor((np.arange(count) + rng.random(count)) * (len(path) / max(count, 1))).astype(np.intp)
    return path[np.unique(np.concatenate([[0], picks, [len(path) - 1]]))]


def _segments(paths: list[np.ndarray]) -> int:
    """How many segments ``_render`` draws (a one-point path is a dot: one segment)."""
    return sum(max(len(p) - 1, 1) for p in paths)


def _render(paths: list[np.ndarray], radius: float) -> np.ndarray:
    """Ink coverage in [0, 1] of the 28x28 pixels by round-capped segments of the given radius:
    coverage clip(radius + 1/2 - d, 0, 1) at the distance d to the nearest segment, where the
    distance from pixel p to segment a + t (b - a) is |p - a - t (b - a)| at
    t = clip((p - a).(b - a) / |b - a|^2, 0, 1). Only the pixels within radius + 1/2 of a segment's
    box can get its ink, so each segment is measured against those alone (a digit's segment touches
    a few dozen of the 784), RENDER_CHUNK segments at a time."""
    starts = np.concatenate([p if len(p) == 1 else p[:-1] for p in paths])
    ends = np.concatenate([p if len(p) == 1 else p[1:] for p in paths])
    nearest2 = np.full(SIZE * SIZE, np.inf)
    for at in range(0, len(starts), RENDER_CHUNK):
        a, b = starts[at:at + RENDER_CHUNK], ends[at:at + RENDER_CHUNK]
        segment, rows, cols = _pixels_near(a, b, radius + 0.5)
        a, b = a[segment], b[segment]
        dx, dy = (b - a).T
        length2 = np.maximum(dx * dx + dy * dy, 1e-12)
        rx, ry = cols - a[:, 0], rows - a[:, 1]
        t = np.clip((rx * dx + ry * dy) / length2, 0.0, 1.0)
        rx -= t * dx
        ry -= t * dy
        np.minimum.at(nearest2, rows * SIZE + cols, rx * rx + ry * ry)
    distance = np.sqrt(nearest2)
    return np.clip(radius + 0.5 - distance, 0.0, 1.0).reshape(SIZE, SIZE)


def _pixels_near(a: np.ndarray, b: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (segment, row, column) with the pixel centre (column, row) inside the field and inside
    segment a_i b_i's bounding box grown by ``reach``: the pairs listed box by box, row-major."""
    first = np.clip(np.ceil(np.minimum(a, b) - reach), 0, SIZE).astype(np.intp)
    last = np.clip(np.floor(np.maximum(a, b) + reach), -1, SIZE - 1).astype(np.intp)
    width = np.maximum(last - first + 1, 0)  # (columns, rows) of each box
    counts = width[:, 0] * width[:, 1]
    segment = np.repeat(np.arange(len(a)), counts)
    k = np.arange(len(segment)) - np.repeat(np.cumsum(counts) - counts, counts)  # the place within its box
    return segment, first[segment, 1] + k // width[segment, 0], first[segment, 0] + k % width[segment, 0]
