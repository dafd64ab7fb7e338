"""chainrule.preprocessing: any drawing -> the MNIST convention, invariant to where, how large and
how thick the digit is drawn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import preprocessing as P


def enlarge(digit: np.ndarray, factor: int) -> np.ndarray:
    """A 28x28 digit drawn large: every pixel becomes a factor x factor block (ink in [0, 1])."""
    return np.kron(digit / 255.0, np.ones((factor, factor)))


def on_canvas(ink: np.ndarray, shape: tuple[int, int], at: tuple[int, int], paper: bool = True) -> np.ndarray:
    """``ink`` placed at ``at`` on a canvas; dark ink on light paper (uint8) or white on black (float)."""
    canvas = np.zeros(shape)
    canvas[at[0]:at[0] + ink.shape[0], at[1]:at[1] + ink.shape[1]] = ink
    return np.rint(255 - 230 * canvas).astype(np.uint8) if paper else canvas


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[:28, :28]
    return np.array([(image * rows).sum(), (image * cols).sum()]) / image.sum()


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test_images[:40], mnist.test_labels[:40]


# ---- the MNIST convention ------------------------------------------------------------------------
def test_output_follows_the_mnist_convention(digits):
    for digit in digits[0][:20]:
        out = P.digit_from_image(on_canvas(enlarge(digit, 6), (300, 400), (40, 90)))
        assert out.shape == (28, 28) and out.dtype == np.uint8
        rows, cols = np.nonzero(out > 0.3 * 255)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (19, 20, 21)
        assert np.abs(centre_of_mass(out.astype(float)) - P.CENTRE).max() <= 0.5
        assert out.max() == 255 and out[0].max() == 0  # white ink on black, background at the border


def test_mnist_digits_pass_through_unchanged(digits):
    """An MNIST digit already follows the convention: preprocessing it again changes almost nothing."""
    out = np.array([P.digit_from_image(d) for d in digits[0]]).astype(int)
    assert np.abs(out - digits[0]).mean() < 0.15 * digits[0].mean()


def test_blank_images_give_zeros():
    for blank in (np.zeros((5, 7)), np.full((40, 40), 200, np.uint8), np.ones((1, 1), bool)):
        assert not P.digit_from_image(blank).any()


def test_values_near_the_float64_limit_give_the_same_digit():
    image = np.full((30, 30), -1.0)
    image[5:25, 13:17] = 1.0
    expected = P.digit_from_image(image)
    assert expected.any() and np.array_equal(P.digit_from_image(image * 1e308), expected)


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((0, 4)), np.zeros((4, 4, 2)), np.array([["a"]]),
                                 np.full((3, 3), np.nan)])
def test_bad_images_are_rejected_with_a_message(bad):
    with pytest.raises(ValueError, match="gray"):
        P.digit_from_image(bad)


# ---- invariances -------------------------------------------------------------------------------
def test_polarity_and_dtype_do_not_matter(digits):
    digit = digits[0][3]
    dark_on_light = on_canvas(enlarge(digit, 5), (200, 220), (20, 30))
    light_on_dark = (255 - dark_on_light).astype(np.float32) / 255
    rgb = np.repeat(dark_on_light[..., None], 3, axis=2)
    expected = P.digit_from_image(dark_on_light)
    assert np.abs(P.digit_from_image(light_on_dark).astype(int) - expected).max() <= 1
    assert np.abs(P.digit_from_image(rgb).astype(int) - expected).max() <= 1


@settings(max_examples=15, deadline=None)
@given(top=st.integers(0, 150), left=st.integers(0, 250), k=st.integers(0, 39))
def test_translation_invariance(digits, top, left, k):
    ink = enlarge(digits[0][k], 5)
    reference = P.digit_from_image(on_canvas(ink, (300, 400), (0, 0)))
    moved = P.digit_from_image(on_canvas(ink, (300, 400), (top, left)))
    assert np.array_equal(reference, moved)


@pytest.mark.parametrize("factor", [3, 7, 12])
def test_scale_invariance(digits, factor):
    """The same digit drawn 3x, 7x or 12x the size of the reference (5x) gives nearly the same input."""
    for digit in digits[0][:10]:
        reference = P.digit_from_image(on_canvas(enlarge(digit, 5), (200, 200), (30, 30))).astype(int)
        scaled = P.digit_from_image(on_canvas(enlarge(digit, factor), (28 * factor + 60,) * 2, (30, 30))).astype(int)
        assert np.abs(scaled - reference).mean() < 0.1 * reference.mean()


@pytest.mark.parametrize("steps", [-2, 5, 9])
def test_stroke_width_is_normalised(digits, digit_model, steps):
    """Strokes eroded by 2 or dilated by 5 or 9 pixels (of 8 per MNIST pixel: up to 2 MNIST pixels
    thicker) come out within a third of the original width, and are recognised as the original is."""
    images, labels = digits
    op = np.maximum if steps > 0 else np.minimum
    plain = np.array([P.digit_from_image(enlarge(d, 8)) for d in images])
    changed = np.array([P.digit_from_image(P._morph(enlarge(d, 8), abs(steps), op)) for d in images])
    ratio = np.median([P.stroke_width(c / 255) / P.stroke_width(p / 255) for c, p in zip(changed, plain)])
    assert 0.75 < ratio < 1.33
    assert (digit_model.predict(changed) == labels).mean() >= (digit_model.predict(plain) == labels).mean() - 0.05


def drawn(strokes: list, width: float, size: int = 1000) -> np.ndarray:
    """``strokes`` drawn black on white with a round pen ``width`` pixels wide on a size x size image."""
    y, x = np.mgrid[:size, :size] + 0.5
    nearest = np.full((size, size), np.inf)
    for stroke in strokes:
        for (ax, ay), (bx, by) in zip(stroke[:-1], stroke[1:]):
            dx, dy = bx - ax, by - ay
            t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
            nearest = np.minimum(nearest, np.hypot(x - ax - t * dx, y - ay - t * dy))
    return np.where(nearest <= width / 2, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("width", [2, 3, 8])
@pytest.mark.parametrize("shape", [[[[200, 200], [800, 200]], [[500, 200], [500, 800]]],
                                   [[[250, 150], [750, 150], [400, 850]]],
                                   [[[600, 850], [600, 150], [200, 600], [800, 600]]]], ids=["T", "7", "4"])
def test_a_thin_pen_in_a_large_image_comes_out_as_wide_as_the_drawn_strokes(shape, width):
    """A stroke 2-8 pixels wide in a 1000 x 1000 image is thinner than a pixel at the working
    resolution; it is thickened all the same, to about the ink of digit_from_strokes' pen."""
    out = P.digit_from_image(drawn(shape, width)).astype(float)
    pen = P.digit_from_strokes(shape).astype(float)
    assert 0.8 < out.sum() / pen.sum() < 1.25
    assert (out > 128).sum() >= 0.8 * (pen > 128).sum()


