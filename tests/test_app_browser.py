"""The drawing page in Debian's Chromium: digits drawn with mouse and touch along pen paths are
recognised live; undo, clear, keyboard shortcuts and corrections work on a high-DPI desktop and a
phone; a tap gets no answer; the pad and live training come through a server outage. Screenshots go
to artifacts/."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("starlette")

from chainrule import corrections  # noqa: E402
from chainrule.app import create_app  # noqa: E402
from chainrule.app.replay import (digit_paths, draw_with_mouse, draw_with_touch, open_page, place,  # noqa: E402
                                  running_server, settled_prediction)
from chainrule.app.serving import server_config  # noqa: E402
from chainrule.preprocessing import digit_from_strokes  # noqa: E402

pytestmark = pytest.mark.browser

DESKTOP = dict(viewport={"width": 1280, "height": 800}, device_scale_factor=2)
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True, is_mobile=True)
LANDSCAPE = dict(viewport={"width": 667, "height": 375}, device_scale_factor=2, has_touch=True, is_mobile=True)
LANDSCAPES = {"667x375": LANDSCAPE,
              "844x390": dict(viewport={"width": 844, "height": 390}, device_scale_factor=3, has_touch=True,
                              is_mobile=True)}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("corrections")


@pytest.fixture(scope="module")
def url(digit_model, data_dir):
    with running_server(create_app(net=digit_model, data_dir=data_dir)) as address:
        yield address


@pytest.fixture(scope="module")
def samples(mnist, digit_model):
    """Ten MNIST test digits (pen paths, label) whose paths the model recognises when they are
    rasterised in Python, so that a miss in the browser is the page's fault."""
    chosen = []
    for image, label in zip(mnist.test_images, mnist.test_labels):
        paths = digit_paths(image)
        if digit_model.predict(digit_from_strokes(paths)[None])[0] == label:
            chosen.append((paths, str(label)))
        if len(chosen) == 10:
            return chosen


def test_empty_page_asks_for_a_digit(browser, url, artifacts):
    page = open_page(browser, url, DESKTOP)
    assert page.get_by_test_id("prediction").text_content() == ""
    assert page.get_by_test_id("confidence").text_content() == "draw a digit"
    hint = page.evaluate("getComputedStyle(document.getElementById('hint')).color")
    assert _contrast_on_white(hint) >= 4.5  # WCAG AA for normal text
    page.screenshot(path=artifacts / "draw-empty.png")
    assert not page.errors
    page.close()


def _contrast_on_white(color: str) -> float:
    """The WCAG contrast ratio of a CSS ``rgb(r, g, b)`` colour on white."""
    channels = np.array(color[color.index("(") + 1:color.index(")")].split(",")[:3], dtype=float) / 255
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return 1.05 / (float(linear @ [0.2126, 0.7152, 0.0722]) + 0.05)


COUNT_CHANGES = """(ids) => { window.changes = Object.fromEntries(ids.map((id) => [id, 0]));
  for (const id of ids) new MutationObserver(() => window.changes[id]++).observe(document.getElementById(id),
    {childList: true, characterData: true, subtree: true}); }"""


def test_screen_readers_hear_the_answer_once_the_pen_is_up(browser, url, samples):
    """The result card changes at every frame while the pen moves: no live region covers it. A
    short status ("7, 98% sure") is silent mid-stroke and changes once when the pen is lifted."""
    page = open_page(browser, url, DESKTOP)
    assert page.locator(".result[aria-live]").count() == 0
    assert page.get_by_test_id("answer-status").get_attribute("role") == "status"
    page.evaluate(COUNT_CHANGES, ["answer-status", "confidence"])
    paths, _ = samples[0]
    points = np.concatenate(place(paths, page.get_by_test_id("canvas").bounding_box()))
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y)
        page.wait_for_timeout(10)
    page.wait_for_function("window.changes.confidence >= 3")  # the card followed the pen
    assert page.evaluate("window.changes['answer-status']") == 0
    page.mouse.up()
    shown = settled_prediction(page)
    confidence = page.evaluate("lastResult.confidence")
    assert page.get_by_test_id("answer-status").text_content() == f"{shown}, {100 * confidence:.0f}% sure"
    assert page.evaluate("window.changes['answer-status']") == 1
    assert not page.errors
    page.close()


