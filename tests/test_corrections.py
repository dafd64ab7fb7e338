"""chainrule.corrections: the append-only folder of corrected drawings and adaptation to it."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import corrections


def image(value: int) -> np.ndarray:
    return np.full((28, 28), value, np.uint8)


def test_saved_samples_load_back_in_order(tmp_path):
    strokes = [[[0, 0], [10, 5]], [[3, 3]]]
    paths = [corrections.save_sample(tmp_path, image(10 * k), k, strokes) for k in (3, 1, 4)]
    assert len(set(paths)) == 3 and all(p.parent == tmp_path for p in paths)
    images, labels = corrections.load_samples(tmp_path)
    assert images.dtype == np.uint8 and images.shape == (3, 28, 28)
    assert labels.dtype == np.int64 and labels.tolist() == [3, 1, 4]
    assert [int(i[0, 0]) for i in images] == [30, 10, 40]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no temporary files left


def test_empty_and_missing_folders(tmp_path):
    images, labels = corrections.load_samples(tmp_path)
    assert images.shape == (0, 28, 28) and labels.shape == (0,)
    with pytest.raises(FileNotFoundError, match="no corrections folder"):
        corrections.load_samples(tmp_path / "nowhere")


def test_a_foreign_file_is_reported_by_name(tmp_path):
    corrections.save_sample(tmp_path, image(1), 1)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.npz"):
        corrections.load_samples(tmp_path)


@pytest.mark.parametrize("img, label, message", [
    (np.zeros((28, 27), np.uint8), 1, "image"), (np.zeros((28, 28)), 1, "image"),
    (image(0), 10, "label"), (image(0), -1, "label"), (image(0), "7", "label"),
])
def test_bad_samples_are_refused(tmp_path, img, label, message):
    with pytest.raises(ValueError, match=message):
        corrections.save_sample(tmp_path, img, label)
    assert not list(tmp_path.iterdir())


def test_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert corrections.default_directory() == tmp_path / "chainrule" / "corrections"


def test_adapt_learns_the_corrections_without_forgetting_mnist(mnist, digit_model):
    """Thirty digits drawn 'the user's way' (MNIST test digits mirrored left-right) with their true
    labels: the adapted copy recognises them better, still knows MNIST, and the original is untouched."""
    user_images = mnist.test_images[100:130, :, ::-1].copy()
    user_labels = mnist.test_labels[100:130].astype(np.int64)
    check_images, check_labels = mnist.test_images[1000:1500], mnist.test_labels[1000:1500]
    before = [p.copy() for p in digit_model.params()]
    adapted = corrections.adapt(digit_model, user_images, user_labels, mnist.train_images, mnist.train_labels, steps=150)
    assert all(np.array_equal(a, b) for a, b in zip(before, digit_model.params()))
    old_user = (digit_model.predict(user_images) == user_labels).mean()
    new_user = (adapted.predict(user_images) == user_labels).mean()
    assert new_user > old_user + 0.2
    old_mnist = (digit_model.predict(check_images) == check_labels).mean()
    assert (adapted.predict(check_images) == check_labels).mean() >= old_mnist - 0.03
    assert adapted.metadata["adapted"]["corrections"] == 30


def test_adapt_needs_corrections(mnist, digit_model):
    with pytest.raises(ValueError, match="no corrections"):
        corrections.adapt(digit_model, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64),
                          mnist.train_images, mnist.train_labels)
