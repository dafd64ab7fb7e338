"""Shared fixtures: MNIST, Fashion-MNIST and the pen collections through the project's loaders, the course texts,
a headless Chromium for browser tests and GNU Octave for the MAT1110 script. Without the data, the
browser or Octave these tests skip, unless CI asks for them (CHAINRULE_REQUIRE_DATA=1,
CHAINRULE_REQUIRE_BROWSER=1, CHAINRULE_REQUIRE_OCTAVE=1), where a missing one fails instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def _missing(what: str, variable: str, reason: str):
    if os.environ.get(variable) == "1":
        pytest.fail(f"{what} is required here ({variable}=1) but missing: {reason}")
    pytest.skip(f"{what} not available: {reason}")


def _load(name: str, **kwargs):
    from chainrule import datasets

    try:
        return getattr(datasets, name)(**kwargs)
    except FileNotFoundError as err:
        _missing(name, "CHAINRULE_REQUIRE_DATA", str(err))


@pytest.fixture(scope="session")
def mnist():
    """MNIST as chainrule.datasets.load_mnist returns it (uint8 images, labels)."""
    return _load("load_mnist", download=False)


@pytest.fixture(scope="session")
def fashion_mnist():
    return _load("load_fashion_mnist", download=False)


@pytest.fixture(scope="session")
def pendigits():
    """UCI pendigits' pen trajectories (30 writers) as chainrule.datasets.load_pendigits returns them."""
    return _load("load_pendigits")


@pytest.fixture(scope="session")
def ujipen():
    """The digits of UJI Pen Characters v2 (40 writers) as chainrule.datasets.load_ujipen returns them."""
    return _load("load_ujipen")


@pytest.fixture(scope="session")
def course_texts() -> Path:
    """The folder of the course texts, ``shared/seeds`` beside the checkout (as CI places it)."""
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not (seeds / "README.md").is_file():
        _missing("the course texts", "CHAINRULE_REQUIRE_DATA", f"{seeds} not found")
    return seeds


@pytest.fixture(scope="session")
def octave() -> str:
    """The path of GNU Octave's command-line program."""
    program = shutil.which("octave-cli") or shutil.which("octave")
    if program is None:
        _missing("GNU Octave", "CHAINRULE_REQUIRE_OCTAVE", "octave-cli not found (apt-get install octave)")
    return program


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium driven by Playwright."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _missing("Chromium", "CHAINRULE_REQUIRE_BROWSER", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        _missing("Playwright", "CHAINRULE_REQUIRE_BROWSER", str(err))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """A folder for screenshots and other files a test keeps for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def digit_model(mnist):
    """The bundled digit model (raw uint8 (m, 28, 28) in, softmax out) or, while it does not exist,
    a small 784-100-10 ReLU network trained here on 12,000 MNIST digits in a few seconds."""
    import numpy as np

    import chainrule
    from chainrule.models import default_model_path

    if default_model_path().is_file():
        return chainrule.load()
    X, Y = mnist.train_images[:12000], mnist.train_labels[:12000].astype(np.intp)
    net = chainrule.mlp([784, 100, 10], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32,
                        input_scaling=(float(X.mean()), 1.0 / float(X.std()), (28, 28)))
    chainrule.fit(net, X, Y, epochs=3, batch_size=64, optimizer="nesterov", lr=0.05, momentum=0.9, progress=False)
    return net
