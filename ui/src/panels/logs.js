// logs panels (and Explore's log view): lines from every stream merged by time; a click
// opens the line's details (its stream labels and the fields parsed from the line).
import { el } from "../dom.js";
import { PALETTE } from "../fields.js";

function timeText(ns) {
  const ms = Number(BigInt(ns) / 1000000n);
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const LEVEL = /\b(level|lvl|severity)=["']?(\w+)|\b(ERROR|ERR|WARN(?:ING)?|INFO|DEBUG|TRACE|CRIT(?:ICAL)?|FATAL)\b/i;
const LEVEL_COLOR = { error: "#f2495c", err: "#f2495c", crit: "#f2495c", critical: "#f2495c", fatal: "#f2495c", warn: "#ff9830", warning: "#ff9830", info: "#73bf69", debug: "#5794f2", trace: "#b877d9" };
const LOGFMT_PAIR = /([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g;

/** Fields in the line as Grafana's "detected fields": a JSON object's keys or logfmt pairs. */
export function detectedFields(line) {
  const t = line.trim();
  if (t.startsWith("{")) {
    try {
      const obj = JSON.parse(t);
      if (obj && typeof obj === "object") return Object.entries(obj).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]);
    } catch {
      // not JSON after all: try logfmt
    }
  }
  return [...line.matchAll(LOGFMT_PAIR)].map((m) => [m[1], m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, "$1") : m[2]]);
}

/** Stream entries as rows, newest first unless ascending. */
export function logRows(frames, ascending = false) {
  const rows = [];
  frames.forEach((f, k) => {
    for (const [ns, line] of f.logs || []) rows.push({ ns, line, labels: f.labels, stream: k });
  });
  rows.sort((a, b) => {
    const d = BigInt(a.ns) - BigInt(b.ns);
    return (d > 0n ? 1 : d < 0n ? -1 : 0) * (ascending ? 1 : -1);
  });
  return rows;
}

function detailsTable(title, pairs) {
  if (!pairs.length) return null;
  return el("div", { class: "log-details-group" }, el("div", { class: "log-details-title" }, title),
    el("table", { class: "log-details-table" }, el("tbody", {}, pairs.map(([k, v]) => el("tr", {}, el("td", { class: "muted" }, k), el("td", {}, v))))));
}

/** One log row element; `opts`: {showTime, showLabels}. */
export function logRow(r, opts) {
  const m = r.line.match(LEVEL);
  const level = (m?.[2] || m?.[3] || "").toLowerCase();
  const labelText = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(" ");
  const row = el("div", { class: "log-row", style: `border-left-color:${LEVEL_COLOR[level] || PALETTE[r.stream % PALETTE.length]}` },
    opts.showTime !== false ? el("span", { class: "log-time" }, timeText(r.ns)) : null,
    opts.showLabels ? el("span", { class: "log-labels", title: labelText }, labelText) : null,
    el("span", { class: "log-line" }, r.line));
  row.addEventListener("click", () => {
    const open = row.nextSibling?.classList?.contains("log-details");
    if (open) return row.nextSibling.remove();
    row.after(el("div", { class: "log-details" },
      detailsTable("Log labels", Object.entries(r.labels)),
      detailsTable("Detected fields", detectedFields(r.line)),
      el("div", { class: "muted" }, `Timestamp ${r.ns} ns`)));
  });
  return row;
}

export function renderLogs(body, panel, frames) {
  const rows = logRows(frames, panel.options?.sortOrder === "Ascending");
  const opts = { showTime: panel.options?.showTime !== false, showLabels: panel.options?.showLabels === true };
  const list = el("div", { class: `logs ${panel.options?.wrapLogMessage === true ? "wrap" : ""}` }, rows.map((r) => logRow(r, opts)));
  body.replaceChildren(rows.length ? list : el("div", { class: "no-data" }, "No logs"));
}
