// chainrule drawing page: a pen pad whose strokes are sent to the server (WebSocket, falling back
// to POST /api/predict) at most once per animation frame with at most one request in flight; each
// answer is shown by every view in VIEWS. To add a view, write {init(), render(result)} and add it.
"use strict";

let pad = null;          // the drawing pad (static/pad.js), created in start()
let roundStrokes = null; // from static/pad.js too

const net = { socket: null, socketReady: false, inFlight: false, dirty: false, framePending: false, nextId: 1, sentAt: 0 };
let lastResult = null;

function strokesChanged() {
  document.getElementById("hint").classList.toggle("hidden", pad.strokes.length > 0);
  net.dirty = true;
  scheduleFrame();
}

// ---- talking to the server ----------------------------------------------------------------------
function scheduleFrame() {
  if (net.framePending) return;
  net.framePending = true;
  requestAnimationFrame(frame);
}

// One animation frame: repaint the pad, and send the strokes if they changed and nothing is in flight.
function frame() {
  net.framePending = false;
  pad.redraw();
  if (!net.dirty || net.inFlight) return;
  net.dirty = false;
  if (pad.strokes.length === 0) {
    showResult(null);
    return;
  }
  net.inFlight = true;
  net.sentAt = performance.now();
  const message = { id: net.nextId++, strokes: roundStrokes(pad.strokes) };
  if (net.socketReady) {
    net.socket.send(JSON.stringify(message));
  } else {
    postJSON("/api/predict", message).then(received, failed);
  }
}

function received(result) {
  net.inFlight = false;
  if (result.error) {
    setStatus(result.error);
  } else if (pad.strokes.length > 0) {
    result.roundTrip = performance.now() - net.sentAt;
    showResult(result);
  }
  if (net.dirty) scheduleFrame();
}

function failed(error) {
  net.inFlight = false;
  setStatus(`server not reachable (${error.message || error}); is chainrule draw still running?`);
}

function connectSocket() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => { net.socket = socket; net.socketReady = true; };
  socket.onmessage = (event) => received(JSON.parse(event.data));
  socket.onclose = () => {
    const wasInFlight = net.socketReady && net.inFlight;
    net.socketReady = false;
    if (wasInFlight) { net.inFlight = false; net.dirty = true; scheduleFrame(); }
    setTimeout(connectSocket, 2000);
  };
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}),
  });
  const data = await response.json();
  if (!response.ok && !data.error) data.error = `${response.status} ${response.statusText}`;
  return data;
}

// ---- views: each shows one part of a result (null = nothing drawn) ------------------------------
function showResult(result) {
  lastResult = result && !result.empty ? result : null;
  for (const view of VIEWS) view.render(lastResult);
}

const verdictView = {
  init() {},
  render(result) {
    document.getElementById("prediction").textContent = result ? String(result.digit) : "";
    document.getElementById("confidence").textContent =
      result ? `${(100 * result.confidence).toFixed(1)}% sure` : "draw a digit";
    document.getElementById("latency").textContent =
      result ? `server ${result.ms.toFixed(1)} ms · round trip ${result.roundTrip.toFixed(0)} ms` : "";
  },
};

// On a phone the result card lies below the pad, off screen while drawing: a compact answer (the
// digit, its probability and ten tiny bars) sits over the pad's corner instead (style.css shows it).
const padAnswerView = {
  init() {
    const strip = document.getElementById("pad-bars");
    for (let k = 0; k < 10; k++) strip.appendChild(document.createElement("span"));
  },
  render(result) {
    document.getElementById("pad-answer").classList.toggle("empty", !result);
    document.getElementById("pad-digit").textContent = result ? String(result.digit) : "";
    document.getElementById("pad-confidence").textContent = result ? `${(100 * result.confidence).toFixed(0)}%` : "";
    const bars = document.getElementById("pad-bars").children;
    for (let k = 0; k < 10; k++) {
      bars[k].style.height = `${result ? (100 * result.probabilities[k]).toFixed(0) : 0}%`;
      bars[k].classList.toggle("best", !!result && k === result.digit);
    }
  },
};

