// Dashboard annotations from Prometheus and Loki queries (`annotations.list` entries
// with `expr`), turned into events the way Grafana's data sources do. Prometheus: every
// sample >= 1 is "active", and active samples less than `step` apart merge into one
// region. Loki: every log line is one event at its timestamp.
import { api } from "./api.js";
import { datasourceType } from "./data.js";
import { parseDurationMs } from "./time.js";

const DEFAULT_STEP_MS = 60000;
// Grafana's Loki data source asks for at most this many lines per annotation query.
const LOKI_ANNOTATION_LIMIT = 1000;

/** The query: `expr` at the top level (classic) or in `target` (Grafana 8+ annotations). */
function annotationExpr(a) {
  return String(a.expr ?? a.target?.expr ?? "");
}

/** The annotation queries this UI can run (Grafana's built-in store is not one of them). */
export function queryAnnotations(dash) {
  return (dash.annotations?.list || []).filter((a) => a && a.builtIn !== 1 && annotationExpr(a).trim());
}

export function isEnabled(a) {
  return a.enable !== false;
}

function render(format, labels) {
  return String(format || "").replace(/\{\{\s*(.+?)\s*\}\}/g, (_, k) => labels[k] ?? "");
}

/** Series → events, as Grafana's processAnnotationResponse does. */
export function eventsFromSeries(annotation, result, stepMs) {
  const events = [];
  const tagKeys = String(annotation.tagKeys || "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of result) {
    const labels = s.metric || {};
    const active = [];
    for (const [t, v] of s.values || []) {
      // With useValueForTime the value is the event's time (ms) and every sample counts.
      if (annotation.useValueForTime) active.push(Math.floor(parseFloat(v)));
      else if (parseFloat(v) >= 1) active.push(Math.floor(t * 1000));
    }
    let open = null;
    for (const ts of active) {
      if (open && open.timeEnd + stepMs >= ts) {
        open.timeEnd = ts;
        continue;
      }
      if (open) events.push(open);
      open = {
        time: ts, timeEnd: ts, name: annotation.name || "", color: annotation.iconColor || "rgba(255, 96, 96, 1)",
        title: render(annotation.titleFormat, labels), text: render(annotation.textFormat, labels),
        filter: annotation.filter,
        tags: tagKeys.map((k) => labels[k]).filter((v) => v != null && v !== ""),
      };
    }
    if (open) events.push(open);
  }
  return events;
}

/**
 * Log streams → events, as Grafana's Loki annotations: one per line, the title and tags
 * from the stream's labels, the text from `textFormat` or else the line itself.
 */
export function eventsFromStreams(annotation, result) {
  const tagKeys = String(annotation.tagKeys || "").split(",").map((s) => s.trim()).filter(Boolean);
  const events = [];
  for (const s of result) {
    const labels = s.stream || {};
    const title = render(annotation.titleFormat, labels);
    const tags = tagKeys.map((k) => labels[k]).filter((v) => v != null && v !== "");
    for (const [ns, line] of s.values || []) {
      // Nanosecond strings: the last six digits are below a millisecond.
      const time = Number(String(ns).slice(0, -6) || "0");
      const text = annotation.textFormat ? render(annotation.textFormat, labels) : line;
      events.push({ time, timeEnd: time, name: annotation.name || "", color: annotation.iconColor || "rgba(255, 96, 96, 1)", title, text, filter: annotation.filter, tags });
    }
  }
  return events.sort((a, b) => a.time - b.time);
}

const toNs = (ms) => `${Math.round(ms)}000000`;

async function runAnnotation(a, vars, range) {
  const stepMs = parseDurationMs(vars.interpolate(a.step || a.target?.stepInterval || "", {}, false)) || DEFAULT_STEP_MS;
  const step = stepMs / 1000;
  const expr = vars.interpolate(annotationExpr(a), {}, true);
  if (datasourceType({ type: "timeseries" }, { datasource: a.datasource }, vars) === "loki") {
    const res = await api.lokiQueryRange(expr, toNs(range.from), toNs(range.to), step, a.maxLines || LOKI_ANNOTATION_LIMIT, "backward");
    return res.resultType === "streams" ? eventsFromStreams(a, res.result) : [];
  }
  const res = await api.queryRange(expr, Math.floor(range.from / 1000 / step) * step, Math.ceil(range.to / 1000 / step) * step, step);
  return res.resultType === "matrix" ? eventsFromSeries(a, res.result, stepMs) : [];
}

/** Runs every enabled annotation query over the range; errors become no events. */
export async function loadAnnotations(dash, vars, range) {
  const runs = queryAnnotations(dash).filter(isEnabled).map(async (a) => {
    try {
      return await runAnnotation(a, vars, range);
    } catch (err) {
      console.warn(`annotation ${a.name}: ${err.message}`);
      return [];
    }
  });
  return (await Promise.all(runs)).flat();
}

/** The events one panel shows: Grafana's `filter` ({ids, exclude}) picks panels by id. */
export function eventsForPanel(events, panelId) {
  return events.filter((ev) => {
    const ids = ev.filter?.ids;
    if (!Array.isArray(ids) || !ids.length) return true;
    const listed = ids.includes(panelId);
    return ev.filter.exclude ? !listed : listed;
  });
}
