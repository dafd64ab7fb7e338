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


def test_a_foreign_file_is_skipped_with_a_warning_naming_it(tmp_path):
    corrections.save_sample(tmp_path, image(1), 1)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    np.savez(tmp_path / "other.npz", image=np.zeros((5, 5)), label=3)
    with pytest.warns(UserWarning, match="broken.npz") as caught:
        images, labels = corrections.load_samples(tmp_path)
    assert labels.tolist() == [1] and images.shape == (1, 28, 28)
    assert any("other.npz" in str(w.message) for w in caught)


@pytest.mark.parametrize("write", [
    lambda path: path.write_bytes(b""),
    lambda path: np.save(path.with_suffix(".npy"), image(1)) or path.with_suffix(".npy").rename(path),
    lambda path: np.savez(path, image=image(1), label=3.7),
    lambda path: np.savez(path, image=image(1), label=np.array([1, 2])),
    lambda path: np.savez(path, image=image(1), label=3 + 0j),
    lambda path: np.savez(path, image=image(1), label=True),
    lambda path: np.savez(path, image=image(1)),
    lambda path: np.savez(path, image=image(1), label=np.array([7], dtype=object)),
], ids=["empty", "bare-npy", "label-3.7", "label-vector", "label-complex", "label-bool", "no-label", "object-label"])
def test_an_empty_file_or_a_label_that_is_not_one_integer_is_skipped(tmp_path, write):
    """Skipped with the foreign-file warning, not an EOFError or TypeError, nor 3.7 read as a 3."""
    corrections.save_sample(tmp_path, image(1), 1)
    write(tmp_path / "odd.npz")
    with pytest.warns(UserWarning, match="odd.npz is not a saved drawing") as caught:
        images, labels = corrections.load_samples(tmp_path)
    assert labels.tolist() == [1] and images.shape == (1, 28, 28)
    assert not any("allow_pickle" in str(w.message) for w in caught)  # never the advice to unpickle


def test_the_folder_and_the_drawings_are_private(tmp_path):
    folder = tmp_path / "corrections"
    path = corrections.save_sample(folder, image(1), 1)
    assert folder.stat().st_mode & 0o777 == 0o700 and path.stat().st_mode & 0o777 == 0o600
    older = tmp_path / "older"
    older.mkdir(mode=0o755)
    older.chmod(0o755)  # as an earlier version left it
    corrections.save_sample(older, image(2), 2)
    assert older.stat().st_mode & 0o777 == 0o700


def test_stale_temporary_files_are_removed_at_start_and_fresh_ones_kept(tmp_path):
    """A write killed mid-way leaves .<name>.<random>.tmp; one older than ten minutes is debris,
    a younger one may belong to a process writing right now."""
    import os
    import time

    kept = corrections.save_sample(tmp_path, image(1), 1)
    stale, fresh = tmp_path / ".1-2-ab.npz.x1y2_k9q.tmp", tmp_path / ".1-3-cd.npz.z3w4abcd.tmp"
    # hidden .tmp files of someone else's (the folder may be one the user chose with --data-dir)
    foreign = [tmp_path / ".my-notes.tmp", tmp_path / ".draft.v2.tmp", tmp_path / ".report.2026-11.tmp"]
    for tmp in (stale, fresh, *foreign):
        tmp.write_bytes(b"half a file")
    eleven_minutes_ago = time.time() - 660
    for tmp in (stale, *foreign):
        os.utime(tmp, (eleven_minutes_ago, eleven_minutes_ago))
    corrections.tidy(tmp_path)
    assert not stale.exists() and fresh.exists() and kept.exists()
    assert all(tmp.exists() for tmp in foreign)


def test_the_temporaries_tidied_are_the_ones_atomic_write_names(tmp_path):
    """The pattern tidy removes matches the names atomic_write's mkstemp gives its temporaries."""
    import os
    import tempfile

    from chainrule.io import _TEMPORARY_NAME, TEMPORARY_SUFFIX

    for _ in range(200):
        fd, name = tempfile.mkstemp(dir=tmp_path, prefix=".1-2-ab.npz.", suffix=TEMPORARY_SUFFIX)
        os.close(fd)
        assert _TEMPORARY_NAME.fullmatch(os.path.basename(name)), name


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
    adapted = corrections.adapt(digit_model, user_images, user_labels, mnist.train_images, mnist.train_labels,
                                steps=150)
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
