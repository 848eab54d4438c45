// Field config (defaults + overrides), colours, thresholds, value mappings and reducers.

export const PALETTE = [
  "#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#705DA0",
  "#37872D", "#FADE2A", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
  "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#508642", "#CCA300", "#7EB26D",
];

const NAMED = {
  green: "#73BF69", "dark-green": "#37872D", "semi-dark-green": "#56A64B", "light-green": "#96D98D", "super-light-green": "#C8F2C2",
  red: "#F2495C", "dark-red": "#C4162A", "semi-dark-red": "#E02F44", "light-red": "#FF7383", "super-light-red": "#FFA6B0",
  orange: "#FF9830", "dark-orange": "#FA6400", "semi-dark-orange": "#FF780A", "light-orange": "#FFB357", "super-light-orange": "#FFCB7D",
  yellow: "#FADE2A", "dark-yellow": "#E0B400", "semi-dark-yellow": "#F2CC0C", "light-yellow": "#FFEE52", "super-light-yellow": "#FFF899",
  blue: "#5794F2", "dark-blue": "#1F60C4", "semi-dark-blue": "#3274D9", "light-blue": "#8AB8FF", "super-light-blue": "#C0D8FF",
  purple: "#B877D9", "dark-purple": "#8F3BB8", "semi-dark-purple": "#A352CC", "light-purple": "#CA95E5", "super-light-purple": "#DEB6F2",
  text: "#ccccdc", transparent: "transparent",
};

export function color(name) {
  if (!name) return PALETTE[0];
  return NAMED[name] || name;
}

export function withAlpha(c, alpha) {
  const hex = color(c);
  const m = hex.match(/^#([0-9a-f]{6})$/i);
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] = { ...(o[k] || {}) };
  o[keys[keys.length - 1]] = value;
}

function regexOrNull(text) {
  try {
    const m = String(text).match(/^\/(.*)\/([a-z]*)$/);
    return m ? new RegExp(m[1], m[2]) : new RegExp(`^(?:${text})$`);
  } catch {
    return null;
  }
}

// Grafana's ComparisonOperation ids, as "byValue" overrides store them.
const COMPARE = {
  eq: (a, b) => a === b, neq: (a, b) => a !== b, ne: (a, b) => a !== b,
  lt: (a, b) => a < b, lte: (a, b) => a <= b, gt: (a, b) => a > b, gte: (a, b) => a >= b,
};

/** "byValue": the series reduced (max, mean, …) compared with a number, as Grafana's matcher does. */
function matchesByValue(opt, frame) {
  const reducer = opt?.reducer || opt?.reduce || "allIsZero";
  const values = frame.values || [];
  if (reducer === "allIsZero") return values.length > 0 && Array.prototype.every.call(values, (v) => v === 0);
  if (reducer === "allIsNull") return Array.prototype.every.call(values, (v) => v == null || Number.isNaN(v));
  const reduced = reduce(values, reducer);
  if (reduced == null || Number.isNaN(reduced)) return false;
  const cmp = COMPARE[opt?.op || "gte"];
  return !!cmp && cmp(reduced, Number(opt?.value ?? 0));
}

/** Does an override's matcher select this series? (Frames here hold one number field each.) */
export function overrideMatches(matcher, frame) {
  const id = matcher?.id;
  const opt = matcher?.options;
  switch (id) {
    case "byName": case "byDisplayName": return frame.name === opt;
    case "byNames": {
      const names = opt?.names || [];
      const inList = names.includes(frame.name);
      return opt?.mode === "exclude" ? !inList : inList;
    }
    case "byRegexp": return !!regexOrNull(opt)?.test(frame.name);
    case "byFrameRefID": return frame.refId === opt;
    // Every series value here is a number; the time field is configured by no override.
    case "byType": return opt === "number";
    case "byValue": return matchesByValue(opt, frame);
    default: return false;
  }
}

/** The field config for one series: defaults, then each override whose matcher fits. */
export function fieldConfigFor(panel, frame) {
  const defaults = panel.fieldConfig?.defaults || {};
  const out = { ...defaults, custom: { ...(defaults.custom || {}) } };
  for (const ov of panel.fieldConfig?.overrides || []) {
    if (!overrideMatches(ov.matcher, frame)) continue;
    for (const prop of ov.properties || []) setPath(out, prop.id, prop.value);
  }
  return out;
}

