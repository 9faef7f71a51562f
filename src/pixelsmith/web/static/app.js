// pixelsmith's page: choose a file and a task, start a job, follow it over server-sent events,
// compare before and after, download. Plain JavaScript, no build step, nothing from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { catalogue: null, file: null, job: null, events: null, zoom: 1, x: 0, y: 0 };

// -- choices from the server's registries ---------------------------------------------------

async function loadCatalogue() {
  const response = await fetch("/api/catalogue");
  if (!response.ok) throw new Error("could not load the list of methods");
  state.catalogue = await response.json();
  const cat = state.catalogue;
  $("version").textContent = "v" + cat.version;
  fillSelect($("scale"), cat.sr_scales.map((s) => [s, "x" + s]), cat.default_sr_scale);
  fillSelect($("codec-model"), cat.codec.models.map((m) => [m.name, m.label]),
             cat.codec.default_model);
  fillSelect($("generator"), cat.generators.map((g) => [g, g]), cat.generators[0]);
  fillSelect($("explain-model"), Object.keys(cat.explain.models).map((m) => [m, m]),
             cat.explain.default);
  explainModelChanged();
  const mb = (cat.limits.max_upload_bytes / 1048576).toFixed(0);
  const mp = (cat.limits.max_pixels / 1e6).toFixed(0);
  $("limits").textContent = `Uploads up to ${mb} MB and ${mp} megapixels; ` +
    `${cat.limits.workers} job(s) at a time. Results are deleted after ` +
    `${Math.round(cat.limits.result_ttl_s / 60)} min.`;
  taskChanged();
}

function fillSelect(select, pairs, chosen) {
  select.replaceChildren(...pairs.map(([value, label]) => {
    const option = new Option(label, value);
    option.selected = String(value) === String(chosen);
    return option;
  }));
}

function taskChanged() {
  const task = $("task").value;
  for (const box of document.querySelectorAll(".param")) {
    box.hidden = !box.dataset.tasks.split(" ").includes(task);
  }
  const info = state.catalogue && state.catalogue.tasks[task];
  if (info) {
    const pairs = [["", `default (${info.default})`]];
    for (const m of info.methods) pairs.push([m.name, `${m.name} (${m.kind})`]);
    fillSelect($("method"), pairs, "");
  }
  methodChanged();
  if (task === "explain") refineExplain();
  if (state.job && state.job.task !== task) clearResult();
  showMaskEditor();
  showPointPicker();
}

// -- explanations: the model decides the kinds, its parameters and whether a point or a mask --

function explainModel() {
  const cat = state.catalogue;
  return cat ? cat.explain.models[$("explain-model").value] : null;
}

function explainModelChanged() {
  const model = explainModel();
  if (!model) return;
  const pairs = [["", `all that fit (${model.kinds.join(", ")})`]];
  for (const k of model.kinds) pairs.push([k, k]);
  fillSelect($("kind"), pairs, model.kinds.includes("attribution") ? "attribution"
                                                                   : model.kinds[0]);
  $("at").value = "";
  $("point-mark").hidden = true;
  if ($("task").value === "explain") {
    refineExplain();
    showMaskEditor();
    showPointPicker();
  }
}

function refineExplain() {  // within the explain task: only what the chosen model takes
  const model = explainModel();
  if (!model) return;
  $("sigma-box").hidden = !model.needs.includes("sigma");
  $("quality-box").hidden = !model.needs.includes("quality");
  $("brush-box").hidden = !model.needs.includes("mask");
  $("at-box").hidden = model.kind !== "restoration" || model.needs.includes("mask");
}

function wantsMask() {
  const task = $("task").value;
  if (task === "inpaint") return true;
  const model = explainModel();
  return task === "explain" && Boolean(model) && model.needs.includes("mask");
}

function wantsPoint() {
  const model = explainModel();
  return $("task").value === "explain" && Boolean(model) && model.kind === "restoration" &&
    !model.needs.includes("mask");
}

let pointUrl = null;

