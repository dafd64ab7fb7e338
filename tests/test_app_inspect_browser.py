"""The "look inside" and "train live" views of the drawing page in Debian's Chromium: the forward
view follows the pen, unit edits change the lab copy's prediction, the backward view shows the
library's numbers for the drawing, a gradient step lowers the loss, the confidence view reports the
MNIST coverage, and live training shows a falling loss, keeps each report once through pause, resume
and a second page, and its form works as a form. Screenshots (desktop and phone) go to artifacts/."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("starlette")

from chainrule.app import create_app  # noqa: E402
from chainrule.app.replay import (digit_paths, draw_with_mouse, draw_with_touch, open_page, place,  # noqa: E402
                                  running_server, settled_prediction)
from chainrule.inspection import coverage, trace  # noqa: E402
from chainrule.preprocessing import digit_from_strokes  # noqa: E402

pytestmark = pytest.mark.browser

DESKTOP = dict(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True, is_mobile=True)
SETTLED = "!net.inFlight && !net.dirty && !net.framePending && !inside.busy && !inside.dirty"


@pytest.fixture(scope="module")
def url(digit_model, tmp_path_factory):
    with running_server(create_app(net=digit_model, data_dir=tmp_path_factory.mktemp("corrections"))) as address:
        yield address


@pytest.fixture(scope="module")
def sample(mnist, digit_model):
    """Pen paths of an MNIST test digit the model recognises, and its label."""
    for image, label in zip(mnist.test_images, mnist.test_labels):
        paths = digit_paths(image)
        if digit_model.predict(digit_from_strokes(paths)[None])[0] == label:
            return paths, int(label)


def settle(page):
    page.wait_for_function(SETTLED, timeout=10_000)


def drawn_image(page) -> np.ndarray:
    return np.array(page.evaluate("inside.image"), dtype=np.uint8).reshape(28, 28)


def test_forward_view_follows_the_pen_and_unit_edits_change_the_lab_prediction(browser, url, sample, digit_model,
                                                                                artifacts):
    page = open_page(browser, url, DESKTOP)
    paths, label = sample
    points = np.concatenate(place(paths, page.get_by_test_id("canvas").bounding_box()))
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:len(points) // 2]:
        page.mouse.move(x, y)
    settle(page)
    half = page.evaluate("inside.forward.probabilities")  # shown before the pen is lifted
    for x, y in points[len(points) // 2:]:
        page.mouse.move(x, y)
    page.mouse.up()
    settle(page)
    forward = page.evaluate("inside.forward")
    assert forward["probabilities"] != half
    expected = trace(digit_model, drawn_image(page)[None])
    for shown, layer in zip(forward["layers"], expected.layers):
        assert np.array_equal(np.array(shown["a"]), layer.a[0].astype(np.float64))
    cells = page.get_by_test_id("fw-layer-0").locator(".unit")
    assert cells.count() == digit_model.dense[0].n_out
    unit = int(np.argmax(expected.layers[0].a[0]))  # the most active first-layer unit
    cells.nth(unit).click()
    shown_z = float(page.get_by_test_id("fw-z").text_content())
    assert shown_z == pytest.approx(float(expected.layers[0].z[0, unit]), abs=1e-4)
    page.wait_for_function("document.querySelector('[data-testid=fw-weights]') && inside.weights.size > 0")
    before = forward["probabilities"]
    page.get_by_test_id("fw-scale").evaluate("(s) => { s.value = '0.5'; s.dispatchEvent(new Event('change')); }")
    page.wait_for_function("inside.forward.edits.scale.length === 1")
    settle(page)
    assert page.evaluate("inside.forward.probabilities") != before  # the lab copy changed at once
    assert "1 scaled" in page.get_by_test_id("fw-verdict").text_content()
    assert page.get_by_test_id("prediction").text_content() == str(label)  # the pad's model did not
    page.get_by_test_id("forward-view").screenshot(path=artifacts / "inspect-forward-desktop.png")
    page.screenshot(path=artifacts / "inspect-desktop-full.png", full_page=True)
    assert not page.errors
    page.close()


def _focused(page) -> str | None:
    return page.evaluate("document.activeElement.dataset.testid || document.activeElement.getAttribute('aria-label')")


def test_forward_units_are_one_tab_stop_and_their_controls_keep_the_focus(browser, url, sample):
    """The unit grid is one tab stop (roving tabindex): arrows move between units, Enter selects, Tab
    goes on to the unit's controls; the scale slider keeps the focus through the answers to its
    edits, so that four arrow presses scale the weights by four steps."""
    page = open_page(browser, url, DESKTOP)
    draw_with_mouse(page, place(sample[0], page.get_by_test_id("canvas").bounding_box()))
    settle(page)
    tab_stops = "document.querySelectorAll('#fw-layers .unit:not([tabindex=\"-1\"])').length"
    assert page.evaluate(tab_stops) == 1
    page.get_by_test_id("fw-layer-0").locator(".unit").nth(3).click()
    page.keyboard.press("ArrowRight")
    assert _focused(page) == "layer 1 unit 4" and page.evaluate(tab_stops) == 1
    page.keyboard.press("ArrowDown")  # a row further down
    columns = int(page.get_by_test_id("fw-layer-0").get_attribute("data-columns"))
    assert _focused(page) == f"layer 1 unit {4 + columns}"
    page.keyboard.press("Enter")
    page.wait_for_function(f"inside.selected[1] === {4 + columns}")
    settle(page)
    tabs = 0
    while _focused(page) != "fw-scale":
        page.keyboard.press("Tab")
        tabs += 1
        assert tabs <= 3, "the unit's controls are more than three Tab presses past the grid"
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"inside.forward.edits.scale.some(([k, j, s]) => j === {4 + columns} && s === 0.8)")
    settle(page)
    assert _focused(page) == "fw-scale" and page.get_by_test_id("fw-scale").input_value() == "0.8"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press(" ")  # the "switch off" checkbox, in place through the answer too
    page.wait_for_function("inside.forward.edits.off.length === 1")
    settle(page)
    assert _focused(page) == "fw-off" and page.get_by_test_id("fw-off").is_checked()
    assert not page.errors
    page.close()


def test_backward_view_shows_the_library_numbers_and_a_step_lowers_the_loss(browser, url, sample, digit_model,
                                                                            artifacts):
    page = open_page(browser, url, DESKTOP)
    paths, label = sample
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    settled_prediction(page)
    target = (label + 1) % 10  # a digit it is not: large deltas
    page.get_by_test_id(f"bw-label-{target}").click()
    page.wait_for_function(f"inside.backward && inside.backward.label === {target}")
    settle(page)
    shown = page.evaluate("inside.backward")
    image = drawn_image(page)
    expected = trace(digit_model, image[None], np.array([target]))
    loss, grads = digit_model.loss_and_gradient(image[None], np.array([target]))
    assert shown["loss"] == loss == expected.loss
    for k, (layer, (dW, db)) in enumerate(zip(shown["layers"], grads)):
        assert np.array_equal(np.array(layer["delta"]), expected.layers[k].delta[0].astype(np.float64))
        assert np.array_equal(np.array(layer["db"]), db.astype(np.float64))
        if k == 0:
            assert np.array_equal(np.array(layer["dW_rows"]), dW[layer["dW_units"]].astype(np.float64))
        else:
            assert np.array_equal(np.array(layer["dW"]), dW.astype(np.float64))
    assert np.array_equal(np.array(shown["input_gradient"]), expected.input_gradient[0].ravel().astype(np.float64))
    assert page.get_by_test_id("bw-loss").text_content() == f"C = {loss:.5f}"
    page.get_by_test_id("backward-view").screenshot(path=artifacts / "inspect-backward-desktop.png")
    assert page.locator("#bw-eta-value").text_content() == "0.001"
    page.get_by_test_id("bw-step").click()
    page.wait_for_function("inside.lastStep !== null")
    step = page.evaluate("inside.lastStep")
    assert step["eta"] == 0.001
    assert step["before"]["loss"] / 4 < step["after"]["loss"] < step["before"]["loss"]  # lower, not gone at once
    assert step["before"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert "after one step" in page.get_by_test_id("bw-step-result").text_content()
    settle(page)
    verdict = page.get_by_test_id("fw-verdict")
    assert "after 1 gradient step" in verdict.text_content() and "Reset the lab copy" in verdict.text_content()
    page.keyboard.press("Escape")  # the step was this drawing's: its result goes with it
    settle(page)
    assert page.get_by_test_id("bw-step-result").text_content() == ""
    page.keyboard.press("Control+z")  # the same drawing, on the stepped lab copy
    settle(page)
    assert "after 1 gradient step" in verdict.text_content()
    page.get_by_test_id("lab-reset").click()
    page.wait_for_function("inside.forward.edits.steps === 0")
    settle(page)
    assert "gradient step" not in verdict.text_content()
    assert not page.errors
    page.close()


SCREENS = {"1280x900": DESKTOP, "1920x1080": dict(viewport={"width": 1920, "height": 1080}),
           "1024x768": dict(viewport={"width": 1024, "height": 768})}


def _in_view(page, testid: str) -> bool:
    """Whether the element is wholly on the screen as the page is scrolled now."""
    box, size = page.get_by_test_id(testid).bounding_box(), page.viewport_size
    return (box is not None and box["x"] >= 0 and box["y"] >= 0
            and box["x"] + box["width"] <= size["width"] and box["y"] + box["height"] <= size["height"])


def _gap(page, above: str, below: str) -> float:
    """The height between the bottom of the element ``above`` and the top of ``below`` (CSS selectors)."""
    upper, lower = page.locator(above).bounding_box(), page.locator(below).bounding_box()
    return lower["y"] - (upper["y"] + upper["height"])


@pytest.mark.parametrize("screen", SCREENS)
def test_forward_view_is_beside_the_pad_while_drawing(browser, url, sample, artifacts, screen):
    """A student watches the activations while drawing: on a laptop or desktop screen the pad, the
    whole forward view and the whole answer (digit, confidence, all ten bars) are on the screen
    together, without scrolling, from the start. The cards under the pad and under the forward view
    follow them at the layout's gap, not further down."""
    page = open_page(browser, url, SCREENS[screen])
    paths, label = sample
    canvas = page.get_by_test_id("canvas").bounding_box()
    points = np.concatenate(place(paths, canvas))
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y)
    settle(page)  # the pen is still down
    assert page.evaluate("window.scrollY") == 0
    for part in ("canvas", "forward-view", "fw-layers", "fw-verdict", "prediction", "confidence", "bars"):
        assert _in_view(page, part), part
    assert _in_view(page, "bar-9") and page.get_by_test_id("bar-9").bounding_box()["height"] > 0
    gap = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.layout')).rowGap)")
    assert _gap(page, ".card.pad", ".card.result") == pytest.approx(gap, abs=0.5)
    assert _gap(page, "#forward", ".card.seen") == pytest.approx(gap, abs=0.5)
    assert _gap(page, ".card.seen", ".card.teach") == pytest.approx(gap, abs=0.5)
    assert page.get_by_test_id("canvas").bounding_box() == canvas  # the views filled in: the pad kept its place
    assert canvas["width"] >= 300  # still a pad to draw on
    page.mouse.up()
    assert settled_prediction(page) == str(label)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]
    page.screenshot(path=artifacts / f"inspect-pad-and-forward-{screen}.png")
    assert not page.errors
    page.close()


