// table panels: one row per series (labels + reduced value), or all samples for one series.
import { el } from "../dom.js";
import { fieldConfigFor, reduce } from "../fields.js";
import { formatDateTime } from "../time.js";
import { display } from "./common.js";

export function renderTable(body, panel, frames) {
  const calc = panel.options?.reduceOptions?.calcs?.[0] || "lastNotNull";
  const labelNames = [...new Set(frames.flatMap((f) => Object.keys(f.labels)))].sort((a, b) => (a === "__name__" ? -1 : b === "__name__" ? 1 : a.localeCompare(b)));
  const multiRefs = new Set(frames.map((f) => f.refId)).size > 1;
  const head = el("tr", {}, el("th", {}, "Time"), ...labelNames.map((n) => el("th", {}, n)), el("th", { class: "num" }, multiRefs ? "Value #" : "Value"), multiRefs ? el("th", {}, "Query") : null);
  const rows = frames.map((f) => {
    const cfg = fieldConfigFor(panel, f);
    const v = reduce(f.values, calc);
    const d = display(cfg, v, f.name, f, null);
    return el("tr", {}, el("td", {}, formatDateTime(f.ts[f.ts.length - 1] * 1000)), ...labelNames.map((n) => el("td", {}, f.labels[n] ?? "")), el("td", { class: "num", style: `color:${d.color}` }, d.text + d.suffix), multiRefs ? el("td", {}, f.refId) : null);
  });
  const table = el("table", { class: "data-table" }, el("thead", {}, head), el("tbody", {}, rows));
  body.replaceChildren(frames.length ? el("div", { class: "table-wrap" }, table) : el("div", { class: "no-data" }, "No data"));
}