function showPointPicker() {
  const picker = $("point-picker");
  const want = wantsPoint() && state.file && !/\.pxs$/i.test(state.file.name);
  picker.hidden = !want;
  if (!want) return;
  if (pointUrl) URL.revokeObjectURL(pointUrl);
  pointUrl = URL.createObjectURL(state.file);
  const img = $("point-image");
  img.onload = () => {
    const room = $("view").getBoundingClientRect().width;
    const scale = Math.min(room / img.naturalWidth, 0.45 * innerHeight / img.naturalHeight);
    img.style.width = Math.round(img.naturalWidth * scale) + "px";
    img.style.height = Math.round(img.naturalHeight * scale) + "px";
    placeMark();
  };
  img.src = pointUrl;
}

// A click picks an input pixel; the model's output pixel over its centre is what is explained
// (super-resolution models: the input pixel times the scale, plus half of it).
function pickPoint(event) {
  const img = $("point-image");
  const rect = img.getBoundingClientRect();
  const x = Math.floor((event.clientX - rect.left) * img.naturalWidth / rect.width);
  const y = Math.floor((event.clientY - rect.top) * img.naturalHeight / rect.height);
  const inside = (v, n) => Math.min(n - 1, Math.max(0, v));
  const scale = (explainModel() || { scale: 1 }).scale || 1;
  const half = Math.floor(scale / 2);
  $("at").value = `${inside(x, img.naturalWidth) * scale + half},` +
                  `${inside(y, img.naturalHeight) * scale + half}`;
  placeMark();
}

function placeMark() {  // the mark over the input pixel of the point in the "at" field
  const mark = $("point-mark"), img = $("point-image");
  const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec($("at").value);
  if (!match || !img.naturalWidth) { mark.hidden = true; return; }
  const scale = (explainModel() || { scale: 1 }).scale || 1;
  const rect = img.getBoundingClientRect();
  const px = rect.width / img.naturalWidth;
  mark.style.left = ((Math.floor(Number(match[1]) / scale) + 0.5) * px) + "px";
  mark.style.top = ((Math.floor(Number(match[2]) / scale) + 0.5) * px) + "px";
  mark.hidden = false;
}

function methodChanged() {
  const task = $("task").value;
  const info = state.catalogue && state.catalogue.tasks[task];
  if (!info) { $("method-summary").textContent = ""; return; }
  const name = $("method").value || info.default;
  const method = info.methods.find((m) => m.name === name);
  $("method-summary").textContent = method ? method.summary : "";
}

// -- the file -------------------------------------------------------------------------------

function chooseFile(file) {
  if (!file) return;
  state.file = file;
  $("file-name").textContent = `${file.name} (${(file.size / 1024).toFixed(0)} KB)`;
  if (/\.pxs$/i.test(file.name)) { $("task").value = "decompress"; taskChanged(); }
  else if ($("task").value === "decompress") { $("task").value = "denoise"; taskChanged(); }
  showMaskEditor();
  showPointPicker();
}

function setupDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => chooseFile(e.target.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => chooseFile(e.dataTransfer.files[0]));
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter") $("file").click(); });
}

// -- the inpainting mask: painted on a canvas over the image ---------------------------------

let painting = false, lastPoint = null, maskUrl = null;

function showMaskEditor() {
  const editor = $("mask-editor");
  const want = wantsMask() && state.file && !/\.pxs$/i.test(state.file.name);
  editor.hidden = !want;
  if (!want) return;
  if (maskUrl) URL.revokeObjectURL(maskUrl);
  maskUrl = URL.createObjectURL(state.file);
  const img = $("mask-image");
  img.onload = () => {
    const canvas = $("mask-canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    // shown as large as fits (small images enlarged), the canvas over it at the same size
    const room = $("view").getBoundingClientRect().width;
    const scale = Math.min(room / img.naturalWidth, 0.62 * innerHeight / img.naturalHeight);
    img.style.width = Math.round(img.naturalWidth * scale) + "px";
    img.style.height = Math.round(img.naturalHeight * scale) + "px";
  };
  img.src = maskUrl;
  clearResult();
}

function clearResult() {
  setProgress(0, "idle");
  $("compare").hidden = true;
  $("download").hidden = true;
  $("panels").hidden = true;
  $("info").replaceChildren();
}

function canvasPoint(event) {
  const canvas = $("mask-canvas");
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * canvas.width / rect.width,
          (event.clientY - rect.top) * canvas.height / rect.height];
}

