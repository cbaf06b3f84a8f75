// minigan lab: the page's behaviour.
//
// The page trains nothing. It draws the frames the Python server streams over Server-Sent Events
// (GET /events, one "frame" event each, built in minigan/app/lab_session.py) and sends the
// learner's controls as small JSON POSTs (/api/control, /api/settings, /api/points). The server
// validates every value and answers with the state it applied, or with {"error": "..."}, which
// is shown in the header.
//
// Reading order: the state and the server calls, the picture (drawField), the curves
// (drawCurves), the G-step chain, the controls, drawing points, then the start at the bottom.
"use strict";

// ---------------------------------------------------------------------------
// State and the server
// ---------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const lab = {
  frame: null,       // the latest frame from the server
  drawn: [],         // points drawn with the mouse, in data coordinates
  drawing: false,    // a mouse button is down on the picture
  presets: {},       // name -> settings, from /api/presets
};
const COLORS = { real: "#1b9e5a", fake: "#7b3fb5", arrow: "#e0561b", dLoss: "#7b3fb5", gLoss: "#e0561b" };

function showMessage(text, ok = false) {
  const el = $("message");
  el.textContent = text || "";
  el.className = ok ? "ok" : "";
}

// POST a JSON body; returns the server's state, or null after showing its error.
async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) {
      showMessage(answer.error || `error ${response.status}`);
      return null;
    }
    showMessage(answer.message || "", true);
    return answer;
  } catch (e) {
    showMessage(`the server cannot be reached (${e.message}); is minigan lab still running?`);
    return null;
  }
}

const control = (action, extra = {}) => post("/api/control", { action, ...extra });

// ---------------------------------------------------------------------------
// The picture: data space, view = [x0, x1, y0, y1] (for 1-D data, y is D's output axis)
// ---------------------------------------------------------------------------
const field = $("field");
const ctx = field.getContext("2d");

// Data coordinates -> canvas pixels, and back (the mouse).
function toPixel(view, x, y) {
  const [x0, x1, y0, y1] = view;
  return [((x - x0) / (x1 - x0)) * field.width, ((y1 - y) / (y1 - y0)) * field.height];
}
function toData(view, px, py) {
  const [x0, x1, y0, y1] = view;
  return [x0 + (px / field.width) * (x1 - x0), y1 - (py / field.height) * (y1 - y0)];
}

// D's output as a colour: purple where D says "fake", white when undecided, green where it says "real".
// t in [0, 1]: a probability, or a critic's score mapped there by heatScale.
function heatColor(t) {
  const a = Math.max(0, Math.min(1, t)) * 2 - 1; // -1 fake ... +1 real
  const tint = a < 0 ? [201, 166, 234] : [166, 227, 193];
  const w = Math.abs(a);
  return tint.map((c) => Math.round(255 * (1 - w) + c * w));
}

// A critic's scores have no fixed scale: map them to [0, 1] symmetrically around their mean.
function heatScale(frame, values) {
  if (frame.output === "logit") return (v) => v;
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const mid = (lo + hi) / 2, half = Math.max((hi - lo) / 2, 1e-9);
  return (v) => 0.5 + (0.5 * (v - mid)) / half;
}

const heatCanvas = document.createElement("canvas"); // the grid, one pixel per cell, then scaled up

function drawHeat2D(frame) {
  const n = frame.heat_size, scale = heatScale(frame, frame.heat);
  heatCanvas.width = heatCanvas.height = n;
  const hctx = heatCanvas.getContext("2d");
  const image = hctx.createImageData(n, n);
  frame.heat.forEach((v, i) => {
    const [r, g, b] = heatColor(scale(v));
    image.data.set([r, g, b, 255], 4 * i); // row 0 is the top of the view (the server's order)
  });
  hctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true; // bilinear: the grid reads as the smooth surface it samples
  ctx.drawImage(heatCanvas, 0, 0, field.width, field.height);
}

