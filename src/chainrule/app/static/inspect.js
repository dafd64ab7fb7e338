// chainrule drawing page, "look inside": the forward pass live (each layer's activations, a unit's
// z, a and b, switching units off and scaling their weights), the backward pass step by step (loss,
// every delta, dC/dW and dC/db, the input gradient, one gradient step) and the confidence threshold.
// All numbers come from the server (/api/inspect/*, /api/confidence), computed by the library on a
// lab copy of the model that belongs to this page alone. Loaded after app.js; adds itself to VIEWS.
"use strict";

const inside = {
  session: `s${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`,
  image: null,        // the 28x28 input (784 numbers) of the latest prediction, or null
  busy: false, dirty: false,
  forward: null,      // the latest /api/inspect/forward answer
  backward: null,     // the latest /api/inspect/backward answer
  label: null,        // the digit the user says it should be
  selected: null,     // [layer, unit] shown in the unit panel
  pinned: false,
  lastStep: null,
  weights: new Map(), // "version:unit" -> first-layer weights
  edits: Promise.resolve(),  // unit edits run one after another: the lab copy gets them in the order made
  coverage: null,
};

// ---- colours -------------------------------------------------------------------------------------
function seqColor(v) {          // 0..1: pale to deep blue
  const t = Math.max(0, Math.min(1, v));
  return [Math.round(238 - 209 * t), Math.round(242 - 164 * t), Math.round(250 - 34 * t)];
}
function divColor(v) {          // -1..1: blue (negative), white, red (positive), as the saliency
  const t = Math.max(-1, Math.min(1, v));
  return t >= 0 ? [255, Math.round(255 - 200 * t), Math.round(255 - 215 * t)]
                : [Math.round(255 + 215 * t), Math.round(255 + 160 * t), 255];
}
const css = ([r, g, b]) => `rgb(${r},${g},${b})`;
const maxAbs = (values) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
const fmt = (v, digits = 4) => (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(digits) : v.toExponential(2));

function paintImage(canvas, values, width, height, color) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.putImageData(pixelImage(ctx, width, height, (i) => color(values[i])), 0, 0);
}
function paintSigned(canvas, values, width, height) {
  const scale = maxAbs(values);
  paintImage(canvas, values, width, height, (v) => divColor(v / scale));
}

// A grid of n unit cells: 10, 20 or 40 columns (sizes set in style.css) so that wide layers stay compact.
function gridShape(element, n) {
  element.dataset.columns = n <= 100 ? 10 : n <= 400 ? 20 : 40;
  element.style.setProperty("--columns", element.dataset.columns);
}

// ---- talking to the server (one request chain at a time, the newest drawing wins) -----------------
function insideRender(result) {
  inside.image = result ? result.image : null;
  if (inside.lastStep && !sameImage(inside.lastStep.image, inside.image)) showStep(null);  // it was another drawing's
  inside.dirty = true;
  pumpInside();
}

function sameImage(a, b) {
  return !!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]);
}

async function pumpInside() {
  if (inside.busy || !inside.dirty) return;
  inside.dirty = false;
  if (!inside.image) {
    inside.forward = inside.backward = null;
    renderForward();
    renderBackward();
    return;
  }
  inside.busy = true;
  const body = { session: inside.session, image: inside.image };
  try {
    const forward = await postJSON("/api/inspect/forward", body);
    showForwardStatus(forward.error || "");
    if (!forward.error) { inside.forward = forward; renderForward(); }
    if (inside.label !== null && !inside.dirty) {
      const backward = await postJSON("/api/inspect/backward", { ...body, label: inside.label });
      if (!backward.error) { inside.backward = backward; renderBackward(); }
    }
  } catch (error) {
    showForwardStatus(unreachableText(error));
  } finally {
    inside.busy = false;
    if (inside.dirty) pumpInside();
  }
}

function refreshInside() { inside.dirty = true; pumpInside(); }

const unreachableText = (error) => `server not reachable (${error.message || error})`;

// Under the unit panel, so that a message never replaces the unit's controls; "" hides it.
function showForwardStatus(text) {
  const status = document.getElementById("fw-status");
  status.textContent = text;
  status.hidden = !text;
}

// ---- forward view --------------------------------------------------------------------------------
// From 1000 px wide (style.css) the view sits beside the pad, after the answer; narrower, after the teach
// card. The keyboard's Tab order and screen readers follow the page's order, not the picture's, so the
// view moves in the page too; style.css places every card by its grid area, wherever it is in the page.
const WIDE = matchMedia("(min-width: 1000px)");