def _cards_in_tab_order(page, last: str) -> list[str]:
    """The cards (their aria-labels) in the order Tab reaches them, from Undo to the card ``last``."""
    card = "document.activeElement.closest('section').getAttribute('aria-label')"
    page.get_by_test_id("undo").focus()
    cards = [page.evaluate(card)]
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate(card) != cards[-1]:
            cards.append(page.evaluate(card))
        if cards[-1] == last:
            return cards
    raise AssertionError(f"Tab did not reach the {last} card: {cards}")


def test_tab_goes_from_the_pad_to_the_forward_view_beside_it(browser, url, sample):
    """Keyboard order follows the picture: from 1000 px wide, where the forward view sits beside the pad,
    Tab goes from Undo and Clear to it, then to the teach card under it; narrower, the forward view comes
    after the teach card on the screen and for Tab, and it goes back beside the pad when the window widens.
    No tabindex above 0 is needed."""
    page = open_page(browser, url, DESKTOP)
    draw_with_mouse(page, place(sample[0], page.get_by_test_id("canvas").bounding_box()))
    settle(page)  # the answer enables the teach card's digit buttons
    wide = ["drawing", "forward pass", "teach the network", "backward pass"]
    assert _cards_in_tab_order(page, "backward pass") == wide
    pad, forward = page.locator(".card.pad").bounding_box(), page.get_by_test_id("forward-view").bounding_box()
    assert forward["x"] > pad["x"] + pad["width"] and forward["y"] == pytest.approx(pad["y"])  # beside it
    page.set_viewport_size({"width": 900, "height": 900})
    assert _cards_in_tab_order(page, "backward pass") == ["drawing", "teach the network", "forward pass",
                                                          "backward pass"]
    teach, forward = page.locator(".card.teach").bounding_box(), page.get_by_test_id("forward-view").bounding_box()
    assert forward["y"] > teach["y"] + teach["height"]  # under the teach card
    page.set_viewport_size(DESKTOP["viewport"])
    assert _cards_in_tab_order(page, "backward pass") == wide
    assert page.evaluate("[...document.querySelectorAll('[tabindex]')].every((e) => e.tabIndex <= 0)")
    assert not page.errors
    page.close()