function drawPoints(view, flat, dim, color, radius) {
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.55;
  for (let i = 0; i < flat.length; i += dim) {
    const [px, py] = toPixel(view, flat[i], dim === 2 ? flat[i + 1] : 0);
    ctx.beginPath();
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
}

function arrow(x, y, dx, dy, color, width = 1) {
  const len = Math.hypot(dx, dy);
  if (len < 0.5) return;
  const ux = dx / len, uy = dy / len, head = Math.min(6, len / 2);
  ctx.strokeStyle = ctx.fillStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + dx, y + dy); ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x + dx, y + dy);
  ctx.lineTo(x + dx - head * (ux - 0.5 * uy), y + dy - head * (uy + 0.5 * ux));
  ctx.lineTo(x + dx - head * (ux + 0.5 * uy), y + dy - head * (uy - 0.5 * ux));
  ctx.fill();
}

// The arrows are -grad_x L_G at each fake point. Their lengths are normalised (the longest is
// 36 px) so they stay visible at any scale; the legend prints the longest gradient's norm, which
// is where a saturating loss shows itself (chapter 7: minimax against a confident D).
function drawArrows(frame) {
  const dim = frame.dim, a = frame.arrows, f = frame.fake, view = frame.view;
  const count = a.length / dim;
  let longest = 0;
  for (let i = 0; i < count; i++) longest = Math.max(longest, Math.hypot(a[dim * i], dim === 2 ? a[dim * i + 1] : 0));
  $("arrow-scale").textContent = `longest arrow: |∇ₓL_G| = ${longest.toExponential(2)}`;
  if (longest === 0) return;
  const [x0, x1, y0, y1] = view;
  const sx = field.width / (x1 - x0), sy = field.height / (y1 - y0);
  const k = 36 / (longest * Math.max(sx, sy));
  const every = Math.max(1, Math.ceil(count / 400)); // at most 400 arrows: a picture, not a hedge
  for (let i = 0; i < count; i += every) {
    const dx = a[dim * i], dy = dim === 2 ? a[dim * i + 1] : 0;
    const [px, py] = toPixel(view, f[dim * i], dim === 2 ? f[dim * i + 1] : 0);
    arrow(px, dim === 2 ? py : field.height - 8, dx * k * sx, -dy * k * sy, COLORS.arrow);
  }
}

// 1-D data: histograms of real and fake samples below, D's output as a curve, arrows on the axis.
function drawOneD(frame, show) {
  const [x0, x1] = frame.view, W = field.width, H = field.height, bins = 80;
  const hist = (values) => {
    const counts = new Array(bins).fill(0);
    for (const v of values) {
      const b = Math.floor(((v - x0) / (x1 - x0)) * bins);
      if (b >= 0 && b < bins) counts[b] += 1;
    }
    return counts;
  };
  const real = hist(frame.real), fake = hist(frame.fake);
  const top = Math.max(1, ...real, ...fake);
  const bar = (counts, color) => {
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.45;
    counts.forEach((c, i) => ctx.fillRect((i * W) / bins, H - 20 - (c / top) * (H * 0.6), W / bins - 1, (c / top) * (H * 0.6)));
    ctx.globalAlpha = 1;
  };
  if (show.real) bar(real, COLORS.real);
  if (show.fake) bar(fake, COLORS.fake);
  if (show.heat) { // D's output over x, 0 at the bottom and 1 at the top of the picture
    const scale = heatScale(frame, frame.heat);
    ctx.strokeStyle = "#333"; ctx.lineWidth = 2; ctx.beginPath();
    frame.heat.forEach((v, i) => {
      const px = (i / (frame.heat.length - 1)) * W, py = H - 20 - scale(v) * (H - 40);
      i === 0 ? ctx.moveTo(px, py) : ctx.lineTo(px, py);
    });
    ctx.stroke();
    ctx.fillStyle = "#333"; ctx.fillText(frame.output === "logit" ? "D(x)" : "critic score (scaled)", 6, 14);
  }
  if (show.arrows) drawArrows(frame);
}