function placeForward() {
  const forward = document.getElementById("forward"), focused = document.activeElement;
  const drawing = document.querySelector(".layout > .drawing"), backward = document.getElementById("backward");
  if (WIDE.matches ? drawing.nextElementSibling === forward : backward.previousElementSibling === forward) return;
  if (WIDE.matches) drawing.after(forward);
  else backward.before(forward);
  if (forward.contains(focused)) focused.focus({ preventScroll: true });  // a moved element loses the focus
}

function layerTitle(k, count, activation) {
  return k === count - 1 ? `output layer ${k + 1} · ${activation}` : `hidden layer ${k + 1} · ${activation}`;
}

function buildForward(layers) {
  const root = document.getElementById("fw-layers");
  root.innerHTML = "";
  layers.forEach((layer, k) => {
    const block = document.createElement("div");
    const output = k === layers.length - 1;
    block.className = output ? "fw-layer fw-output" : "fw-layer";
    block.innerHTML = `<div class="fw-title">${layerTitle(k, layers.length, layer.activation)} · ${layer.a.length} units</div>`;
    const cells = document.createElement("div");
    cells.className = output ? "fw-bars" : "fw-cells";
    if (!output) gridShape(cells, layer.a.length);
    cells.dataset.testid = `fw-layer-${k}`;
    layer.a.forEach((_, j) => {
      const cell = document.createElement("button");
      cell.className = "unit";
      cell.dataset.layer = k;
      cell.dataset.unit = j;
      cell.setAttribute("aria-label", `layer ${k + 1} unit ${j}`);
      cell.tabIndex = -1;
      if (output) cell.innerHTML = `<span class="bar"></span><span class="bar-label">${j}</span>`;
      cell.addEventListener("pointerenter", () => { if (!inside.pinned) selectUnit(k, j); });
      cell.addEventListener("click", () => { inside.pinned = true; selectUnit(k, j); });
      cells.appendChild(cell);
    });
    block.appendChild(cells);
    root.appendChild(block);
  });
  root.dataset.shape = layers.map((l) => l.a.length).join("-");
  rove(unitCell(...(inside.selected || [0, 0])) || root.querySelector(".unit"));
}

function unitCell(k, j) {
  return document.querySelector(`#fw-layers [data-layer="${k}"][data-unit="${j}"]`);
}

// Hundreds of units must not be hundreds of Tab presses: the grid is one tab stop (roving tabindex),
// the unit last focused or selected, so that Tab goes from the grid on to the unit's controls.
function rove(cell) {
  if (!cell) return;
  document.querySelectorAll('#fw-layers .unit[tabindex="0"]').forEach((c) => { c.tabIndex = -1; });
  cell.tabIndex = 0;
}

// Arrows move within a layer (up and down by its rows), Home and End go to its ends, Page Up and
// Page Down to the layer before or after; Enter and Space are the button's own click, which selects.
function unitKeyTarget(cell, key) {
  const layer = cell.parentElement;
  const j = Number(cell.dataset.unit), n = layer.children.length;
  const columns = Number(layer.dataset.columns || n);
  const within = { ArrowLeft: j - 1, ArrowRight: j + 1, ArrowUp: j - columns, ArrowDown: j + columns, Home: 0, End: n - 1 };
  if (key in within) return layer.children[within[key]] || null;
  const k = Number(cell.dataset.layer) + { PageUp: -1, PageDown: 1 }[key];
  return Number.isNaN(k) ? undefined : unitCell(k, 0);
}

function onUnitKey(event) {
  const cell = event.target.closest(".unit");
  const target = cell && unitKeyTarget(cell, event.key);
  if (target === undefined) return;
  event.preventDefault();  // an arrow scrolls the page otherwise, even where there is no unit to go to
  if (target) target.focus();
}

function onUnitFocus(event) {
  const cell = event.target.closest(".unit");
  if (!cell) return;
  rove(cell);
  if (!inside.pinned) selectUnit(Number(cell.dataset.layer), Number(cell.dataset.unit));  // as hovering does
}

// What the lab copy says, and how it differs from the pad's model: a gradient step changes every
// weight, so its answers may differ on every drawing until the lab copy is reset.
function forwardVerdict(fw) {
  const { off, scale, steps } = fw.edits;
  const edited = off.length + scale.length ? ` with ${off.length} unit(s) off and ${scale.length} scaled` : "";
  const stepped = steps ? `, after ${steps} gradient step${steps === 1 ? "" : "s"} on it (“Reset the lab copy” below undoes them)` : "";
  return `the lab copy says ${fw.digit} (${(100 * fw.probabilities[fw.digit]).toFixed(1)}%)${edited}${stepped}`;
}

