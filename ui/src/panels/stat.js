// stat panels (and migrated singlestat): big value, thresholds colour, optional sparkline.
import { el, svg } from "../dom.js";
import { withAlpha } from "../fields.js";
import { fitFont, reducedValues } from "./common.js";

function sparkline(frame, w, h, stroke) {
  const n = frame.values.length;
  if (n < 2) return null;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of frame.values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) return null;
  const t0 = frame.ts[0];
  const t1 = frame.ts[n - 1] || t0 + 1;
  const span = hi - lo || 1;
  let d = "";
  for (let i = 0; i < n; i++) {
    const v = frame.values[i];
    if (!Number.isFinite(v)) continue;
    const x = ((frame.ts[i] - t0) / (t1 - t0 || 1)) * w;
    const y = h - ((v - lo) / span) * h * 0.9;
    d += `${d ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
  }
  return svg("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none" },
    svg("path", { d: `${d}L${w},${h}L0,${h}Z`, fill: withAlpha(stroke, 0.2), stroke: "none" }),
    svg("path", { d, fill: "none", stroke, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
}

export function renderStat(body, panel, frames, ctx) {
  const items = reducedValues(panel, frames);
  const opts = panel.options || {};
  const colorMode = opts.colorMode ?? "value";
  const textMode = opts.textMode || "auto";
  const graph = opts.graphMode === "area";
  const grid = el("div", { class: `stat-grid ${opts.orientation === "horizontal" ? "horizontal" : ""}` });
  if (!items.length) items.push({ name: "", text: "No data", suffix: "", color: "#8e8e8e", value: null });
  body.replaceChildren(grid);
  const rect = ctx?.size?.width ? ctx.size : body.getBoundingClientRect();
  const cols = items.length > 1 && opts.orientation !== "horizontal" && rect.width > rect.height ? items.length : 1;
  const rows = Math.ceil(items.length / cols);
  const w = rect.width / cols;
  const h = rect.height / rows;
  for (const it of items) {
    const showName = textMode === "value_and_name" || textMode === "name" || (textMode === "auto" && items.length > 1);
    const valueText = textMode === "name" ? "" : it.text + it.suffix;
    const size = fitFont(valueText, w - 16, (showName ? 0.5 : 0.7) * h);
    const tile = el("div", { class: "stat", style: colorMode === "background" && it.value != null ? `background:${it.color}` : "" });
    const valueColor = colorMode === "value" ? it.color : colorMode === "background" ? "#fff" : "#ccccdc";
    if (showName) tile.append(el("div", { class: "stat-name", style: `font-size:${Math.max(11, Math.min(18, size * 0.35))}px` }, it.name));
    tile.append(el("div", { class: "stat-value", style: `color:${valueColor};font-size:${size}px` }, it.text, it.suffix ? el("span", { class: "stat-unit" }, it.suffix) : null));
    if (graph && it.frame) {
      const sp = sparkline(it.frame, 200, 50, colorMode === "background" ? "rgba(255,255,255,0.6)" : it.color);
      if (sp) tile.append(sp);
    }
    grid.append(tile);
  }
  grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
}