def test_mnist_redrawn_on_a_large_canvas_is_recognised_as_well(mnist, digit_model):
    """1000 MNIST test digits drawn 4x larger, dark on light, at varying places on a larger canvas,
    put back through digit_from_image: recognised at most 2 points less often than the originals."""
    rng = np.random.default_rng(0)
    images, labels = mnist.test_images[:1000], mnist.test_labels[:1000]
    redrawn = np.array([P.digit_from_image(on_canvas(enlarge(d, 4), (150, 170), tuple(rng.integers(0, 30, 2))))
                        for d in images])
    original = (digit_model.predict(images) == labels).mean()
    assert (digit_model.predict(redrawn) == labels).mean() >= original - 0.02


# ---- strokes -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def strokes(digits):
    return [P.skeleton_strokes(P.skeletonize(d > 100)) for d in digits[0]]


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, 39), scale=st.floats(0.2, 50), dx=st.floats(-1000, 1000), dy=st.floats(-1000, 1000))
def test_strokes_are_invariant_to_size_and_position(strokes, k, scale, dx, dy):
    reference = P.digit_from_strokes(strokes[k])
    moved = P.digit_from_strokes([p * scale + [dx, dy] for p in strokes[k]])
    assert np.abs(moved.astype(int) - reference).max() <= 2