function renderForward() {
  const fw = inside.forward;
  const root = document.getElementById("fw-layers");
  document.getElementById("fw-verdict").textContent = fw && inside.image ? forwardVerdict(fw) : "";
  if (!fw || !inside.image) {
    root.querySelectorAll(".unit").forEach((cell) => { cell.style.background = ""; cell.classList.remove("on"); });
    root.querySelectorAll(".bar").forEach((bar) => { bar.style.height = "0"; });
    return;
  }
  if (root.dataset.shape !== fw.layers.map((l) => l.a.length).join("-")) buildForward(fw.layers);
  const off = new Set(fw.edits.off.map(([k, j]) => `${k}:${j}`));
  const scaled = new Set(fw.edits.scale.map(([k, j]) => `${k}:${j}`));
  fw.layers.forEach((layer, k) => {
    const cells = root.querySelector(`[data-testid="fw-layer-${k}"]`).children;
    const output = k === fw.layers.length - 1;
    const bounded = ["sigmoid", "softmax"].includes(layer.activation);
    const scale = bounded ? 1 : maxAbs(layer.a);
    layer.a.forEach((a, j) => {
      const cell = cells[j];
      if (output) {
        cell.querySelector(".bar").style.height = `${(100 * a / scale).toFixed(1)}%`;
        cell.classList.toggle("on", j === fw.digit);
      } else {
        cell.style.background = css(layer.activation === "tanh" ? divColor(a / scale) : seqColor(a / scale));
      }
      cell.title = `z = ${fmt(layer.z[j])}, a = ${fmt(a)}`;
      cell.classList.toggle("off", off.has(`${k}:${j}`));
      cell.classList.toggle("scaled", scaled.has(`${k}:${j}`));
      cell.classList.toggle("selected", !!inside.selected && inside.selected[0] === k && inside.selected[1] === j);
    });
  });
  if (inside.selected) showUnit();
}

function selectUnit(k, j) {
  inside.selected = [k, j];
  document.querySelectorAll("#fw-layers .unit.selected").forEach((c) => c.classList.remove("selected"));
  const cell = unitCell(k, j);
  if (cell) cell.classList.add("selected");
  showUnit();
}

// The panel is built when another unit is shown and otherwise updated in place: a rebuilt panel
// would take the focus from the slider or checkbox in use at every answer.
function showUnit() {
  const fw = inside.forward;
  if (!fw || !inside.selected) return;
  const [k, j] = inside.selected;
  if (!fw.layers[k] || j >= fw.layers[k].a.length) return;
  const panel = document.getElementById("fw-unit");
  if (panel.dataset.unit !== `${k}:${j}`) buildUnitPanel(panel, k, j, k === fw.layers.length - 1);
  fillUnitPanel(panel, fw, k, j);
  if (k === 0) showWeights(j, fw.edits.version);
}

function buildUnitPanel(panel, k, j, last) {
  panel.dataset.unit = `${k}:${j}`;
  delete panel.dataset.formulas;
  panel.innerHTML = `
    <div class="unit-head"><span class="unit-name"></span> <button class="small quiet" id="fw-unpin" hidden>unpin</button></div>
    <table class="unit-values" data-testid="fw-unit-values">
      <tr><td>weighted sum <span class="eq" data-testid="fw-formula-z"></span></td><td data-testid="fw-z"></td></tr>
      <tr><td>activation <span class="eq" data-testid="fw-formula-a"></span></td><td data-testid="fw-a"></td></tr>
      <tr><td>bias <span class="eq" data-testid="fw-formula-b"></span></td><td data-testid="fw-b"></td></tr>
    </table>
    ${k === 0 ? `<figure class="unit-weights">
      <canvas id="fw-weights" width="28" height="28" data-testid="fw-weights"></canvas>
      <figcaption>its 784 weights ${mml.math(unitWeights(j, 1))} as a 28×28 image (red +, blue −)</figcaption>
      </figure>` : ""}
    <div class="unit-edit">
      ${last ? "" : '<label><input type="checkbox" id="fw-off" data-testid="fw-off"> switch off (outgoing weights 0)</label>'}
      <label>scale incoming weights × <input type="range" id="fw-scale" data-testid="fw-scale" min="0" max="2" step="0.05"> <output></output></label>
    </div>`;
  document.getElementById("fw-unpin").addEventListener("click", unpin);
  const offBox = document.getElementById("fw-off");
  if (offBox) offBox.addEventListener("change", () => editUnit(k, j, { off: offBox.checked }));
  const slider = document.getElementById("fw-scale");
  slider.addEventListener("input", () => { slider.nextElementSibling.textContent = Number(slider.value).toFixed(2); });
  slider.addEventListener("change", () => editUnit(k, j, { scale: Number(slider.value) }));
}

