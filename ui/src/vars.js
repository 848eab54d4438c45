// Template variables: option lists from the Prometheus API, current values from the URL,
// and interpolation with Grafana's formats ($v, ${v}, ${v:fmt}, [[v]]).
import { api } from "./api.js";
import { formatDuration, parseDurationMs } from "./time.js";

const VAR_RE = /\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:}]+))?(?::([^}]+))?\}/g;
export const ALL = "$__all";

const regexEscape = (s) => s.replace(/[\\^$*+?.()|[\]{}]/g, "\\$&");
// What Grafana's Prometheus data source does to each value of a multi/all variable.
const promRegexEscape = (s) => s.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
const promSingleEscape = (s) => s.replace(/\\/g, "\\\\").replace(/'/g, "\\\\'");

function formatValues(values, fmt, variable, forProm) {
  const list = Array.isArray(values) ? values : [values];
  switch (fmt) {
    case "csv": return list.join(",");
    case "pipe": return list.join("|");
    case "json": return JSON.stringify(list.length === 1 ? list[0] : list);
    case "regex": return list.length === 1 ? regexEscape(list[0]) : `(${list.map(regexEscape).join("|")})`;
    case "raw": case "text": return list.join(",");
    case "glob": return list.length === 1 ? list[0] : `{${list.join(",")}}`;
    case "singlequote": return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(",");
    case "doublequote": return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(",");
    case "sqlstring": return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(",");
    case "percentencode": return encodeURIComponent(list.join(","));
    case "queryparam": return list.map((v) => `var-${variable.name}=${encodeURIComponent(v)}`).join("&");
    case "lucene": return list.length === 1 ? list[0] : `(${list.map((v) => `"${v}"`).join(" OR ")})`;
    default:
      if (forProm) {
        if (!variable.multi && !variable.includeAll) return promSingleEscape(list.join(","));
        if (list.length === 1) return promRegexEscape(list[0]);
        return `(${list.map(promRegexEscape).join("|")})`;
      }
      return list.length === 1 ? list[0] : `{${list.join(",")}}`;
  }
}

export class Variables {
  constructor(list, builtins) {
    this.list = list || [];
    this.builtins = builtins; // name → value text ($__interval, $__range, …)
  }

  byName(name) {
    return this.list.find((v) => v.name === name);
  }

  /** The values a variable stands for now (All expanded to its options). */
  values(v) {
    let cur = v.current?.value;
    if (cur == null) return [""];
    if (!Array.isArray(cur)) cur = [cur];
    if (cur.includes(ALL) || cur.includes("$__all")) {
      if (v.allValue) return null; // caller uses allValue verbatim
      return (v.options || []).filter((o) => o.value !== ALL).map((o) => o.value);
    }
    return cur.map(String);
  }

  interpolate(text, scoped = {}, forProm = true) {
    if (!text || typeof text !== "string" || !text.includes("$") && !text.includes("[[")) return text;
    return text.replace(VAR_RE, (match, n1, n2, f2, n3, field, f3) => {
      const name = n1 || n2 || n3;
      const fmt = f2 || f3;
      if (name in scoped) return scoped[name];
      if (this.builtins && name in this.builtins) {
        const b = this.builtins[name];
        return typeof b === "function" ? b(fmt) : b;
      }
      const v = this.byName(name);
      if (!v) return match;
      if (v.type === "datasource") return field === "uid" || !fmt ? String(v.current?.value ?? "") : String(v.current?.text ?? "");
      if (fmt === "text") return [].concat(v.current?.text ?? "").join(" + ");
      const vals = this.values(v);
      if (vals === null) return v.allValue;
      return formatValues(vals, fmt, v, forProm);
    });
  }
}

function sortOptions(opts, sort) {
  const num = (s) => {
    const m = String(s).match(/\d+(\.\d+)?/);
    return m ? parseFloat(m[0]) : Number.NEGATIVE_INFINITY;
  };
  const cmp = {
    1: (a, b) => a.text.localeCompare(b.text),
    2: (a, b) => b.text.localeCompare(a.text),
    3: (a, b) => num(a.text) - num(b.text),
    4: (a, b) => num(b.text) - num(a.text),
    5: (a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()),
    6: (a, b) => b.text.toLowerCase().localeCompare(a.text.toLowerCase()),
    7: (a, b) => a.text.localeCompare(b.text, undefined, { numeric: true }),
    8: (a, b) => b.text.localeCompare(a.text, undefined, { numeric: true }),
  }[sort];
  return cmp ? opts.sort(cmp) : opts;
}

function parseRegex(text) {
  if (!text) return null;
  const m = String(text).match(/^\/(.*)\/([gimsuy]*)$/s);
  try {
    return m ? new RegExp(m[1], m[2].replace("g", "")) : new RegExp(text);
  } catch {
    return null;
  }
}

/** Apply a variable's regex as Grafana does: a capture group (or named text/value) picks the value. */
export function applyRegex(values, regexText) {
  const re = parseRegex(regexText);
  const seen = new Set();
  const out = [];
  for (const raw of values) {
    let value = raw;
    let text = raw;
    if (re) {
      const m = re.exec(raw);
      if (!m) continue;
      if (m.groups && (m.groups.value || m.groups.text)) {
        value = m.groups.value ?? m.groups.text;
        text = m.groups.text ?? value;
      } else if (m.length > 1 && m[1] !== undefined) {
        value = text = m[1];
      }
    }
    if (seen.has(value)) continue;
    seen.add(value);
    out.push({ text, value });
  }
  return out;
}

function queryText(v) {
  const q = v.query;
  if (q && typeof q === "object") return q.query ?? q.qryType ?? "";
  return q ?? "";
}

function formatInstant(r) {
  const labels = Object.entries(r.metric).filter(([k]) => k !== "__name__").map(([k, val]) => `${k}="${val}"`).join(",");
  return `${r.metric.__name__ ?? ""}{${labels}} ${r.value[1]} ${r.value[0] * 1000}`;
}

async function runLokiVariable(text, start, end) {
  const range = new URLSearchParams({ start: `${start}000000000`, end: `${end}000000000` });
  const get = (path) => fetch(`${path}?${range}`, { credentials: "same-origin" }).then((r) => r.json()).then((j) => j.data || []);
  let m;
  if ((m = text.match(/^\s*label_values\(\s*(?:(.+)\s*,\s*)?([a-zA-Z_][\w]*)\s*\)\s*$/s))) {
    if (m[1]) range.set("query", m[1].trim());
    return get(`/loki/api/v1/label/${encodeURIComponent(m[2])}/values`);
  }
  return get("/loki/api/v1/labels");
}

/** The raw strings a `query` variable stands for, from the Prometheus (or Loki) API. */
async function runQueryVariable(text, start, end, loki) {
  if (loki) return runLokiVariable(text, start, end);
  let m;
  if ((m = text.match(/^\s*label_names\(\s*(.*?)\s*\)\s*$/s))) return api.labels(start, end, m[1] || undefined);
  if ((m = text.match(/^\s*label_values\(\s*(?:(.+)\s*,\s*)?([a-zA-Z_][\w]*)\s*\)\s*$/s))) {
    return api.labelValues(m[2], start, end, m[1]?.trim() || undefined);
  }
  if ((m = text.match(/^\s*metrics\(\s*(.*?)\s*\)\s*$/s))) {
    const names = await api.labelValues("__name__", start, end);
    const re = parseRegex(m[1]);
    return re ? names.filter((n) => re.test(n)) : names;
  }
  const qr = text.match(/^\s*query_result\(\s*(.+)\s*\)\s*$/s);
  const res = await api.query(qr ? qr[1] : text, end);
  if (res.resultType === "vector") return res.result.map(formatInstant);
  if (res.resultType === "scalar" || res.resultType === "string") return [String(res.result[1])];
  return [];
}

/**
 * Fill options and pick current values for every variable in order, so a variable
 * that refers to an earlier one ($job in $node's query) sees its resolved value.
 */
export async function resolveVariables(vars, urlValues, range, builtins) {
  const startS = Math.floor(range.from / 1000);
  const endS = Math.ceil(range.to / 1000);
  for (const v of vars.list) {
    const text = queryText(v);
    let options = v.options || [];
    try {
      if (v.type === "query") {
        const ds = v.datasource;
        const loki = /loki/i.test(vars.interpolate(typeof ds === "string" ? ds : `${ds?.type || ""} ${ds?.uid || ""}`, {}, false));
        const raw = await runQueryVariable(vars.interpolate(text, {}, true), startS, endS, loki);
        options = sortOptions(applyRegex(raw.map(String), vars.interpolate(v.regex || "", {}, false)), v.sort);
        v.error = null;
      } else if (v.type === "custom") {
        options = String(text).split(/(?<!\\),/).map((s) => s.trim().replace(/\\,/g, ",")).filter((s) => s !== "").map((s) => {
          const kv = s.match(/^(.+?)\s:\s(.+)$/);
          return kv ? { text: kv[1], value: kv[2] } : { text: s, value: s };
        });
      } else if (v.type === "interval") {
        options = String(text).split(",").map((s) => s.trim()).filter(Boolean).map((s) => ({ text: s, value: s }));
        if (v.auto) options.unshift({ text: "auto", value: "$__auto_interval_" + v.name });
      } else if (v.type === "constant") {
        options = [{ text: String(text), value: String(text) }];
      } else if (v.type === "textbox") {
        const val = v.current?.value ?? text ?? "";
        options = [{ text: String(val), value: String(val) }];
      } else if (v.type === "datasource") {
        options = (text === "prometheus" || !text) ? [{ text: "tidewatch", value: "tidewatch-prometheus" }] : text === "loki" ? [{ text: "tidewatch Loki", value: "tidewatch-loki" }] : [{ text: "tidewatch", value: "tidewatch-prometheus" }];
      } else if (v.type === "adhoc") {
        continue;
      }
    } catch (err) {
      v.error = String(err.message || err);
      options = [];
    }
    if (v.includeAll && v.type !== "constant") options = [{ text: "All", value: ALL }, ...options];
    v.options = options;
    pickCurrent(v, urlValues[v.name]);
    if (v.type === "interval" && v.current?.value?.startsWith?.("$__auto_interval")) {
      const steps = v.auto_count || 30;
      const auto = Math.max(parseDurationMs(v.auto_min || "10s") ?? 1e4, (range.to - range.from) / steps);
      builtins["__auto_interval_" + v.name] = formatDuration(Math.ceil(auto / 1000) * 1000);
    }
  }
}

function pickCurrent(v, fromUrl) {
  const values = v.options.map((o) => o.value);
  let want = fromUrl ?? v.current?.value;
  if (want !== undefined && want !== null) {
    const list = [].concat(want).map((x) => (x === "All" || x === "$__all" ? ALL : x));
    const keep = v.type === "textbox" ? list : list.filter((x) => values.includes(x));
    if (keep.length) {
      setCurrent(v, v.multi ? keep : [keep[0]]);
      return;
    }
  }
  if (v.type === "textbox") setCurrent(v, [String(want ?? v.options[0]?.value ?? "")]);
  else if (v.options.length) setCurrent(v, [v.options[0].value]);
  else v.current = { text: "", value: v.multi ? [] : "" };
}

export function setCurrent(v, values) {
  const texts = values.map((val) => v.options.find((o) => o.value === val)?.text ?? val);
  v.current = v.multi ? { text: texts, value: values } : { text: texts[0], value: values[0] };
}
