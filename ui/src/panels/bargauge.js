// bargauge panels: one bar per series, horizontal or vertical, gradient/basic/lcd.
import { el } from "../dom.js";
import { withAlpha } from "../fields.js";
import { reducedValues } from "./common.js";

export function renderBarGauge(body, panel, frames) {
  const items = reducedValues(panel, frames);
  const vertical = panel.options?.orientation === "vertical";
  const wrap = el("div", { class: `bargauge ${vertical ? "vertical" : ""}` });
  body.replaceChildren(wrap);
  if (!items.length) {
    wrap.append(el("div", { class: "no-data" }, "No data"));
    return;
  }
  for (const it of items) {
    const min = it.cfg.min ?? 0;
    const max = it.cfg.max ?? (it.cfg.unit === "percent" ? 100 : it.cfg.unit === "percentunit" ? 1 : Math.max(...items.map((x) => x.value ?? 0), 1));
    const frac = it.value == null ? 0 : Math.max(0, Math.min(1, (it.value - min) / (max - min || 1)));
    const pct = `${(frac * 100).toFixed(2)}%`;
    const fill = el("div", { class: "bg-fill", style: `${vertical ? "height" : "width"}:${pct};background:linear-gradient(${vertical ? "0deg" : "90deg"}, ${withAlpha(it.color, 0.35)}, ${it.color})` });
    const track = el("div", { class: "bg-track" }, fill);
    wrap.append(el("div", { class: "bg-row" }, el("div", { class: "bg-name" }, it.name), track, el("div", { class: "bg-value", style: `color:${it.color}` }, it.text + it.suffix)));
  }
}