// A control in use keeps its value: an answer to an earlier edit must not take back a later one.
function fillUnitPanel(panel, fw, k, j) {
  const layer = fw.layers[k];
  const last = k === fw.layers.length - 1;
  const value = (testid) => panel.querySelector(`[data-testid="${testid}"]`);
  panel.querySelector(".unit-name").textContent =
    `${layerTitle(k, fw.layers.length, layer.activation)}, ${last ? "output" : "unit"} ${j}`;
  document.getElementById("fw-unpin").hidden = !inside.pinned;
  const formulas = `${k}:${j}:${layer.activation}`;  // another model may have another activation there
  if (panel.dataset.formulas !== formulas) {  // not at every answer: one comes at every move of the pen
    panel.dataset.formulas = formulas;
    const math = unitFormulas(k + 1, j, layer.activation);
    for (const name of ["z", "a", "b"]) value(`fw-formula-${name}`).innerHTML = math[name];
  }
  value("fw-z").textContent = fmt(layer.z[j]);
  value("fw-a").textContent = fmt(layer.a[j]);
  value("fw-b").textContent = fmt(layer.b[j]);
  const offBox = document.getElementById("fw-off");
  if (offBox && offBox !== document.activeElement) offBox.checked = fw.edits.off.some(([a, b]) => a === k && b === j);
  const slider = document.getElementById("fw-scale");
  const scale = (fw.edits.scale.find(([a, b]) => a === k && b === j) || [0, 0, 1])[2];
  if (slider !== document.activeElement) slider.value = scale;
  slider.nextElementSibling.textContent = Number(slider.value).toFixed(2);
}

// The unpin button goes away: the focus goes back to the grid, on the unit it showed.
function unpin() {
  inside.pinned = false;
  document.getElementById("fw-unpin").hidden = true;
  const cell = document.querySelector("#fw-layers .unit.selected");
  if (cell) cell.focus();
}

async function showWeights(j, version) {
  const key = `${version}:${j}`;
  if (!inside.weights.has(key)) {
    const answer = await postJSON("/api/inspect/unit", { session: inside.session, layer: 0, unit: j });
    if (answer.error) return;
    inside.weights.set(key, answer.weights);
  }
  const canvas = document.getElementById("fw-weights");
  if (canvas && inside.selected && inside.selected[0] === 0 && inside.selected[1] === j) {
    paintSigned(canvas, inside.weights.get(key), 28, 28);
  }
}

function editUnit(k, j, change) {
  inside.edits = inside.edits.then(async () => {
    const answer = await postJSON("/api/inspect/unit", { session: inside.session, layer: k, unit: j, ...change });
    showForwardStatus(answer.error || "");
    if (answer.error) return;
    inside.pinned = true;
    refreshInside();
  }).catch((error) => showForwardStatus(unreachableText(error)));
}

async function resetLab() {
  await postJSON("/api/inspect/reset", { session: inside.session });
  showStep(null);
  refreshInside();
}

// ---- formulas as MathML ---------------------------------------------------------------------------
// The library names each formula in ASCII (chainrule.inspection.FORMULAS); the page shows it as
// mathematics in the notation of docs/math.md: delta^(k) is δ⁽ᵏ⁾, sigma_k' is σ′ with subscript k,
// "*" the Hadamard product ⊙. Chromium renders MathML Core and screen readers read it, so the page
// needs no library; a formula the page does not know yet is shown as the library's text.
const mml = {
  i: (x) => `<mi>${x}</mi>`, n: (x) => `<mn>${x}</mn>`, o: (x) => `<mo>${x}</mo>`,
  row: (...parts) => `<mrow>${parts.join("")}</mrow>`,
  sup: (base, up) => `<msup>${base}${up}</msup>`,
  sub: (base, down) => `<msub>${base}${down}</msub>`,
  subsup: (base, down, up) => `<msubsup>${base}${down}${up}</msubsup>`,
  frac: (top, bottom) => `<mfrac>${top}${bottom}</mfrac>`,
  math: (...parts) => `<math>${parts.join("")}</math>`,
  // a formula of its own: fractions at full size, as written in the course texts (inline ones are compact)
  display: (math) => math.replace("<math>", '<math displaystyle="true">'),
};
const paren = (...parts) => mml.row(mml.o("("), ...parts, mml.o(")"));
const ofLayer = (symbol, index) => mml.sup(mml.i(symbol), paren(index));        // W^(k)
const ofLayerAt = (symbol, i, index) => mml.subsup(mml.i(symbol), mml.i(i), paren(index));  // a_i^(L)
const transposed = (...parts) => mml.sup(paren(...parts), mml.i("T"));
const partial = (top, bottom) => mml.frac(mml.row(mml.o("∂"), top), mml.row(mml.o("∂"), bottom));
const sigmaPrime = (index) => mml.subsup(mml.i("σ"), index, mml.o("′"));
const sumOver = (i) => mml.sub(mml.o("∑"), mml.i(i));
const applied = (f, ...argument) => mml.row(f, mml.o("("), ...argument, mml.o(")"));
const eq = (...parts) => mml.math(...parts.flatMap((part, i) => (i ? [mml.o("="), part] : [part])));
const squaredDistance = () => mml.sup(mml.row(mml.o("|"), applied(ofLayer("a", mml.i("L")), mml.i("x")), mml.o("−"),
                                              applied(mml.i("y"), mml.i("x")), mml.o("|")), mml.n(2));
