"""The benchmark scripts as a user runs them, at the smallest sizes they take: Ctrl-C and SIGTERM stop
them with one line (also inside scikit-learn's fit, which takes either for "stop training" and returns),
and a diverging fit is one error line, without NumPy's warnings before it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

SIGNAL_INSIDE_SKLEARN_FIT = """
import os, runpy, signal, sys
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron

signal.signal(signal.SIGINT, signal.default_int_handler)

def signalled(*args, **kwargs):  # called after every epoch, inside the try of scikit-learn's fit
    os.kill(os.getpid(), signal.{signal})

BaseMultilayerPerceptron._update_no_improvement_count = signalled
sys.argv = [{script!r}, *{argv!r}]
runpy.run_path({script!r}, run_name="__main__")
"""


def run_benchmark(script: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *argv], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("script, argv, table", [
    ("sklearn_compare.py", ["--seeds", "1", "--max-iter", "3"], "accuracy gap"),
    ("sklearn_regressor.py", ["--seeds", "1", "--max-iter", "3"], "loss ratio"),
])
@pytest.mark.parametrize("name, status, said", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_inside_scikit_learns_fit_stops_the_benchmark(script, argv, table, name, status, said):
    """scikit-learn's MLP fit caught Ctrl-C (and SIGTERM, raised as Ctrl-C), warned "Training interrupted
    by user." and returned: the script went on and printed a table with the half-trained fit in it."""
    code = SIGNAL_INSIDE_SKLEARN_FIT.format(signal=name, script=str(BENCHMARKS / script), argv=argv)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (status, f"benchmarks/{script}: {said}\n")
    assert table not in done.stdout


def test_a_diverging_fit_is_one_error_line_without_numpys_warnings():
    """--lr 1e300 printed twelve lines of NumPy's RuntimeWarnings from scikit-learn before the error."""
    done = run_benchmark("sklearn_compare.py", "--lr", "1e300", "--seeds", "1", "--max-iter", "2")
    assert done.returncode == 2
    assert done.stderr.startswith("benchmarks/sklearn_compare.py: error: ") and done.stderr.count("\n") == 1, \
        done.stderr


def test_drawn_digits_says_a_missing_pen_collection_before_any_other_part(mnist, tmp_path):
    """With MNIST but no pendigits, `--parts python,pen` ran the MNIST rows first and only then said
    the pen data was missing."""
    import os

    from chainrule.datasets import find_dataset

    (tmp_path / "mnist").symlink_to(find_dataset("mnist", download=False))
    done = subprocess.run([sys.executable, str(BENCHMARKS / "drawn_digits.py"), "--parts", "python,pen",
                           "--digits", "5"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CHAINRULE_DATA": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("benchmarks/drawn_digits.py: error: ") and "pendigits" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_an_empty_part_name_is_shown_as_one():
    done = run_benchmark("drawn_digits.py", "--parts", "python,")
    assert done.returncode == 2 and "--parts: unknown '' (choose from python, " in done.stderr
