// What stat, gauge and bargauge share: one reduced, formatted, coloured value per series.
import { displayName, fieldConfigFor, mapValue, reduce, thresholdColor, color } from "../fields.js";
import { formatParts } from "../units.js";

export function reducedValues(panel, frames) {
  const calc = panel.options?.reduceOptions?.calcs?.[0] || "lastNotNull";
  const out = frames.map((f) => {
    const cfg = fieldConfigFor(panel, f);
    const value = reduce(f.values, calc);
    return display(cfg, value, displayName(cfg, f), f, panel);
  });
  const limit = panel.options?.reduceOptions?.limit;
  return limit ? out.slice(0, limit) : out;
}

export function display(cfg, value, name, frame, panel) {
  const mapped = mapValue(cfg, value);
  let [text, suffix] = formatParts(value, cfg.unit || "short", cfg.decimals);
  if (mapped?.text !== undefined && mapped.text !== "") {
    text = mapped.text;
    suffix = "";
  }
  const prefix = panel?.options?.prefix || "";
  const postfix = panel?.options?.postfix || "";
  let c = value == null || Number.isNaN(value) ? "#8e8e8e" : thresholdColor(cfg, value);
  if (cfg.color?.mode === "fixed") c = color(cfg.color.fixedColor);
  if (mapped?.color) c = color(mapped.color);
  return { name, value, text: prefix + text, suffix: suffix + postfix, color: c, cfg, frame };
}

/** Font size that fits `text` into a w×h box. */
export function fitFont(text, w, h, max = 200) {
  const chars = Math.max(1, text.length);
  return Math.max(10, Math.min(max, h, (w / chars) * 1.5));
}