def test_strokes_follow_the_convention_and_are_recognised(strokes, digits, digit_model):
    images = np.array([P.digit_from_strokes([p * 9 for p in s]) for s in strokes])
    for image in images:
        assert np.abs(centre_of_mass(image.astype(float)) - P.CENTRE).max() <= 0.25
        rows, cols = np.nonzero(image > 0.3 * 255)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (19, 20, 21)
    assert (digit_model.predict(images) == digits[1]).mean() >= 0.85


def test_a_single_point_and_no_strokes():
    dot = P.digit_from_strokes([[[5.0, 5.0]]])
    assert dot.any() and np.abs(centre_of_mass(dot.astype(float)) - P.CENTRE).max() <= 0.25
    assert np.array_equal(P.digit_from_strokes([[[0, 0], [1e-320, 0]]]), dot)  # 1 / extent would be inf
    assert not P.digit_from_strokes([]).any() and not P.digit_from_strokes([[], []]).any()


@pytest.mark.parametrize("bad, message", [
    ("abc", "list of strokes"), ([[["x", 1]]], "stroke 0"), ([[[1, 2]], [[1]]], "stroke 1"),
    ([[[1, float("nan")]]], "NaN"), ([[[0, 0]] * (P.MAX_POINTS + 1)], "too many"), ([[1, 2, 3]], "stroke 0"),
])
def test_bad_strokes_are_rejected_with_a_message(bad, message):
    with pytest.raises(ValueError, match=message):
        P.digit_from_strokes(bad)


@pytest.mark.parametrize("width", ["2", None, [2.0], float("nan"), 0, P.BOX])
def test_a_pen_width_that_is_not_a_number_in_range_is_named(width):
    with pytest.raises(ValueError, match=rf"^pen_width must be a number in \(0, {P.BOX}\) output pixels, got "):
        P.digit_from_strokes([[[0.0, 0.0], [1.0, 1.0]]], pen_width=width)


# ---- skeletons ----------------------------------------------------------------------------------
@pytest.mark.parametrize("y, x", [(0, 0), (10, 10), (28, 28)])
def test_a_two_by_two_blob_keeps_one_skeleton_pixel(y, x):
    """Plain Zhang-Suen thinning deletes all four pixels of a 2x2 block at once (hypothesis found it)."""
    shape = np.zeros((30, 30), bool)
    shape[y:y + 2, x:x + 2] = True
    skeleton = P.skeletonize(shape)
    assert skeleton.sum() == 1 and skeleton[y, x]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(1, 8), st.integers(1, 8)),
                min_size=1, max_size=4))
def test_skeleton_is_thin_inside_the_shape_and_kept_by_the_strokes(rectangles):
    shape = np.zeros((30, 30), bool)
    for y, x, h, w in rectangles:
        shape[y:y + h, x:x + w] = True
    skeleton = P.skeletonize(shape)
    assert skeleton.any() and not (skeleton & ~shape).any()
    blocks = skeleton[:-1, :-1] & skeleton[1:, :-1] & skeleton[:-1, 1:] & skeleton[1:, 1:]
    assert not blocks.any()  # one pixel wide: no 2x2 square left
    paths = P.skeleton_strokes(skeleton)
    visited = {(int(y), int(x)) for p in paths for x, y in p}
    assert visited == {(int(y), int(x)) for y, x in zip(*np.nonzero(skeleton))}
    for p in paths:  # each path moves to an 8-neighbour at every step
        assert len(p) == 1 or np.abs(np.diff(p, axis=0)).max() <= 1


