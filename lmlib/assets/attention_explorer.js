// Front end of lmlib.viz.AttentionExplorer (an anywidget ES module; nothing is loaded from
// the network). The kernel sends the selected head's weights as float32 bytes (NaN = masked)
// and small uint8 thumbnails of every head of the layer (255 = masked); this module draws
// them, shows the value under the pointer and tints the text by the weights of a query.

const MASKED = [222, 222, 222];  // light grey: not in the colour map, so never a weight

function floats(view) {
  if (!view || !view.byteLength) return new Float32Array(0);
  const copy = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  return new Float32Array(copy);
}

function bytes(view) {
  if (!view || !view.byteLength) return new Uint8Array(0);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function el(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

function render({ model, el: host }) {
  host.classList.add("lmlib-attn");
  const top = el("div", "lmlib-attn-top", host);
  const left = el("div", "lmlib-attn-left", top);
  const stack = el("div", "lmlib-attn-stack", left);
  const heat = el("canvas", "lmlib-attn-heatmap", stack);
  const overlay = el("canvas", "lmlib-attn-overlay", stack);
  const axes = el("div", "lmlib-attn-axes", left);
  axes.textContent = "rows: queries (who looks) \u00b7 columns: keys (who is looked at)";
  const readout = el("div", "lmlib-attn-readout", left);
  const right = el("div", "lmlib-attn-right", top);
  el("div", "lmlib-attn-thumbs-title", right).textContent = "all heads of this layer (click one)";
  const thumbs = el("div", "lmlib-attn-thumbs", right);
  const legend = el("div", "lmlib-attn-legend", right);
  const text = el("div", "lmlib-attn-text", host);
  const caption = el("div", "lmlib-attn-caption", host);

  let W = new Float32Array(0);  // T*T weights of the shown head, NaN = masked
  let T = 0;
  let spans = [];
  let hoverQuery = -1;

  const lut = () => bytes(model.get("colormap"));
  const gamma = () => model.get("gamma");
  const norm = (w) => Math.pow(Math.min(Math.max(w, 0), 1), gamma());
  const colour = (w, table) => {
    const i = 3 * Math.round(255 * norm(w));
    return [table[i], table[i + 1], table[i + 2]];
  };

  function drawLegend() {
    legend.innerHTML = "";
    const bar = el("canvas", "lmlib-attn-legend-bar", legend);
    bar.width = 128; bar.height = 10;
    const ctx = bar.getContext("2d");
    const img = ctx.createImageData(128, 10);
    const table = lut();
    for (let x = 0; x < 128; x++) {
      const c = colour(x / 127, table);
      for (let y = 0; y < 10; y++) img.data.set([c[0], c[1], c[2], 255], 4 * (y * 128 + x));
    }
    ctx.putImageData(img, 0, 0);
    const labels = el("div", "lmlib-attn-legend-labels", legend);
    labels.innerHTML = "<span>0</span><span>0.25</span><span>1</span>";
    const masked = el("div", "lmlib-attn-legend-masked", legend);
    masked.innerHTML = '<span class="lmlib-attn-swatch"></span> masked (may not attend)';
  }

  function drawHeatmap() {
    const t0 = performance.now();
    W = floats(model.get("matrix"));
    T = model.get("n_tokens");
    if (!T || W.length !== T * T) return;
    const px = Math.max(1, Math.floor(384 / T));
    const size = T * px;
    heat.width = size; heat.height = size;
    overlay.width = size; overlay.height = size;
    const shown = Math.max(size, 320);
    for (const c of [heat, overlay]) { c.style.width = shown + "px"; c.style.height = shown + "px"; }
    stack.style.width = shown + "px"; stack.style.height = shown + "px";
    const ctx = heat.getContext("2d");
    const img = ctx.createImageData(size, size);
    const data = img.data;
    const table = lut();
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        const w = W[i * T + j];
        const c = Number.isNaN(w) ? MASKED : colour(w, table);
        for (let dy = 0; dy < px; dy++) {
          let o = 4 * ((i * px + dy) * size + j * px);
          for (let dx = 0; dx < px; dx++, o += 4) {
            data[o] = c[0]; data[o + 1] = c[1]; data[o + 2] = c[2]; data[o + 3] = 255;
          }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    drawOverlay(-1, -1);
    tint(currentQuery());
    host.dataset.drawMs = (performance.now() - t0).toFixed(1);
    host.dataset.layer = String(model.get("layer"));
    host.dataset.head = String(model.get("head"));
  }

  function drawOverlay(i, j) {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const px = overlay.width / Math.max(T, 1);
    const q = i >= 0 ? i : model.get("query");
    ctx.lineWidth = Math.max(1, px / 4);
    if (q >= 0 && q < T) {
      ctx.strokeStyle = "rgba(255, 80, 0, 0.9)";
      ctx.strokeRect(0, q * px, overlay.width, px);
    }
    if (i >= 0 && j >= 0) {
      ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
      ctx.strokeRect(j * px, i * px, px, px);
    }
  }

  function drawThumbs() {
    const H = model.get("n_heads");
    const s = model.get("thumb_size");
    const all = bytes(model.get("thumbs"));
    const table = lut();
    thumbs.innerHTML = "";
    if (!s || all.length !== H * s * s) return;
    for (let h = 0; h < H; h++) {
      const cell = el("div", "lmlib-attn-thumb", thumbs);
      if (h === model.get("head")) cell.classList.add("lmlib-attn-thumb-selected");
      const c = el("canvas", "", cell);
      c.width = s; c.height = s;
      const ctx = c.getContext("2d");
      const img = ctx.createImageData(s, s);
      for (let p = 0; p < s * s; p++) {
        const v = all[h * s * s + p];
        const col = v === 255 ? MASKED : [table[3 * v], table[3 * v + 1], table[3 * v + 2]];
        img.data.set([col[0], col[1], col[2], 255], 4 * p);
      }
      ctx.putImageData(img, 0, 0);
      el("div", "lmlib-attn-thumb-label", cell).textContent = "head " + h;
      cell.title = "show head " + h;
      cell.addEventListener("click", () => { model.set("head", h); model.save_changes(); });
    }
  }

  function drawText() {
    text.innerHTML = "";
    spans = model.get("tokens").map((tok, j) => {
      const s = el("span", "lmlib-attn-token", text);
      s.textContent = tok;
      s.title = "token " + j + " (click: choose it as the query)";
      s.addEventListener("mouseenter", () => { hoverQuery = j; tint(j); drawOverlay(j, -1); });
      s.addEventListener("mouseleave", () => { hoverQuery = -1; tint(currentQuery()); drawOverlay(-1, -1); });
      s.addEventListener("click", () => { model.set("query", j); model.save_changes(); });
      return s;
    });
  }

  function currentQuery() {
    return hoverQuery >= 0 ? hoverQuery : model.get("query");
  }

  function tint(q) {
    for (let j = 0; j < spans.length; j++) {
      const s = spans[j];
      s.classList.remove("lmlib-attn-query", "lmlib-attn-masked");
      s.style.background = "";
      if (q < 0 || q >= T) continue;
      const w = W[q * T + j];
      if (Number.isNaN(w)) s.classList.add("lmlib-attn-masked");
      else s.style.background = "rgba(255, 127, 14, " + norm(w).toFixed(3) + ")";
      if (j === q) s.classList.add("lmlib-attn-query");
    }
    if (q >= 0 && q < T && hoverQuery < 0) {
      readout.textContent = "query " + q + " '" + model.get("labels")[q] + "' chosen: the text below is tinted by its weights";
    }
  }

  function cellAt(event) {
    const r = heat.getBoundingClientRect();
    const i = Math.floor(((event.clientY - r.top) / r.height) * T);
    const j = Math.floor(((event.clientX - r.left) / r.width) * T);
    return [Math.min(Math.max(i, 0), T - 1), Math.min(Math.max(j, 0), T - 1)];
  }

  overlay.addEventListener("mousemove", (event) => {
    if (!T) return;
    const [i, j] = cellAt(event);
    const toks = model.get("labels");
    const w = W[i * T + j];
    const value = Number.isNaN(w) ? "masked" : w.toFixed(4);
    readout.textContent = "query " + i + " '" + toks[i] + "' \u2192 key " + j + " '" + toks[j] + "': " + value;
    hoverQuery = i;
    tint(i);
    drawOverlay(i, j);
  });
  overlay.addEventListener("mouseleave", () => {
    hoverQuery = -1;
    readout.textContent = "point at a cell to read its weight; click a row or a token to choose a query";
    tint(currentQuery());
    drawOverlay(-1, -1);
  });
  overlay.addEventListener("click", (event) => {
    if (!T) return;
    const [i] = cellAt(event);
    model.set("query", i);
    model.save_changes();
  });

  const onCaption = () => { caption.textContent = model.get("caption"); };
  model.on("change:matrix", drawHeatmap);
  model.on("change:thumbs", drawThumbs);
  model.on("change:head", drawThumbs);
  const onTokens = () => { drawText(); drawHeatmap(); };
  const onQuery = () => { tint(currentQuery()); drawOverlay(-1, -1); };
  model.on("change:tokens", onTokens);
  model.on("change:query", onQuery);
  model.on("change:caption", onCaption);

  readout.textContent = "point at a cell to read its weight; click a row or a token to choose a query";
  drawLegend();
  drawText();
  drawHeatmap();
  drawThumbs();
  onCaption();
  return () => {
    model.off("change:matrix", drawHeatmap);
    model.off("change:thumbs", drawThumbs);
    model.off("change:head", drawThumbs);
    model.off("change:caption", onCaption);
    model.off("change:tokens", onTokens);
    model.off("change:query", onQuery);
  };
}

export default { render };
