"""Properties of the batch augmentations: identities, exact resampling cases, ranges, determinism."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule.augment import Augmenter, affine, bilinear, elastic, gaussian_smooth, stroke_width

batches = hnp.arrays(np.uint8, st.tuples(st.integers(1, 4), st.integers(3, 12), st.integers(3, 12)))
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=30, deadline=None)
@given(images=batches, seed=seeds)
def test_zero_parameters_are_the_identity(images, seed):
    rng = np.random.default_rng(seed)
    np.testing.assert_array_equal(affine(images, rng, 0, 0, 0), images)
    np.testing.assert_array_equal(elastic(images, rng, alpha=0), images)
    np.testing.assert_array_equal(stroke_width(images, rng, fraction=0), images)


@settings(max_examples=30, deadline=None)
@given(images=batches, dy=st.integers(-3, 3), dx=st.integers(-3, 3))
def test_bilinear_at_shifted_integer_points_shifts_with_zero_fill(images, dy, dx):
    m, h, w = images.shape
    py, px = np.mgrid[0:h, 0:w]
    out = bilinear(images, np.broadcast_to(py - dy, images.shape), np.broadcast_to(px - dx, images.shape))
    expected = np.zeros_like(images)
    expected[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=30, deadline=None)
@given(images=batches, t=st.floats(0, 1))
def test_bilinear_between_two_pixels_is_their_weighted_mean(images, t):
    m, h, w = images.shape
    py, px = np.mgrid[0:h, 0:w - 1].astype(float)
    out = bilinear(images[:, :, :], np.broadcast_to(py, (m, h, w - 1)), np.broadcast_to(px + t, (m, h, w - 1)))
    x = images.astype(np.float64)
    np.testing.assert_allclose(out, (1 - t) * x[:, :, :-1] + t * x[:, :, 1:], rtol=1e-5, atol=1e-3)


def test_bilinear_reads_the_right_pixels_of_an_image_too_large_for_float32_indices():
    # (h + 4) (w + 4) > 2^24: the neighbours' index no longer fits float32's exact integers
    h, w = 4100, 4100
    image = np.zeros((1, h, w), np.uint8)
    points = [(h - 1, w - 1), (h - 1, w - 2), (h - 2, w - 1), (4000, 3999)]
    for k, (y, x) in enumerate(points):
        image[0, y, x] = 10 * (k + 1)
    sy, sx = (np.array([[p[i] for p in points]], np.float32) for i in (0, 1))
    np.testing.assert_array_equal(bilinear(image, sy, sx), [[10, 20, 30, 40]])


@settings(max_examples=20, deadline=None)
@given(images=batches, seed=seeds)
def test_warps_keep_shape_and_the_0_255_range(images, seed):
    rng = np.random.default_rng(seed)
    for out in (affine(images, rng, 30, 0.3, 3), elastic(images, rng, 8, 2), stroke_width(images, rng, 1.0),
                Augmenter(elastic_alpha=8, elastic_sigma=2, stroke=0.5)(images, rng)):
        assert out.shape == images.shape and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 255.0001


def test_rotation_keeps_a_centred_disc_and_moves_its_mass_little(mnist):
    images = mnist.train_images[:64]
    rng = np.random.default_rng(0)
    out = affine(images, rng, rotation=10, scale=0.1, shift=2)
    ink_before, ink_after = images.sum(axis=(1, 2)), out.sum(axis=(1, 2))
    assert np.all(np.abs(ink_after / ink_before - 1) < 0.3)  # zoom by at most 10% changes area by at most ~21%
    assert np.mean(np.abs(out - images)) > 1  # but it does change the images


@settings(max_examples=20, deadline=None)
@given(images=batches, seed=seeds)
def test_stroke_width_makes_each_image_uniformly_thicker_or_thinner(images, seed):
    out = stroke_width(images, np.random.default_rng(seed), fraction=1.0)
    x = images.astype(np.float32)
    for before, after in zip(x, out):
        assert np.all(after >= before - 1e-3) or np.all(after <= before + 1e-3)


@settings(max_examples=20, deadline=None)
@given(sigma=st.floats(0.5, 3), seed=seeds)
def test_gaussian_smoothing_keeps_constants_inside_and_is_symmetric(sigma, seed):
    radius = int(np.ceil(3 * sigma))
    size = 2 * radius + 9
    constant = np.full((1, size, size), 2.5)
    inner = slice(radius, size - radius)
    np.testing.assert_allclose(gaussian_smooth(constant, sigma)[0, inner, inner], 2.5)
    impulse = np.zeros((1, size, size))
    impulse[0, size // 2, size // 2] = 1
    response = gaussian_smooth(impulse, sigma)[0]
    np.testing.assert_allclose(response, response.T, atol=1e-15)
    np.testing.assert_allclose(response, response[::-1, ::-1], atol=1e-15)
    assert response.sum() == pytest.approx(1.0)


@settings(max_examples=20, deadline=None)
@given(sigma=st.floats(0.3, 7), h=st.integers(1, 30), w=st.integers(1, 30), seed=seeds)
def test_gaussian_smoothing_is_the_separable_convolution_with_zero_padding(sigma, h, w, seed):
    """Against np.convolve along each row and then each column of every slice (its full output,
    cut to the slice's own pixels), kernel longer than the image included."""
    fields = np.random.default_rng(seed).uniform(-1, 1, (3, h, w))
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()

    def along(x, n):
        return np.convolve(x, taps)[radius:radius + n]

    rows = np.apply_along_axis(along, 2, fields, w)
    expected = np.apply_along_axis(along, 1, rows, h)
    np.testing.assert_allclose(gaussian_smooth(fields, sigma), expected, atol=1e-12)
    assert gaussian_smooth(fields.astype(np.float32), sigma).dtype == np.float32


def test_augmenter_is_reproducible_and_random():
    images = np.random.default_rng(1).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    augment = Augmenter(elastic_alpha=34, stroke=0.5)
    first = augment(images, np.random.default_rng(5))
    np.testing.assert_array_equal(first, augment(images, np.random.default_rng(5)))
    assert not np.array_equal(first, augment(images, np.random.default_rng(6)))


@pytest.mark.parametrize("bad", [{"rotation": -1}, {"scale": 1.0}, {"stroke": 2}, {"shift": float("nan")},
                                 {"elastic_sigma": 0}])
def test_augmenter_rejects_bad_parameters(bad):
    with pytest.raises(ValueError, match="augmentation"):
        Augmenter(**bad)


def test_batch_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(m, height, width\)"):
        affine(np.zeros((28, 28)), np.random.default_rng(0))


@pytest.mark.parametrize("call", [
    lambda x, rng: elastic(x, rng, sigma=0), lambda x, rng: elastic(x, rng, sigma=-2),
    lambda x, rng: elastic(x, rng, sigma=float("inf")), lambda x, rng: elastic(x, rng, alpha=-1),
    lambda x, rng: gaussian_smooth(x, 0), lambda x, rng: affine(x, rng, rotation=float("nan")),
    lambda x, rng: affine(x, rng, rotation=-5), lambda x, rng: affine(x, rng, scale=1.0),
    lambda x, rng: affine(x, rng, shift=float("inf")), lambda x, rng: gaussian_smooth(x, 1e15),
    lambda x, rng: Augmenter(elastic_alpha=8, elastic_sigma=1e8)(x, rng)])
def test_warps_reject_bad_parameters(call):
    with pytest.raises(ValueError, match="augmentation (elastic_sigma|sigma|alpha|rotation|scale|shift) must be"):
        call(np.zeros((2, 8, 8), np.uint8), np.random.default_rng(0))


def test_an_empty_batch_gives_an_empty_batch():
    empty = np.zeros((0, 28, 28), np.uint8)
    rng = np.random.default_rng(0)
    for out in (affine(empty, rng), elastic(empty, rng), Augmenter(elastic_alpha=8, stroke=0.5)(empty, rng)):
        assert out.shape == (0, 28, 28) and out.dtype == np.float32


def test_bilinear_rejects_nan_source_points_in_one_line():
    """NaN survived the clip and became index -2^63, which np.take(mode="wrap") wrapped for ever: run
    in a child process, so that a hang fails the test instead of stalling the suite."""
    code = """if True:
        import numpy as np
        from chainrule.augment import bilinear
        for sy, sx in (([[np.nan]], [[0.0]]), ([[1.0, 2.0]], [[3.0, np.nan]])):
            try:
                bilinear(np.zeros((1, 28, 28)), np.array(sy), np.array(sx))
            except ValueError as err:
                print(err)
        """
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.splitlines() == ["bilinear needs finite source points, got NaN in sy or sx"] * 2, run.stderr


@settings(max_examples=20, deadline=None)
@given(images=batches, sign_y=st.sampled_from([-1, 0, 1]), sign_x=st.sampled_from([-1, 1]))
def test_bilinear_reads_zero_at_infinite_source_points(images, sign_y, sign_x):
    m, h, w = images.shape
    sy = np.full((m, 2), sign_y * np.inf if sign_y else 1.0)
    assert not bilinear(images, sy, np.full((m, 2), sign_x * np.inf)).any()


@pytest.mark.parametrize("seed", [0, None, 1.5])
@pytest.mark.parametrize("warp", [affine, elastic, stroke_width, Augmenter(stroke=0.5)])
def test_warps_need_a_generator_not_a_seed(warp, seed):
    with pytest.raises(TypeError, match=r"^rng must be a numpy.random.Generator such as "
                                        rf"np.random.default_rng\(seed\), got {type(seed).__name__}$"):
        warp(np.zeros((2, 8, 8), np.uint8), seed)


@pytest.mark.parametrize("bad", ["10", None, [1.0], 1j])
def test_parameters_that_are_not_numbers_are_named_in_one_line(bad):
    message = rf"^augmentation rotation must be a finite number >= 0, got {re.escape(repr(bad))}$"
    with pytest.raises(ValueError, match=message):
        Augmenter(rotation=bad)
    with pytest.raises(ValueError, match=message):
        affine(np.zeros((2, 8, 8), np.uint8), np.random.default_rng(0), rotation=bad)