/**
 * The name a series is shown with: an override's (or the defaults') displayName, with
 * Grafana's ${__field.labels.x}, ${__field.labels}, ${__series.name} and ${__field.name}.
 */
export function displayName(cfg, frame) {
  const fmt = cfg.displayName;
  if (!fmt) return frame.name;
  const labels = frame.labels || {};
  return String(fmt).replace(/\$\{__(field|series)\.(labels|name)(?:\.([^}]+))?\}/g, (all, _scope, what, key) => {
    if (what === "name") return frame.name;
    if (key) return labels[key] ?? "";
    return Object.entries(labels).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`).join(", ");
  });
}

export function thresholdColor(cfg, value) {
  const steps = cfg.thresholds?.steps || [{ value: null, color: "green" }];
  let pick = steps[0]?.color || "green";
  let v = value;
  if (cfg.thresholds?.mode === "percentage") {
    const min = cfg.min ?? 0;
    const max = cfg.max ?? 100;
    v = ((value - min) / (max - min || 1)) * 100;
  }
  for (const s of steps) if (s.value == null || s.value === -Infinity || v >= s.value) pick = s.color;
  return color(pick);
}

/** Value mappings → {text, color} or null. */
export function mapValue(cfg, value) {
  for (const m of cfg.mappings || []) {
    const o = m.options || {};
    if (m.type === "value") {
      const key = value == null ? "null" : String(value);
      const r = o[key] ?? (Number.isFinite(value) ? o[String(Number(value))] : undefined);
      if (r) return r;
    } else if (m.type === "range") {
      const from = o.from ?? -Infinity;
      const to = o.to ?? Infinity;
      if (value != null && value >= from && value <= to) return o.result || null;
    } else if (m.type === "special") {
      const hit = { null: value == null, nan: Number.isNaN(value), "null+nan": value == null || Number.isNaN(value), true: value === 1, false: value === 0, empty: value === "" }[o.match];
      if (hit) return o.result || null;
    } else if (m.type === "regex") {
      try {
        if (new RegExp(o.pattern).test(String(value))) return o.result || null;
      } catch {
        /* a bad user regex maps nothing */
      }
    }
    // Grafana <7 style mapping: {type:1, value, text}
    if (m.type === 1 && String(m.value) === String(value)) return { text: m.text };
  }
  return null;
}

export function reduce(values, calc) {
  const finite = [];
  for (const v of values) if (v != null && !Number.isNaN(v)) finite.push(v);
  switch (calc) {
    case "last": return values.length ? values[values.length - 1] : null;
    case "first": return values.length ? values[0] : null;
    case "firstNotNull": return finite.length ? finite[0] : null;
    case "mean": case "avg": return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
    case "max": return finite.length ? finite.reduce((a, b) => (b > a ? b : a), -Infinity) : null;
    case "min": return finite.length ? finite.reduce((a, b) => (b < a ? b : a), Infinity) : null;
    case "sum": case "total": return finite.reduce((a, b) => a + b, 0);
    case "count": return values.length;
    case "range": return finite.length ? Math.max(...finite) - Math.min(...finite) : null;
    case "delta": {
      let d = 0;
      for (let i = 1; i < finite.length; i++) d += finite[i] >= finite[i - 1] ? finite[i] - finite[i - 1] : finite[i];
      return d;
    }
    case "diff": return finite.length ? finite[finite.length - 1] - finite[0] : null;
    case "diffperc": return finite.length && finite[0] ? (finite[finite.length - 1] - finite[0]) / finite[0] : null;
    case "median": {
      if (!finite.length) return null;
      const sorted = [...finite].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
    case "variance": case "stdDev": {
      if (!finite.length) return null;
      const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
      const v = finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length;
      return calc === "stdDev" ? Math.sqrt(v) : v;
    }
    case "changeCount": {
      let n = 0;
      for (let i = 1; i < finite.length; i++) if (finite[i] !== finite[i - 1]) n++;
      return n;
    }
    case "distinctCount": return new Set(finite).size;
    case "logmin": {
      const pos = finite.filter((v) => v > 0);
      return pos.length ? Math.min(...pos) : null;
    }
    default: return finite.length ? finite[finite.length - 1] : null; // lastNotNull
  }
}

export const CALC_NAMES = { lastNotNull: "Last *", last: "Last", mean: "Mean", max: "Max", min: "Min", sum: "Total", firstNotNull: "First *", first: "First", count: "Count", range: "Range", delta: "Delta", diff: "Difference" };