MATHML = "http://www.w3.org/1998/Math/MathML"
# An element as a term: name(children) or name:text, e.g. msup(mi:W,mrow(mo:(,mn:2,mo:))) for W^(2).
TERM = """(root) => { const term = (e) => e.children.length ? `${e.localName}(${[...e.children].map(term).join(",")})`
                                                       : `${e.localName}:${e.textContent.trim()}`;
                   return term(root); }"""


def _up(symbol: str, index: str) -> str:
    """The term of symbol^(index), as the course texts write a layer's quantity (delta^(k), W^(k))."""
    number = f"mn:{index}" if index.isdigit() else f"mi:{index}"
    return f"msup(mi:{symbol},mrow(mo:(,{number},mo:)))"


def _partial(top: str, bottom: str) -> str:
    return f"mfrac(mrow(mo:∂,{top}),mrow(mo:∂,{bottom}))"


def test_backward_formulas_are_mathematics_not_ascii(browser, url, sample, artifacts):
    """The backward view writes its formulas in MathML, as the course texts write them: delta^(k),
    W^(k), (a^(k-1))^T, sigma_k' and the Hadamard product, fractions for the derivatives. Chromium
    renders them as mathematics (display: math); the live numbers stay plain text."""
    page = open_page(browser, url, DESKTOP)
    paths, label = sample
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    settled_prediction(page)
    page.get_by_test_id(f"bw-label-{(label + 1) % 10}").click()
    page.wait_for_function("inside.backward !== null")
    settle(page)
    body = page.get_by_test_id("bw-body")
    text = body.text_content()
    for ascii_math in ("delta^", "sigma_", "dC/d", "^T", "a^(", "sum_"):
        assert ascii_math not in text, ascii_math
    assert body.locator("code").count() == 0  # no formula left as the library's text
    kinds = page.evaluate("""() => [...document.querySelectorAll('#bw-body math, .bw-step math')].map((m) =>
      [m.namespaceURI, getComputedStyle(m).display])""")
    # "math" is display: math, the inline layout of MathML Core; an element unknown to Chromium would be "inline"
    assert len(kinds) >= 8 and all(kind in ([MATHML, "math"], [MATHML, "inline math"]) for kind in kinds)
    term = lambda testid: page.get_by_test_id(testid).locator("math").evaluate(TERM)  # noqa: E731
    delta = term("bw-formula-delta-1")  # the hidden layer of 784-800-10: layer 1 of L = 2
    assert delta.startswith(f"math({_up('δ', '1')},mo:=,")
    assert "msubsup(mi:σ,mn:1,mo:′)" in delta and "mo:⊙" in delta
    assert f"msup(mrow(mo:(,{_up('W', '2')},mo:)),mi:T),{_up('δ', '2')}" in delta
    assert term("bw-formula-dW-1") == (f"math({_partial('mi:C', _up('W', '1'))},mo:=,"
                                       f"mrow({_up('δ', '1')},msup(mrow(mo:(,{_up('a', '0')},mo:)),mi:T)))")
    assert term("bw-formula-db-2") == f"math({_partial('mi:C', _up('b', '2'))},mo:=,{_up('δ', '2')})"
    assert term("bw-formula-delta_output") == (f"math({_up('δ', 'L')},mo:=,{_partial('mi:C', _up('z', 'L'))},mo:=,"
                                               f"mfrac(mrow({_up('a', 'L')},mo:−,mi:y),mi:m))")
    loss = term("bw-formula-loss")
    assert loss.startswith("math(mi:C,mo:=,mo:−,mfrac(mn:1,mi:m),msub(mo:∑,mi:x),msub(mo:∑,mi:i),")
    assert "msubsup(mi:a,mi:i,mrow(mo:(,mi:L,mo:)))" in loss
    assert term("bw-formula-input_gradient").startswith(f"math({_partial('mi:C', 'mi:x')},mo:=,")
    # a fraction is drawn as one: its numerator above its denominator
    over = page.get_by_test_id("bw-formula-dW-1").locator("mfrac > mrow")
    assert over.nth(0).bounding_box()["y"] + over.nth(0).bounding_box()["height"] <= over.nth(1).bounding_box()["y"] + 1
    assert page.get_by_test_id("bw-loss").text_content().startswith("C = ")  # live numbers: text
    assert "max |δ| = " in page.get_by_test_id("bw-layer-0").text_content()
    page.get_by_test_id("backward-view").screenshot(path=artifacts / "inspect-backward-mathml.png")
    assert not page.errors
    page.close()