const layerL = mml.i("L");  // the output layer's number in the formulas
const log = `${mml.i("log")}<mspace width="0.17em"/>`;  // MathML Core puts no space after "log" of itself
const space = '<mspace width="0.6em"/>';

// Keyed by the library's text; the layer formulas take the layer number k (1..L), as the view is per layer.
const FORMULA_MATHML = {
  "C = -1/m sum_x sum_i y_i log a_i^(L),  a^(L) = softmax(z^(L))": () =>
    mml.math(mml.i("C"), mml.o("="), mml.o("−"), mml.frac(mml.n(1), mml.i("m")), sumOver("x"), sumOver("i"),
             mml.sub(mml.i("y"), mml.i("i")), log, ofLayerAt("a", "i", layerL), mml.o(","), space,
             ofLayer("a", layerL), mml.o("="), applied(mml.i("softmax"), ofLayer("z", layerL))),
  "C = -1/m sum_x sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)]": () =>
    mml.math(mml.i("C"), mml.o("="), mml.o("−"), mml.frac(mml.n(1), mml.i("m")), sumOver("x"), sumOver("i"),
             mml.o("["), mml.sub(mml.i("y"), mml.i("i")), log, mml.sub(mml.i("a"), mml.i("i")), mml.o("+"),
             paren(mml.n(1), mml.o("−"), mml.sub(mml.i("y"), mml.i("i"))), mml.i("log"),
             paren(mml.n(1), mml.o("−"), mml.sub(mml.i("a"), mml.i("i"))), mml.o("]")),
  "C = sum_x |a^(L)(x) - y(x)|^2": () => mml.math(mml.i("C"), mml.o("="), sumOver("x"), squaredDistance()),
  "C = 1/2 sum_x |a^(L)(x) - y(x)|^2": () =>
    mml.math(mml.i("C"), mml.o("="), mml.frac(mml.n(1), mml.n(2)), sumOver("x"), squaredDistance()),
  "C = 1/m sum_x |a^(L)(x) - y(x)|^2": () =>
    mml.math(mml.i("C"), mml.o("="), mml.frac(mml.n(1), mml.i("m")), sumOver("x"), squaredDistance()),
  "delta^(L) = dC/dz^(L) = (a^(L) - y) / m": () =>
    eq(ofLayer("δ", layerL), partial(mml.i("C"), ofLayer("z", layerL)),
       mml.frac(mml.row(ofLayer("a", layerL), mml.o("−"), mml.i("y")), mml.i("m"))),
  "delta^(L) = sigma_L'(z^(L)) * dC/da^(L)": () =>
    eq(ofLayer("δ", layerL),
       mml.row(applied(sigmaPrime(layerL), ofLayer("z", layerL)), mml.o("⊙"),
               partial(mml.i("C"), ofLayer("a", layerL)))),
  "delta^(k) = sigma_k'(z^(k)) * (W^(k+1))^T delta^(k+1)": (k) =>
    eq(ofLayer("δ", mml.n(k)), mml.row(applied(sigmaPrime(mml.n(k)), ofLayer("z", mml.n(k))), mml.o("⊙"),
                                       transposed(ofLayer("W", mml.n(k + 1))), ofLayer("δ", mml.n(k + 1)))),
  "dC/dW^(k) = delta^(k) (a^(k-1))^T": (k) =>
    eq(partial(mml.i("C"), ofLayer("W", mml.n(k))),
       mml.row(ofLayer("δ", mml.n(k)), transposed(ofLayer("a", mml.n(k - 1))))),
  "dC/db^(k) = delta^(k)": (k) => eq(partial(mml.i("C"), ofLayer("b", mml.n(k))), ofLayer("δ", mml.n(k))),
  "dC/dx = (W^(1))^T delta^(1)  (times the input scaling)": () =>
    `${eq(partial(mml.i("C"), mml.i("x")), mml.row(transposed(ofLayer("W", mml.n(1))), ofLayer("δ", mml.n(1))))}
     <span class="subtle">(times the input scaling)</span>`,
};

