// state-timeline panels: one lane per series, runs of equal values as coloured bars
// (thresholds or value mappings), labelled with the mapped text.
import { el, svg } from "../dom.js";
import { fieldConfigFor } from "../fields.js";
import { display } from "./common.js";

export function renderStateTimeline(body, panel, frames, ctx) {
  const t0 = ctx.range.from / 1000;
  const t1 = ctx.range.to / 1000;
  const lanes = frames.map((f) => {
    const cfg = fieldConfigFor(panel, f);
    const runs = [];
    for (let i = 0; i < f.ts.length; i++) {
      const v = f.values[i];
      const d = display(cfg, Number.isFinite(v) ? v : null, f.name, f, null);
      const last = runs[runs.length - 1];
      const end = i + 1 < f.ts.length ? f.ts[i + 1] : Math.min(t1, f.ts[i] + (f.ts[1] - f.ts[0] || 15));
      if (last && last.text === d.text + d.suffix && last.end >= f.ts[i] - 1e-9) last.end = end;
      else runs.push({ start: f.ts[i], end, text: d.text + d.suffix, color: d.color, value: v });
    }
    return { name: f.name, runs };
  });
  const wrap = el("div", { class: "state-timeline" });
  for (const lane of lanes) {
    const bars = lane.runs.filter((r) => Number.isFinite(r.value)).map((r) => {
      const x = ((r.start - t0) / (t1 - t0)) * 1000;
      const w = Math.max(0.5, ((r.end - r.start) / (t1 - t0)) * 1000);
      return svg("g", {}, svg("rect", { x, y: 0, width: w, height: 100, fill: r.color, "fill-opacity": 0.75 }), svg("title", {}, document.createTextNode(r.text)));
    });
    const labels = lane.runs.filter((r) => (r.end - r.start) / (t1 - t0) > 0.08).map((r) =>
      el("span", { class: "st-label", style: `left:${((r.start - t0) / (t1 - t0)) * 100}%;width:${((r.end - r.start) / (t1 - t0)) * 100}%` }, r.text));
    wrap.append(el("div", { class: "st-lane" }, el("div", { class: "st-name" }, lane.name),
      el("div", { class: "st-bars" }, svg("svg", { viewBox: "0 0 1000 100", preserveAspectRatio: "none" }, bars), ...labels)));
  }
  body.replaceChildren(wrap);
}