def _math_kinds(page, selector: str) -> list[list[str]]:
    """The namespace and display of each element ``selector`` selects."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].map((m) =>
      [m.namespaceURI, getComputedStyle(m).display])""", selector)


def _of_unit(symbol: str, unit: int, layer: int) -> str:
    """The term of symbol_unit^(layer), e.g. z_7^(1)."""
    return f"msubsup(mi:{symbol},mn:{unit},mrow(mo:(,mn:{layer},mo:)))"


def test_unit_panel_saliency_and_train_formulas_are_mathematics(browser, url, sample, artifacts):
    """The unit panel, the saliency caption and the Train view write their formulas in MathML, in
    docs/math.md's notation, as the backward view does: the unit's z_j^(k) = sum_i W_ji^(k) a_i^(k-1) + b_j^(k)
    with its own unit and layer numbers, a_j^(k) by the layer's activation (softmax of the whole z^(L)),
    d a_k^(L)/dx for the saliency, W^(1) and |dC/dW^(k)| in the Train view; the live numbers stay text."""
    page = open_page(browser, url, DESKTOP)
    assert page.locator("[data-testid=saliency-formula] math").count() == 1
    term = lambda testid: page.get_by_test_id(testid).locator("math").evaluate(TERM)  # noqa: E731
    assert term("saliency-formula") == f"math({_partial('msubsup(mi:a,mi:k,mrow(mo:(,mi:L,mo:)))', 'mi:x')})"
    assert term("train-weights-formula") == f"math({_up('W', '1')})"
    assert term("train-norms-formula") == f"math(mo:|,{_partial('mi:C', _up('W', 'k'))},mo:|)"
    hint = page.get_by_test_id("fw-unit-hint").locator("math")
    assert [hint.nth(i).evaluate(TERM) for i in range(hint.count())] == [
        "math(mi:z)", "math(mi:a,mo:=,mrow(mi:σ,mo:(,mi:z,mo:)))", "math(mi:b)"]
    assert page.locator("main sup, main sub").count() == 0  # no formula left as HTML superscripts
    paths, label = sample
    draw_with_mouse(page, place(paths, page.get_by_test_id("canvas").bounding_box()))
    settle(page)
    page.get_by_test_id("fw-layer-0").locator(".unit").nth(7).click()
    page.wait_for_function("inside.selected && inside.selected[1] === 7")
    settle(page)
    activation = page.evaluate("inside.forward.layers[0].activation")
    assert term("fw-formula-z") == (f"math({_of_unit('z', 7, 1)},mo:=,mrow(msub(mo:∑,mi:i),"
                                    "msubsup(mi:W,mrow(mn:7,mo:,,mi:i),mrow(mo:(,mn:1,mo:))),"
                                    f"msubsup(mi:a,mi:i,mrow(mo:(,mn:0,mo:))),mo:+,{_of_unit('b', 7, 1)}))")
    assert term("fw-formula-a") == (f"math({_of_unit('a', 7, 1)},mo:=,"
                                    f"mrow(mi:{activation},mo:(,{_of_unit('z', 7, 1)},mo:)))")
    assert term("fw-formula-b") == f"math({_of_unit('b', 7, 1)})"
    weights = page.get_by_test_id("fw-unit").locator("figcaption math")  # row 7 of W^(1), the unit's own
    assert weights.evaluate(TERM) == "math(msubsup(mi:W,mrow(mn:7,mo:,,mi:i),mrow(mo:(,mn:1,mo:))))"
    assert float(page.get_by_test_id("fw-z").text_content()) == pytest.approx(
        page.evaluate("inside.forward.layers[0].z[7]"), abs=1e-4)  # the number: text
    unit = page.get_by_test_id("fw-unit")
    assert unit.locator("code, sup, sub").count() == 0
    unit.screenshot(path=artifacts / "inspect-unit-panel-mathml.png")
    page.get_by_test_id("fw-layer-1").locator(".unit").nth(3).click()  # an output of the softmax layer
    page.wait_for_function("inside.selected && inside.selected[0] === 1 && inside.selected[1] === 3")
    settle(page)
    assert term("fw-formula-a") == (f"math({_of_unit('a', 3, 2)},mo:=,"
                                    f"msub(mrow(mi:softmax,mo:(,{_up('z', '2')},mo:)),mn:3))")
    kinds = _math_kinds(page, ".seen math, #fw-unit math, #train math")
    assert len(kinds) == 7 and all(kind in ([MATHML, "math"], [MATHML, "inline math"]) for kind in kinds)
    page.locator(".card.seen").screenshot(path=artifacts / "draw-seen-mathml.png")
    assert not page.errors
    page.close()


