"""The DrawPad where students use it: JupyterLab (headless, a token, a free loopback port, no network)
opens a notebook whose first cell is the drawing notebook's pad; Chromium draws two different digits on
it with the mouse; the prediction shown in the cell output must change between them and equal
``digit_from_strokes`` + the model on ``pad.strokes`` as the kernel reports them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

from chainrule.app.replay import draw_with_mouse
from chainrule.digits import load_digit_model
from chainrule.preprocessing import digit_from_strokes

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90
REPORT = 'import json; print("REPORT" + json.dumps({"strokes": pad.strokes, "digit": pad.digit}))'
CONFIG = """
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port}
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True  # CI containers run as root
c.ServerApp.root_dir = {root!r}
c.IdentityProvider.token = {token!r}
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
"""
# Shapes in shares of the pad (0..1), as a hand would move: a long upright 1 and a round 0.
ONE = [[(0.45, 0.2), (0.55, 0.12), (0.55, 0.88)]]
ZERO = [[(0.5 + 0.22 * np.sin(t), 0.5 - 0.33 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a notebook with the pad cell and a report cell."""
    home = tmp_path_factory.mktemp("lab")
    pad_cell = next(c.source for c in nbformat.read(ROOT / "notebooks" / "drawing_pad.ipynb", as_version=4).cells
                    if c.cell_type == "code")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(pad_cell), nbformat.v4.new_code_cell(REPORT)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, home / "pad.ipynb")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"}))
    port, token = _free_port(), os.urandom(16).hex()
    (home / "config.py").write_text(CONFIG.format(port=port, root=str(home), token=token))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "MPLBACKEND": "Agg"}
    log = open(home / "lab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", f"--config={home / 'config.py'}"],
                              cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _run_cell(page, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")


def _report(page) -> dict:
    """Run the report cell and return what the kernel says about the pad."""
    output = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    previous = output.inner_text() if output.count() else ""
    _run_cell(page, 1)
    page.wait_for_function(
        """([previous]) => {
             const out = document.querySelectorAll('.jp-Notebook .jp-Cell')[1].querySelector('.jp-OutputArea-output');
             return out && out.innerText.startsWith('REPORT') && out.innerText !== previous;
           }""", arg=[previous], timeout=30_000)
    return json.loads(output.inner_text().strip()[len("REPORT"):])


def _draw(page, canvas, shape) -> None:
    box = canvas.bounding_box()
    draw_with_mouse(page, [np.array([(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke])
                           for stroke in shape])


def test_drawpad_in_jupyterlab_predicts_what_the_kernel_computes(browser, lab, artifacts):
    url, token = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def loopback_only(route):
        if route.request.url.startswith(url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", loopback_only)
    page.goto(f"{url}/lab/tree/pad.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=60_000)
    page.wait_for_function("document.querySelector('.jp-StatusBar-Widget')"
                           " && document.body.innerText.includes('| Idle')", timeout=60_000)
    _run_cell(page, 0)
    canvas = page.locator("[data-testid=drawpad-canvas]")
    try:
        canvas.wait_for(timeout=60_000)
    except Exception:
        page.screenshot(path=artifacts / "notebook-drawpad-failed.png")
        raise
    prediction = page.locator("[data-testid=drawpad-prediction]")
    model = load_digit_model()
    shown = []
    for shape in (ONE, ZERO):
        page.locator("[data-testid=drawpad-clear]").click()
        page.wait_for_function("document.querySelector('[data-testid=drawpad-prediction]').textContent === ''")
        _draw(page, canvas, shape)
        page.wait_for_function("document.querySelector('[data-testid=drawpad-prediction]').textContent !== ''")
        kernel = _report(page)
        assert len(kernel["strokes"]) == len(shape)
        expected = int(model.predict(digit_from_strokes(kernel["strokes"])[None])[0])
        assert kernel["digit"] == expected
        assert prediction.text_content() == str(expected)
        shown.append(expected)
    assert shown[0] != shown[1]
    page.screenshot(path=artifacts / "notebook-drawpad.png")
    assert not outside, outside
    page.close()
