// The vidcolor page: upload a photo or film, show the coloured result. No libraries, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

let info = { max_upload_bytes: Infinity, max_video_seconds: Infinity };
let current = 0; // the upload the page is showing; replies to older ones are ignored
let objectUrls = [];

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

async function colourise(file) {
  const upload = ++current;
  objectUrls.forEach(URL.revokeObjectURL);
  objectUrls = [];
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
    showPhoto(file, await response.blob());
  }
}

function showPhoto(file, coloured) {
  const section = $("photo-result");
  section.classList.remove("after-only");
  $("before").onerror = () => section.classList.add("after-only");
  $("before").src = objectUrl(file);
  $("after").src = objectUrl(coloured);
  offerDownload($("after").src, `${stem(file.name)}-colour.png`);
  show("photo-result", "download-row");
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
    const response = await fetch(`/api/jobs/${encodeURIComponent(job.id)}`);
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
    if (file) colourise(file);
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
    if (event.dataTransfer.files.length) colourise(event.dataTransfer.files[0]);
  });
  $("slider").addEventListener("input", () => {
    $("compare").style.setProperty("--split", `${$("slider").value}%`);
  });
  loadInfo().catch(() => fail("The server did not answer; is vidcolor serve still running?"));
}

setUp();