def test_confidence_view_reports_coverage_on_mnist(browser, url, sample, digit_model, mnist, artifacts):
    page = open_page(browser, url, DESKTOP)
    page.wait_for_function("inside.coverage !== null", timeout=20_000)
    answered, accuracy = coverage(digit_model.predict_proba(mnist.test_images), mnist.test_labels, np.array([0.8]))
    text = page.get_by_test_id("conf-stats").text_content()
    assert f"{100 * answered[0]:.1f}%" in text and f"{100 * accuracy[0]:.2f}%" in text
    draw_with_mouse(page, place(sample[0], page.get_by_test_id("canvas").bounding_box()))
    settle(page)
    confidence = page.evaluate("lastResult.confidence")
    page.get_by_test_id("conf-threshold").fill("0.99")
    verdict = page.get_by_test_id("conf-verdict").text_content()
    assert verdict == ("not sure" if confidence < 0.99 else str(sample[1]))
    page.get_by_test_id("conf-threshold").fill("0")
    assert page.get_by_test_id("conf-verdict").text_content() == str(sample[1])
    page.get_by_test_id("conf-threshold").fill("0.9")
    page.get_by_test_id("conf-threshold").blur()
    page.get_by_test_id("confidence-view").screenshot(path=artifacts / "inspect-confidence-desktop.png")
    assert not page.errors
    page.close()