function drawAxes(view) {
  ctx.strokeStyle = "rgba(0,0,0,0.15)"; ctx.lineWidth = 1;
  const [ox, oy] = toPixel(view, 0, 0);
  ctx.beginPath(); ctx.moveTo(0, oy); ctx.lineTo(field.width, oy); ctx.moveTo(ox, 0); ctx.lineTo(ox, field.height); ctx.stroke();
}

function layers() {
  const on = (id) => $(id).checked;
  return { heat: on("show-heat"), real: on("show-real"), fake: on("show-fake"), arrows: on("show-arrows"), chain: on("show-chain") };
}

function drawField() {
  const frame = lab.frame;
  if (!frame) return;
  const show = layers();
  ctx.clearRect(0, 0, field.width, field.height);
  if (frame.dim === 1) {
    drawOneD(frame, show);
  } else {
    if (show.heat) drawHeat2D(frame);
    drawAxes(frame.view);
    if (show.real) drawPoints(frame.view, frame.real, 2, COLORS.real, 1.8);
    if (show.fake) drawPoints(frame.view, frame.fake, 2, COLORS.fake, 1.8);
    if (show.arrows) drawArrows(frame);
  }
  if (frame.settings.data === "drawn") { // the strokes themselves, over the samples drawn from them
    ctx.fillStyle = "#000";
    for (const [x, y] of lab.drawn) { const [px, py] = toPixel(frame.view, x, y); ctx.fillRect(px - 1.5, py - 1.5, 3, 3); }
  }
  if (show.chain && frame.chain && frame.dim === 2) drawChainOnField(frame);
}

// ---------------------------------------------------------------------------
// The G-step chain: a fake point, D's output there, the gradient, G's change, the point's new place
// ---------------------------------------------------------------------------
function drawChainOnField(frame) {
  const c = frame.chain, view = frame.view;
  const [px, py] = toPixel(view, c.point[0], c.point[1]);
  const [qx, qy] = toPixel(view, c.moved_to[0], c.moved_to[1]);
  ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
  ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
  const g = Math.hypot(c.gradient[0], c.gradient[1]) || 1; // the direction of -grad, 50 px long
  arrow(px, py, (-c.gradient[0] / g) * 50, (c.gradient[1] / g) * 50, COLORS.arrow, 3);
  ctx.setLineDash([4, 3]); ctx.strokeStyle = "#000"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(qx, qy); ctx.stroke(); ctx.setLineDash([]);
  ctx.beginPath(); ctx.arc(qx, qy, 4, 0, 2 * Math.PI); ctx.fillStyle = "#000"; ctx.fill();
}

const fmt = (v, digits = 4) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const vec = (v) => `(${v.map((x) => fmt(x, 3)).join(", ")})`;

function showChain(frame) {
  const el = $("chain"), c = frame.chain;
  el.hidden = !c || !$("show-chain").checked;
  if (!c) return;
  const dLabel = frame.output === "logit" ? "D(x)" : "D's score";
  el.innerHTML =
    `<b>G update ${c.g_updates}</b>, followed for one fake point (circled):<ol>` +
    `<li>G(z) = x = ${vec(c.point)}</li>` +
    `<li>${dLabel} = ${fmt(c.d_output)} there</li>` +
    `<li>∇ₓL<sub>G</sub> = ${vec(c.gradient)}: the orange arrow is −∇ₓL<sub>G</sub>, where the loss pushes x</li>` +
    `<li>backpropagated through G: ‖∇<sub>θ</sub>L<sub>G</sub>‖ = ${fmt(c.g_grad_norm)}; the optimizer moved G's parameters by ‖Δθ‖ = ${fmt(c.g_param_change, 5)}</li>` +
    `<li>the same z now gives ${vec(c.moved_to)} (dot), where ${dLabel} = ${fmt(c.d_output_after)}</li></ol>`;
}