def test_high_dpi_desktop_recognises_drawn_digits(browser, url, samples, artifacts):
    page = open_page(browser, url, DESKTOP)
    canvas = page.get_by_test_id("canvas")
    css_width = canvas.bounding_box()["width"]
    assert page.evaluate("pad.canvas.width") == round(css_width * 2)  # drawn at device pixels
    placements = [(0.5, (0.5, 0.5)), (0.3, (0.3, 0.3)), (0.8, (0.5, 0.5)), (0.4, (0.7, 0.65))]
    hits = 0
    for k, (paths, label) in enumerate(samples):
        size, centre = placements[k % len(placements)]
        draw_with_mouse(page, place(paths, canvas.bounding_box(), size, centre))
        hits += settled_prediction(page) == label
        if k < len(samples) - 1:
            page.keyboard.press("Escape")
            assert settled_prediction(page) == ""
    page.screenshot(path=artifacts / "draw-desktop-hidpi.png", full_page=True)
    assert hits >= 9
    assert not page.errors
    page.close()


def test_phone_recognises_digits_drawn_by_touch(browser, url, samples, artifacts):
    page = open_page(browser, url, PHONE)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390  # nothing sticks out sideways
    canvas = page.get_by_test_id("canvas")
    box = canvas.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] > 300
    hits = 0
    for paths, label in samples[:5]:
        page.wait_for_timeout(400)  # a tap right after a touch stroke would read as a double tap
        page.get_by_test_id("clear").tap()
        # tap() returns once the touch is delivered; the click it makes comes a moment later
        page.wait_for_function("pad.strokes.length === 0")
        assert settled_prediction(page) == ""
        draw_with_touch(page, place(paths, canvas.bounding_box(), 0.6))
        hits += settled_prediction(page) == label
    assert page.evaluate("pad.canvas.width") == round(box["width"] * 3)
    page.screenshot(path=artifacts / "draw-phone.png")
    page.screenshot(path=artifacts / "draw-phone-full.png", full_page=True)
    assert hits >= 4
    assert not page.errors
    page.close()


def test_phone_clear_tapped_right_after_a_flicked_stroke(browser, url):
    """A stroke lifted mid-move (a flick, 12 points 4 ms apart) and at once a tap on Clear: the tap
    clears. Chrome read such a stroke as a fling, and a tap during a fling only stops it (no click);
    the phone test lost a Clear tap that way about once in 40 runs."""
    page = open_page(browser, url, PHONE)
    box = page.get_by_test_id("canvas").bounding_box()
    x, ys = box["x"] + box["width"] / 2, np.linspace(box["y"] + 40, box["y"] + box["height"] - 40, 12)
    cdp = page.context.new_cdp_session(page)
    for k in range(3):
        start = time.time()
        for i, y in enumerate(ys):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove" if i else "touchStart",
                                                  "timestamp": start + 0.004 * i,
                                                  "touchPoints": [{"x": x, "y": float(y), "id": 1}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "timestamp": start + 0.05, "touchPoints": []})
        page.wait_for_function("pad.strokes.length === 1 && pad.drawing === null")
        page.get_by_test_id("clear").tap()
        page.wait_for_function("pad.strokes.length === 0", timeout=3000)
    cdp.detach()
    assert not page.errors
    page.close()