def test_live_training_shows_a_falling_loss_and_its_model_can_draw(browser, digit_model, mnist, tmp_path, artifacts):
    with running_server(create_app(net=digit_model, data_dir=tmp_path)) as address:
        page = open_page(browser, address, DESKTOP)
        form = page.get_by_test_id("train-form")
        for name, value in {"width": "24", "steps": "600", "report_every": "100"}.items():
            form.locator(f"[name={name}]").fill(value)
        page.get_by_test_id("train-start").click()
        page.wait_for_function("training.state === 'done'", timeout=30_000)
        reports = page.evaluate("training.reports")
        assert [r["step"] for r in reports] == [100, 200, 300, 400, 500, 600]
        assert reports[-1]["loss"] < reports[0]["loss"] and reports[-1]["val_loss"] < reports[0]["val_loss"]
        assert len(reports[-1]["grad_norms"]) == 2 and min(reports[-1]["grad_norms"]) > 0
        assert page.evaluate("document.getElementById('train-weights').width") > 100  # 16 weight images drawn
        norms = page.get_by_test_id("train-norms").locator("math")  # each layer's row, named as in math.md
        assert [norms.nth(k).evaluate(TERM) for k in range(norms.count())] == [f"math({_up('W', '1')})",
                                                                                f"math({_up('W', '2')})"]
        page.get_by_test_id("train-view").screenshot(path=artifacts / "train-live-desktop.png")
        page.get_by_test_id("train-use").click()
        page.wait_for_function(
            "document.getElementById('model-info').textContent.includes('adapted copy 784–24–10')")
        assert not page.errors
        page.close()