// Unit j of layer n (1..L), docs/math.md's z^(n) = W^(n) a^(n-1) + b^(n) and a^(n) = sigma_n(z^(n)) written
// for the unit, with row j of W^(n): z_j^(n) = sum_i W_ji^(n) a_i^(n-1) + b_j^(n), and sigma_n by the layer's
// name. Softmax is no function of z_j alone: its a_j^(n) is softmax(z^(n))_j.
const ofUnit = (symbol, j, n) => mml.subsup(mml.i(symbol), mml.n(j), paren(mml.n(n)));  // z_j^(n)
const unitWeights = (j, n) => mml.subsup(mml.i("W"), mml.row(mml.n(j), mml.o(","), mml.i("i")), paren(mml.n(n)));

function unitFormulas(n, j, activation) {
  const sum = mml.row(sumOver("i"), unitWeights(j, n), ofLayerAt("a", "i", mml.n(n - 1)), mml.o("+"),
                      ofUnit("b", j, n));
  const f = mml.i(activation);
  const a = activation === "softmax" ? mml.sub(applied(f, ofLayer("z", mml.n(n))), mml.n(j))
                                     : applied(f, ofUnit("z", j, n));
  return { z: eq(ofUnit("z", j, n), sum), a: eq(ofUnit("a", j, n), a), b: mml.math(ofUnit("b", j, n)) };
}

// Formulas in the page's own text, where index.html puts data-math="name"; a fraction in a caption at full
// size, as an inline one would be too small to read there.
const PAGE_MATHML = {
  saliency: () => mml.display(mml.math(partial(ofLayerAt("a", "k", layerL), mml.i("x")))),  // k: the top digit
  "unit-z": () => mml.math(mml.i("z")),
  "unit-a": () => mml.math(mml.i("a"), mml.o("="), applied(mml.i("σ"), mml.i("z"))),
  "unit-b": () => mml.math(mml.i("b")),
  W1: () => mml.math(ofLayer("W", mml.n(1))),
  norm: () => mml.display(mml.math(mml.o("|"), partial(mml.i("C"), ofLayer("W", mml.i("k"))), mml.o("|"))),
};

function showPageFormulas() {
  document.querySelectorAll("[data-math]").forEach((slot) => { slot.innerHTML = PAGE_MATHML[slot.dataset.math](); });
}

// The formula `key` of the backward answer's formulas, for layer k where it is a layer's.
function formula(formulas, key, k) {
  const text = formulas[key], build = FORMULA_MATHML[text];
  const testid = `bw-formula-${key}${k === undefined ? "" : `-${k}`}`;
  return build ? `<span class="eq" data-testid="${testid}">${mml.display(build(k))}</span>`
               : `<code data-testid="${testid}">${text}</code>`;
}

// ---- backward view -------------------------------------------------------------------------------
function chooseLabel(k) {
  inside.label = k;
  document.querySelectorAll("#bw-labels button").forEach((b, i) => b.classList.toggle("chosen", i === k));
  document.getElementById("bw-step").disabled = !inside.image;
  refreshInside();
}

function strip(values, testid) {
  const scale = maxAbs(values);
  const cells = values.map((v, i) => `<span style="background:${css(divColor(v / scale))}" title="${i}: ${fmt(v, 6)}"></span>`).join("");
  const columns = values.length <= 100 ? 10 : values.length <= 400 ? 20 : 40;
  return `<div class="strip" data-columns="${columns}" style="--columns:${columns}" data-testid="${testid}">${cells}</div>`;
}

