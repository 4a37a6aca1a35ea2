// The tfhash serve page: no build step, plain DOM. Talks to /v1/models, /v1/items, /v1/search.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;
let pickerOffset = 0;

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children || []) node.append(c);
  return node;
}

function describe(item) {
  // What a result says about its item: tags, else labels, else text, else nothing.
  if (!item) return "";
  for (const key of ["tags", "labels", "text", "title"]) {
    if (Array.isArray(item[key]) && item[key].length) return item[key].join(", ");
    if (typeof item[key] === "string" && item[key]) return item[key];
  }
  return "";
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function search(modality, instance, k) {
  const response = await fetch("/v1/search", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ modality: modality, instances: [instance], k: k }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body.predictions[0];
}

function render(prediction, asText) {
  const results = $("results");
  results.replaceChildren();
  prediction.ids.forEach((id, i) => {
    const item = prediction.items[i];
    const meta = el("div", { class: "meta" }, [el("span", {}, [id]), el("span", { title: "Hamming distance" }, ["d=" + prediction.distances[i]])]);
    const parts = [];
    if (item && item.image_url) parts.push(el("img", { src: item.image_url, alt: id, loading: "lazy" }));
    const words = el("div", { class: "tags" }, [describe(item)]);
    if (asText) {
      parts.push(el("div", {}, [meta, words]));
    } else {
      parts.push(meta, words);
    }
    results.append(el("div", { class: "hit" + (asText ? " text-hit" : "") }, parts));
  });
}

async function run(modality, instance, label, k) {
  document.body.dataset.state = "searching";
  setStatus("searching…");
  try {
    const t0 = performance.now();
    const prediction = await search(modality, instance, k);
    const ms = (performance.now() - t0).toFixed(0);
    $("results-title").replaceChildren(...[].concat(label));
    render(prediction, modality === "image");
    setStatus(`${prediction.ids.length} results in ${ms} ms (ranked by Hamming distance d of the ${info.model.bits}-bit codes)`);
  } catch (err) {
    $("results").replaceChildren();
    setStatus(err.message, true);
  }
  document.body.dataset.state = "done";
}

function textQuery(text) {
  const k = parseInt($("text-k").value, 10) || 12;
  let instance = text;
  if (!info.queries.text || !info.queries.text.strings) {
    // A model without a vocabulary takes vectors: accept a JSON list.
    try { instance = JSON.parse(text); } catch (e) {
      setStatus("this model takes text vectors: type a JSON list of numbers", true);
      document.body.dataset.state = "done";
      return;
    }
  }
  run("text", instance, `Images for “${text}”`, k);
}

function imageQuery(id) {
  for (const img of document.querySelectorAll("#picker img")) img.classList.toggle("chosen", img.dataset.id === id);
  const k = parseInt($("text-k").value, 10) || 12;
  const picked = document.querySelector(`#picker img[data-id="${CSS.escape(id)}"]`);
  const src = picked ? picked.src : `/v1/items/${encodeURIComponent(id)}/image`;
  const img = el("img", { class: "query-image", src: src, alt: id });
  img.addEventListener("error", () => img.remove());  // an item without a picture
  const label = [img, `Texts for picture ${id}`];
  run("image", { item: id }, label, k);
}

async function loadPicker() {
  const response = await fetch(`/v1/items?modality=image&offset=${pickerOffset}&limit=60`);
  const page = await response.json();
  if (!response.ok) { $("picker").textContent = page.error; $("more").hidden = true; return; }
  for (const item of page.items) {
    // A picture where the item has one, else a button with its id.
    const label = item.id + (describe(item) ? ": " + describe(item) : "");
    const node = item.image_url ? el("img", { src: item.image_url, alt: item.id, title: label })
                                : el("button", { type: "button", title: label }, [item.id]);
    node.dataset.id = item.id;
    node.addEventListener("click", () => imageQuery(item.id));
    $("picker").append(node);
  }
  pickerOffset += page.items.length;
  $("more").hidden = pickerOffset >= page.total;
}

async function main() {
  const response = await fetch("/v1/models");
  info = await response.json();
  const m = info.model;
  const sizes = Object.entries(info.indexes).map(([k, v]) => `${v.size} ${k}s`).join(", ");
  $("model").textContent = `${m.method}, ${m.bits} bits (version ${m.version}); index: ${sizes}`;
  if (!info.queries.text) $("text-panel").hidden = true;
  else if (!info.queries.text.strings) $("text-hint").textContent = "This model takes a text vector: type a JSON list of numbers.";
  else $("text-hint").textContent = "Type words (tags); the server turns them into the model's text input.";
  if (!info.queries.image || !info.indexes.image) $("image-panel").hidden = true;
  else await loadPicker();
  $("more").addEventListener("click", loadPicker);
  $("text-form").addEventListener("submit", (e) => { e.preventDefault(); textQuery($("text-query").value); });

  // ?q=TEXT or ?item=ID runs a query at once (links, and the headless-browser test).
  const params = new URLSearchParams(location.search);
  if (params.get("k")) $("text-k").value = params.get("k");
  if (params.get("q")) { $("text-query").value = params.get("q"); textQuery(params.get("q")); }
  else if (params.get("item")) imageQuery(params.get("item"));
  else document.body.dataset.state = "ready";
}

main().catch((err) => { setStatus(err.message, true); document.body.dataset.state = "done"; });
