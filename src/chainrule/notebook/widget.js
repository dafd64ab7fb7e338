// The DrawPad widget's view (anywidget), appended to static/pad.js, whose createPad and
// roundStrokes it uses: the same pad as the drawing page. Strokes go to the kernel over the widget's
// own channel at most once per animation frame; the kernel answers with the prediction and the
// 28x28 image, which are shown here.
function render({ model, el }) {
  el.classList.add("chainrule-drawpad");
  el.innerHTML = `
    <div style="display:flex; gap:16px; align-items:flex-start; font-family:system-ui, sans-serif">
      <div>
        <canvas data-testid="drawpad-canvas" aria-label="drawing pad: draw one digit with mouse, pen or finger"
          style="width:280px; height:280px; border:1px solid #9aa3b5; border-radius:6px; background:#fff; touch-action:none; cursor:crosshair"></canvas>
        <div style="display:flex; gap:8px; margin-top:6px">
          <button data-testid="drawpad-undo">Undo</button><button data-testid="drawpad-clear">Clear</button>
        </div>
      </div>
      <div>
        <div style="font-size:48px; font-weight:600; min-height:56px" data-testid="drawpad-prediction"></div>
        <div data-testid="drawpad-confidence">draw a digit</div>
        <canvas data-testid="drawpad-input28" width="28" height="28"
          style="width:112px; height:112px; image-rendering:pixelated; border:1px solid #ccd; margin-top:8px"></canvas>
        <div style="font-size:12px; color:#667">what the network sees (28x28)</div>
      </div>
    </div>`;
  const pad = createPad(el.querySelector("[data-testid=drawpad-canvas]"), changed);
  el.querySelector("[data-testid=drawpad-undo]").addEventListener("click", pad.undo);
  el.querySelector("[data-testid=drawpad-clear]").addEventListener("click", pad.clear);
  let framePending = false;

  function changed() {
    if (framePending) return;
    framePending = true;
    requestAnimationFrame(() => {
      framePending = false;
      pad.redraw();
      model.set("strokes", roundStrokes(pad.strokes));
      model.save_changes();
    });
  }

  // Strokes set from Python (pad.strokes = ...) are drawn, unless a stroke is under way here.
  function strokesFromKernel() {
    if (pad.drawing) return;
    pad.strokes = model.get("strokes").map((stroke) => stroke.map(([x, y]) => [x, y]));
    pad.redraw();
  }

  function showPrediction() {
    const p = model.get("prediction");
    el.querySelector("[data-testid=drawpad-prediction]").textContent = p.digit === undefined ? "" : String(p.digit);
    el.querySelector("[data-testid=drawpad-confidence]").textContent =
      p.error ? p.error : p.digit === undefined ? "draw a digit" : `${(100 * p.confidence).toFixed(1)}% sure`;
    const image = model.get("image_data");
    const ctx = el.querySelector("[data-testid=drawpad-input28]").getContext("2d");
    const data = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = 255 - (image[i] || 0);
      data.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(data, 0, 0);
  }

  model.on("change:strokes", strokesFromKernel);
  model.on("change:prediction", showPrediction);
  strokesFromKernel();
  showPrediction();
  return () => {
    model.off("change:strokes", strokesFromKernel);
    model.off("change:prediction", showPrediction);
  };
}

export default { render };
