// chainrule drawing page: a pen pad whose strokes are sent to the server (WebSocket, falling back
// to POST /api/predict) at most once per animation frame with at most one request in flight; each
// answer is shown by every view in VIEWS. To add a view, write {init(), render(result)} and add it.
// While the server cannot be reached the pad says so, hides the answer once the drawing has changed
// and retries less and less often; once it answers again the drawing is sent again.
"use strict";

let pad = null;          // the drawing pad (static/pad.js), created in start()
let roundStrokes = null; // from static/pad.js too
let minInk = 0;          // pad units: set in start() from the pen width of static/pad.js

const net = {
  socket: null, socketReady: false, socketDelay: 0, inFlight: false, dirty: false, framePending: false,
  nextId: 1, sentAt: 0,
  offline: false,     // the last attempt to reach the server failed
  retryTimer: null,   // while set, no drawing is sent: the timer's frame sends the drawing as it is then
  retryDelay: 0,
  problem: "",        // why the drawing on the pad has no answer, other than an unreachable server
};
const OFFLINE = "no answer: the server is not reachable — retrying";
const TOO_LITTLE_INK = "too little ink: draw a digit";
const RETRY_FIRST_MS = 500, RETRY_LONGEST_MS = 4000;
let lastResult = null;

function strokesChanged() {
  document.getElementById("hint").classList.toggle("hidden", pad.strokes.length > 0);
  net.dirty = true;
  scheduleFrame();
}

// A tap or a dot is no digit, yet the network answers it, confidently: a drawing whose strokes together
// run shorter than minInk, or that fits in a minInk square, is not sent.
function tooLittleInk(strokes) {
  let length = 0, left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity;
  for (const stroke of strokes) {
    stroke.forEach(([x, y], i) => {
      if (i > 0) length += Math.hypot(x - stroke[i - 1][0], y - stroke[i - 1][1]);
      left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
    });
  }
  return length < minInk || (right - left < minInk && bottom - top < minInk);
}

// ---- talking to the server ----------------------------------------------------------------------
function scheduleFrame() {
  if (net.framePending) return;
  net.framePending = true;
  requestAnimationFrame(frame);
}

// One animation frame: repaint the pad, and send the strokes if they changed and nothing is in flight.
// A drawing too small to be a digit gets its message at once, without the server, once the pen is up.
function frame() {
  net.framePending = false;
  pad.redraw();
  if (!net.dirty || net.inFlight) return;
  if (pad.strokes.length === 0 || tooLittleInk(pad.strokes)) {
    net.dirty = false;
    noAnswer(pad.strokes.length && !pad.drawing ? TOO_LITTLE_INK : "");
  } else if (net.retryTimer) {
    if (lastResult || net.problem) noAnswer("");  // the answer or error shown is an older drawing's
  } else {
    send();
  }
}

function send() {
  net.dirty = false;
  net.inFlight = true;
  net.sentAt = performance.now();
  const message = { id: net.nextId++, strokes: roundStrokes(pad.strokes) };
  if (net.socketReady) {
    net.socket.send(JSON.stringify(message));
  } else {
    postJSON("/api/predict", message).then(received, unreachable);
  }
}

function received(result) {
  net.inFlight = false;
  reached();
  if (result.error) {
    noAnswer(result.error);
  } else if (pad.strokes.length > 0) {
    result.roundTrip = performance.now() - net.sentAt;
    net.problem = "";
    showResult(result);
    showNotice();
  }
  if (net.dirty) scheduleFrame();
}

// No answer for the drawing on the pad, for `problem` ("" if none but an unreachable server).
function noAnswer(problem) {
  net.problem = problem;
  showResult(null);
  showNotice();
}

function unreachable() {
  net.inFlight = false;
  net.dirty = true;  // the drawing still wants its answer: the retry sends it
  lostServer();
  scheduleFrame();
}

function lostServer() {
  net.offline = true;
  showNotice();
  if (net.retryTimer) return;
  net.retryDelay = Math.min(2 * net.retryDelay || RETRY_FIRST_MS, RETRY_LONGEST_MS);
  net.retryTimer = setTimeout(() => { net.retryTimer = null; scheduleFrame(); }, net.retryDelay);
}

function reached() {
  clearTimeout(net.retryTimer);
  net.retryTimer = null;
  net.retryDelay = 0;
  if (net.offline) { net.offline = false; showNotice(); }
}