def test_prediction_updates_while_the_pen_moves(browser, url, samples):
    page = open_page(browser, url, DESKTOP)
    paths, label = samples[0]
    points = np.concatenate(place(paths, page.get_by_test_id("canvas").bounding_box()))
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:len(points) // 2]:
        page.mouse.move(x, y)
    assert settled_prediction(page) != ""  # a guess before the pen is lifted
    for x, y in points[len(points) // 2:]:
        page.mouse.move(x, y)
    page.mouse.up()
    assert page.evaluate("pad.strokes.length") == 1
    page.close()


def _bar_under(path: np.ndarray) -> np.ndarray:
    """A horizontal stroke of 20 points across the start of ``path``, a little below it."""
    (x, y) = path[0]
    return np.column_stack([np.linspace(x - 80, x + 80, 20), np.full(20, y + 60)])


def test_undo_clear_and_shortcuts(browser, url, samples):
    """Ctrl+Z, Backspace and Delete take back one stroke, Esc and Clear the drawing, and Undo brings a
    cleared drawing back."""
    page = open_page(browser, url, DESKTOP)
    canvas = page.get_by_test_id("canvas")
    paths, label = samples[1]
    placed = place(paths, canvas.bounding_box())
    draw_with_mouse(page, placed)
    assert settled_prediction(page) == label
    for key in ("Control+z", "Backspace", "Delete"):
        draw_with_mouse(page, [_bar_under(placed[0])])
        assert page.evaluate("pad.strokes.length") == len(paths) + 1
        page.keyboard.press(key)
        assert page.evaluate("pad.strokes.length") == len(paths)
        assert settled_prediction(page) == label
    page.get_by_test_id("clear").click()
    assert settled_prediction(page) == "" and page.get_by_test_id("confidence").text_content() == "draw a digit"
    page.get_by_test_id("undo").click()
    assert page.evaluate("pad.strokes.length") == len(paths) and settled_prediction(page) == label
    page.keyboard.press("Escape")
    assert settled_prediction(page) == ""
    page.keyboard.press("Control+z")
    assert page.evaluate("pad.strokes.length") == len(paths) and settled_prediction(page) == label
    page.get_by_test_id("undo").click()
    assert page.evaluate("pad.strokes.length") == len(paths) - 1
    assert not page.errors
    page.close()


@pytest.mark.parametrize("width", [800, 1000, 1024, 1280, 1920])
def test_keyboard_hint_is_one_line_beside_undo_and_clear(browser, url, width):
    """The shortcuts' hint fits on the toolbar's line, in one line, at every width that shows it (the
    narrowest pad columns are those just above 760 px and at 1000 px, where the forward view moves beside
    the pad)."""
    page = open_page(browser, url, dict(viewport={"width": width, "height": 800}))
    keys = page.locator(".keys")
    assert keys.is_visible()
    lines = keys.evaluate("""(k) => { const range = document.createRange(); range.selectNodeContents(k);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size; }""")
    assert lines == 1
    box, undo = keys.bounding_box(), page.get_by_test_id("undo").bounding_box()
    assert abs((box["y"] + box["height"] / 2) - (undo["y"] + undo["height"] / 2)) < 2  # on Undo's line
    assert _inside(box, page.locator(".toolbar").bounding_box())
    assert not page.errors
    page.close()


def test_shortcuts_leave_a_focused_field_alone(browser, url, samples):
    """Backspace, Delete, Esc and Ctrl+Z in a field of the Train form act on the field, not the pad."""
    page = open_page(browser, url, DESKTOP)
    paths, label = samples[1]
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    assert settled_prediction(page) == label
    page.locator("select[name=dataset]").focus()
    for key in ("Backspace", "Delete", "Escape", "Control+z"):
        page.keyboard.press(key)
    width = page.locator("input[name=width]")
    width.focus()
    page.keyboard.press("End")
    page.keyboard.type("7")
    assert width.input_value() == "647"
    page.keyboard.press("Control+z")  # the field's own undo
    assert width.input_value() == "64"
    assert page.evaluate("pad.strokes.length") == len(paths) and settled_prediction(page) == label
    assert not page.errors
    page.close()


def test_ink_off_the_pad_is_held_at_its_edge(browser, url, samples):
    """A stroke that runs off the pad (the pointer stays captured) is held at the pad's edge, where
    the pad shows it: the strokes sent are the ink on the pad."""
    page = open_page(browser, url, DESKTOP)
    box = page.get_by_test_id("canvas").bounding_box()
    paths, label = samples[1]
    draw_with_mouse(page, place(paths, box))
    right, below = box["x"] + box["width"], box["y"] + box["height"]
    draw_with_mouse(page, [np.array([[right - 5, below - 5], [right + 400, below + 400], [right + 800, below - 5]])])
    assert settled_prediction(page) != ""
    inside = 1000 * (1 - 5 / box["width"])  # 5 px inside the bottom right corner, in pad units
    np.testing.assert_allclose(page.evaluate("pad.strokes[pad.strokes.length - 1]"),
                               [[inside, inside], [1000, 1000], [1000, inside]], atol=0.1)
    assert not page.errors
    page.close()


def test_too_little_ink_gets_no_answer(browser, url, samples):
    """A tap, or two taps far apart, is no digit: the page says so and sends nothing; a short 1 (an
    eighth of the pad tall, four and a half pen widths) is sent and recognised."""
    page = open_page(browser, url, DESKTOP)
    box = page.get_by_test_id("canvas").bounding_box()
    sent = page.evaluate("net.nextId")
    for taps in ([(0.5, 0.5)], [(0.1, 0.1), (0.9, 0.9)]):
        page.keyboard.press("Escape")
        for x, y in taps:
            page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
        assert settled_prediction(page) == ""
        assert page.get_by_test_id("confidence").text_content() == "too little ink: draw a digit"
        assert page.get_by_test_id("pad-notice").text_content() == "too little ink: draw a digit"
    assert page.evaluate("net.nextId") == sent
    paths, label = next(sample for sample in samples if sample[1] == "1")
    height = np.ptp(np.concatenate(paths)[:, 1])
    page.keyboard.press("Escape")
    draw_with_mouse(page, place(paths, box, size=0.125 * 20 / height))
    assert settled_prediction(page) == "1"
    assert not page.get_by_test_id("pad-notice").is_visible()
    assert not page.errors
    page.close()


def test_wrong_answer_is_saved_as_a_correction(browser, url, samples, data_dir):
    page = open_page(browser, url, DESKTOP)
    paths, label = samples[2]
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    settled_prediction(page)
    before = len(corrections.load_samples(data_dir)[1])
    page.get_by_test_id("label-3").dblclick()  # saved once: the buttons wait for the first save
    page.wait_for_function("document.querySelector('[data-testid=teach-status]').textContent.startsWith('Saved')")
    page.wait_for_function(
        f"document.getElementById('model-info').textContent.includes('{before + 1} saved correction')")
    page.wait_for_timeout(300)  # a second save would have landed by now
    images, labels = corrections.load_samples(data_dir)
    assert len(labels) == before + 1 and labels[-1] == 3
    assert settled_prediction(page) == ""  # the pad is cleared for the next drawing
    page.close()


def test_a_mistaken_correction_is_taken_back_with_undo(browser, url, samples, data_dir):
    """A label click saves at once: the status offers Undo (a real button, in the tab order), which
    removes that very file and says so, and the header counts one correction fewer."""
    page = open_page(browser, url, DESKTOP)
    paths, label = samples[3]
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    settled_prediction(page)
    before = sorted(data_dir.iterdir())
    page.get_by_test_id("label-6").click()
    page.wait_for_function(
        f"document.getElementById('model-info').textContent.includes('{len(before) + 1} saved correction')")
    status, undo = page.get_by_test_id("teach-status"), page.get_by_test_id("uncorrect")
    assert status.text_content().startswith("Saved as a 6.")
    assert undo.evaluate("(b) => b.tagName === 'BUTTON' && b.tabIndex === 0") and undo.text_content() == "Undo"
    (new,) = set(data_dir.iterdir()) - set(before)
    undo.click()
    page.wait_for_function("document.querySelector('[data-testid=teach-status]').textContent.startsWith('Removed')")
    assert status.text_content() == "Removed the 6 just saved."
    page.wait_for_function(
        f"document.getElementById('model-info').textContent.includes('{len(before)} saved correction')")
    assert not new.exists() and sorted(data_dir.iterdir()) == before
    assert undo.count() == 0
    assert not page.errors
    page.close()


def _inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5)