function renderBackward() {
  const body = document.getElementById("bw-body");
  const bw = inside.backward;
  document.getElementById("bw-step").disabled = !(inside.image && inside.label !== null);
  if (!bw || !inside.image) {
    body.innerHTML = `<p class="subtle">${inside.image ? "Say which digit it should be" : "Draw a digit and say which digit it should be"}: the loss and every δ, ∂C/∂W and ∂C/∂b appear here.</p>`;
    return;
  }
  const L = bw.layers.length;
  const f = bw.formulas;
  const out = bw.layers[L - 1];
  const rows = bw.probabilities.map((p, i) =>
    `<tr class="${i === bw.label ? "target" : ""}"><td>${i}</td><td>${fmt(p)}</td><td>${i === bw.label ? 1 : 0}</td><td>${fmt(out.delta[i], 5)}</td></tr>`).join("");
  const C = mml.i("C");
  let html = `
    <div class="bw-loss"><span>loss for “${bw.label}”</span>
      <strong data-testid="bw-loss">C = ${fmt(bw.loss, 5)}</strong>
      ${formula(f, "loss")}</div>
    <div class="bw-layers">`;
  for (let k = L - 1; k >= 0; k--) {
    const layer = bw.layers[k];
    const n = k + 1;
    html += `<div class="bw-layer" data-testid="bw-layer-${k}">${k === L - 1 ? `
      <div class="bw-title">output layer L = ${L}: ${formula(f, "delta_output")}</div>
      <table class="bw-table" data-testid="bw-output-table"><tr><th>i</th>
        <th>${mml.math(ofLayerAt("a", "i", layerL))}</th><th>${mml.math(mml.sub(mml.i("y"), mml.i("i")))}</th>
        <th>${mml.math(ofLayerAt("δ", "i", layerL))}</th></tr>${rows}</table>` : ""}
      <div class="bw-title">${k < L - 1 ? formula(f, "delta", n) : mml.math(ofLayer("δ", mml.n(n)))}
        <span class="subtle">max |δ| = ${fmt(maxAbs(layer.delta), 6)}</span></div>
      ${strip(layer.delta, `bw-delta-${k}`)}
      <div class="bw-title">${formula(f, "dW", n)}, ${formula(f, "db", n)}</div>`;
    if (k === 0) {
      html += `<div class="bw-images">${layer.dW_units.map((j, i) =>
        `<figure><canvas data-row="${i}" width="28" height="28"></canvas><figcaption>unit ${j}</figcaption></figure>`).join("")}</div>
        <p class="subtle">rows of ${mml.math(partial(C, ofLayer("W", mml.n(1))))} of the ${layer.dW_units.length} units
        whose weights a step would change most</p>`;
    } else {
      html += `<canvas class="bw-matrix" data-layer="${k}" data-testid="bw-dW-${k}"></canvas>
        <p class="subtle">row i is ${mml.math(ofLayerAt("δ", "i", mml.n(n)))} times
        ${mml.math(ofLayer("a", mml.n(k)))}: a column is zero where that unit of layer ${k} is silent</p>`;
    }
    html += "</div>";
  }
  html += `<div class="bw-layer"><div class="bw-title">input gradient ${formula(f, "input_gradient")}</div>
      <figure class="bw-input"><canvas id="bw-input" width="28" height="28" data-testid="bw-input-gradient"></canvas>
      <figcaption>${mml.math(partial(C, mml.i("x")))}: red pixels raise the loss if inked more</figcaption></figure>
      </div></div>`;
  body.innerHTML = html;
  body.querySelectorAll(".bw-images canvas").forEach((c) => paintSigned(c, bw.layers[0].dW_rows[Number(c.dataset.row)], 28, 28));
  body.querySelectorAll("canvas.bw-matrix").forEach((c) => {
    const dW = bw.layers[Number(c.dataset.layer)].dW;
    paintSigned(c, dW.flat(), dW[0].length, dW.length);
  });
  paintSigned(document.getElementById("bw-input"), bw.input_gradient, 28, 28);
}

function etaValue() { return Number((10 ** Number(document.getElementById("bw-eta").value)).toPrecision(2)); }

async function gradientStep() {
  if (!inside.image || inside.label === null) return;
  const image = inside.image;
  const answer = await postJSON("/api/inspect/step", { session: inside.session, image, label: inside.label, eta: etaValue() });
  if (answer.error) { document.getElementById("bw-step-result").textContent = answer.error; return; }
  showStep({ ...answer, image });
  refreshInside();
}

// The last step's loss before and after, with the drawing it was taken on (null: none to show).
function showStep(step) {
  inside.lastStep = step;
  const out = document.getElementById("bw-step-result");
  const say = (s) => `says ${s.digit} (${(100 * s.probabilities[s.digit]).toFixed(1)}%), C = ${fmt(s.loss, 5)}`;
  out.innerHTML = step ? `<span>before: ${say(step.before)}</span> <span class="arrow">→</span> <span>after one step with η = ${step.eta}: ${say(step.after)}</span>` : "";
  out.classList.toggle("better", !!step && step.after.loss < step.before.loss);
}

