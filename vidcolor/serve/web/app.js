// The vidcolor page: upload a photo or film, show the coloured result; on a photo, click to put colours
// (hints) and see it re-coloured. No libraries, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

let info = { max_upload_bytes: Infinity, max_video_seconds: Infinity };
let current = 0; // the upload the page is showing; replies to older ones are ignored
let objectUrls = [];

// The photo shown, where the server takes hints: its file, the id the server keeps it under for previews,
// its upright size in pixels (hints are in these), the hints its full-size result has, and that result's URL.
let photo = null;
let hints = []; // [{x, y, color}], in the order placed
let history = []; // earlier lists of hints, for Undo
let picking = false; // the next click on the photo takes its colour
let previewing = false; // a preview loop is running; it always ends on the latest hints
let previewUrl = null;
let hintsUrl = null;

function megabytes(bytes) {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

function duration(seconds) {
  return seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${Math.round(seconds)} seconds`;
}

function stem(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

async function loadInfo() {
  const response = await fetch("/api/info");
  info = await response.json();
  $("model").textContent = info.model;
  $("limits").textContent = `Photos, or films up to ${duration(info.max_video_seconds)} long; ` +
    `files up to ${megabytes(info.max_upload_bytes)}. Coloured films are kept ` +
    `${duration(info.retention_seconds)} for download.`;
}

// Show exactly these sections (by id); hide the rest.
function show(...ids) {
  for (const id of ["message", "working", "photo-result", "film-result", "download-row"]) {
    $(id).hidden = !ids.includes(id);
  }
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", isError);
}

function fail(text) {
  say(text, true);
  show("message");
}

function working(text, fraction = null) {
  $("progress-text").textContent = text;
  if (fraction === null) {
    $("progress").removeAttribute("value"); // indeterminate
  } else {
    $("progress").value = fraction;
  }
  show("working");
}

function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  objectUrls.push(url);
  return url;
}

function offerDownload(href, name) {
  $("download").hidden = false;
  $("full-size").hidden = true;
  $("download").href = href;
  $("download").download = name;
  $("download").textContent = `Download ${name}`;
}

async function errorText(response) {
  try {
    const { detail } = await response.json();
    return Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : String(detail);
  } catch {
    return `The server answered ${response.status} ${response.statusText}.`;
  }
}

async function colorize(file) {
  const upload = ++current;
  objectUrls.forEach(URL.revokeObjectURL);
  objectUrls = [];
  photo = null;
  $("film").removeAttribute("src");
  if (file.size > info.max_upload_bytes) {
    fail(`${file.name} is ${megabytes(file.size)}; this server takes files up to ${megabytes(info.max_upload_bytes)}.`);
    return;
  }
  working(`Sending ${file.name}…`);
  const body = new FormData();
  body.append("file", file);
  let response;
  try {
    response = await fetch("/api/colorize", { method: "POST", body });
  } catch (error) {
    if (upload === current) fail(`The server could not be reached (${error.message}).`);
    return;
  }
  if (upload !== current) return;
  if (!response.ok) {
    fail(`${file.name}: ${await errorText(response)}`);
  } else if (response.status === 202) {
    await followFilm(upload, file, await response.json());
  } else {
    const colored = await response.blob();
    if (upload === current) showPhoto(file, colored, response.headers);
  }
}

function setSplit(percent) {
  $("slider").value = String(percent);
  $("compare").style.setProperty("--split", `${percent}%`);
}

function showPhoto(file, colored, headers) {
  const section = $("photo-result");
  section.classList.remove("after-only");
  $("before").onerror = () => section.classList.add("after-only");
  $("before").src = objectUrl(file);
  const size = /^(\d+)x(\d+)$/.exec(headers.get("X-Photo-Size") || "");
  const id = headers.get("X-Photo-Id");
  photo = id && size ? { file, id, width: Number(size[1]), height: Number(size[2]), fullHints: "[]", fullUrl: "" } : null;
  hints = [];
  history = [];
  setPicking(false);
  const after = $("after");
  if (photo) { // a preview, smaller than the photo, is shown at the photo's size
    after.width = photo.width;
    after.height = photo.height;
  } else {
    after.removeAttribute("width");
    after.removeAttribute("height");
  }
  $("hint-tools").hidden = !photo;
  $("no-hints").hidden = Boolean(photo) || info.hints !== false;
  $("compare").classList.toggle("hintable", Boolean(photo));
  $("hint-status").textContent = "";
  showFull(objectUrl(colored), "[]");
  offerDownload(after.src, `${stem(file.name)}-colour.png`);
  renderHints();
  const warnings = JSON.parse(headers.get("X-Warnings") || "[]");
  if (warnings.length) say(warnings.join(" "));
  show("photo-result", "download-row", ...(warnings.length ? ["message"] : []));
}

// --- hints ----------------------------------------------------------------------------------------

// Show a result on the photo: `url`, coloured with the hints `shown` (their JSON); `data-hints` says how many.
function display(url, shown) {
  const after = $("after");
  after.onload = () => { after.dataset.hints = String(JSON.parse(shown).length); };
  after.src = url;
}

function showFull(url, shown) {
  if (photo) {
    photo.fullUrl = url;
    photo.fullHints = shown;
  }
  display(url, shown);
}

function hintError(text) {
  say(text, true);
  $("message").hidden = false;
  $("hint-status").textContent = "";
}

function setPicking(on) {
  picking = on;
  $("pick").setAttribute("aria-pressed", String(on));
  $("compare").classList.toggle("picking", on);
}

function hex(r, g, b) {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

// Where an event is on the photo, as fractions of its width and height; null outside it.
function onPhoto(event) {
  const box = $("compare").getBoundingClientRect();
  const fx = (event.clientX - box.left) / box.width;
  const fy = (event.clientY - box.top) / box.height;
  return fx >= 0 && fx < 1 && fy >= 0 && fy < 1 ? { fx, fy } : null;
}

// The colour of the result shown, at a point: into the colour picker.
function pickColor({ fx, fy }) {
  const after = $("after");
  const canvas = document.createElement("canvas");
  canvas.width = 1;
  canvas.height = 1;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  const x = Math.floor(fx * after.naturalWidth);
  const y = Math.floor(fy * after.naturalHeight);
  context.drawImage(after, x, y, 1, 1, 0, 0, 1, 1);
  const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
  $("color").value = hex(r, g, b);
}

function clickPhoto(event) {
  if (!photo) return;
  const point = onPhoto(event);
  if (!point) return;
  if (picking || event.altKey) {
    pickColor(point);
    setPicking(false);
    return;
  }
  const x = Math.min(photo.width - 1, Math.floor(point.fx * photo.width));
  const y = Math.min(photo.height - 1, Math.floor(point.fy * photo.height));
  if (point.fx * 100 < Number($("slider").value)) setSplit(0); // show the result where the colour goes
  changeHints([...hints, { x, y, color: $("color").value }]);
}

function changeHints(next) {
  history.push(hints);
  hints = next;
  hintsChanged();
}

function undo() {
  if (!history.length) return;
  hints = history.pop();
  hintsChanged();
}

function hintsChanged() {
  renderHints();
  const sent = JSON.stringify(hints);
  const stale = sent !== photo.fullHints;
  $("download").hidden = stale; // the download is the full-size result: offered for the hints it has
  $("full-size").hidden = !stale;
  if (stale) {
    preview();
  } else {
    display(photo.fullUrl, sent);
    $("hint-status").textContent = "";
  }
}

function renderHints() {
  const list = $("hint-list");
  list.replaceChildren();
  $("markers").replaceChildren();
  hints.forEach((hint, i) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = hint.color;
    const text = document.createElement("span");
    text.textContent = `${hint.color} at (${hint.x}, ${hint.y})`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove hint ${i + 1}`);
    remove.addEventListener("click", () => changeHints(hints.filter((_, j) => j !== i)));
    item.append(swatch, text, remove);
    list.append(item);

    const marker = document.createElement("span");
    marker.className = "marker";
    marker.style.left = `${((hint.x + 0.5) / photo.width) * 100}%`;
    marker.style.top = `${((hint.y + 0.5) / photo.height) * 100}%`;
    marker.style.background = hint.color;
    marker.textContent = String(i + 1);
    $("markers").append(marker);
  });
  $("undo").disabled = !history.length;
  $("clear").disabled = !hints.length;
  if (hintsUrl) URL.revokeObjectURL(hintsUrl);
  hintsUrl = null;
  $("download-hints").hidden = !hints.length;
  if (hints.length && photo) {
    const json = `${JSON.stringify(hints, null, 2)}\n`;
    hintsUrl = URL.createObjectURL(new Blob([json], { type: "application/json" }));
    $("download-hints").href = hintsUrl;
    $("download-hints").download = `${photo.file.name}.hints.json`;
  }
}

