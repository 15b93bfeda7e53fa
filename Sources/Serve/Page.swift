/// The page `stackgan serve` answers `GET /` with: plain HTML, CSS and JavaScript in one string,
/// no build step, no fonts or scripts from elsewhere. The captions, samples and seed live in the
/// URL (`?caption=...&caption=...&samples=4&seed=0`), so a link reproduces its images.
enum Page {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StackGAN</title>
<style>
  :root { --ink: #1d2330; --muted: #667085; --line: #d0d5dd; --accent: #2f5bd3; --bg: #f6f7f9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); display: flex; align-items: baseline; gap: 14px; }
  header h1 { font-size: 19px; margin: 0; }
  header span { color: var(--muted); font-size: 13px; }
  main { max-width: 1120px; margin: 0 auto; padding: 20px 24px; display: grid; grid-template-columns: 380px 1fr; gap: 24px; align-items: start; }
  .panel { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px; align-self: start; }
  label { display: block; font-size: 13px; color: var(--muted); margin: 10px 0 4px; }
  .caption { display: flex; gap: 6px; margin-bottom: 6px; }
  .caption input { flex: 1; }
  input[type=text], input[type=number] { padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; font: inherit; width: 100%; }
  .row { display: flex; gap: 12px; }
  .row > div { flex: 1; }
  button { font: inherit; padding: 7px 14px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
  button:disabled { opacity: .55; cursor: wait; }
  .actions { display: flex; gap: 8px; margin-top: 14px; }
  #status { min-height: 20px; margin-top: 10px; font-size: 13px; color: var(--muted); }
  #status.error { color: #b42318; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .result { margin-bottom: 18px; }
  .result p { margin: 0 0 6px; font-size: 14px; }
  .images { display: flex; flex-wrap: wrap; gap: 8px; }
  .images a { display: block; line-height: 0; }
  .images img, #walk-image { width: 128px; height: 128px; image-rendering: pixelated; border-radius: 6px; background: #e4e7ec; }
  .pending { color: var(--muted); font-size: 13px; }
  #walk { margin-top: 18px; }
  #walk-view { display: flex; gap: 14px; align-items: center; margin-top: 8px; }
  #walk input[type=range] { width: 100%; }
  .ends { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); gap: 8px; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header><h1>StackGAN</h1><span id="model">type a caption, get images</span></header>
<main>
  <section class="panel">
    <label>Captions</label>
    <div id="captions"></div>
    <button id="add" type="button">+ caption</button>
    <div class="row">
      <div><label for="samples">Samples per caption</label><input id="samples" type="number" min="1" max="8" value="4"></div>
      <div><label for="seed">Seed</label><input id="seed" type="number" min="0" value="0"></div>
    </div>
    <div class="actions">
      <button id="generate" class="primary" type="button">Generate</button>
      <button id="walk-button" type="button">Walk caption 1 &rarr; 2</button>
    </div>
    <div id="status"></div>
  </section>
  <section>
    <div id="results"></div>
    <div id="walk" class="panel" hidden>
      <h2>Between caption 1 and caption 2 (GAN-INT)</h2>
      <div id="walk-view">
        <a id="walk-link" download="walk.png"><img id="walk-image" alt="interpolated image"></a>
        <div style="flex:1">
          <input id="walk-slider" type="range" min="0" max="8" value="0" aria-label="position between the captions">
          <div class="ends"><span id="walk-from"></span><span id="walk-to"></span></div>
        </div>
      </div>
    </div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let limits = { maxCaptions: 8, maxSamples: 8, maxCaptionCharacters: 300, maxSteps: 16 };
let walkImages = [];

function addCaption(text) {
  if ($("captions").children.length >= limits.maxCaptions) return;
  const row = document.createElement("div");
  row.className = "caption";
  const input = document.createElement("input");
  input.type = "text";
  input.className = "caption-text";
  input.maxLength = limits.maxCaptionCharacters;
  input.placeholder = "a big red star on a black background";
  input.value = text || "";
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") generate(); });
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "\u00d7";
  remove.title = "remove this caption";
  remove.onclick = () => { if ($("captions").children.length > 1) row.remove(); };
  row.append(input, remove);
  $("captions").append(row);
  return input;
}

function captions() {
  return [...document.querySelectorAll(".caption-text")].map((i) => i.value.trim()).filter((t) => t.length > 0);
}

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// The form into the URL, so the address bar is a link to these images.
function saveToURL(list, samples, seed) {
  const params = new URLSearchParams();
  list.forEach((c) => params.append("caption", c));
  params.set("samples", samples);
  params.set("seed", seed);
  history.replaceState(null, "", "?" + params.toString());
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let reply = {};
  try { reply = await response.json(); } catch (e) { reply = { error: response.status + " " + response.statusText }; }
  if (!response.ok) throw new Error(reply.error || ("HTTP " + response.status));
  return reply;
}

function imageLink(png, name, alt) {
  const link = document.createElement("a");
  link.href = "data:image/png;base64," + png;
  link.download = name;
  link.title = "download " + name;
  const img = document.createElement("img");
  img.className = "result-image";
  img.src = link.href;
  img.alt = alt;
  link.append(img);
  return link;
}

function busy(on) {
  $("generate").disabled = on;
  $("walk-button").disabled = on;
}

// One request per caption, so each caption's images appear as soon as they are made.
async function generate() {
  const list = captions();
  if (list.length === 0) { setStatus("Type a caption first.", true); return; }
  const samples = Number($("samples").value), seed = Number($("seed").value);
  saveToURL(list, samples, seed);
  busy(true);
  $("results").replaceChildren();
  const rows = list.map((caption, i) => {
    const section = document.createElement("div");
    section.className = "result";
    const title = document.createElement("p");
    title.textContent = (i + 1) + ". " + caption;
    const images = document.createElement("div");
    images.className = "images";
    images.innerHTML = '<span class="pending">drawing\u2026</span>';
    section.append(title, images);
    $("results").append(section);
    return images;
  });
  let made = 0;
  try {
    for (let i = 0; i < list.length; i++) {
      setStatus("Drawing caption " + (i + 1) + " of " + list.length + "\u2026");
      const reply = await post("/api/generate", { captions: [list[i]], samples, seed });
      rows[i].replaceChildren(...reply.images.map((image) =>
        imageLink(image.png, "caption" + (i + 1) + "_seed" + seed + "_sample" + (image.sample + 1) + ".png", list[i])));
      made += reply.images.length;
    }
    setStatus(made + " images of " + limits.imageSize + "\u00d7" + limits.imageSize + ". Click one to download it; the URL reproduces them.");
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    busy(false);
  }
}

function showWalk(step) {
  const png = walkImages[step];
  if (!png) return;
  $("walk-image").src = "data:image/png;base64," + png;
  $("walk-link").href = $("walk-image").src;
  $("walk-link").download = "walk_seed" + $("seed").value + "_step" + step + ".png";
}

async function walk() {
  const list = captions();
  if (list.length < 2) { setStatus("The walk needs two captions.", true); return; }
  const seed = Number($("seed").value), steps = 9;
  busy(true);
  setStatus("Walking from caption 1 to caption 2\u2026");
  try {
    const reply = await post("/api/interpolate", { captions: list.slice(0, 2), steps, seed });
    walkImages = reply.images.map((image) => image.png);
    $("walk-slider").max = walkImages.length - 1;
    $("walk-slider").value = 0;
    $("walk-from").textContent = list[0];
    $("walk-to").textContent = list[1];
    $("walk").hidden = false;
    showWalk(0);
    setStatus("Drag the slider to walk between the captions.");
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    busy(false);
  }
}

async function start() {
  try {
    const health = await (await fetch("/api/health")).json();
    limits = Object.assign(health.limits, { imageSize: health.imageSize });
    $("model").textContent = health.checkpoint + " \u00b7 " + health.imageSize + "\u00d7" + health.imageSize + " images";
    $("samples").max = limits.maxSamples;
    $("seed").max = limits.maxSeed;
  } catch (e) {
    setStatus("The server does not answer /api/health.", true);
  }
  const params = new URLSearchParams(location.search);
  const given = params.getAll("caption").filter((c) => c.trim().length > 0);
  (given.length ? given : [""]).slice(0, limits.maxCaptions).forEach(addCaption);
  if (params.has("samples")) $("samples").value = params.get("samples");
  if (params.has("seed")) $("seed").value = params.get("seed");
  $("add").onclick = () => { const input = addCaption(""); if (input) input.focus(); };
  $("generate").onclick = generate;
  $("walk-button").onclick = walk;
  $("walk-slider").oninput = (e) => showWalk(Number(e.target.value));
  if (given.length) generate();
}
start();
</script>
</body>
</html>
"""#
}
