// The drawing pad, shared by the page (app.js) and the notebook widget (chainrule.notebook): pointer
// events from mouse, pen or finger on a high-DPI canvas, strokes kept as arrays of [x, y] in pad units
// (0..1000 across, independent of the canvas's pixel size) and painted as smooth curves. It only
// captures ink; everything computed from the strokes (digit_from_strokes, the network) is Python's.
export const UNITS = 1000;
export const PEN = 0.028;  // pen width as a share of the pad's width

// A pad on `canvas`; onChange() runs after every change of the strokes. Returns the pad: its
// `strokes` and `drawing` (the stroke under the pointer, or null), and undo(), clear(), redraw().
// Undo takes back the last stroke, or on an empty pad the last clear: a slip on Clear loses nothing.
export function createPad(canvas, onChange) {
  const pad = { canvas, ctx: null, strokes: [], drawing: null, pointerId: null, cleared: [] };

  function resize() {
    const rect = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(rect.width * ratio));
    canvas.height = Math.max(1, Math.round(rect.height * ratio));
    pad.ctx = canvas.getContext("2d");
    pad.redraw();
  }

  // Pointer capture keeps a stroke going off the pad's edge: its points are held at the edge, so that
  // the strokes sent are the ink the pad shows.
  function padPoint(event) {
    const rect = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(UNITS, Math.max(0, v));
    return [clamp(((event.clientX - rect.left) / rect.width) * UNITS), clamp(((event.clientY - rect.top) / rect.height) * UNITS)];
  }

  function onPointerDown(event) {
    if (pad.drawing || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    pad.pointerId = event.pointerId;
    pad.drawing = [padPoint(event)];
    pad.strokes.push(pad.drawing);
    onChange();
  }

  function onPointerMove(event) {
    if (!pad.drawing || event.pointerId !== pad.pointerId) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) pad.drawing.push(padPoint(e));
    onChange();
  }

  function onPointerUp(event) {
    if (!pad.drawing || event.pointerId !== pad.pointerId) return;
    pad.drawing = null;
    pad.pointerId = null;
    onChange();
  }

  pad.redraw = () => {
    const { ctx } = pad;
    if (!ctx) return;
    const scale = canvas.width / UNITS;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#1d2230";
    ctx.fillStyle = "#1d2230";
    ctx.lineWidth = PEN * canvas.width;
    for (const stroke of pad.strokes) drawStroke(ctx, stroke, scale);
  };

  pad.undo = () => {
    if (pad.drawing) return;
    if (pad.strokes.length) pad.strokes.pop();
    else if (pad.cleared.length) pad.strokes = pad.cleared.pop();
    onChange();
  };

  pad.clear = () => {
    if (pad.strokes.length) pad.cleared.push(pad.strokes);
    pad.strokes = [];
    pad.drawing = null;
    onChange();
  };

  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  // A finger on the pad draws and makes no gesture. touch-action: none stops scrolling, yet Chrome
  // still reads a stroke lifted mid-move as a fling, and a tap on Clear while that fling runs only
  // stops it: no click. A cancelled touchstart makes no gestures (pointer events still come).
  canvas.addEventListener("touchstart", (event) => event.preventDefault(), { passive: false });
  new ResizeObserver(resize).observe(canvas);
  resize();
  return pad;
}

// Quadratic curves through the midpoints of successive points: smooth, and still through the ink.
function drawStroke(ctx, stroke, scale) {
  const p = stroke.map(([x, y]) => [x * scale, y * scale]);
  if (p.length === 1) {
    ctx.beginPath();
    ctx.arc(p[0][0], p[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(p[0][0], p[0][1]);
  for (let i = 1; i < p.length - 1; i++) {
    ctx.quadraticCurveTo(p[i][0], p[i][1], (p[i][0] + p[i + 1][0]) / 2, (p[i][1] + p[i + 1][1]) / 2);
  }
  ctx.lineTo(p[p.length - 1][0], p[p.length - 1][1]);
  ctx.stroke();
}

// Strokes to send: points rounded to a tenth of a pad unit (a 1000-unit pad needs no more).
export function roundStrokes(strokes) {
  return strokes.map((stroke) => stroke.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]));
}