// Re-colour the photo kept on the server, small, with the hints, until what is shown has the latest ones.
async function preview() {
  if (previewing) return; // the running loop sees the change
  previewing = true;
  try {
    for (;;) {
      const shown = photo;
      const sent = JSON.stringify(hints);
      if (!shown || sent === shown.fullHints) return;
      $("hint-status").textContent = "Re-colouring…";
      let response;
      try {
        response = await fetch(`/api/photos/${encodeURIComponent(shown.id)}/preview`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: sent,
        });
      } catch (error) {
        if (photo === shown) hintError(`The server could not be reached (${error.message}).`);
        return;
      }
      const answer = response.ok ? await response.blob() : await errorText(response);
      if (photo !== shown) continue; // another photo since: start again with it
      if (!response.ok) {
        hintError(answer);
        return;
      }
      if (sent !== JSON.stringify(hints)) continue; // changed meanwhile: ask again
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(answer);
      display(previewUrl, sent);
      $("message").hidden = true;
      const count = hints.length === 1 ? "1 hint" : `${hints.length} hints`;
      $("hint-status").textContent = `A quick preview with ${count}; colour at full size to download it.`;
      return;
    }
  } finally {
    previewing = false;
  }
}

// The photo at full size with the hints: sent again with them, as `vidcolor run --hints` would colour it.
async function colorFullSize() {
  const shown = photo;
  const sent = JSON.stringify(hints);
  const body = new FormData();
  body.append("file", shown.file);
  body.append("hints", sent);
  $("full-size").disabled = true;
  $("hint-status").textContent = `Colouring ${shown.file.name} at full size…`;
  let response;
  try {
    response = await fetch("/api/colorize", { method: "POST", body });
  } catch (error) {
    if (photo === shown) hintError(`The server could not be reached (${error.message}).`);
    return;
  } finally {
    $("full-size").disabled = false;
  }
  const answer = response.ok ? await response.blob() : await errorText(response);
  if (photo !== shown) return;
  if (!response.ok) {
    hintError(answer);
    return;
  }
  shown.id = response.headers.get("X-Photo-Id") || shown.id;
  $("message").hidden = true;
  showFull(objectUrl(answer), sent);
  offerDownload(shown.fullUrl, `${stem(shown.file.name)}-colour.png`);
  hintsChanged();
}