const barsView = {
  init() {
    const list = document.getElementById("bars");
    for (let k = 0; k < 10; k++) {
      const item = document.createElement("li");
      item.innerHTML = `<span class="label">${k}</span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
      item.dataset.testid = `bar-${k}`;
      list.appendChild(item);
    }
  },
  render(result) {
    const items = document.getElementById("bars").children;
    for (let k = 0; k < 10; k++) {
      const p = result ? result.probabilities[k] : 0;
      items[k].querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
      items[k].querySelector(".value").textContent = result ? `${(100 * p).toFixed(1)}%` : "";
      items[k].classList.toggle("best", !!result && k === result.digit);
    }
  },
};

const inputView = {
  init() {},
  render(result) {
    paintPixels("input28", result, (i) => {
      const v = result.image[i];
      return [v, v, v];
    });
    // Saliency over the faint input: red where the gradient is positive, blue where negative.
    paintPixels("saliency", result, (i) => {
      const s = result.saliency[i], base = result.image[i] * 0.25;
      const a = Math.min(1, Math.abs(s) * 1.5);
      return s >= 0 ? [base + (255 - base) * a, base * (1 - a), base * (1 - a)]
                    : [base * (1 - a), base * (1 - a) + 90 * a, base + (255 - base) * a];
    });
  },
};

// An ImageData of width x height whose pixel i (row by row) has the colour color(i) = [r, g, b].
function pixelImage(ctx, width, height, color) {
  const image = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([...color(i), 255], 4 * i);
  return image;
}

function paintPixels(id, result, color) {
  const ctx = document.getElementById(id).getContext("2d");
  ctx.putImageData(pixelImage(ctx, 28, 28, result ? color : () => [0, 0, 0]), 0, 0);
}

// Ten buttons 0..9 in the element `containerId`, test ids `${prefix}${k}`, calling onPick(k).
function digitButtons(containerId, prefix, title, onPick) {
  const container = document.getElementById(containerId);
  for (let k = 0; k < 10; k++) {
    const button = document.createElement("button");
    button.textContent = String(k);
    button.dataset.testid = `${prefix}${k}`;
    button.title = title(k);
    button.addEventListener("click", () => onPick(k));
    container.appendChild(button);
  }
}

const teachView = {
  init() {
    digitButtons("labels", "label-", (k) => `Save this drawing as a ${k}`, correct);
    document.getElementById("adapt").addEventListener("click", adapt);
    document.getElementById("reset").addEventListener("click", resetModel);
  },
  render(result) {
    for (const button of document.getElementById("labels").children) button.disabled = !result;
  },
};

const VIEWS = [verdictView, padAnswerView, barsView, inputView, teachView];

// ---- teaching: corrections and adaptation ---------------------------------------------------------
async function correct(label) {
  if (pad.strokes.length === 0) return;
  const answer = await postJSON("/api/correct", { strokes: roundStrokes(pad.strokes), label });
  if (answer.error) return setStatus(answer.error);
  setStatus(`Saved as a ${label}. ${answer.corrections} correction${answer.corrections === 1 ? "" : "s"} so far.`);
  pad.clear();
}

async function adapt() {
  const answer = await postJSON("/api/adapt");
  if (answer.error) return setStatus(answer.error);
  showAdaptStatus(answer);
  pollAdapt();
}

async function pollAdapt() {
  const info = await (await fetch("/api/info")).json();
  showAdaptStatus(info.adapt);
  if (info.adapt.state === "running") setTimeout(pollAdapt, 1000);
  else { net.dirty = true; scheduleFrame(); showModel(info); }
}

async function resetModel() {
  const answer = await postJSON("/api/reset");
  if (answer.error) return setStatus(answer.error);
  showAdaptStatus(answer);
  net.dirty = true;
  scheduleFrame();
  showModel(await (await fetch("/api/info")).json());
}

function showAdaptStatus(status) {
  document.getElementById("adapt").disabled = status.state === "running";
  setStatus(status.message);
}

function showShare(info) {
  // LAN mode: the link with its token, for phones, as a QR code the server draws (no CDN)
  const share = document.getElementById("share");
  if (!info.share || !share.hidden) return;
  document.getElementById("share-qr").src = "/api/share.svg";
  const link = document.getElementById("share-link");
  link.href = info.share;
  link.textContent = info.share.replace(/\?token=.*/, "?token=…");
  share.hidden = false;
}

function showModel(info) {
  const kind = info.adapt.adapted ? "adapted copy" : "model";
  document.getElementById("model-info").textContent =
    `${kind} ${info.layers.join("–")} · ${info.corrections} saved correction${info.corrections === 1 ? "" : "s"}`;
}

function setStatus(text) {
  document.getElementById("teach-status").textContent = text || "";
}

// ---- start ----------------------------------------------------------------------------------------
function onKey(event) {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    pad.undo();
  } else if (["Escape", "Delete", "Backspace"].includes(event.key) && !event.target.closest("input, textarea")) {
    event.preventDefault();
    pad.clear();
  }
}

// The pad module is loaded before the socket opens, so a page whose socket is ready takes ink.
async function start() {
  for (const view of VIEWS) view.init();
  showResult(null);
  const shared = await import("/static/pad.js");
  roundStrokes = shared.roundStrokes;
  pad = shared.createPad(document.getElementById("pad"), strokesChanged);
  document.getElementById("undo").addEventListener("click", pad.undo);
  document.getElementById("clear").addEventListener("click", pad.clear);
  document.addEventListener("keydown", onKey);
  connectSocket();
  fetch("/api/info").then((r) => r.json()).then((info) => { showModel(info); showAdaptStatus(info.adapt); showShare(info); });
}

start();