function paint(to) {
  const canvas = $("mask-canvas");
  const ctx = canvas.getContext("2d");
  const scale = canvas.width / canvas.getBoundingClientRect().width;
  ctx.strokeStyle = ctx.fillStyle = "#ff2d2d";
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.lineWidth = Number($("brush").value) * scale;
  ctx.beginPath();
  const from = lastPoint || to;
  ctx.moveTo(from[0], from[1]);
  ctx.lineTo(to[0] + 0.01, to[1]);
  ctx.stroke();
  lastPoint = to;
}

function setupMask() {
  const canvas = $("mask-canvas");
  canvas.addEventListener("pointerdown", (e) => {
    painting = true; lastPoint = null; canvas.setPointerCapture(e.pointerId); paint(canvasPoint(e));
  });
  canvas.addEventListener("pointermove", (e) => { if (painting) paint(canvasPoint(e)); });
  const stop = () => { painting = false; lastPoint = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  $("clear-mask").addEventListener("click", () => {
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  });
}

// The mask the server reads: white where the user painted, black elsewhere, image-sized.
function maskBlob() {
  const canvas = $("mask-canvas");
  const out = document.createElement("canvas");
  out.width = canvas.width; out.height = canvas.height;
  const src = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const ctx = out.getContext("2d");
  const dst = ctx.createImageData(canvas.width, canvas.height);
  let painted = 0;
  for (let i = 0; i < src.data.length; i += 4) {
    const on = src.data[i + 3] > 0 ? 255 : 0;
    painted += on ? 1 : 0;
    dst.data[i] = dst.data[i + 1] = dst.data[i + 2] = on;
    dst.data[i + 3] = 255;
  }
  ctx.putImageData(dst, 0, 0);
  return new Promise((resolve) => out.toBlob((blob) => resolve([blob, painted]), "image/png"));
}

// -- running a job --------------------------------------------------------------------------

function formFor(task) {
  const form = new FormData();
  form.append("task", task);
  const fields = { denoise: ["method", "sigma", "strength", "format"],
                   dejpeg: ["method", "quality", "strength", "format"],
                   sr: ["method", "scale", "strength", "format"],
                   deblur: ["method", "sigma", "kernel", "strength", "format"],
                   photo: ["method", "photo-scale", "strength", "format"],
                   inpaint: ["method", "format"], compress: ["codec-model"], decompress: [],
                   generate: ["generator", "seed", "count", "temperature"],
                   explain: ["explain-model", "kind", "at", "sigma", "quality"] }[task];
  const names = { "codec-model": "model", generator: "model", "explain-model": "model",
                  "photo-scale": "scale" };
  for (const id of fields) form.append(names[id] || id, $(id).value.trim());
  return form;
}

async function run() {
  const task = $("task").value;
  showError("");
  if (task !== "generate" && !state.file) { showError("choose a file first"); return; }
  const form = formFor(task);
  if (task !== "generate") form.append("image", state.file, state.file.name);
  if (wantsMask()) {
    const [blob, painted] = await maskBlob();
    if (!painted) { showError("paint the area to fill in on the image first"); return; }
    form.append("mask", blob, "mask.png");
  }
  $("run").disabled = true;
  setProgress(0, "uploading");
  $("download").hidden = true;
  $("info").replaceChildren();
  try {
    const response = await fetch("/jobs", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(detail(body) || `the server answered ${response.status}`);
    follow(body);
  } catch (error) {
    showError(error.message);
    setProgress(0, "failed");
    $("run").disabled = false;
  }
}

function detail(body) {
  if (!body || !body.detail) return "";
  if (typeof body.detail === "string") return body.detail;
  return body.detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ");
}

function follow(job) {
  state.job = job;
  if (state.events) state.events.close();
  update(job);
  const events = new EventSource(`/jobs/${job.id}/events`);
  state.events = events;
  events.onmessage = (e) => {
    const snapshot = JSON.parse(e.data);
    update(snapshot);
    if (snapshot.status === "done" || snapshot.status === "failed") events.close();
  };
  events.onerror = () => { events.close(); if (state.events === events) poll(job.id); };
}

async function poll(id) {  // when the event stream breaks: ask now and then instead
  const response = await fetch(`/jobs/${id}`);
  if (!response.ok) { showError("the job was lost (the server restarted?)"); finish(); return; }
  const snapshot = await response.json();
  update(snapshot);
  if (snapshot.status !== "done" && snapshot.status !== "failed") setTimeout(() => poll(id), 500);
}

function update(job) {
  if (job.status === "queued") {
    setProgress(0, job.position ? `waiting: number ${job.position} in line` : "waiting");
  } else if (job.status === "running") {
    const unit = job.task === "explain" ? "explanation" : "tile";
    const tiles = job.total > 1 ? ` (${unit} ${job.done} of ${job.total})` : "";
    setProgress(job.progress * 100, `running ${Math.round(job.progress * 100)}%${tiles}`);
  } else if (job.status === "done") {
    setProgress(100, "done 100%");
    showResult(job);
    finish();
  } else if (job.status === "failed") {
    setProgress(0, "failed");
    showError(job.error || "the job failed");
    finish();
  }
}

function finish() { $("run").disabled = false; }

function setProgress(percent, text) {
  $("progress").value = Math.round(percent);
  $("progress-text").textContent = text;
}

function showError(message) { $("error").textContent = message; }

// -- the result: before/after with a slider, zoom and pan -----------------------------------

function showResult(job) {
  $("mask-editor").hidden = true;
  const link = $("download");
  link.href = job.files.result;
  link.hidden = false;
  if (job.task === "explain") {
    link.textContent = "Download the page (.zip)";
    $("compare").hidden = true;
    showPanels(job);
    showInfo(job);
    return;
  }
  $("panels").hidden = true;
  $("compare").hidden = false;
  const before = $("before"), after = $("after");
  const hasBefore = Boolean(job.files.before);
  before.hidden = !hasBefore;
  $("slider").disabled = !hasBefore;
  $("divider").hidden = !hasBefore;
  after.onload = () => {
    const w = after.naturalWidth, h = after.naturalHeight;
    for (const img of [before, after]) { img.style.width = w + "px"; img.style.height = h + "px"; }
    $("stage").style.width = w + "px";
    $("stage").style.height = h + "px";
    fit();
    applySlider();
  };
  if (hasBefore) before.src = job.files.before; else before.removeAttribute("src");
  after.src = job.files.after + `?t=${job.id}`;
  link.textContent = job.task === "compress" ? "Download .pxs"
    : `Download ${job.info.output_format || "PNG"}`;
  showInfo(job);
}

// The explanation: for each section its title, text, panels (numbered by the server) with
// their captions, and its table of figures. Text goes in as text, never as HTML.
function showPanels(job) {
  const make = (tag, text) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const parts = [];
  if (job.info.intro) parts.push(make("p", job.info.intro));
  for (const section of job.info.sections) {
    const box = make("section");
    box.className = "explain-section";
    box.append(make("h3", section.title));
    if (section.text) box.append(make("p", section.text));
    const figures = make("div");
    figures.className = "figures";
    for (const panel of section.panels) {
      const figure = make("figure");
      const img = make("img");
      img.src = job.files[`panels/${panel.index}`];
      img.alt = panel.caption;
      img.width = panel.width;
      img.height = panel.height;
      figure.append(img, make("figcaption", panel.caption));
      figures.append(figure);
    }
    box.append(figures);
    if (section.table) {
      const table = make("table");
      const head = make("tr");
      for (const h of section.table.headers) head.append(make("th", h));
      table.append(head);
      for (const row of section.table.rows) {
        const tr = make("tr");
        for (const cell of row) tr.append(make("td", cell));
        table.append(tr);
      }
      box.append(table);
    }
    parts.push(box);
  }
  $("panels").replaceChildren(...parts);
  $("panels").hidden = false;
}

function showInfo(job) {
  const rows = [[job.task === "explain" ? "model" : "method", job.info.method]];
  const o = job.options;
  if (job.task === "explain") {
    rows.push(["explanations", job.info.kinds.join(", ")]);
    if (o.at) rows.push(["output pixel", o.at.join(", ")]);
    for (const [k, v] of Object.entries(job.info.conditioning || {})) rows.push([k, v]);
  }
  if (job.info.sigma !== undefined) rows.push(["sigma", job.info.sigma +
                                               (o.sigma === "auto" ? " (estimated)" : "")]);
  if (job.info.quality !== undefined) rows.push(["JPEG quality", job.info.quality]);
  if (job.info.scale !== undefined) rows.push(["scale", "x" + job.info.scale]);
  if (job.info.strength !== undefined) rows.push(["strength", job.info.strength.toFixed(2)]);
  if (o.kernel !== undefined) rows.push(["kernel", o.kernel ? o.kernel.join(":") : "blind"]);
  if (o.codec_quality) rows.push(["quality", "q" + o.codec_quality]);
  if (job.info.bytes !== undefined) {
    rows.push(["file size", `${job.info.bytes} bytes`], ["bits per pixel", job.info.bpp],
              ["PSNR", job.info.psnr === null ? "lossless" : `${job.info.psnr} dB`]);
  }
  if (o.seed !== undefined) rows.push(["seed", o.seed], ["images", o.count],
                                      ["temperature", o.temperature]);
  if (job.info.width) rows.push(["input", `${job.info.width} x ${job.info.height}` +
                                 (job.info.format ? ` ${job.info.format}` : "")]);
  if (job.info.output_format) rows.push(["file", `${job.info.output_format} ` +
                                         `(${job.info.output_format_why})`]);
  rows.push(["time", `${job.info.seconds} s`]);
  $("info").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k; dd.textContent = String(v);
    return [dt, dd];
  }));
}

