"""The experiments: each quick run writes its CSV (with the expected columns) and a PNG through the
CLI, reporting its steps on stderr; the CLI hands --data, --pen-data and --model on, checks the
output files before the work and replaces them as a pair; the helpers they rest on (flop counts,
corruptions, the search space) state their properties; and the tutorial's code blocks run as written."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import datasets, mlp
from chainrule.cli import main
from chainrule.experiments import EXPERIMENTS, accumulation, adapt, hyperparams, noise
from chainrule.experiments.common import Result, save_result
from chainrule.jacobians import stage_matrices

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COLUMNS = {
    "accumulation": ["sweep", "n", "r", "parameters", "right_to_left_seconds", "right_to_left_flops",
                     "left_to_right_seconds", "left_to_right_flops", "backprop_seconds", "backprop_flops"],
    "depth": ["activation", "init", "hidden_layers", "train_seconds", "val_error", "test_error",
              "grad_first_init", "grad_last_init", "grad_first_trained", "grad_last_trained",
              "grad_per_layer_init", "grad_per_layer_trained"],
    "noise": ["corruption", "level", "unit", "clean_model_error", "augmented_model_error"],
    "hyperparams": ["trial", "lr", "batch_size", "width", "weight_decay", "train_seconds", "val_error", "test_error"],
    "baselines": ["model", "library", "train_images", "test_error", "train_seconds", "predict_us_per_image"],
    "adapt": ["collection", "writer", "k", "corrections", "seeds", "test_digits", "writer_error", "mnist_test_error",
              "mnist_change_points", "adapt_seconds"],
}
TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
MNIST_READERS = ["noise", "depth", "hyperparams", "baselines", "language", "adapt"]


def run_quick(name: str, out: Path, capsys, *options: str) -> tuple[list[dict], str]:
    """The quick run's CSV rows and printed text, after checking its files, its printed table and its progress lines on
    stderr (one per step, ``NAME: what (k of n)``, up to n of n)."""
    assert main(["experiment", name, "--quick", "--out", str(out), "--seed", "1", *options]) == 0
    captured = capsys.readouterr()
    printed, steps = captured.out, captured.err.splitlines()
    assert COLUMNS[name][0] in printed and f"wrote {out / name}.csv" in printed
    assert steps and all(re.fullmatch(rf"{name}: .+ \(\d+ of {len(steps)}\)", line) for line in steps), steps
    assert steps[-1].endswith(f"({len(steps)} of {len(steps)})")
    assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
    with open(out / f"{name}.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS[name]
        rows = list(reader)
    assert rows
    return rows, printed


def test_accumulation_quick(tmp_path, capsys):
    rows, _ = run_quick("accumulation", tmp_path, capsys)
    for row in rows:
        counts = accumulation.flops(int(row["n"]), int(row["r"]))
        assert int(row["right_to_left_flops"]) == counts["right_to_left"]
        assert counts["right_to_left"] > counts["left_to_right"] > counts["backprop"]
        assert float(row["right_to_left_seconds"]) > 0


@pytest.mark.parametrize("name", ["noise", "depth", "hyperparams", "baselines"])
def test_mnist_experiment_quick(name, tmp_path, capsys, mnist):
    if name == "baselines":
        pytest.importorskip("sklearn")
    rows, printed = run_quick(name, tmp_path, capsys)
    errors = [float(row[k]) for row in rows for k in COLUMNS[name] if k.endswith("error") and row[k] not in ("", "nan")]
    assert errors and all(0 <= e <= 1 for e in errors)
    if name == "depth":
        assert {row["activation"] for row in rows} == {"sigmoid", "relu"}
        for row in rows:  # layer 1 first, the output layer last, as in the first and last columns
            for when in ("init", "trained"):
                norms = [float(g) for g in row[f"grad_per_layer_{when}"].split()]
                assert len(norms) == int(row["hidden_layers"]) + 1
                assert norms[0] == pytest.approx(float(row[f"grad_first_{when}"]), rel=5e-3, nan_ok=True)
                assert norms[-1] == pytest.approx(float(row[f"grad_last_{when}"]), rel=5e-3, nan_ok=True)
    if name == "hyperparams":
        assert sum(row["test_error"] != "" for row in rows) == 1  # only the validation winner is tested
        assert "(1 epoch)" in printed


def hide_default_data(monkeypatch, empty: Path) -> None:
    """Leave the data only where --data and --pen-data say: none in $CHAINRULE_DATA, the cache or the
    system folder, and no download."""
    monkeypatch.setenv("CHAINRULE_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty))
    monkeypatch.setattr(datasets, "SYSTEM_DIR", empty)
    monkeypatch.setattr(datasets, "_download", lambda name, hint: pytest.fail(f"downloaded {name}: {hint}"))


def test_adapt_quick(tmp_path, capsys, monkeypatch, mnist, pendigits, ujipen, digit_model):
    """One held-out writer of each collection, k = 0 and 1: k = 0 is the model as given (no change on
    MNIST), k = 1 adapts a copy to 10 corrections; the mean rows are the means of the writers' rows.
    The data comes from the folders --data and --pen-data name, as for chainrule train."""
    model = tmp_path / "model.npz"
    digit_model.save(model)
    mnist_folder = datasets.find_dataset("mnist", download=False)
    pen_folder = datasets.find_pen_file("pendigits").parent.parent  # holds pendigits/ and ujipen/
    hide_default_data(monkeypatch, tmp_path / "empty")
    rows, printed = run_quick("adapt", tmp_path, capsys, "--model", str(model), "--data", str(mnist_folder),
                              "--pen-data", str(pen_folder))
    assert {(r["collection"], r["writer"]) for r in rows} == {("pendigits", "25"), ("ujipen", "33"),
                                                               ("pendigits", "all"), ("ujipen", "all")}
    for row in rows:
        assert row["k"] in ("0", "1") and int(row["corrections"]) == 10 * int(row["k"])
        assert 0 <= float(row["writer_error"]) <= 1 and 0 <= float(row["mnist_test_error"]) <= 1
        assert int(row["test_digits"]) == (200 if row["collection"] == "pendigits" else 10)
        if row["k"] == "0":
            assert float(row["mnist_change_points"]) == 0 and float(row["adapt_seconds"]) == 0
        else:
            assert float(row["adapt_seconds"]) > 0
    assert "(here and below: on MNIST's first 2,000 test images)" in printed  # a quick run's part of the test set


def test_adapt_model_must_be_a_digit_classifier(tmp_path, capsys):
    model = tmp_path / "tiny.npz"
    mlp([3, 2]).save(model)
    assert main(["experiment", "adapt", "--quick", "--out", str(tmp_path), "--model", str(model)]) == 2
    assert "must classify (28, 28) images into 10 digits" in capsys.readouterr().err
    assert main(["experiment", "noise", "--quick", "--out", str(tmp_path), "--model", str(model)]) == 2
    assert ("--model applies to experiments that start from a trained model (adapt), not noise"
            in capsys.readouterr().err)


@pytest.mark.parametrize("name", MNIST_READERS)
def test_data_names_the_mnist_folder_and_a_failed_run_leaves_no_folder(name, tmp_path, capsys):
    """The error message's advice (--data) works, and the --out folder is made only to write into."""
    missing, out = tmp_path / "no-mnist-here", tmp_path / "new" / "out"
    assert main(["experiment", name, "--quick", "--out", str(out), "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"chainrule experiment: error: MNIST not found in {missing}: ") and err.count("\n") == 1
    assert not (tmp_path / "new").exists()


def test_pen_data_names_the_folder_of_the_pen_collections(tmp_path, capsys, mnist):
    missing = tmp_path / "no-pens-here"
    assert main(["experiment", "adapt", "--quick", "--out", str(tmp_path / "out"), "--pen-data", str(missing)]) == 2
    assert f"pendigits not found at {missing / 'pendigits'}: " in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, option, words", [
    ("accumulation", "--data", "--data applies to experiments that read MNIST "
                               "(adapt, baselines, depth, hyperparams, language, noise), not accumulation"),
    ("noise", "--pen-data", "--pen-data applies to experiments that read pen trajectories (adapt), not noise"),
])
def test_data_options_an_experiment_does_not_read_are_refused(name, option, words, tmp_path, capsys):
    assert main(["experiment", name, "--quick", "--out", str(tmp_path), option, str(tmp_path)]) == 2
    assert words in capsys.readouterr().err


