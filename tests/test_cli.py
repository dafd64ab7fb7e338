"""The ``chainrule`` command: help, ``chainrule example NAME``, and one-line errors (exit status 2,
no traceback) for bad arguments."""

import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import VERBS, main
from chainrule.examples import EXAMPLES

CHAINRULE = Path(sys.executable).parent / "chainrule"


def run(*argv):
    command = [str(CHAINRULE)] if CHAINRULE.exists() else [sys.executable, "-m", "chainrule"]
    return subprocess.run([*command, *argv], capture_output=True, text=True, timeout=120)


def assert_one_line_error(stderr, prefix):
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(prefix), stderr


def test_help_lists_every_verb():
    done = run("--help")
    assert done.returncode == 0
    for verb in VERBS:
        assert verb in done.stdout


def test_no_verb_prints_the_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("chainrule ")


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    assert exit_.value.code == 0
    assert f"chainrule {verb}" in capsys.readouterr().out


def test_example_help_names_every_example(capsys):
    with pytest.raises(SystemExit):
        main(["example", "--help"])
    printed = capsys.readouterr().out
    for name in EXAMPLES:
        assert name in printed


def test_example_mat1110_runs_as_a_command(tmp_path):
    done = run("example", "mat1110", "--seed", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "f before the step" in done.stdout and "f after the step" in done.stdout
    assert (tmp_path / "mat1110_fixed.m").is_file()
    assert done.stderr == ""


@pytest.mark.parametrize("argv, prefix", [
    (["example", "nosuch"], "chainrule example: error: argument name: invalid choice: 'nosuch'"),
    (["example", "mat1110", "--seed", "abc"],
     "chainrule example: error: argument --seed: expected a seed from 0 to 4294967295, got 'abc'"),
    (["example"], "chainrule example: error: the following arguments are required: name"),
    (["nosuchverb"], "chainrule: error: argument COMMAND: invalid choice: 'nosuchverb'"),
    (["example", "mat1110", "--bogus"], "chainrule example: error: unrecognized arguments: --bogus"),
    (["--bogus"], "chainrule: error: unrecognized arguments: --bogus"),
])
def test_bad_arguments_exit_2_with_one_error_line(argv, prefix, capsys):
    """One line in all: what is wrong and where to read more, not argparse's usage block first."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert_one_line_error(err, prefix)
    assert len(err.splitlines()) == 1 and err.rstrip().endswith("--help)"), err


def test_an_error_inside_a_verb_is_one_line_and_exit_2(monkeypatch, capsys):
    from chainrule.examples import mat1110

    def broken(out, seed):
        raise ValueError("seed must be small, got 99 (shape (1, 2))")

    monkeypatch.setattr(mat1110, "main", broken)
    assert main(["example", "mat1110", "--seed", "99"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "chainrule example: error: seed must be small, got 99 (shape (1, 2))\n"


def test_an_unwritable_output_folder_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run("example", "franke", "--out", str(blocker / "sub"))
    assert done.returncode == 2
    assert_one_line_error(done.stderr, "chainrule example: error:")


BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script, argv, message", [
    ("recipe_speed.py", ["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    ("train_speed.py", ["--epochs", "-2"], "argument --epochs: expected a positive integer, got '-2'"),
    ("time_to_accuracy.py", ["--epochs", "x"], "argument --epochs: expected a positive integer, got 'x'"),
    ("sklearn_compare.py", ["--seeds", "0"], "argument --seeds: expected a positive integer, got '0'"),
    ("sklearn_regressor.py", ["--seeds", "0"], "argument --seeds: expected a positive integer, got '0'"),
    ("drawn_digits.py", ["--pen-workers", "0"], "argument --pen-workers: expected a positive integer, got '0'"),
    ("drawn_digits.py", ["--digits", "0"], "benchmarks/drawn_digits.py: error: argument --digits: expected a positive"),
    ("train_speed.py", ["--bogus"], "benchmarks/train_speed.py: error: unrecognized arguments: --bogus"),
    ("drawn_digits.py", ["--parts", "python", "--model", "/nonexistent/model.npz"],
     "benchmarks/drawn_digits.py: error: no model file at /nonexistent/model.npz"),
    ("sklearn_compare.py", ["--lr", "-1", "--seeds", "1"], "benchmarks/sklearn_compare.py: error: The 'learning_rate"),
])
def test_a_benchmark_given_a_wrong_value_ends_with_one_error_line(script, argv, message):
    """The benchmarks are commands the README tells users to run: a count of zero (which divided by
    zero or took the median of nothing) or a missing file ends with one error line and status 2,
    without argparse's usage block before it."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *argv], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


@pytest.mark.parametrize("script", sorted(path.name for path in BENCHMARKS.glob("*.py")))
def test_every_benchmark_option_is_explained_in_its_help(script):
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("options:\n", 1)[1].splitlines()
    for line, following in zip(lines, [*lines[1:], ""]):
        if line.startswith("  -"):
            # argparse puts the help after two spaces, or on the next line when the option is long
            assert "  " in line.strip() or following.startswith(" " * 6), f"{script}: {line.strip()} has no help"
