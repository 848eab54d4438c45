// Runs a panel's targets against the Prometheus API and returns one frame per series.
import { api } from "./api.js";
import { formatDuration, panelInterval, parseDurationMs } from "./time.js";

function legend(fmt, metric, expr) {
  if (fmt && fmt !== "__auto") return fmt.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, k) => metric[k] ?? "");
  const name = metric.__name__ || "";
  const pairs = Object.entries(metric).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`);
  if (!name && !pairs.length) return expr;
  return `${name}{${pairs.join(", ")}}`;
}

/** Each frame: {refId, name, labels, ts: Float64Array (s), values: Float64Array}. */
export async function runPanelQueries(panel, ctx) {
  const targets = (panel.targets || []).filter((t) => !t.hide && (t.expr || "").trim());
  const { from, to } = ctx.range;
  const width = ctx.widthPx || 800;
  const maxPoints = panel.maxDataPoints || Math.max(100, Math.round(width));
  const panelMin = ctx.vars.interpolate(panel.interval || "", ctx.scoped, false) || null;
  const intervalMs = panelInterval(from, to, maxPoints, panelMin);
  const scoped = { ...ctx.scoped, ...intervalVars(intervalMs, from, to) };
  const runs = targets.map(async (t) => {
    const expr = ctx.vars.interpolate(t.expr, scoped, true);
    const targetMin = parseDurationMs(ctx.vars.interpolate(t.interval || "", scoped, false));
    let stepMs = Math.max(intervalMs, targetMin || 0) * (t.intervalFactor || 1);
    stepMs = Math.max(stepMs, Math.ceil((to - from) / 11000));
    const step = Math.max(0.001, stepMs / 1000);
    if (datasourceType(panel, t, ctx.vars) === "loki") return runLoki(panel, t, expr, from, to, step);
    const instant = t.instant === true && t.range !== true;
    if (instant) {
      const res = await api.query(expr, to / 1000);
      return frames(res, t, expr, true);
    }
    const start = Math.floor(from / 1000 / step) * step;
    const end = Math.ceil(to / 1000 / step) * step;
    const res = await api.queryRange(expr, start, end, step);
    return frames(res, t, expr, false);
  });
  const all = await Promise.all(runs);
  return { frames: all.flat(), intervalMs };
}

/** "loki" when the target's (or panel's) data source is tidewatch's Loki API. */
export function datasourceType(panel, target, vars) {
  const ds = target.datasource ?? panel.datasource;
  if (!ds) return panel.type === "logs" ? "loki" : "prometheus";
  const type = typeof ds === "object" ? ds.type : "";
  const uid = vars.interpolate(typeof ds === "string" ? ds : ds.uid || "", {}, false);
  if (type === "loki" || /loki/i.test(uid)) return "loki";
  if (/^\$\{?/.test(typeof ds === "string" ? ds : ds.uid || "") && panel.type === "logs") return "loki";
  return "prometheus";
}

// Loki times are nanoseconds; strings keep them exact past 2^53.
const toNs = (ms) => `${Math.round(ms)}000000`;

async function runLoki(panel, t, expr, from, to, step) {
  const limit = panel.options?.maxLines || t.maxLines || 1000;
  const res = await api.lokiQueryRange(expr, toNs(from), toNs(to), step, limit, panel.options?.sortOrder === "Ascending" ? "forward" : "backward");
  if (res.resultType !== "streams") return frames(res, t, expr, false);
  return res.result.map((s) => ({ refId: t.refId, name: legend(t.legendFormat, s.stream, expr), labels: s.stream, ts: new Float64Array(0), values: new Float64Array(0), logs: s.values }));
}

export function intervalVars(intervalMs, from, to) {
  const rate = Math.max(intervalMs + 15000, 4 * 15000);
  const rangeMs = to - from;
  return {
    __interval: formatDuration(intervalMs),
    __interval_ms: String(intervalMs),
    __rate_interval: formatDuration(rate),
    __rate_interval_ms: String(rate),
    __range: `${Math.round(rangeMs / 1000)}s`,
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
  };
}

function frames(res, t, expr, instant) {
  const out = [];
  if (res.resultType === "matrix") {
    for (const s of res.result) {
      const n = s.values.length;
      const ts = new Float64Array(n);
      const vs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        ts[i] = s.values[i][0];
        vs[i] = parseFloat(s.values[i][1]);
      }
      out.push({ refId: t.refId, name: legend(t.legendFormat, s.metric, expr), labels: s.metric, ts, values: vs, instant });
    }
  } else if (res.resultType === "vector") {
    for (const s of res.result) {
      out.push({ refId: t.refId, name: legend(t.legendFormat, s.metric, expr), labels: s.metric, ts: Float64Array.of(s.value[0]), values: Float64Array.of(parseFloat(s.value[1])), instant });
    }
  } else if (res.resultType === "scalar") {
    out.push({ refId: t.refId, name: t.legendFormat || expr, labels: {}, ts: Float64Array.of(res.result[0]), values: Float64Array.of(parseFloat(res.result[1])), instant });
  }
  return out;
}
