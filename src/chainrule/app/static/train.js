// chainrule drawing page, "train live": starts one training run on the server (/api/train/*), polls
// its reports (training and validation loss and accuracy, the first layer's weights, each layer's
// gradient norm) and draws them; pause, resume, stop, and use the trained model for drawing. The
// run lives in the server: polling goes on, less often, while the server cannot be reached.
"use strict";

const training = { reports: [], weights: [], state: "idle", polling: false, config: null };
const ACTIVE = ["loading", "running", "paused"];
const POLL_MS = 400, POLL_LONGEST_MS = 4000;

// The first number field outside its range, as a message that names it, or "".
function formProblem(form) {
  for (const input of form.querySelectorAll("input[type=number]")) {
    const value = Number(input.value), whole = input.step !== "any";
    if (input.value === "" || (whole && !Number.isInteger(value)) || value < Number(input.min) || value > Number(input.max)) {
      return `${input.name}: enter ${whole ? "a whole number" : "a number"} from ${input.min} to ${input.max}`;
    }
  }
  return "";
}

function trainSettings(form) {
  const settings = { dataset: form.elements.dataset.value, activation: form.elements.activation.value,
                     augment: form.elements.augment.checked };
  for (const input of form.querySelectorAll("input[type=number]")) settings[input.name] = Number(input.value);
  return settings;
}

// The form shows the settings of the run the server has (after a reload, or one another page started).
function fillForm(form, config) {
  for (const [name, value] of Object.entries(config)) {
    const field = form.elements[name];
    if (field && field.type === "checkbox") field.checked = value;
    else if (field) field.value = String(value);
  }
}

function startTraining() {
  const form = document.getElementById("train-form");
  const problem = formProblem(form);
  if (problem) { document.getElementById("train-status").textContent = problem; return; }
  trainAction("start", trainSettings(form));
}

async function trainAction(action, settings) {
  let answer;
  try {
    answer = await postJSON(`/api/train/${action}`, settings);
  } catch (error) {
    showTrainingLost(error);
    pollTraining();  // it says when the server is back
    return;
  }
  if (answer.error) { document.getElementById("train-status").textContent = answer.error; return; }
  if (action === "start") training.weights = [];
  if (action === "use") {
    document.getElementById("train-status").textContent = answer.message;
    net.dirty = true;
    scheduleFrame();
    showModel(await (await fetch("/api/info")).json());
    loadCoverage();
    return;
  }
  showTraining(answer, 0);
  pollTraining();
}

async function trainingStatus(since) {
  const status = await (await fetch(`/api/train/status?since=${since}`)).json();
  if (status.error) throw new Error(status.error);
  return status;
}