// A socket that was open may have been closed by a restart or a network change: it reconnects at
// once, and the server counts as lost only when a connection fails. An open socket sends the drawing
// again, which may have changed, or met another model, while the socket was down.
function connectSocket() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => {
    net.socket = socket;
    net.socketReady = true;
    net.socketDelay = 0;
    reached();
    net.dirty = true;
    scheduleFrame();
  };
  socket.onmessage = (event) => received(JSON.parse(event.data));
  socket.onclose = () => {
    const wasOpen = net.socketReady;
    net.socketReady = false;
    if (wasOpen && net.inFlight) { net.inFlight = false; net.dirty = true; scheduleFrame(); }
    if (!wasOpen) lostServer();
    net.socketDelay = wasOpen ? 0 : Math.min(2 * net.socketDelay || RETRY_FIRST_MS, RETRY_LONGEST_MS);
    setTimeout(connectSocket, net.socketDelay);
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

function noticeText() {
  return net.problem || (net.offline ? OFFLINE : "");
}

// Why there is no answer, just under the pad where the eye is, yet clear of the ink, which stays drawable;
// the verdict says it too while it shows none.
function showNotice() {
  const notice = document.getElementById("pad-notice");
  notice.textContent = noticeText();
  notice.hidden = !notice.textContent;
  if (!lastResult) verdictView.render(null);
}

const verdictView = {
  init() {},
  render(result) {
    document.getElementById("prediction").textContent = result ? String(result.digit) : "";
    document.getElementById("confidence").textContent =
      result ? `${(100 * result.confidence).toFixed(1)}% sure` : noticeText() || "draw a digit";
    document.getElementById("latency").textContent =
      result ? `server ${result.ms.toFixed(1)} ms · round trip ${result.roundTrip.toFixed(0)} ms` : "";
  },
};

// On a phone the result card lies below the pad, off screen while drawing: a compact answer (the
// digit, its probability and ten tiny bars) sits beside Undo and Clear instead, under the pad and
// clear of the ink (style.css shows it).
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

// What a screen reader says: the result card changes at every frame while the pen moves, so a live
// region over it would talk all the time. This short text changes only once the pen is up.
const announceView = {
  init() {},
  render(result) {
    if (pad && pad.drawing) return;
    const status = document.getElementById("answer-status");
    const text = result ? `${result.digit}, ${(100 * result.confidence).toFixed(0)}% sure` : "";
    if (status.textContent !== text) status.textContent = text;
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
  saving: false,  // a correction is on its way: a second click (a double click) must not save it twice
  render(result) {
    for (const button of document.getElementById("labels").children) button.disabled = !result || teachView.saving;
  },
};

const VIEWS = [verdictView, announceView, padAnswerView, barsView, inputView, teachView];

// ---- teaching: corrections and adaptation ---------------------------------------------------------
async function correct(label) {
  if (pad.strokes.length === 0 || teachView.saving) return;
  teachView.saving = true;
  teachView.render(lastResult);
  try {
    const answer = await postJSON("/api/correct", { strokes: roundStrokes(pad.strokes), label });
    if (answer.error) return setStatus(answer.error);
    setStatus(`Saved as a ${label}. ${answer.corrections} correction${answer.corrections === 1 ? "" : "s"} so far.`);
    offerUncorrect(answer.saved, label);
    pad.clear();
    await refreshModel();
  } catch (error) {
    setStatus(`not saved: the server is not reachable (${error.message})`);
  } finally {
    teachView.saving = false;
    teachView.render(lastResult);
  }
}

// A label click saves at once, so a mis-click would go into every later adaptation: an Undo button
// after the status takes the latest save back. Any later status replaces it.
function offerUncorrect(saved, label) {
  const button = document.createElement("button");
  button.textContent = "Undo";
  button.className = "small quiet";
  button.dataset.testid = "uncorrect";
  button.setAttribute("aria-label", `Undo saving as a ${label}`);  // the pad has an Undo button too
  button.addEventListener("click", () => uncorrect(saved, label, button));
  document.getElementById("teach-status").append(" ", button);
}

async function uncorrect(saved, label, button) {
  button.disabled = true;  // a double click must not ask twice
  let answer;
  try {
    answer = await postJSON("/api/uncorrect", { saved });
  } catch (error) {
    setStatus(`not removed: the server is not reachable (${error.message})`);
    return offerUncorrect(saved, label);
  }
  if (answer.error) return setStatus(answer.error);
  setStatus(`Removed the ${label} just saved.`);
  await refreshModel();
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
  await refreshModel();
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

// The header's model line, fetched again after anything that changes the model or the corrections.
async function refreshModel() {
  showModel(await (await fetch("/api/info")).json());
}

function setStatus(text) {
  document.getElementById("teach-status").textContent = text || "";
}

// ---- start ----------------------------------------------------------------------------------------
// Keys for the pad, except where typing goes: a field keeps its own Backspace, Delete, Escape and
// Ctrl+Z. Each takes back as little as it can (Clear is undone by Undo).
function onKey(event) {
  if (event.target.closest("input, select, textarea") || event.target.isContentEditable) return;
  const undoKey = (event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z";
  if (undoKey || event.key === "Backspace" || event.key === "Delete") {
    event.preventDefault();
    pad.undo();
  } else if (event.key === "Escape") {
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
  minInk = 3 * shared.PEN * shared.UNITS;  // three pen widths: a short 1 is longer
  pad = shared.createPad(document.getElementById("pad"), strokesChanged);
  document.getElementById("undo").addEventListener("click", pad.undo);
  document.getElementById("clear").addEventListener("click", pad.clear);
  document.addEventListener("keydown", onKey);
  connectSocket();
  fetch("/api/info").then((r) => r.json()).then((info) => { showModel(info); showAdaptStatus(info.adapt); showShare(info); },
                                                lostServer);
}

start();
