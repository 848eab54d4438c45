// gauge panels: an SVG arc with threshold bands, as Grafana draws them.
import { el, svg } from "../dom.js";
import { color } from "../fields.js";
import { fitFont, reducedValues } from "./common.js";

const START = -120;
const END = 120;

function polar(cx, cy, r, deg) {
  const a = ((deg - 90) * Math.PI) / 180;
  return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
}

function arc(cx, cy, r, a0, a1) {
  const [x0, y0] = polar(cx, cy, r, a0);
  const [x1, y1] = polar(cx, cy, r, a1);
  return `M${x0},${y0}A${r},${r} 0 ${a1 - a0 > 180 ? 1 : 0} 1 ${x1},${y1}`;
}

function limits(cfg) {
  const pct = cfg.unit === "percent";
  const pctu = cfg.unit === "percentunit";
  return [cfg.min ?? 0, cfg.max ?? (pct ? 100 : pctu ? 1 : 100)];
}

export function renderGauge(body, panel, frames, ctx) {
  const items = reducedValues(panel, frames);
  const wrap = el("div", { class: "gauge-grid" });
  body.replaceChildren(wrap);
  if (!items.length) {
    wrap.append(el("div", { class: "no-data" }, "No data"));
    return;
  }
  const rect = ctx?.size?.width ? ctx.size : body.getBoundingClientRect();
  const n = items.length;
  const horizontal = rect.width >= rect.height;
  wrap.style.gridTemplateColumns = horizontal ? `repeat(${n}, 1fr)` : "1fr";
  const w = horizontal ? rect.width / n : rect.width;
  const h = horizontal ? rect.height : rect.height / n;
  const showThresholdMarkers = panel.options?.showThresholdMarkers !== false;
  for (const it of items) {
    const [min, max] = limits(it.cfg);
    const size = Math.max(40, Math.min(w, h * 1.25));
    const cx = 100;
    const cy = 100;
    const r = 80;
    const thick = 16;
    const frac = it.value == null ? 0 : Math.max(0, Math.min(1, (it.value - min) / (max - min || 1)));
    const parts = [svg("path", { d: arc(cx, cy, r, START, END), stroke: "rgba(204,204,220,0.1)", "stroke-width": thick, fill: "none" })];
    if (showThresholdMarkers) {
      const steps = it.cfg.thresholds?.steps || [];
      steps.forEach((s, i) => {
        const lo = s.value == null ? min : s.value;
        const hi = i + 1 < steps.length ? steps[i + 1].value : max;
        const f0 = Math.max(0, Math.min(1, (lo - min) / (max - min || 1)));
        const f1 = Math.max(0, Math.min(1, (hi - min) / (max - min || 1)));
        if (f1 > f0) parts.push(svg("path", { d: arc(cx, cy, r + thick / 2 + 4, START + f0 * 240, START + f1 * 240), stroke: color(s.color), "stroke-width": 4, fill: "none" }));
      });
    }
    if (frac > 0) parts.push(svg("path", { d: arc(cx, cy, r, START, START + frac * 240), stroke: it.color, "stroke-width": thick, fill: "none" }));
    const label = it.text + it.suffix;
    const fs = fitFont(label, 120, 34, 34);
    parts.push(svg("text", { x: cx, y: cy + fs * 0.35, "text-anchor": "middle", fill: it.color, "font-size": fs, "font-weight": 500 }, document.createTextNode(label)));
    const cell = el("div", { class: "gauge" });
    if (n > 1) cell.append(el("div", { class: "gauge-name" }, it.name));
    const s = svg("svg", { viewBox: "0 0 200 170", width: size, height: size * 0.85 }, parts);
    cell.append(s);
    wrap.append(cell);
  }
}