async function pollTraining() {
  if (training.polling) return;
  training.polling = true;
  let wait = POLL_MS;
  try {
    while (true) {
      const since = training.reports.length;
      try {
        const status = await trainingStatus(since);
        showTraining(status, since);
        if (!ACTIVE.includes(status.state)) break;
        wait = POLL_MS;
      } catch (error) {
        showTrainingLost(error);
        wait = Math.min(2 * wait, POLL_LONGEST_MS);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  } finally {
    training.polling = false;
  }
}

function showTrainingLost(error) {
  const el = document.getElementById("train-status");
  const reason = error instanceof TypeError ? "the server is not reachable" : error.message;  // fetch's TypeError: no connection
  el.textContent = `no news of the run: ${reason} — retrying`;
  el.dataset.state = "unreachable";
  for (const button of document.querySelectorAll(".train-buttons button")) button.disabled = true;
}

// The reports of an answer that holds those from number `since` on replace ours from there (pause,
// resume and stop answer with all of them): none is counted twice. A step behind our last report's
// is another run's: our reports are dropped, and the next poll asks for all of its reports.
function mergeReports(status, since) {
  const last = training.reports[training.reports.length - 1];
  const otherRun = last && status.step < last.step;
  training.reports = otherRun && since > 0 ? [] : training.reports.slice(0, since).concat(status.reports);
}

function showTraining(status, since) {
  mergeReports(status, since);
  if (status.weights.length) training.weights = status.weights;
  if (status.config && JSON.stringify(status.config) !== JSON.stringify(training.config)) {
    fillForm(document.getElementById("train-form"), status.config);
  }
  training.state = status.state;
  training.config = status.config;
  const active = ACTIVE.includes(status.state);
  const buttons = { start: !active, pause: status.state === "running", resume: status.state === "paused",
                    stop: active, use: training.reports.length > 0 && status.config && status.config.dataset === "mnist" };
  for (const [name, enabled] of Object.entries(buttons)) document.getElementById(`train-${name}`).disabled = !enabled;
  const last = training.reports[training.reports.length - 1];
  const numbers = last ? ` · step ${last.step}/${status.total}: loss ${last.loss.toFixed(3)}, validation loss ${last.val_loss.toFixed(3)}, validation accuracy ${(100 * last.val_accuracy).toFixed(1)}% · ${last.seconds.toFixed(1)} s` : "";
  const el = document.getElementById("train-status");
  el.textContent = `${status.message}${numbers}`;
  el.dataset.state = status.state;
  drawTrainingChart();
  drawTrainingWeights();
  drawGradientNorms();
}

function drawTrainingChart() {
  const [ctx, w, h] = sizedContext(document.getElementById("train-chart"));
  ctx.clearRect(0, 0, w, h);
  const reports = training.reports;
  const pad = { l: 38, r: 34, t: 10, b: 22 };
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = "#e3e6ec";
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  if (!reports.length) {
    ctx.fillStyle = "#6b7280";
    ctx.fillText("start a run: the curves appear here", pad.l + 10, h / 2);
    return;
  }
  const lastStep = Math.max(reports[reports.length - 1].step, training.config ? training.config.steps : 1);
  const top = Math.max(...reports.map((r) => Math.max(r.loss, r.val_loss))) * 1.05;
  const x = (s) => pad.l + (s / lastStep) * (w - pad.l - pad.r);
  const yLoss = (v) => pad.t + (1 - v / top) * (h - pad.t - pad.b);
  const yAcc = (v) => pad.t + (1 - v) * (h - pad.t - pad.b);
  ctx.fillStyle = "#6b7280";
  ctx.fillText(top.toFixed(2), 2, pad.t + 8);
  ctx.fillText("0", 2, h - pad.b);
  ctx.fillText("100%", w - pad.r + 3, pad.t + 8);
  ctx.fillText(`step ${lastStep}`, w - pad.r - 50, h - 6);
  const line = (key, y, color, dashed) => {
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dashed ? [5, 4] : []);
    ctx.beginPath();
    reports.forEach((r) => ctx.lineTo(x(r.step), y(r[key])));
    ctx.stroke();
    ctx.fillStyle = color;
    reports.forEach((r) => { ctx.beginPath(); ctx.arc(x(r.step), y(r[key]), 2.5, 0, 2 * Math.PI); ctx.fill(); });
  };
  line("loss", yLoss, "#2563eb", false);
  line("val_loss", yLoss, "#ea580c", false);
  line("accuracy", yAcc, "#2563eb", true);
  line("val_accuracy", yAcc, "#ea580c", true);
  ctx.setLineDash([]);
}

function drawTrainingWeights() {
  const canvas = document.getElementById("train-weights");
  const rows = training.weights;
  if (!rows.length) return;
  const columns = 4, gap = 2, size = 28;
  const count = Math.min(rows.length, 16);
  const tiles = Math.ceil(count / columns);
  canvas.width = columns * (size + gap) - gap;
  canvas.height = tiles * (size + gap) - gap;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let u = 0; u < count; u++) {
    const scale = maxAbs(rows[u]);
    const image = pixelImage(ctx, size, size, (i) => divColor(rows[u][i] / scale));
    ctx.putImageData(image, (u % columns) * (size + gap), Math.floor(u / columns) * (size + gap));
  }
}

function drawGradientNorms() {
  const root = document.getElementById("train-norms");
  const last = training.reports[training.reports.length - 1];
  if (!last) { root.innerHTML = ""; return; }
  const norms = last.grad_norms;
  const logs = norms.map((v) => Math.log10(Math.max(v, 1e-8)));
  const hi = Math.max(...logs), lo = Math.min(hi - 3, ...logs);
  root.innerHTML = norms.map((v, k) =>
    `<div class="norm-row"><span>${mml.math(ofLayer("W", mml.n(k + 1)))}</span><span class="track"><span class="fill"
      style="width:${(100 * (logs[k] - lo + 0.1) / (hi - lo + 0.1)).toFixed(1)}%"></span></span>
      <span class="value">${v.toExponential(2)}</span></div>`).join("");
}

// Start is the form's submit button: a click on it, or Enter in a field, submits the form.
function initTraining() {
  for (const action of ["pause", "resume", "stop", "use"]) {
    document.getElementById(`train-${action}`).addEventListener("click", () => trainAction(action));
  }
  document.getElementById("train-form").addEventListener("submit", (event) => { event.preventDefault(); startTraining(); });
  new ResizeObserver(drawTrainingChart).observe(document.getElementById("train-chart"));
  pollTraining();
}

initTraining();