// ---------------------------------------------------------------------------
// The numbers and their curves
// ---------------------------------------------------------------------------
function showStats(frame) {
  const setStat = (key, value, digits = 4) => {
    const el = $(`stat-${key}`);
    el.textContent = typeof value === "number" && digits >= 0 ? fmt(value, digits) : String(value ?? "–");
    el.dataset.value = value === null || value === undefined ? "" : String(value); // exact, for tests
  };
  setStat("step", frame.step, -1);
  setStat("d_updates", frame.d_updates, -1);
  setStat("g_updates", frame.g_updates, -1);
  setStat("speed", frame.steps_per_second, 0);
  for (const key of ["d_loss", "g_loss", "d_real", "d_fake"]) setStat(key, frame.stats[key]);
  const logit = frame.output === "logit";
  $("label-d_real").textContent = logit ? "mean D(x)" : "mean score C(x)";
  $("label-d_fake").textContent = logit ? "mean D(G(z))" : "mean score C(G(z))";
}

function drawCurves(canvas, steps, series) {
  const c = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 24;
  c.clearRect(0, 0, W, H);
  const values = series.flatMap((s) => s.values.filter((v) => v !== null));
  if (steps.length < 2 || values.length === 0) return;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const s0 = steps[0], s1 = steps[steps.length - 1];
  const px = (s) => pad + ((s - s0) / Math.max(s1 - s0, 1)) * (W - pad - 6);
  const py = (v) => H - pad - ((v - lo) / (hi - lo)) * (H - pad - 8);
  c.fillStyle = "#666"; c.font = "11px sans-serif";
  c.fillText(hi.toPrecision(3), 2, 12); c.fillText(lo.toPrecision(3), 2, H - pad);
  c.fillText(`step ${s1}`, W - 70, H - 6);
  series.forEach((s, k) => {
    c.strokeStyle = s.color; c.lineWidth = 1.5; c.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (v === null) { started = false; return; }
      started ? c.lineTo(px(steps[i]), py(v)) : c.moveTo(px(steps[i]), py(v));
      started = true;
    });
    c.stroke();
    c.fillStyle = s.color; c.fillText(s.label, pad + 8 + k * 90, 12);
  });
}

function showCurves(frame) {
  const h = frame.history;
  drawCurves($("losses"), h.step, [
    { label: "D loss", values: h.d_loss, color: COLORS.dLoss },
    { label: "G loss", values: h.g_loss, color: COLORS.gLoss },
  ]);
  drawCurves($("outputs"), h.step, [
    { label: frame.output === "logit" ? "D(x)" : "C(x)", values: h.d_real, color: COLORS.real },
    { label: frame.output === "logit" ? "D(G(z))" : "C(G(z))", values: h.d_fake, color: COLORS.fake },
  ]);
}

// ---------------------------------------------------------------------------
// The controls
// ---------------------------------------------------------------------------
// Each input with data-setting="NAME" sends {NAME: value} when changed; the server checks the range.
function settingInputs() { return document.querySelectorAll("[data-setting]"); }

function showSettings(settings) {
  for (const input of settingInputs()) {
    if (input === document.activeElement) continue; // never overwrite what the learner is typing
    const value = settings[input.dataset.setting];
    if (String(input.value) !== String(value)) input.value = value;
    input.classList.remove("invalid");
  }
  if ($("seed") !== document.activeElement) $("seed").value = settings.seed;
  const drawn = settings.data === "drawn";
  $("draw-hint").hidden = !drawn;
  field.classList.toggle("drawing", drawn);
}

async function sendSetting(input) {
  const key = input.dataset.setting;
  let value = input.value;
  if (input.type === "number") {
    value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value)) { input.classList.add("invalid"); showMessage(`${key}: not a number`); return; }
  }
  const state = await post("/api/settings", { [key]: value });
  input.classList.toggle("invalid", state === null);
}

function fillChoices(select, choices, labels = {}) {
  select.innerHTML = "";
  for (const c of choices) select.add(new Option(labels[c] || c, c));
}

