// Dashboard annotations from Prometheus queries (`annotations.list` entries with `expr`),
// turned into events the way Grafana's Prometheus data source does: every sample >= 1
// is "active", and active samples less than `step` apart merge into one region.
import { api } from "./api.js";
import { datasourceType } from "./data.js";
import { parseDurationMs } from "./time.js";

const DEFAULT_STEP_MS = 60000;

/** The annotation queries this UI can run (Grafana's built-in store is not one of them). */
export function queryAnnotations(dash) {
  return (dash.annotations?.list || []).filter((a) => a && a.builtIn !== 1 && (a.expr || "").trim());
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

/** Runs every enabled Prometheus annotation query over the range; errors become no events. */
export async function loadAnnotations(dash, vars, range) {
  const runs = queryAnnotations(dash).filter(isEnabled).map(async (a) => {
    if (datasourceType({ type: "timeseries" }, { datasource: a.datasource }, vars) === "loki") return [];
    const stepMs = parseDurationMs(vars.interpolate(a.step || "", {}, false)) || DEFAULT_STEP_MS;
    const step = stepMs / 1000;
    const expr = vars.interpolate(a.expr, {}, true);
    try {
      const res = await api.queryRange(expr, Math.floor(range.from / 1000 / step) * step, Math.ceil(range.to / 1000 / step) * step, step);
      return res.resultType === "matrix" ? eventsFromSeries(a, res.result, stepMs) : [];
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