function applySlider() {
  const percent = Number($("slider").value);
  const hasBefore = !$("before").hidden;
  $("after").style.clipPath = hasBefore ? `inset(0 0 0 ${percent}%)` : "none";
  $("divider").style.left = percent + "%";
}

function applyView() {
  $("stage").style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.zoom})`;
  $("stage").classList.toggle("pixelated", state.zoom * devicePixelRatio >= 2);
  $("zoom-level").textContent = `${Math.round(state.zoom * devicePixelRatio * 100)}%`;
}

function fit() {
  const view = $("viewport").getBoundingClientRect();
  const w = $("after").naturalWidth || 1, h = $("after").naturalHeight || 1;
  state.zoom = Math.min(view.width / w, view.height / h);
  state.x = (view.width - w * state.zoom) / 2;
  state.y = (view.height - h * state.zoom) / 2;
  applyView();
}

function zoomAt(zoom, cx, cy) {  // keep the image point under (cx, cy) in place
  zoom = Math.min(64, Math.max(0.02, zoom));
  state.x = cx - (cx - state.x) * zoom / state.zoom;
  state.y = cy - (cy - state.y) * zoom / state.zoom;
  state.zoom = zoom;
  applyView();
}

function setupCompare() {
  $("slider").addEventListener("input", applySlider);
  $("zoom-fit").addEventListener("click", fit);
  $("zoom-1").addEventListener("click", () => {  // one image pixel per screen pixel
    const view = $("viewport").getBoundingClientRect();
    zoomAt(1 / devicePixelRatio, view.width / 2, view.height / 2);
  });
  const viewport = $("viewport");
  viewport.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = viewport.getBoundingClientRect();
    zoomAt(state.zoom * Math.exp(-e.deltaY * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  let drag = null;
  viewport.addEventListener("pointerdown", (e) => {
    drag = [e.clientX - state.x, e.clientY - state.y];
    viewport.setPointerCapture(e.pointerId);
    viewport.classList.add("dragging");
  });
  viewport.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.x = e.clientX - drag[0]; state.y = e.clientY - drag[1];
    applyView();
  });
  const end = () => { drag = null; viewport.classList.remove("dragging"); };
  viewport.addEventListener("pointerup", end);
  viewport.addEventListener("pointercancel", end);
}

// -- start ----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  setupDrop();
  setupMask();
  setupCompare();
  $("task").addEventListener("change", taskChanged);
  $("method").addEventListener("change", methodChanged);
  $("explain-model").addEventListener("change", explainModelChanged);
  $("point-image").addEventListener("click", pickPoint);
  $("at").addEventListener("input", placeMark);
  $("strength").addEventListener("input", () => {
    $("strength-value").textContent = Number($("strength").value).toFixed(2);
  });
  $("run").addEventListener("click", run);
  loadCatalogue().catch((error) => showError(error.message));
});
