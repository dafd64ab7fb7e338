"""The ``chainrule`` verbs and the benchmark scripts refuse what they cannot do in one line (``prog:
error: ...``, exit status 2) before the long work starts: seeds, durations and numbers out of range,
--output/--loss pairs, output folders that cannot be written, images without ink; and they read
16-bit and float images at their full range."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chainrule.cli import main, run_reporting_errors
from chainrule.cli.eval import MAX_MISTAKES
from chainrule.cli.predict import read_digit
from chainrule.cli.train import CLASSIFIER_OUTPUTS, _duration
from chainrule.digits import load_digit_model
from chainrule.losses import LOSSES

TINY = ["--hidden", "16", "--epochs", "1", "--train-size", "500", "--val-size", "100", "--no-progress"]
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def status_of(argv: list[str]) -> int:
    """main's exit status, also when argparse ends it with SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def one_error_line(capsys, verb: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"chainrule {verb}: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if a verb loads a data set: its checks must come before that."""
    monkeypatch.setattr("chainrule.datasets.load_dataset", lambda *a, **k: pytest.fail("loaded data before checking"))


def test_running_out_of_memory_is_one_line(capsys):
    def huge():
        raise MemoryError("Unable to allocate 584. GiB for an array with shape (100000000, 784)")

    assert run_reporting_errors("chainrule train", huge) == 2
    assert capsys.readouterr().err == ("chainrule train: error: not enough memory: Unable to allocate 584. GiB "
                                       "for an array with shape (100000000, 784)\n")


