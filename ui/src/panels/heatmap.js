// heatmap panels: Prometheus histogram buckets (series by `le`) or one row per series,
// drawn as cells on a canvas, darker to brighter by count.
import { el } from "../dom.js";
import { formatDateTime } from "../time.js";
import { formatValue } from "../units.js";

function bucketRows(frames) {
  const withLe = frames.filter((f) => f.labels.le !== undefined);
  if (withLe.length !== frames.length || !frames.length) {
    return { rows: frames.map((f) => ({ name: f.name, ts: f.ts, values: Array.from(f.values) })), cumulative: false };
  }
  const bound = (f) => (/^\+?Inf$/i.test(f.labels.le) ? Infinity : parseFloat(f.labels.le));
  const sorted = [...withLe].sort((a, b) => bound(a) - bound(b));
  // Buckets are cumulative: each row counts only what its bound adds to the one below.
  const rows = sorted.map((f, i) => {
    const below = sorted[i - 1];
    const values = Array.from(f.values, (v, j) => (below ? Math.max(0, v - (below.values[j] ?? 0)) : v));
    return { name: f.labels.le, ts: f.ts, values };
  });
  return { rows, cumulative: true };
}

function colour(frac) {
  // Grafana's default "Oranges"-like scheme, dark to bright.
  const a = Math.max(0, Math.min(1, frac));
  const r = Math.round(40 + a * 215);
  const g = Math.round(30 + a * 140);
  const b = Math.round(30 + a * 20);
  return `rgb(${r},${g},${b})`;
}

export function renderHeatmap(body, panel, frames, ctx) {
  const { rows } = bucketRows(frames);
  const unit = panel.fieldConfig?.defaults?.unit || "short";
  const wrap = el("div", { class: "heatmap" });
  const canvas = el("canvas");
  const tip = el("div", { class: "tooltip", style: "display:none" });
  wrap.append(canvas, tip);
  body.replaceChildren(wrap);
  const ts = rows[0]?.ts || [];
  let max = 0;
  for (const r of rows) for (const v of r.values) if (Number.isFinite(v) && v > max) max = v;
  const left = 64;
  const bottom = 20;
  const draw = () => {
    const rect = wrap.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, rect.width * dpr);
    canvas.height = Math.max(1, rect.height * dpr);
    canvas.style.width = `${rect.width}px`;
    canvas.style.height = `${rect.height}px`;
    const g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    const w = rect.width - left;
    const h = rect.height - bottom;
    const t0 = ctx.range.from / 1000;
    const t1 = ctx.range.to / 1000;
    const cellW = ts.length > 1 ? ((ts[1] - ts[0]) / (t1 - t0)) * w : w;
    const cellH = h / Math.max(1, rows.length);
    rows.forEach((r, i) => {
      const y = h - (i + 1) * cellH;
      r.values.forEach((v, j) => {
        if (!Number.isFinite(v) || v <= 0) return;
        const x = left + ((r.ts[j] - t0) / (t1 - t0)) * w - cellW;
        g.fillStyle = colour(max ? v / max : 0);
        g.fillRect(x, y + 1, Math.max(1, cellW - 1), Math.max(1, cellH - 1));
      });
      g.fillStyle = "#9fa7b3";
      g.font = "11px Inter, system-ui, sans-serif";
      g.textAlign = "right";
      g.textBaseline = "middle";
      if (cellH >= 11 || i % Math.ceil(11 / cellH) === 0) g.fillText(r.name === "+Inf" ? "+Inf" : formatValue(parseFloat(r.name), unit), left - 6, y + cellH / 2);
    });
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let k = 0; k <= 4; k++) {
      const t = t0 + ((t1 - t0) * k) / 4;
      const label = formatDateTime(t * 1000).slice(11, 16);
      g.fillText(label, Math.min(rect.width - 20, Math.max(left + 20, left + (w * k) / 4)), h + 4);
    }
  };
  draw();
  canvas.addEventListener("mousemove", (e) => {
    const rect = canvas.getBoundingClientRect();
    const h = rect.height - bottom;
    const i = rows.length - 1 - Math.floor(((e.clientY - rect.top) / h) * rows.length);
    const t = ctx.range.from / 1000 + ((e.clientX - rect.left - left) / (rect.width - left)) * (ctx.range.to - ctx.range.from) / 1000;
    const row = rows[i];
    if (!row || e.clientX - rect.left < left) {
      tip.style.display = "none";
      return;
    }
    let j = 0;
    while (j + 1 < row.ts.length && row.ts[j + 1] <= t) j++;
    tip.replaceChildren(el("div", { class: "tt-time" }, formatDateTime(row.ts[j] * 1000)), el("div", {}, `bucket ≤ ${row.name}: `, el("b", {}, formatValue(row.values[j], "short"))));
    tip.style.display = "block";
    tip.style.left = `${Math.min(e.clientX - rect.left + 12, rect.width - 180)}px`;
    tip.style.top = `${e.clientY - rect.top + 12}px`;
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  const ro = new ResizeObserver(draw);
  ro.observe(wrap);
  return () => ro.disconnect();
}