def test_phone_views_fit_the_screen_and_answer_taps(browser, url, sample, artifacts):
    page = open_page(browser, url, PHONE)
    canvas = page.get_by_test_id("canvas")
    draw_with_touch(page, place(sample[0], canvas.bounding_box(), 0.6))
    settle(page)
    page.wait_for_timeout(400)  # a tap right after a touch stroke would read as a double tap
    page.get_by_test_id("fw-layer-0").locator(".unit").nth(5).tap()
    page.wait_for_function("inside.selected && inside.selected[1] === 5")
    assert page.get_by_test_id("fw-z").text_content() != ""
    page.get_by_test_id(f"bw-label-{sample[1]}").tap()
    page.wait_for_function("inside.backward !== null")
    settle(page)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    page.get_by_test_id("nav-forward").tap()
    page.screenshot(path=artifacts / "inspect-phone-forward.png")
    page.get_by_test_id("backward-view").scroll_into_view_if_needed()
    page.get_by_test_id("backward-view").screenshot(path=artifacts / "inspect-phone-backward.png")
    page.screenshot(path=artifacts / "inspect-phone-full.png", full_page=True)
    assert not page.errors
    page.close()


def _start_a_long_run(page, **settings) -> None:
    """A run of 784-16-10 on MNIST long enough to be paused and stopped, reporting every 100 steps."""
    form = page.get_by_test_id("train-form")
    for name, value in {"width": "16", "steps": "100000", "report_every": "100", **settings}.items():
        form.locator(f"[name={name}]").fill(value)
    page.get_by_test_id("train-start").click()


def _server_steps(page) -> list[int]:
    return page.evaluate("fetch('/api/train/status').then((r) => r.json()).then((s) => s.reports.map((r) => r.step))")


def test_live_training_keeps_each_report_once_through_pause_resume_and_a_second_page(browser, digit_model, mnist,
                                                                                      tmp_path):
    """Pause, resume and stop answer with all of the run's reports: a page keeps each once, in step
    order, as the server has them; so does a second page that stops the run."""
    with running_server(create_app(net=digit_model, data_dir=tmp_path)) as address:
        page = open_page(browser, address, DESKTOP)
        _start_a_long_run(page)
        page.wait_for_function("training.reports.length >= 3", timeout=30_000)
        for _ in range(2):
            page.get_by_test_id("train-pause").click()
            page.wait_for_function("training.state === 'paused'")
            reports = page.evaluate("training.reports.length")
            page.get_by_test_id("train-resume").click()
            page.wait_for_function(f"training.state === 'running' && training.reports.length >= {reports + 2}")
        other = open_page(browser, address, DESKTOP)
        other.wait_for_function("training.reports.length > 0")
        other.get_by_test_id("train-stop").click()
        for shown in (other, page):
            shown.wait_for_function("training.state === 'stopped'", timeout=10_000)
            steps = shown.evaluate("training.reports.map((r) => r.step)")
            assert steps == _server_steps(shown) and steps == sorted(set(steps))
            assert not shown.errors
            shown.close()


def test_train_form_starts_on_enter_names_a_bad_field_and_shows_the_run_after_a_reload(browser, digit_model, mnist,
                                                                                      tmp_path):
    with running_server(create_app(net=digit_model, data_dir=tmp_path)) as address:
        page = open_page(browser, address, DESKTOP)
        form = page.get_by_test_id("train-form")
        status = page.get_by_test_id("train-status")
        form.locator("[name=width]").fill("")
        form.locator("[name=width]").press("Enter")
        assert status.text_content() == "width: enter a whole number from 1 to 1024"
        form.locator("[name=width]").fill("24")
        form.locator("[name=lr]").fill("20")
        form.locator("[name=lr]").press("Enter")
        assert status.text_content() == "lr: enter a number from 0.000001 to 10"
        assert page.evaluate("training.state") == "idle"  # nothing was sent
        form.locator("[name=lr]").fill("0.02")
        form.locator("[name=activation]").select_option("tanh")
        for name, value in {"steps": "100000", "report_every": "100"}.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("[name=steps]").press("Enter")
        page.wait_for_function("training.reports.length > 0", timeout=30_000)
        page.get_by_test_id("train-pause").click()
        page.wait_for_function("training.state === 'paused'")
        page.reload()
        page.wait_for_function("typeof training !== 'undefined' && training.state === 'paused'")
        shown = {name: form.locator(f"[name={name}]").input_value()
                 for name in ("width", "lr", "activation", "steps", "report_every")}
        assert shown == {"width": "24", "lr": "0.02", "activation": "tanh", "steps": "100000", "report_every": "100"}
        page.get_by_test_id("train-stop").click()
        page.wait_for_function("training.state === 'stopped'", timeout=10_000)
        assert not page.errors
        page.close()