@pytest.mark.parametrize("argv, module, extra", [
    (["predict", "seven.png"], "PIL", "plots"),  # the core install has NumPy alone
    (["eval"], "matplotlib", "plots"),  # before the evaluation, not after it
    (["example", "higham"], "matplotlib", "plots"),
    (["experiment", "accumulation", "--quick"], "threadpoolctl", "plots"),
])
def test_a_missing_optional_dependency_names_its_extra(argv, module, extra, no_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # what `import module` meets when it is not installed
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert one_error_line(capsys, argv[0]).endswith(f": this needs {module}, which is not installed: "
                                                    f"pip install 'chainrule[{extra}]'\n")


def test_a_missing_module_of_chainrule_itself_is_not_hidden():
    def broken():
        import chainrule.no_such_module  # noqa: F401

    with pytest.raises(ModuleNotFoundError):
        run_reporting_errors("chainrule train", broken)


def test_a_warning_is_one_line_and_the_previous_display_comes_back(capsys):
    import warnings

    shown = warnings.showwarning
    assert run_reporting_errors("chainrule train", lambda: warnings.warn("careful", UserWarning)) == 0
    assert capsys.readouterr().err == "chainrule train: warning: careful\n"
    assert warnings.showwarning is shown


def test_a_benchmark_out_of_memory_is_one_line():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "sklearn_compare.py"), "--hidden", "99999999999",
                           "--seeds", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("benchmarks/sklearn_compare.py: error: not enough memory: ")
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("argv, unknown", [
    (["draw", "--data", "x", "--no-browser"], "--data x"),  # was taken as --data-dir, the corrections folder
    (["train", "--epoch", "1"], "--epoch 1"),
])
def test_options_are_not_abbreviated(argv, unknown, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    assert f"unrecognized arguments: {unknown}" in one_error_line(capsys, argv[0])


def test_sigterm_mid_write_is_one_line_and_leaves_the_old_file(tmp_path):
    """kill or timeout (SIGTERM) ended the process mid-write: the hidden temporary stayed behind."""
    out = tmp_path / "result.csv"
    out.write_text("old\n")
    script = f"""
import os, signal, time
from chainrule.cli import run_reporting_errors
from chainrule.io import atomic_write

def write(f):
    f.write(b"half a new file")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

raise SystemExit(run_reporting_errors("chainrule experiment", lambda: atomic_write({str(out)!r}, write)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (143, "chainrule experiment: terminated\n")
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]


@pytest.mark.parametrize("argv", [
    ["train", *TINY],
    ["experiment", "noise", "--quick"],
    ["experiment", "depth", "--quick"],
    ["experiment", "hyperparams", "--quick"],
    ["experiment", "adapt", "--quick"],
    ["experiment", "baselines", "--quick"],
    ["example", "franke"],
])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5"])
def test_every_seed_option_names_itself_and_its_range(argv, seed, tmp_path, capsys):
    assert status_of([*argv, "--out", str(tmp_path / "out"), "--seed", seed]) == 2
    err = one_error_line(capsys, argv[0])
    assert f"argument --seed: expected a seed from 0 to 4294967295, got '{seed}'" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("output", CLASSIFIER_OUTPUTS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_offered_output_and_loss_trains_a_model_eval_reads_or_is_refused_first(output, loss, mnist, tmp_path,
                                                                                       monkeypatch, capsys):
    needs = LOSSES[loss].output_activation
    out = tmp_path / "m.npz"
    if needs not in (None, output):
        monkeypatch.setattr("chainrule.datasets.load_dataset", lambda *a, **k: pytest.fail("loaded data"))
        assert status_of(["train", *TINY, "--output", output, "--loss", loss, "--out", str(out)]) == 2
        assert f"--loss {loss} needs --output {needs}, got --output {output}" in one_error_line(capsys, "train")
    else:
        assert status_of(["train", *TINY, "--output", output, "--loss", loss, "--out", str(out)]) == 0
        assert load_digit_model(out).output_activation == output


@pytest.mark.parametrize("output", ["identity", "tanh", "relu"])
def test_outputs_that_are_not_probabilities_are_refused_by_name(output, no_data, tmp_path, capsys):
    """A network with such an output is no classifier: eval, predict and draw would refuse it."""
    assert status_of(["train", *TINY, "--output", output, "--loss", "squared_error",
                      "--out", str(tmp_path / "m.npz")]) == 2
    assert f"argument --output: invalid choice: '{output}'" in one_error_line(capsys, "train")


@pytest.mark.parametrize("text, seconds", [("600", 600), ("90s", 90), ("14m", 840), ("1.5h", 5400), (".5m", 30)])
def test_durations(text, seconds):
    assert _duration(text) == seconds


@pytest.mark.parametrize("text", ["1.2.3", ".", "1..5h", "2.5.m"])
def test_a_malformed_time_budget_says_what_a_duration_looks_like(text, no_data, capsys):
    assert status_of(["train", *TINY, "--time-budget", text]) == 2
    err = one_error_line(capsys, "train")
    assert "argument --time-budget: " in err and "_duration" not in err


@pytest.mark.parametrize("option, value, words", [
    ("--weight-decay", "1e300", "--weight-decay must be a finite number from 0 to 1, got 1e+300"),
    ("--shift", "1e300", "--shift must be a finite number from 0 to 14, got 1e+300"),
    ("--elastic-alpha", "1e300", "--elastic-alpha must be a finite number from 0 to 100, got 1e+300"),
    ("--elastic-sigma", "1e300", "--elastic-sigma must be a finite number from 0.1 to 14"),
    ("--dropout", "1", "--dropout must be a finite number from 0 to 0.9, got 1"),
])
def test_train_numbers_out_of_range_are_refused_before_loading_data(option, value, words, no_data, tmp_path, capsys):
    assert status_of(["train", *TINY, option, value, "--out", str(tmp_path / "m.npz")]) == 2
    assert words in one_error_line(capsys, "train")


def test_extra_arguments_point_at_the_verbs_help(capsys):
    assert status_of(["train", "extra"]) == 2
    assert one_error_line(capsys, "train").endswith("unrecognized arguments: extra (see chainrule train --help)\n")


def test_predict_usage_takes_one_model_then_images(capsys):
    assert status_of(["predict", "--help"]) == 0
    usage = capsys.readouterr().out.splitlines()[0]
    assert usage.endswith("[MODEL] IMAGE [IMAGE ...]") and "[[MODEL]" not in usage


def test_bad_drawings_in_extra_data_are_one_clean_warning_line_each(mnist, tmp_path, capsys):
    from chainrule.corrections import save_sample

    folder = tmp_path / "corrections"
    for k in range(2):
        save_sample(folder, mnist.test_images[k], int(mnist.test_labels[k]))
    (folder / "notes.npz").write_text("not a drawing")
    np.savez(folder / "small.npz", image=np.zeros((5, 5), np.uint8), label=np.int64(3))
    assert main(["train", *TINY, "--extra-data", str(folder), "--out", str(tmp_path / "m.npz")]) == 0
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 2, warnings
    for line in warnings:
        assert line.startswith("chainrule train: warning: skipping ") and "Warning" not in line


@pytest.mark.parametrize("verb", ["eval", "experiment", "example"])
@pytest.mark.parametrize("where", ["a_file", "under_a_file"])
def test_output_folders_are_checked_before_the_work_and_named(verb, where, no_data, tmp_path, monkeypatch, capsys):
    from chainrule.examples import franke
    from chainrule.experiments import accumulation

    monkeypatch.setattr(franke, "main", lambda **kwargs: pytest.fail("ran the example before checking --out"))
    monkeypatch.setattr(accumulation, "run", lambda **kwargs: pytest.fail("ran the experiment before checking --out"))
    (tmp_path / "afile").write_text("a file, not a folder")
    out = tmp_path / "afile" / ("sub" if where == "under_a_file" else "")
    argv = {"eval": ["eval"], "experiment": ["experiment", "accumulation", "--quick"], "example": ["example", "franke"]}
    assert status_of([*argv[verb], "--out", str(out)]) == 2
    err = one_error_line(capsys, verb)
    assert f"cannot write --out {out}" in err and ".tmp" not in err


def test_a_read_only_output_folder_is_named_not_a_temporary_file(no_data, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)

    def refused(*args, **kwargs):  # what a read-only folder does to a user (root may write anyway)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    assert status_of(["eval", "--out", str(folder)]) == 2
    err = one_error_line(capsys, "eval")
    assert f"cannot write --out {folder}: Permission denied" in err


def test_train_refuses_an_out_linked_to_what_is_no_file_before_the_work(no_data, tmp_path, capsys):
    """A link to /dev/null passed the early check; the first epoch was lost before the save refused it."""
    import os

    link = tmp_path / "L.npz"
    os.symlink("/dev/null", link)
    assert status_of(["train", *TINY, "--out", str(link)]) == 2
    assert f"--out {link} names /dev/null, which is not an ordinary file" in one_error_line(capsys, "train")


def test_mistakes_are_bounded_before_any_work(no_data, tmp_path, capsys):
    assert status_of(["eval", "--mistakes", "100000", "--out", str(tmp_path)]) == 2
    assert f"--mistakes must lie in [0, {MAX_MISTAKES}], got 100000" in one_error_line(capsys, "eval")


def _blank_images(folder: Path) -> list[Path]:
    paths = [folder / name for name in ("black.png", "white.png", "transparent.png", "grey16.png")]
    Image.new("L", (28, 28), 0).save(paths[0])
    Image.new("L", (40, 30), 255).save(paths[1])
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(paths[2])
    Image.fromarray(np.full((28, 28), 30000, np.uint16)).save(paths[3])
    return paths


def test_an_image_without_ink_is_named_not_read_as_a_digit(tmp_path, capsys):
    for path in _blank_images(tmp_path):
        assert main(["predict", str(path)]) == 2
        assert f"no ink found in {path}" in one_error_line(capsys, "predict")


def _seven(height: int = 60, width: int = 48) -> np.ndarray:
    """A 7 in ink from 0 (paper) to 1, with soft edges (a 5 x 5 box blur) as a scan has them."""
    ink = np.zeros((height, width))
    ink[8:14, 8:40] = 1
    for row in range(14, 52):
        column = 40 - (row - 14) * 24 // 38
        ink[row, column - 3:column + 3] = 1
    padded = np.pad(ink, 2)
    return sum(padded[dy:dy + height, dx:dx + width] for dy in range(5) for dx in range(5)) / 25


@pytest.mark.parametrize("name, wide", [
    ("seven16.png", lambda ink: Image.fromarray((1000 + ink * 60000).astype(np.uint16))),
    ("seven16inv.png", lambda ink: Image.fromarray((61000 - ink * 60000).astype(np.uint16))),
    ("seven32.tiff", lambda ink: Image.fromarray((ink * 1_000_000).astype(np.int32))),
    ("sevenf.tiff", lambda ink: Image.fromarray(ink.astype(np.float32))),
])
def test_wide_grey_images_read_as_their_8_bit_copies(name, wide, tmp_path):
    """16-bit, 32-bit and float grey keep their full range of greys: convert("L") clipped them to 0..255."""
    ink = _seven()
    inverted = name.endswith("inv.png")
    Image.fromarray(np.round((1 - ink if inverted else ink) * 255).astype(np.uint8)).save(tmp_path / "seven8.png")
    image = wide(ink)
    assert image.mode in ("I;16", "I", "F")
    image.save(tmp_path / name)
    digit = read_digit(tmp_path / name)
    np.testing.assert_allclose(digit, read_digit(tmp_path / "seven8.png"), atol=2)


def test_a_16_bit_seven_is_read_as_a_seven(mnist, tmp_path):
    """MNIST's first test digit, a 7, saved as 16-bit dark ink on white paper."""
    seven = mnist.test_images[0]
    assert mnist.test_labels[0] == 7
    Image.fromarray(((255 - seven.astype(np.uint16)) * 257).astype(np.uint16)).save(tmp_path / "seven16inv.png")
    net = load_digit_model(None)
    assert net.predict(read_digit(tmp_path / "seven16inv.png")[None])[0] == 7


@pytest.mark.parametrize("dataset", [["x"], {"a": 1}, 7, "kmnist"])
def test_eval_of_a_model_naming_a_dataset_that_is_no_name_is_one_line(dataset, tmp_path, capsys):
    """The metadata is the file's own JSON: a list there was a TypeError traceback (unhashable)."""
    import chainrule

    net = chainrule.mlp([784, 4, 10], output="softmax", loss="cross_entropy", input_scaling=(0.0, 1 / 255, (28, 28)))
    net.metadata = {"dataset": dataset}
    net.save(tmp_path / "m.npz")
    assert status_of(["eval", str(tmp_path / "m.npz")]) == 2
    assert "the model names an unknown dataset" in one_error_line(capsys, "eval")


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov"])
def test_a_diverging_run_says_so_on_one_line_without_numpys_warnings_first(optimizer, mnist, tmp_path):
    # in a process of its own: pytest would catch the RuntimeWarnings a terminal shows
    run = subprocess.run([sys.executable, "-m", "chainrule", "train", *TINY, "--lr", "1e30", "--optimizer", optimizer,
                          "--out", str(tmp_path / "m.npz")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.startswith("chainrule train: error: the loss became"), run.stderr
    assert run.stderr.count("\n") == 1 and "lower the learning rate" in run.stderr


def test_a_summed_loss_at_a_mean_losss_learning_rate_is_warned_of_in_one_line(mnist, tmp_path, capsys):
    """squared_error at the default --lr trained to chance (90% error) without a word."""
    argv = ["train", *TINY, "--loss", "squared_error", "--output", "sigmoid", "--out", str(tmp_path / "m.npz")]
    assert status_of(argv) == 0
    warning = capsys.readouterr().err
    assert warning.startswith("chainrule train: warning: --loss squared_error sums over the 128 samples of a batch")
    assert warning.count("\n") == 1 and "try --lr 0.00078 or --loss mean_squared_error" in warning
    assert status_of([*argv, "--lr", "0.00078"]) == 0 and capsys.readouterr().err == ""
    assert status_of(["train", *TINY, "--out", str(tmp_path / "c.npz")]) == 0 and capsys.readouterr().err == ""