def test_help_gives_each_experiments_full_run_time(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in EXPERIMENTS:
        assert re.search(rf"{name}: [^;]*\(full run: [^)]*minutes?[^)]*\)", text), name


@pytest.mark.parametrize("blocker", ["png_folder", "csv_folder", "png_link_into_nothing"])
def test_unusable_output_files_are_refused_before_the_work(blocker, tmp_path, monkeypatch, capsys):
    """`mkdir -p d1/noise.png; chainrule experiment noise --out d1` computed everything, wrote noise.csv,
    then failed on the PNG."""
    monkeypatch.setattr(noise, "run", lambda **kwargs: pytest.fail("ran the experiment before checking the files"))
    csv_path, png_path = tmp_path / "noise.csv", tmp_path / "noise.png"
    if blocker == "png_link_into_nothing":
        png_path.symlink_to(tmp_path / "missing" / "noise.png")
    else:
        (png_path if blocker == "png_folder" else csv_path).mkdir()
    assert main(["experiment", "noise", "--quick", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    blocked = csv_path if blocker == "csv_folder" else png_path
    assert err.startswith(f"chainrule experiment: error: cannot write {blocked}: ") and err.count("\n") == 1
    assert not csv_path.is_file()


def old_pair(folder: Path) -> tuple[Path, Path]:
    """x.csv and x.png of an earlier run in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.csv").write_text("old\n")
    (folder / "x.png").write_bytes(b"old png")
    return folder / "x.csv", folder / "x.png"


@pytest.mark.parametrize("failure", [KeyboardInterrupt, ValueError])
def test_a_run_stopped_while_its_plot_is_drawn_leaves_the_old_pair(failure, tmp_path):
    """The CSV was written, then the plot drawn: a Ctrl-C then left a new CSV beside the old PNG."""
    csv_path, png_path = old_pair(tmp_path)

    def plot(fig):
        fig.subplots().plot([0, 1])
        raise failure("stopped while drawing")

    with pytest.raises(failure):
        save_result(Result("x", [{"a": 1}], plot), tmp_path)
    assert csv_path.read_text() == "old\n" and png_path.read_bytes() == b"old png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.png"]


@pytest.mark.parametrize("earlier_run", [True, False])
def test_save_result_writes_both_files_making_the_folder_then(earlier_run, tmp_path):
    out = tmp_path / "new" / "out"
    if earlier_run:
        old_pair(out)
    csv_path, png_path = save_result(Result("x", [{"a": 1}], lambda fig: fig.subplots().plot([0, 1])), out)
    assert (csv_path, png_path) == (out / "x.csv", out / "x.png")
    assert csv_path.read_text().splitlines() == ["a", "1"] and png_path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in out.iterdir()) == ["x.csv", "x.png"]


def test_the_adapt_plot_has_no_negative_error_axis():
    """With every error 0 (a quick run can get that) the writer's error axis went below 0."""
    from matplotlib.figure import Figure

    rows = [{"collection": name, "writer": writer, "k": k, "writer_error": 0.0, "mnist_change_points": 0.0}
            for name in ("pendigits", "ujipen") for writer in (1, "all") for k in (0, 1)]
    fig = Figure()
    adapt._plot(fig, rows)
    assert fig.axes[0].get_ylim()[0] == 0


@given(counts=st.lists(st.integers(2, 30), min_size=10, max_size=10), k_max=st.integers(1, 5), seed=st.integers(0, 99))
def test_split_writer_offers_nested_corrections_apart_from_the_test_digits(counts, k_max, seed):
    labels = np.repeat(np.arange(10), counts)
    np.random.default_rng(seed).shuffle(labels)
    k_max = min(k_max, min(counts) - 1)
    offered, test = adapt.split_writer(labels, k_max, np.random.default_rng(seed))
    assert len(offered) == k_max + 1 and len(offered[0]) == 0
    for k in range(k_max + 1):
        assert np.array_equal(np.bincount(labels[offered[k]], minlength=10), np.full(10, k))
        assert set(offered[k]) <= set(offered[min(k + 1, k_max)]) and not set(offered[k]) & set(test)
    assert np.array_equal(np.bincount(labels[test], minlength=10), np.array(counts) - k_max)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), r=st.integers(1, 4))
def test_stage_shapes_and_flops_follow_the_matrices(n, r):
    net = mlp([n] * (r + 1), seed=0)
    Bs, _ = stage_matrices(net, np.zeros(n))
    assert [B.shape for B in Bs] == accumulation.stage_shapes(n, r)
    P = r * (n * n + n)
    counts = accumulation.flops(n, r)
    assert counts["left_to_right"] == sum(2 * B.size for B in Bs)
    assert counts["right_to_left"] == sum(2 * B.size * P for B in Bs) + 2 * n * P
    assert counts["backprop"] == (5 * r - 2) * n * n


def test_measure_checks_the_three_gradients_agree():
    row = accumulation.measure(3, 2, seed=0, min_seconds=0.0)
    assert row["parameters"] == 2 * (9 + 3)
    assert all(row[f"{m}_seconds"] > 0 for m in accumulation.METHODS)


@pytest.mark.parametrize("kind", list(noise.LEVELS))
def test_corruptions_keep_the_pixel_range_and_grow_with_the_level(kind):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)
    assert np.array_equal(noise.corrupt(kind, images, 0.0, rng), images.astype(np.float32))
    changes = []
    for level in noise.LEVELS[kind][1:]:
        out = noise.corrupt(kind, images, level, np.random.default_rng(1))
        assert out.shape == images.shape and out.min() >= 0 and out.max() <= 255
        changes.append(np.abs(out - images).mean())
    assert changes[0] > 0 and changes[-1] >= changes[0]


def test_salt_and_pepper_hits_the_stated_share_of_pixels():
    images = np.full((50, 28, 28), 128, np.uint8)
    out = noise.corrupt("salt_and_pepper", images, 0.2, np.random.default_rng(0))
    assert abs(np.mean(out != 128) - 0.2) < 0.01
    assert set(np.unique(out)) == {0.0, 128.0, 255.0}


def test_unknown_corruption_is_a_value_error():
    with pytest.raises(ValueError, match="unknown corruption"):
        noise.corrupt("smudge", np.zeros((1, 28, 28)), 0.5, np.random.default_rng(0))


@given(seed=st.integers(0, 2**32 - 1))
def test_search_space_bounds(seed):
    setting = hyperparams.sample_setting(np.random.default_rng(seed))
    assert 1e-3 <= setting["lr"] <= 1 and 1e-6 <= setting["weight_decay"] <= 1e-2
    assert 16 <= setting["width"] <= 512 and setting["batch_size"] in hyperparams.BATCH_SIZES


def test_tutorial_code_blocks_run(tmp_path, monkeypatch, mnist):
    """Every ```python block of docs/tutorial.md, in order, in one namespace (as a reader would);
    the last ones train on a little MNIST."""
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(TUTORIAL), "exec"), namespace)