# ---- the segment budget: bites on pathological drawings only ---------------------------------------
@pytest.fixture(scope="module")
def pen_data(pendigits, ujipen) -> list[list[np.ndarray]]:
    """Every digit of the UCI pendigits training writers and of UJI Pen Characters' first 40
    writers, as lists of strokes of (x, y) points."""
    return pendigits.strokes + ujipen.strokes


def test_real_pen_data_renders_exactly_as_without_the_budget(pen_data, monkeypatch):
    """Pen digits (every 4th of the 7,494 UCI and 800 UJI ones: all 70 writers) stay far below
    MAX_SEGMENTS, and render bit for bit as with no budget and no chunked rendering (one
    (784, segments) block, as before)."""
    assert len(pen_data) == 7494 + 800
    pen_data = pen_data[::4]
    counts = []
    spy = P._within_budget

    def counting(paths, *args):
        kept = spy(paths, *args)
        counts.append(P._segments(kept))
        return kept

    monkeypatch.setattr(P, "_within_budget", counting)
    budgeted = [P.digit_from_strokes(d) for d in pen_data]
    assert max(counts) * 10 < P.MAX_SEGMENTS
    monkeypatch.setattr(P, "MAX_SEGMENTS", 10**9)
    monkeypatch.setattr(P, "RENDER_CHUNK", 10**9)
    assert all(np.array_equal(a, P.digit_from_strokes(d)) for a, d in zip(budgeted, pen_data))


@pytest.mark.parametrize("drawing", ["zigzag", "dots", "scribbles"])
def test_pathological_drawings_are_rendered_within_the_budget(drawing, monkeypatch):
    """20,000 points (the most accepted) that no arc-length simplification thins: a zig-zag across
    the pad, 20,000 separate dots, 200 strokes of 100 random points. At most MAX_SEGMENTS segments
    reach the renderer, and the ink still covers where the pen went."""
    rng = np.random.default_rng(0)
    if drawing == "zigzag":
        t = np.arange(P.MAX_POINTS)
        strokes = [np.stack([np.where(t % 2 == 0, 0.0, 1000.0), t / 20.0], axis=1)]
    elif drawing == "dots":
        strokes = list(rng.uniform(0, 1000, (P.MAX_POINTS, 1, 2)))
    else:
        strokes = list(rng.uniform(0, 1000, (200, 100, 2)))
    rendered = []
    render = P._render
    monkeypatch.setattr(P, "_render",
                        lambda paths, radius: rendered.append(P._segments(paths)) or render(paths, radius))
    image = P.digit_from_strokes(strokes)
    assert rendered and max(rendered) <= P.MAX_SEGMENTS
    assert (image > 128).mean() > 0.3  # a dense scribble inks most of its box


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n_paths=st.integers(1, 6), spread=st.floats(1, 60))
def test_the_renderer_is_coverage_by_the_nearest_segment_at_every_pixel(seed, n_paths, spread):
    """_render measures each segment only against the pixels near its box; the result is the
    definition's, clip(r + 1/2 - d, 0, 1) with d the distance to the nearest segment over all 784
    pixels, for paths inside, across and outside the field, dots included."""
    rng = np.random.default_rng(seed)
    paths = [14 + rng.uniform(-spread, spread, (rng.integers(1, 40), 2)) for _ in range(n_paths)]
    radius = rng.uniform(0.3, 3)
    a = np.concatenate([p if len(p) == 1 else p[:-1] for p in paths])
    b = np.concatenate([p if len(p) == 1 else p[1:] for p in paths])
    pixels = np.stack(np.meshgrid(np.arange(28.0), np.arange(28.0)), -1).reshape(-1, 1, 2)  # (x, y) = (col, row)
    along = np.clip(((pixels - a) * (b - a)).sum(-1) / np.maximum(((b - a) ** 2).sum(-1), 1e-12), 0, 1)
    distance = np.linalg.norm(pixels - a - along[..., None] * (b - a), axis=-1).min(axis=1)
    expected = np.clip(radius + 0.5 - distance, 0, 1).reshape(28, 28)
    np.testing.assert_allclose(P._render(paths, radius), expected, atol=1e-12)
