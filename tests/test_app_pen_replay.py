"""Page = Python: digits of writers kept out of training (both pen collections), replayed from the
datasets' own points with the mouse and a finger at several sizes and positions on the real page in
Chromium, are read as Python reads the same original points through digit_from_strokes and the model.
The full replay of every held-out digit is benchmarks/drawn_digits.py --parts pen-browser."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("starlette")

from chainrule.app import create_app  # noqa: E402
from chainrule.app.replay import DEVICES, open_page, replay, running_server  # noqa: E402
from chainrule.datasets import HELD_OUT_WRITERS  # noqa: E402
from chainrule.preprocessing import digit_from_strokes  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def held_out_sample(pendigits, ujipen):
    """50 held-out digits, 5 of each class (3 from one collection, 2 from the other, alternating),
    writers drawn at random with a fixed seed: (strokes, collection, writer, label) each."""
    rng = np.random.default_rng(14)
    sample = []
    for label in range(10):
        for k, (name, data) in enumerate((("pendigits", pendigits), ("ujipen", ujipen))):
            pool = np.flatnonzero(np.isin(data.writers, HELD_OUT_WRITERS[name]) & (data.labels == label))
            for i in rng.choice(pool, 3 if (label + k) % 2 == 0 else 2, replace=False):
                sample.append((data.strokes[i], name, int(data.writers[i]), label))
    return sample


def test_page_reads_held_out_pen_digits_as_python_does(browser, digit_model, held_out_sample, tmp_path):
    assert len(held_out_sample) == 50 and {s[1] for s in held_out_sample} == {"pendigits", "ujipen"}
    with running_server(create_app(net=digit_model, data_dir=tmp_path)) as url:
        by_device = {"mouse": held_out_sample[0::2], "touch": held_out_sample[1::2]}
        for device, digits in by_device.items():
            page = open_page(browser, url, DEVICES[device]["page"])
            answers = replay(page, [strokes for strokes, *_ in digits], device)
            assert not page.errors
            page.close()
            for (strokes, name, writer, label), answer in zip(digits, answers):
                where = f"{device}, {name} writer {writer}, a {label}"
                assert answer["points"] == answer["sent"], where  # every point drawn reached the page
                image = digit_from_strokes(strokes)
                probabilities = digit_model.predict_proba(image[None])[0]
                # the page's points are the originals scaled to the pad and rounded to 1e-4 of its width
                assert np.abs(answer["image"].astype(int) - image).max() <= 8, where
                assert np.abs(answer["probabilities"] - probabilities).max() < 0.02, where
                assert answer["digit"] == str(probabilities.argmax()), where