function keyDown(event) {
  const typing = event.target instanceof HTMLInputElement && event.target.type !== "color";
  if (photo && !typing && (event.ctrlKey || event.metaKey) && event.key === "z") {
    event.preventDefault();
    undo();
  } else if (event.key === "Escape") {
    setPicking(false);
  }
}

async function followFilm(upload, file, job) {
  while (upload === current) {
    if (job.state === "done") {
      showFilm(file, job);
      return;
    }
    if (job.state === "failed") {
      fail(`${file.name} could not be coloured: ${job.error}`);
      return;
    }
    if (job.state === "queued") {
      working(`${file.name} is waiting its turn…`);
    } else {
      const percent = job.progress === null ? "" : ` ${Math.round(job.progress * 100)}%`;
      working(`Colouring ${file.name}…${percent}`, job.progress);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    let response;
    try {
      response = await fetch(`/api/jobs/${encodeURIComponent(job.id)}`);
    } catch (error) {
      if (upload === current) fail(`The server stopped answering (${error.message}); is vidcolor serve still running?`);
      return;
    }
    if (!response.ok) {
      if (upload === current) fail(await errorText(response));
      return;
    }
    job = await response.json();
  }
}

function showFilm(file, job) {
  $("film").src = job.result;
  offerDownload(job.result, `${stem(file.name)}-colour.mp4`);
  if (job.warnings.length) say(job.warnings.join(" "));
  show("film-result", "download-row", ...(job.warnings.length ? ["message"] : []));
}

function setUp() {
  const form = $("upload");
  $("file").addEventListener("change", () => {
    const [file] = $("file").files;
    $("file").value = ""; // so choosing the same file again starts again
    if (file) colorize(file);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("dragover", (event) => {
    event.preventDefault();
    form.classList.add("over");
  });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("over");
    if (event.dataTransfer.files.length) colorize(event.dataTransfer.files[0]);
  });
  $("slider").addEventListener("input", () => setSplit($("slider").value));
  $("compare").addEventListener("click", clickPhoto);
  $("pick").addEventListener("click", () => setPicking(!picking));
  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", () => changeHints([]));
  $("full-size").addEventListener("click", colorFullSize);
  document.addEventListener("keydown", keyDown);
  loadInfo().catch(() => fail("The server did not answer; is vidcolor serve still running?"));
}

setUp();