def _overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def _ink_at(page, point) -> int:
    """The alpha of the pad's canvas pixel under ``point`` (pad units)."""
    return page.evaluate("""([x, y]) => { const c = document.getElementById('pad'), s = c.width / 1000;
      return c.getContext('2d').getImageData(Math.round(x * s), Math.round(y * s), 1, 1).data[3]; }""", list(point))


def test_landscape_phone_shows_the_whole_pad_and_its_buttons(browser, url, samples, artifacts):
    """At 667x375 the pad is no taller than the screen less its toolbar: scrolled to, the whole pad,
    Undo, Clear and the answer fit on the screen. Turned to 375x667, the pad grows and redraws its
    strokes at the new size; the answer, below the pad, covers none of it."""
    page = open_page(browser, url, LANDSCAPE)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 667
    page.evaluate("document.querySelector('.card.pad').scrollIntoView()")
    canvas = page.get_by_test_id("canvas")
    paths, _ = samples[0]
    draw_with_touch(page, place(paths, canvas.bounding_box(), 0.6))
    settled_prediction(page)
    screen = {"x": 0, "y": 0, "width": 667, "height": 375}
    for part in ("canvas", "undo", "clear", "pad-answer"):
        assert _inside(page.get_by_test_id(part).bounding_box(), screen), part
    assert not _overlaps(page.get_by_test_id("pad-answer").bounding_box(), canvas.bounding_box())
    page.screenshot(path=artifacts / "draw-phone-landscape.png")
    middle = page.evaluate("pad.strokes[0][Math.floor(pad.strokes[0].length / 2)]")
    assert _ink_at(page, middle) > 0
    width = canvas.bounding_box()["width"]
    page.set_viewport_size({"width": 375, "height": 667})
    page.wait_for_function(f"document.getElementById('pad').width === Math.round({2 * canvas.bounding_box()['width']})")
    assert canvas.bounding_box()["width"] > width and _ink_at(page, middle) > 0  # the same ink, scaled
    assert not _overlaps(page.get_by_test_id("pad-answer").bounding_box(), canvas.bounding_box())
    page.screenshot(path=artifacts / "draw-phone-portrait-375.png")
    assert not page.errors
    page.close()