// ---- confidence view -----------------------------------------------------------------------------
function threshold() { return Number(document.getElementById("conf-threshold").value); }

async function loadCoverage() {
  inside.coverage = null;
  renderConfidence(lastResult);
  inside.coverage = await (await fetch("/api/confidence")).json();
  renderConfidence(lastResult);
}

function renderConfidence(result) {
  const t = threshold();
  document.getElementById("conf-threshold-value").textContent = t.toFixed(2);
  const verdict = document.getElementById("conf-verdict");
  verdict.textContent = !result ? "–" : result.confidence >= t ? String(result.digit) : "not sure";
  verdict.classList.toggle("unsure", !!result && result.confidence < t);
  const stats = document.getElementById("conf-stats");
  const cov = inside.coverage;
  if (!cov) { stats.textContent = "measuring on the MNIST test set…"; return; }
  if (!cov.available) { stats.textContent = cov.message || cov.error; drawCoverage(); return; }
  const i = Math.round(t * 100);
  const accuracy = cov.accuracy[i];
  stats.innerHTML = `At threshold ${t.toFixed(2)} the network answers <strong>${(100 * cov.answered[i]).toFixed(1)}%</strong> of the ${cov.samples.toLocaleString("en")} MNIST test digits, and <strong>${accuracy === null ? "–" : (100 * accuracy).toFixed(2) + "%"}</strong> of those answers are right.`;
  drawCoverage();
}

function sizedContext(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width, height = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return [ctx, width, height];
}

function drawCoverage() {
  const [ctx, w, h] = sizedContext(document.getElementById("conf-chart"));
  const cov = inside.coverage;
  ctx.clearRect(0, 0, w, h);
  if (!cov || !cov.available) return;
  const pad = { l: 34, r: 8, t: 8, b: 22 };
  const lowest = Math.min(...cov.answered, ...cov.accuracy.filter((v) => v !== null));
  const lo = Math.max(0, Math.floor(lowest * 20) / 20 - 0.05);  // the y axis starts just below the curves
  const x = (t) => pad.l + (t / 0.99) * (w - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (Math.max(v, lo) - lo) / (1 - lo)) * (h - pad.t - pad.b);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.strokeStyle = "#e3e6ec";
  for (const v of [lo, (lo + 1) / 2, 1]) {
    ctx.beginPath(); ctx.moveTo(pad.l, y(v)); ctx.lineTo(w - pad.r, y(v)); ctx.stroke();
    ctx.fillText(`${Math.round(v * 100)}%`, 2, y(v) + 4);
  }
  ctx.fillText("threshold 0", pad.l, h - 6);
  ctx.fillText("0.5", x(0.5) - 8, h - 6);
  ctx.fillText("0.99", w - pad.r - 22, h - 6);
  const line = (values, color) => {
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
    values.forEach((v, i) => { if (v !== null) ctx.lineTo(x(cov.thresholds[i]), y(v)); });
    ctx.stroke();
  };
  line(cov.answered, "#2563eb");
  line(cov.accuracy, "#15803d");
  ctx.strokeStyle = "#1d2230"; ctx.lineWidth = 1; ctx.setLineDash([3, 3]);
  ctx.beginPath(); ctx.moveTo(x(threshold()), pad.t); ctx.lineTo(x(threshold()), h - pad.b); ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = "#2563eb"; ctx.fillText("share answered", pad.l + 6, h - pad.b - 8);
  ctx.fillStyle = "#15803d"; ctx.fillText("accuracy of the answers", pad.l + 100, h - pad.b - 8);
}

// ---- wiring --------------------------------------------------------------------------------------
const insideView = {
  init() {
    placeForward();
    WIDE.addEventListener("change", placeForward);
    showPageFormulas();
    digitButtons("bw-labels", "bw-label-", (k) => `It should be a ${k}: show the backward pass for this target`, chooseLabel);
    const eta = document.getElementById("bw-eta");
    eta.addEventListener("input", () => { document.getElementById("bw-eta-value").textContent = String(etaValue()); });
    document.getElementById("bw-step").addEventListener("click", gradientStep);
    document.getElementById("lab-reset").addEventListener("click", resetLab);
    const units = document.getElementById("fw-layers");
    units.addEventListener("keydown", onUnitKey);
    units.addEventListener("focusin", onUnitFocus);
    document.getElementById("conf-threshold").addEventListener("input", () => renderConfidence(lastResult));
    new ResizeObserver(drawCoverage).observe(document.getElementById("conf-chart"));
    loadCoverage();
  },
  render(result) {
    insideRender(result);
    renderConfidence(result);
  },
};

insideView.init();
VIEWS.push(insideView);