async function loadPresets() {
  const answer = await (await fetch("/api/presets")).json();
  lab.presets = answer.presets;
  for (const name of Object.keys(lab.presets)) $("preset").add(new Option(name, name));
  fillChoices($("data"), answer.settings.data[1], {
    ring: "ring of 8", grid: "grid of 25", moons: "two moons", "gaussian-1d": "1-D Gaussian",
    "mixture-1d-near": "1-D two modes, near", "mixture-1d-far": "1-D two modes, far", drawn: "drawn with the mouse",
  });
  fillChoices($("loss"), answer.settings.loss[1], {
    minimax: "minimax", ns: "non-saturating", wgan: "Wasserstein (clipping)", "wgan-gp": "WGAN-GP",
    lsgan: "least squares", hinge: "hinge",
  });
  fillChoices($("optimizer"), answer.settings.optimizer[1]);
}

function wireControls() {
  $("play").onclick = () => control("play");
  $("pause").onclick = () => control("pause");
  $("step").onclick = () => control("step");
  $("step-d").onclick = () => control("step_d");
  $("step-g").onclick = () => control("step_g");
  $("reset").onclick = () => {
    const seed = Number($("seed").value);
    control("reset", Number.isInteger(seed) && seed >= 0 ? { seed } : {});
  };
  $("preset").onchange = async () => { // a preset is settings, then a reset with them
    const preset = lab.presets[$("preset").value];
    if (preset && (await post("/api/settings", preset))) await control("reset");
  };
  for (const input of settingInputs()) input.addEventListener("change", () => sendSetting(input));
  for (const id of ["show-heat", "show-real", "show-fake", "show-arrows", "show-chain"]) {
    $(id).addEventListener("change", () => { drawField(); if (lab.frame) showChain(lab.frame); });
  }
  $("clear-points").onclick = () => { lab.drawn = []; $("points-count").textContent = "0"; drawField(); };
  wireDrawing();
}

// ---------------------------------------------------------------------------
// Drawing points (data "drawn"): a stroke adds points; releasing the button sends them all
// ---------------------------------------------------------------------------
function wireDrawing() {
  const MAX_POINTS = 2000; // the server's limit (lab_session.MAX_POINTS)
  let last = null;
  const add = (event) => {
    const rect = field.getBoundingClientRect();
    const px = ((event.clientX - rect.left) * field.width) / rect.width;
    const py = ((event.clientY - rect.top) * field.height) / rect.height;
    if (last && Math.hypot(px - last[0], py - last[1]) < 6) return; // one point per 6 px of stroke
    last = [px, py];
    if (lab.drawn.length < MAX_POINTS) lab.drawn.push(toData(lab.frame.view, px, py).map((v) => Math.round(v * 1e4) / 1e4));
    $("points-count").textContent = String(lab.drawn.length);
    drawField();
  };
  field.addEventListener("mousedown", (e) => {
    if (!lab.frame || lab.frame.settings.data !== "drawn") return;
    lab.drawing = true; last = null; add(e);
  });
  field.addEventListener("mousemove", (e) => { if (lab.drawing) add(e); });
  window.addEventListener("mouseup", async () => {
    if (!lab.drawing) return;
    lab.drawing = false;
    if (lab.drawn.length > 0) await post("/api/points", { points: lab.drawn });
  });
}

// ---------------------------------------------------------------------------
// Start: the controls, then the stream of frames
// ---------------------------------------------------------------------------
function onFrame(frame) {
  lab.frame = frame;
  showStats(frame);
  showSettings(frame.settings);
  drawField();
  showChain(frame);
  showCurves(frame);
  if (frame.message) showMessage(frame.message, !frame.message.startsWith("paused:"));
  $("play").disabled = frame.playing;
  $("pause").disabled = !frame.playing;
  document.body.dataset.frame = String(frame.seq); // lets a test wait for the page to catch up
}

function connect() {
  const events = new EventSource("/events"); // reconnects by itself if the server restarts
  events.addEventListener("frame", (e) => onFrame(JSON.parse(e.data)));
  events.onopen = () => { $("connection").textContent = "live"; $("connection").className = "badge on"; };
  events.onerror = () => { $("connection").textContent = "disconnected"; $("connection").className = "badge off"; };
}

loadPresets().then(() => { wireControls(); connect(); });