def test_phone_keeps_the_answer_in_sight_while_drawing(browser, url, samples, artifacts):
    """At 390x844 the result card lies below the pad, off screen: a compact answer (digit,
    probability, ten bars) sits beside Undo and Clear, off the ink, and follows the finger mid-stroke."""
    page = open_page(browser, url, PHONE)
    screen = {"x": 0, "y": 0, "width": 390, "height": 844}
    canvas = page.get_by_test_id("canvas")
    assert _inside(canvas.bounding_box(), screen)
    assert not page.get_by_test_id("pad-answer").is_visible()  # nothing drawn: nothing to show
    paths, label = samples[0]
    points = np.concatenate(place(paths, canvas.bounding_box(), 0.6))
    cdp = page.context.new_cdp_session(page)
    touch = [{"x": float(x), "y": float(y), "radiusX": 2, "radiusY": 2, "force": 0.5, "id": 1} for x, y in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [touch[0]]})
    for point in touch[1:len(touch) * 2 // 3]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    page.wait_for_function("document.getElementById('pad-digit').textContent !== ''")
    answer = page.get_by_test_id("pad-answer")
    assert page.evaluate("pad.strokes.length") >= 1 and answer.is_visible()  # the finger is still down
    box = answer.bounding_box()
    assert _inside(box, screen) and not _overlaps(box, canvas.bounding_box())  # it covers no ink
    assert box["width"] < canvas.bounding_box()["width"] / 3  # compact: the pad stays free to draw on
    page.screenshot(path=artifacts / "draw-phone-mid-stroke.png")
    for point in touch[len(touch) * 2 // 3:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
    for other in paths[1:]:
        draw_with_touch(page, place([other], canvas.bounding_box(), 0.6))
    shown = settled_prediction(page)
    assert page.get_by_test_id("pad-digit").text_content() == shown
    assert not page.errors
    page.close()
    desktop = open_page(browser, url, DESKTOP)
    draw_with_mouse(desktop, place(paths, desktop.get_by_test_id("canvas").bounding_box()))
    settled_prediction(desktop)
    assert not desktop.get_by_test_id("pad-answer").is_visible()  # the result card is in sight there
    desktop.close()


def test_lan_mode_in_the_browser_the_qr_link_and_a_phone_with_the_token(browser, digit_model, tmp_path, samples,
                                                                         artifacts):
    """A LAN server, reached over loopback only: Chromium resolves every *.localhost name to
    127.0.0.1, so phone.localhost plays the machine's LAN name (not a localhost name to the server,
    which therefore asks for the token)."""
    from chainrule.app.access import Access

    access = Access.lan(["phone.localhost"])
    with running_server(create_app(net=digit_model, data_dir=tmp_path, access=access)) as address:
        port = address.rsplit(":", 1)[1].strip("/")
        desktop = open_page(browser, address, DESKTOP)
        desktop.wait_for_function("!document.getElementById('share').hidden")
        link = f"http://phone.localhost:{port}/?token={access.token}"
        assert desktop.get_by_test_id("share-link").get_attribute("href") == link
        qr = "document.getElementById('share-qr')"
        # the QR image loads after the link shows: wait for it (a broken or missing image never gets a width)
        desktop.wait_for_function(f"{qr}.complete && {qr}.naturalWidth > 0", timeout=10_000)
        desktop.screenshot(path=artifacts / "draw-lan-share.png")
        desktop.close()

        stranger = browser.new_page(**PHONE)
        refused = stranger.goto(f"http://phone.localhost:{port}/")
        assert refused.status == 403 and "token" in refused.json()["error"]
        stranger.close()

        phone = open_page(browser, link, PHONE)  # the cookie set by ?token= carries the WebSocket and fetches
        paths, label = samples[1]
        draw_with_touch(phone, place(paths, phone.get_by_test_id("canvas").bounding_box(), 0.6))
        assert settled_prediction(phone) == label
        assert phone.evaluate("net.socketReady") and not phone.errors
        phone.close()


@contextmanager
def serving(app, port: int = 0):
    """``app`` served as ``replay.running_server`` serves it, on ``port`` (0: a free one), which it
    yields: a test stops the server by leaving the block and starts it again on the same port."""
    import uvicorn

    server = uvicorn.Server(server_config(app, "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the drawing server did not start"
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


NOTICE = "document.getElementById('pad-notice')"


def test_pad_through_a_server_outage(browser, digit_model, tmp_path, samples, artifacts):
    """The server stops: the pad says so at once, hides the answer once the drawing changes and
    retries a few times a second at most, not at every pointer move; back, it answers the drawing as
    it is without a touch. An error answer (too many points) shows until an answer comes."""
    app = create_app(net=digit_model, data_dir=tmp_path)
    paths, label = samples[1]
    with serving(app) as port:
        page = open_page(browser, f"http://127.0.0.1:{port}/", DESKTOP)
        placed = place(paths, page.get_by_test_id("canvas").bounding_box())
        draw_with_mouse(page, placed)
        assert settled_prediction(page) == label
    page.wait_for_function(f"!{NOTICE}.hidden", timeout=3000)  # the page is idle
    notice = "no answer: the server is not reachable — retrying"
    assert page.get_by_test_id("pad-notice").text_content() == notice
    _assert_notice_leaves_the_pad_free(page, {"x": 0, "y": 0, **DESKTOP["viewport"]})
    assert page.get_by_test_id("prediction").text_content() == label  # still this drawing's answer
    page.get_by_test_id("bw-label-0").click()  # the backward view asks the server, and is told it is away
    page.wait_for_function("!document.getElementById('fw-status').hidden", timeout=3000)
    assert "server not reachable" in page.get_by_test_id("fw-status").text_content()
    page.evaluate("window.scrollTo(0, 0)")  # the click scrolled to the button: the pad goes back where it was
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.url.endswith("/api/predict") else None)
    bar = _bar_under(placed[0])
    page.mouse.move(*bar[0])
    page.mouse.down()
    for point in bar[1:]:  # a second's stroke
        page.mouse.move(*point)
        page.wait_for_timeout(50)
    page.mouse.up()
    assert len(posts) <= 3
    assert page.get_by_test_id("prediction").text_content() == "" and page.evaluate("lastResult") is None
    assert page.get_by_test_id("confidence").text_content() == notice
    page.screenshot(path=artifacts / "draw-server-down.png")
    with serving(app, port):
        page.wait_for_function(f"{NOTICE}.hidden && document.getElementById('prediction').textContent !== ''",
                               timeout=10_000)
        page.wait_for_function("document.getElementById('fw-status').hidden")  # the forward view's notice too
        assert page.evaluate("pad.strokes.length") == len(paths) + 1
        page.evaluate("pad.strokes.push(Array.from({length: 30000}, (_, i) => [300 + i % 400, 200 + i / 50]));"
                      "strokesChanged()")
        page.wait_for_function(f"{NOTICE}.textContent.includes('points')")
        assert settled_prediction(page) == ""
        page.keyboard.press("Control+z")
        page.wait_for_function(f"{NOTICE}.hidden")
        assert settled_prediction(page) != ""
        assert not page.errors
        page.close()


def _assert_notice_leaves_the_pad_free(page, screen: dict) -> None:
    """The outage notice is on the screen beside the pad, none of it over the pad's drawing area, so that
    the ink stays in sight while the student goes on drawing; Undo and Clear stay on the screen too."""
    notice, canvas = page.get_by_test_id("pad-notice").bounding_box(), page.get_by_test_id("canvas").bounding_box()
    assert page.get_by_test_id("pad-notice").is_visible() and _inside(notice, screen)
    assert not _overlaps(notice, canvas)
    assert notice["y"] - (canvas["y"] + canvas["height"]) < 40  # close by, where the eye is
    for part in ("undo", "clear"):
        assert not _overlaps(page.get_by_test_id(part).bounding_box(), notice), part


def test_phone_outage_notice_leaves_the_ink_in_sight(browser, digit_model, tmp_path, samples, artifacts):
    """On a phone, the whole pad is the place to draw: the notice goes under it, and a stroke drawn
    along the pad's bottom edge during the outage stays visible."""
    app = create_app(net=digit_model, data_dir=tmp_path)
    paths, label = samples[1]
    with serving(app) as port:
        page = open_page(browser, f"http://127.0.0.1:{port}/", PHONE)
        draw_with_touch(page, place(paths, page.get_by_test_id("canvas").bounding_box(), 0.6))
        assert settled_prediction(page) == label
    page.wait_for_function(f"!{NOTICE}.hidden", timeout=3000)
    box = page.get_by_test_id("canvas").bounding_box()
    y = box["y"] + 0.93 * box["height"]  # where the notice used to lie
    draw_with_touch(page, [np.column_stack([np.linspace(box["x"] + 40, box["x"] + box["width"] - 40, 20),
                                            np.full(20, y)])])
    assert page.evaluate("pad.strokes.length") == len(paths) + 1
    _assert_notice_leaves_the_pad_free(page, {"x": 0, "y": 0, **PHONE["viewport"]})
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [box["x"] + box["width"] / 2, y])
    assert hit == "pad"
    page.screenshot(path=artifacts / "draw-phone-server-down.png")
    assert not page.errors
    page.close()


@pytest.mark.parametrize("screen", LANDSCAPES)
def test_landscape_phone_keeps_undo_and_clear_on_screen_through_an_outage(browser, digit_model, tmp_path, samples,
                                                                          artifacts, screen):
    """A phone on its side has the pad as tall as the screen allows: the outage notice takes no line of its
    own there, so that the whole pad, Undo, Clear, the answer and the notice are on the screen together."""
    device = LANDSCAPES[screen]
    app = create_app(net=digit_model, data_dir=tmp_path)
    paths, label = samples[1]
    with serving(app) as port:
        page = open_page(browser, f"http://127.0.0.1:{port}/", device)
        page.evaluate("document.querySelector('.card.pad').scrollIntoView()")
        draw_with_touch(page, place(paths, page.get_by_test_id("canvas").bounding_box(), 0.6))
        assert settled_prediction(page) == label
    page.wait_for_function(f"!{NOTICE}.hidden", timeout=3000)
    page.evaluate("document.querySelector('.card.pad').scrollIntoView()")
    screen_box = {"x": 0, "y": 0, **device["viewport"]}
    parts = ["canvas", "undo", "clear", "pad-notice"] + ["pad-answer"] * page.get_by_test_id("pad-answer").is_visible()
    for part in parts:
        assert _inside(page.get_by_test_id(part).bounding_box(), screen_box), part
    _assert_notice_leaves_the_pad_free(page, screen_box)
    notice = page.get_by_test_id("pad-notice").bounding_box()
    assert "pad-answer" not in parts or not _overlaps(page.get_by_test_id("pad-answer").bounding_box(), notice)
    page.screenshot(path=artifacts / f"draw-landscape-server-down-{screen}.png")
    assert not page.errors
    page.close()


def test_live_training_through_a_server_outage(browser, digit_model, mnist, tmp_path):
    """Polling outlives an outage: the view says the server is unreachable, then follows the run
    again (here the same server, paused and resumed)."""
    app = create_app(net=digit_model, data_dir=tmp_path)
    with serving(app) as port:
        page = open_page(browser, f"http://127.0.0.1:{port}/", DESKTOP)
        form = page.get_by_test_id("train-form")
        for name, value in {"width": "16", "steps": "100000", "report_every": "100"}.items():
            form.locator(f"[name={name}]").fill(value)
        page.get_by_test_id("train-start").click()
        page.wait_for_function("training.state === 'running' && training.reports.length > 0", timeout=30_000)
        page.get_by_test_id("train-pause").click()
        page.wait_for_function("training.state === 'paused'")
    status = page.get_by_test_id("train-status")
    page.wait_for_function("document.getElementById('train-status').dataset.state === 'unreachable'", timeout=5000)
    assert "the server is not reachable" in status.text_content()
    assert page.get_by_test_id("train-pause").is_disabled() and page.get_by_test_id("train-resume").is_disabled()
    with serving(app, port):
        page.wait_for_function("document.getElementById('train-status').dataset.state === 'paused'", timeout=10_000)
        reports = page.evaluate("training.reports.length")
        page.get_by_test_id("train-resume").click()
        page.wait_for_function(f"training.reports.length > {reports}", timeout=10_000)
        page.get_by_test_id("train-stop").click()
        page.wait_for_function("training.state === 'stopped'", timeout=10_000)
        assert not page.errors
        page.close()
