"""Trajectory-space augmentation and the rendering of pen digits: the properties of each part of
the augmentation (identity parameters give back the input, resampling keeps the endpoints and passes
through the source points, the affine map keeps areas), and that rendering is exactly the drawing
page's digit_from_strokes."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from chainrule.datasets import PenDigits
from chainrule.pen import (PenAugmenter, accuracy_rows, affine_matrix, render_pen_digits, resample,
                           select_writers)
from chainrule.preprocessing import MAX_POINTS, digit_from_strokes

coordinates = st.floats(-500, 500, allow_nan=False, width=64)
strokes = st.integers(2, 40).flatmap(lambda n: arrays(np.float64, (n, 2), elements=coordinates))
rates = st.floats(1.0, 240.0)
phases = st.floats(0.0, 0.999)


@settings(max_examples=50, deadline=None)
@given(strokes)
def test_resampling_at_the_source_rate_with_phase_zero_gives_back_the_stroke(stroke):
    np.testing.assert_array_equal(resample(stroke, 10.0, 0.0, source_rate=10.0), stroke)


@settings(max_examples=50, deadline=None)
@given(strokes, rates, phases)
def test_resampling_keeps_the_endpoints(stroke, rate, phase):
    out = resample(stroke, rate, phase)
    np.testing.assert_array_equal(out[[0, -1]], stroke[[0, -1]])
    assert out.shape[1] == 2 and np.isfinite(out).all()


@settings(max_examples=50, deadline=None)
@given(strokes, phases)
def test_resampling_reads_the_curve_at_the_device_rate(stroke, phase):
    """60 Hz from 10 Hz: the points lie 1/6 of a source step apart, 6 per source point (plus the
    endpoints), and with phase 0 every sixth one is a source point."""
    n = len(stroke)
    out = resample(stroke, 60.0, phase)
    inner = phase + np.arange(6 * n) / 6
    assert len(out) == 2 + np.count_nonzero((inner > 1e-6) & (inner < n - 1 - 1e-6))
    np.testing.assert_allclose(resample(stroke, 60.0)[::6], stroke, atol=1e-9 * (1 + np.abs(stroke).max()))


@settings(max_examples=50, deadline=None)
@given(rates, phases)
def test_resampling_a_straight_line_stays_on_it_in_order(rate, phase):
    line = np.outer(np.linspace(0, 1, 12), [3.0, -4.0]) + [7.0, 2.0]
    out = resample(line, rate, phase)
    t = (out[:, 0] - 7.0) / 3.0
    np.testing.assert_allclose(out, np.outer(t, [3.0, -4.0]) + [7.0, 2.0], atol=1e-12)
    assert np.all(np.diff(t) > 0)


def test_resampling_a_single_point_or_bad_rates():
    np.testing.assert_array_equal(resample(np.array([[1.0, 2.0]]), 60.0, 0.5), [[1.0, 2.0]])
    with pytest.raises(ValueError, match="rate > 0"):
        resample(np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match="phase in"):
        resample(np.zeros((3, 2)), 60.0, 1.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(-45, 45), st.floats(-1, 1), st.floats(-1, 1))
def test_the_affine_map_keeps_areas_and_the_identity_is_exact(rotation, shear, stretch):
    assert np.linalg.det(affine_matrix(rotation, shear, stretch)) == pytest.approx(1.0)
    np.testing.assert_array_equal(affine_matrix(0.0, 0.0, 0.0), np.eye(2))


def test_augmenter_without_changes_gives_the_digit_as_drawn():
    """Zero geometry, the source rate and a fixed pen: the copy is the input up to the random
    phase of the resampling, which only moves points along the curve (an O with pendigits' median
    39 points)."""
    angle = np.linspace(0, 2 * np.pi, 39)
    digit = [np.stack([100 + 60 * np.cos(angle), 200 + 90 * np.sin(angle)], axis=1)]
    still = PenAugmenter(rotation=0, shear=0, stretch=0, rates=(10.0,), jitter=0, pen_width=(2.4, 2.4))
    paths, width = still(digit, np.random.default_rng(0))
    assert width == 2.4 and len(paths) == 1
    np.testing.assert_array_equal(paths[0][[0, -1]], digit[0][[0, -1]])
    images = [digit_from_strokes(digit), digit_from_strokes(paths, width)]
    assert np.abs(images[0].astype(int) - images[1]).max() < 40


def test_augmenter_rejects_bad_parameters():
    for bad in ({"rotation": -1.0}, {"jitter": float("nan")}, {"rates": ()}, {"pen_width": (3.0, 2.0)}):
        with pytest.raises(ValueError, match="pen augmentation"):
            PenAugmenter(**bad)


@pytest.mark.parametrize("bad, message", [
    ({"pen_width": 2.4}, r"pen_width must be a pair \(lo, hi\) of numbers with 0 < lo <= hi < 20, got 2.4$"),
    ({"pen_width": (2.0, "3")}, r"pen_width must be a pair \(lo, hi\) of numbers"),
    ({"pen_width": (2.0, float("nan"))}, r"pen_width must be a pair \(lo, hi\) of numbers"),
    ({"rates": 60}, r"rates must be a tuple of sampling rates in Hz, finite and > 0, such as \(60.0, 10.0\), got 60$"),
    ({"rates": (float("nan"),)}, r"rates must be a tuple of sampling rates in Hz, finite and > 0"),
    ({"rates": (60.0, float("inf"))}, r"rates must be a tuple of sampling rates in Hz, finite and > 0"),
    ({"rates": ("60",)}, r"rates must be a tuple of sampling rates in Hz, finite and > 0"),
    ({"rotation": "10"}, r"rotation must be a finite number >= 0, got '10'$"),
])
def test_augmenter_names_the_parameter_and_its_form(bad, message):
    with pytest.raises(ValueError, match="^pen augmentation " + message):
        PenAugmenter(**bad)


def test_augmenting_and_rendering_need_a_generator_not_a_seed(few):
    rng_message = r"^rng must be a numpy.random.Generator such as np.random.default_rng\(seed\), got int$"
    with pytest.raises(TypeError, match=rng_message):
        PenAugmenter()(few.strokes[0], 0)
    with pytest.raises(TypeError, match=rng_message):
        render_pen_digits(few, 1, rng=0)


@pytest.mark.parametrize("args, message", [
    ((np.zeros((3, 2)), 1e12), r"would turn this stroke of 3 points into 2e\+11 points, more than the 20000"),
    ((np.zeros((3, 2)), float("inf")), r"needs finite rate > 0"),
    ((np.zeros((3, 2)), 60.0, 0.0, float("inf")), r"needs finite rate > 0 and source_rate > 0"),
    ((np.arange(3.0), 60.0), r"needs a stroke of shape \(n, 2\), one point \(x, y\) a row, got shape \(3,\)$"),
])
def test_resampling_rejects_rates_and_strokes_it_cannot_draw(args, message):
    with pytest.raises(ValueError, match="^resample.*" + message):
        resample(*args)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 2000), st.floats(1.0, 1e6), phases)
def test_resampling_gives_at_most_max_points_or_says_so(n, rate, phase):
    stroke = np.linspace([0.0, 0.0], [1.0, 2.0], n)
    try:
        out = resample(stroke, rate, phase)
    except ValueError as err:
        assert f"more than the {MAX_POINTS} digit_from_strokes takes" in str(err)
        assert (n - 1 - phase) * rate / 10.0 > MAX_POINTS - 2
    else:
        assert len(out) <= MAX_POINTS


@pytest.fixture(scope="module")
def few(ujipen):
    """The twenty digits of UJI writers 1 and 2 (and the other 780)."""
    return select_writers(ujipen, [1, 2])


@pytest.mark.parametrize("writers", [5, "12", None])
def test_select_writers_takes_a_collection_of_writer_ids(writers):
    pen = PenDigits([[np.zeros((1, 2))]] * 2, np.array([3, 4], np.uint8), np.array([5, 12]))
    with pytest.raises(TypeError, match=rf"^writers must be a collection of writer ids such as \[1, 2\], "
                                        rf"got {re.escape(repr(writers))}$"):
        select_writers(pen, writers)


def test_select_writers_splits_the_collection(ujipen, few):
    rest = select_writers(ujipen, [1, 2], keep=False)
    assert len(few.labels) == 40 and set(few.writers) == {1, 2}
    assert len(rest.labels) == 760 and not set(rest.writers) & {1, 2}
    assert len(few.strokes) == 40 and few.strokes[0] is ujipen.strokes[np.flatnonzero(ujipen.writers == 1)[0]]


def test_rendering_as_drawn_is_exactly_the_page_function(few):
    rendered = render_pen_digits(few)
    assert rendered.images.shape == (40, 28, 28) and rendered.images.dtype == np.uint8
    for image, digit in zip(rendered.images, few.strokes):
        np.testing.assert_array_equal(image, digit_from_strokes(digit))
    np.testing.assert_array_equal(rendered.labels, few.labels)
    np.testing.assert_array_equal(rendered.writers, few.writers)


def test_augmented_copies_keep_labels_and_writers_and_differ(few):
    copies = render_pen_digits(few, 3, np.random.default_rng(1))
    assert copies.images.shape == (120, 28, 28)
    np.testing.assert_array_equal(copies.labels, np.repeat(few.labels, 3))
    np.testing.assert_array_equal(copies.writers, np.repeat(few.writers, 3))
    drawn = render_pen_digits(few).images
    assert not np.array_equal(copies.images[::3], drawn)
    # each copy is still its digit: the drawn digit its ink overlaps most (cosine) has its label
    ink = copies.images.reshape(40, 3, -1).astype(float)
    flat = drawn.reshape(40, -1).astype(float)
    cosine = np.einsum("dcp,ep->dce", ink, flat) / np.linalg.norm(ink, axis=2)[..., None] / np.linalg.norm(flat, axis=1)
    assert np.mean(few.labels[cosine.argmax(axis=2)] == few.labels[:, None]) > 0.9


def test_copies_depend_on_the_seed_not_on_the_workers(ujipen):
    pen = select_writers(ujipen, range(1, 31))  # 600 digits x 1: enough to use the processes
    one = render_pen_digits(pen, 1, np.random.default_rng(5), workers=1)
    two = render_pen_digits(pen, 1, np.random.default_rng(5), workers=2)
    np.testing.assert_array_equal(one.images, two.images)


def test_ctrl_c_is_left_to_the_parent_by_the_rendering_workers(ujipen, monkeypatch, capfd):
    """A terminal's Ctrl-C reaches every process of its group: each worker printed a traceback of its
    own (and the pool broke) before the command said "interrupted". Here every worker sends itself
    the signal before its first job (the pool forks after the patch, so the workers run it)."""
    import multiprocessing
    import os
    import signal

    from chainrule import pen as pen_module

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patch reaches the workers only through fork")
    render, parent = pen_module._render, os.getpid()

    def interrupted(job):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGINT)
        return render(job)

    interrupted.__qualname__ = "_render"  # pickled by name, as the workers look it up: chainrule.pen._render
    interrupted.__module__ = "chainrule.pen"
    monkeypatch.setattr(pen_module, "_render", interrupted)
    digits = select_writers(ujipen, range(1, 31))
    try:
        two = render_pen_digits(digits, 1, np.random.default_rng(5), workers=2)
    except KeyboardInterrupt:  # a worker's, passed on to the parent (which would end the test session)
        pytest.fail("a rendering worker was interrupted and passed the interrupt on")
    monkeypatch.undo()
    np.testing.assert_array_equal(two.images, render_pen_digits(digits, 1, np.random.default_rng(5)).images)
    assert "Traceback" not in capfd.readouterr().err


def test_rendering_needs_a_generator_for_copies(few):
    with pytest.raises(ValueError, match="rng"):
        render_pen_digits(few, 2)
    with pytest.raises(ValueError, match="copies"):
        render_pen_digits(few, -1)


def test_accuracy_rows_count_per_class_and_writer():
    labels = np.array([0, 0, 1, 1, 1])
    writers = np.array([7, 8, 7, 8, 8])
    predicted = np.array([0, 1, 1, 1, 0])
    rows = {(r["by"], r["key"]): r for r in accuracy_rows("x", predicted, labels, writers)}
    assert rows["all", "all"]["correct"] == 3 and rows["all", "all"]["digits"] == 5
    assert rows["class", "0"]["accuracy"] == 0.5 and rows["class", "1"]["accuracy"] == pytest.approx(2 / 3)
    assert rows["writer", "7"]["accuracy"] == 1.0 and rows["writer", "8"]["correct"] == 1
