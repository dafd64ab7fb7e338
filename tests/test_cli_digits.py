"""``chainrule train``, ``eval`` and ``predict`` on a tiny model, as a user runs them, and their
one-line errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule.cli import main
from chainrule.cli.train import checkpoint_path

TINY = ["--hidden", "32", "--epochs", "1", "--batch-size", "64", "--train-size", "5000", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_model(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    assert main(["train", *TINY, "--epochs", "3", "--augment", "affine", "--stroke", "0.3", "--out", str(path)]) == 0
    return path


def test_train_saves_a_digit_model_that_takes_raw_images(tiny_model, mnist):
    net = chainrule.load(tiny_model)
    assert net.input_shape == (28, 28) and net.n_outputs == 10 and net.dtype == np.float32
    assert [d.n_out for d in net.dense] == [32, 10]
    assert net.metadata["dataset"] == "mnist" and net.metadata["train_size"] == 5000
    val_error = np.mean(net.predict(mnist.train_images[55000:]) != mnist.train_labels[55000:])
    assert val_error == pytest.approx(net.metadata["val_error"])
    assert val_error < 0.25  # three epochs of a 32-unit network are far better than chance (0.9)


def test_eval_prints_the_error_and_writes_the_pngs(tiny_model, mnist, tmp_path, capsys):
    assert main(["eval", str(tiny_model), "--out", str(tmp_path), "--mistakes", "12"]) == 0
    printed = capsys.readouterr().out
    net = chainrule.load(tiny_model)
    error = np.mean(net.predict(mnist.test_images) != mnist.test_labels)
    assert f"error {100 * error:.2f}%" in printed
    rows = [line.split() for line in printed.splitlines() if line.split()[:1] and line.split()[0].isdigit()
            and len(line.split()) == 11]
    matrix = np.array([[int(n) for n in row[1:]] for row in rows])
    assert matrix.shape == (10, 10)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(mnist.test_labels))
    assert np.trace(matrix) == round((1 - error) * 10000)
    for name in ("tiny-confusion.png", "tiny-mistakes.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_reads_images_of_any_size_and_polarity(tiny_model, mnist, tmp_path, capsys):
    from PIL import Image

    digit = mnist.test_images[0]
    big = Image.fromarray(255 - digit).resize((140, 140))  # dark ink on white paper, five times larger
    big.save(tmp_path / "digit.png")
    Image.fromarray(digit).save(tmp_path / "digit.jpg", quality=95)
    assert main(["predict", str(tiny_model), str(tmp_path / "digit.png"), str(tmp_path / "digit.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].split()[:2] == ["image", "class"]
    for line in lines[1:]:
        fields = line.split()
        probabilities = np.array([float(p) for p in fields[2:]])
        assert probabilities.shape == (10,) and probabilities.sum() == pytest.approx(1, abs=0.01)
        assert int(fields[1]) == probabilities.argmax()


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(mnist, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run.npz"
    real_fit = chainrule.fit

    def interrupted_fit(*args, callback, **kwargs):
        def stop_after_first_epoch(epoch, history, net):
            callback(epoch, history, net)
            if epoch == 1:
                raise KeyboardInterrupt
        return real_fit(*args, callback=stop_after_first_epoch, **kwargs)

    monkeypatch.setattr(chainrule, "fit", interrupted_fit)
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 130
    assert "--resume" in capsys.readouterr().err
    checkpoint = chainrule.load(checkpoint_path(out))
    assert checkpoint.metadata["checkpoint"]["epoch"] == 1
    monkeypatch.setattr(chainrule, "fit", real_fit)
    # other options were recorded in the model but not used (the checkpoint's network and data went on)
    changed = ["--activation", "tanh", "--dtype", "float64", "--dataset", "fashion", "--no-progress"]
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out), "--resume", *changed]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "these differ: --activation 'tanh' (the run had 'relu'); --dataset 'fashion' " \
        "(the run had 'mnist'); --dtype 'float64' (the run had 'float32')" in error
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out), "--resume", "--time-budget", "1h"]) == 0
    assert not checkpoint_path(out).exists()
    assert "trained 2 epochs" in capsys.readouterr().out


def test_extra_data_mixes_in_corrected_drawings(mnist, tmp_path, capsys):
    from chainrule.corrections import save_sample

    for k in range(3):
        save_sample(tmp_path / "corrections", mnist.test_images[k], int(mnist.test_labels[k]))
    out = tmp_path / "mixed.npz"
    assert main(["train", *TINY, "--extra-data", str(tmp_path / "corrections"), "--out", str(out)]) == 0
    assert "adding 3 corrected drawings" in capsys.readouterr().out
    assert chainrule.load(out).metadata["train_size"] == 5003
    assert main(["train", *TINY, "--extra-data", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "no corrections folder" in capsys.readouterr().err


def test_train_on_pen_digits_measures_the_held_out_writers(mnist, ujipen, tmp_path, capsys):
    from chainrule.datasets import HELD_OUT_WRITERS
    from chainrule.pen import select_writers
    from chainrule.preprocessing import digit_from_strokes

    out = tmp_path / "pen.npz"
    assert main(["train", *TINY, "--pen", "ujipen", "--pen-copies", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    net = chainrule.load(out)
    assert net.metadata["train_size"] == 5000 + 2 * 640  # UJI's 32 training writers, 20 digits each
    assert net.metadata["pen_held_out_writers"] == {"ujipen": list(HELD_OUT_WRITERS["ujipen"])}
    held = select_writers(ujipen, HELD_OUT_WRITERS["ujipen"])
    hits = net.predict(np.stack([digit_from_strokes(s) for s in held.strokes])) == held.labels
    assert f"ujipen: {100 * hits.mean():.2f}% of 160 digits" in printed
    lines = (tmp_path / "pen-heldout.csv").read_text().splitlines()
    assert lines[0] == "collection,by,key,digits,correct,accuracy"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[:2] for r in rows].count(["ujipen", "class"]) == 10
    writers = {int(r[2]): int(r[4]) for r in rows if r[1] == "writer"}
    assert writers == {w: int(hits[held.writers == w].sum()) for w in HELD_OUT_WRITERS["ujipen"]}


def test_train_without_validation_trains_on_every_writer(mnist, tmp_path, capsys):
    out = tmp_path / "all.npz"
    assert main(["train", *TINY, "--val-size", "0", "--pen", "ujipen", "--pen-copies", "1", "--out", str(out)]) == 0
    assert "every writer trains" in capsys.readouterr().out
    net = chainrule.load(out)
    assert net.metadata["train_size"] == 5000 + 800 and net.metadata["pen_held_out_writers"] == {}
    assert not (tmp_path / "all-heldout.csv").exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "--pen", "mnist"], "expected pen collections among pendigits, ujipen"),
    (["train", "--pen", "ujipen,ujipen"], "each at most once"),
    (["train", "--pen", "ujipen", "--pen-copies", "0"], "expected positive numbers of copies"),
    (["train", "--pen-copies", "3"], "--pen-copies needs --pen"),
    (["train", "--pen", "ujipen", "--pen-copies", "1,2"], "one number or one per --pen collection (1)"),
    (["train", "--dataset", "fashion", "--pen", "ujipen"], "use it with --dataset mnist"),
    (["train", *TINY, "--pen", "ujipen", "--pen-data", "/nonexistent"], "ujipen not found at /nonexistent/ujipen"),
])
def test_bad_pen_arguments_give_one_line_errors(argv, words, capsys, mnist):
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse rejects a malformed value before running
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule train: error:") and words in err and "\n" not in err


def test_a_pen_file_without_the_held_out_writers_is_named_not_split_into_nothing(mnist, ujipen, tmp_path, capsys):
    """A UJI file of writers 1-24 only: "min() arg is an empty sequence" after rendering."""
    import json

    from chainrule.datasets import find_pen_file

    data = json.loads(find_pen_file("ujipen").read_text())
    data["rawData"] = {digit: samples[:48] for digit, samples in data["rawData"].items()}  # sample i: writer i // 2 + 1
    (tmp_path / "ujipen").mkdir()
    (tmp_path / "ujipen" / find_pen_file("ujipen").name).write_text(json.dumps(data))
    assert main(["train", *TINY, "--pen", "ujipen", "--pen-data", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the ujipen file has no digits of its held out writers (held out: 33, 34" in err


@pytest.mark.parametrize("argv, words", [
    (["train", "--lr", "nan"], "--lr must be a finite number"),
    (["train", "--lr", "0"], "--lr must be positive"),
    (["train", "--val-size", "70000"], "--val-size"),
    (["train", "--train-size", "56000"], "--train-size must lie in [1, 55000]"),
    (["train", "--data", "/nonexistent/folder"], "not found in /nonexistent/folder"),
    (["train", "--out", "/tmp/never.npz", "--resume"], "no model file"),
    (["eval", "/nonexistent/model.npz"], "no model file"),
    (["predict", "/nonexistent/model.npz", "x.png"], "no model file"),
])
def test_bad_arguments_give_one_line_errors(argv, words, capsys, mnist):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"chainrule {argv[0]}: error:") and words in err and "\n" not in err


def test_a_model_of_another_architecture_is_refused(tmp_path, capsys):
    chainrule.mlp([4, 3, 2]).save(tmp_path / "other.npz")
    for argv in (["eval", str(tmp_path / "other.npz")], ["predict", str(tmp_path / "other.npz"), "x.png"]):
        assert main(argv) == 2
        assert "not raw 28 x 28 images" in capsys.readouterr().err


def test_unreadable_images_are_named(tiny_model, tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    assert main(["predict", str(tiny_model), str(tmp_path / "notes.png")]) == 2
    assert "is not a readable PNG/JPEG image" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["under_a_file", "a_folder"])
def test_train_checks_out_before_loading_data_and_names_the_users_path(where, tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    out = tmp_path / "notes.txt" / "model.npz" if where == "under_a_file" else tmp_path
    monkeypatch.setattr("chainrule.datasets.load_dataset",
                        lambda *a, **k: pytest.fail("loaded data before checking --out"))
    assert main(["train", *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule train: error:") and f"--out {out}" in err and "\n" not in err and ".tmp" not in err


def _png_header(path, width: int, height: int) -> None:
    """A PNG that declares width x height gray pixels but holds almost no data (a decompression
    bomb's header: decoding it would need width * height bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width, height", [(20000, 20000), (9000, 9000), (4001, 4000)])
def test_predict_refuses_huge_images_before_decoding_in_one_line(width, height, tmp_path, capsys):
    """20000^2 is beyond PIL's own bomb limit, 9000^2 just under it (1.6 GB decoded as float64
    grey), 4001x4000 just over ours."""
    from chainrule.cli.predict import MAX_PIXELS

    bomb = tmp_path / "bomb.png"
    _png_header(bomb, width, height)
    assert width * height > MAX_PIXELS
    assert main(["predict", str(bomb)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule predict: error:") and "bomb.png" in err and "pixels" in err
    assert "\n" not in err and "Traceback" not in err


def test_predict_names_the_image_whose_values_are_not_finite(tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((28, 28), np.nan, np.float32), mode="F").save(tmp_path / "nan.tiff")
    assert main(["predict", str(tmp_path / "nan.tiff")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"chainrule predict: error: {tmp_path / 'nan.tiff'}: gray contains NaN")
    assert err.count("\n") == 1
