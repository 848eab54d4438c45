// logs panels: lines from every stream merged by time, with labels on click.
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

export function renderLogs(body, panel, frames) {
  const rows = [];
  frames.forEach((f, k) => {
    for (const [ns, line] of f.logs || []) rows.push({ ns, line, labels: f.labels, stream: k });
  });
  const ascending = panel.options?.sortOrder === "Ascending";
  rows.sort((a, b) => {
    const d = BigInt(a.ns) - BigInt(b.ns);
    return (d > 0n ? 1 : d < 0n ? -1 : 0) * (ascending ? 1 : -1);
  });
  const showTime = panel.options?.showTime !== false;
  const wrapLines = panel.options?.wrapLogMessage === true;
  const list = el("div", { class: `logs ${wrapLines ? "wrap" : ""}` });
  for (const r of rows) {
    const m = r.line.match(LEVEL);
    const level = (m?.[2] || m?.[3] || "").toLowerCase();
    const row = el("div", { class: "log-row", style: `border-left-color:${LEVEL_COLOR[level] || PALETTE[r.stream % PALETTE.length]}` },
      showTime ? el("span", { class: "log-time" }, timeText(r.ns)) : null,
      el("span", { class: "log-line" }, r.line));
    row.addEventListener("click", () => {
      const open = row.nextSibling?.classList?.contains("log-details");
      if (open) return row.nextSibling.remove();
      row.after(el("div", { class: "log-details" }, ...Object.entries(r.labels).map(([k, v]) => el("div", {}, el("span", { class: "muted" }, k), " ", v))));
    });
    list.append(row);
  }
  body.replaceChildren(rows.length ? list : el("div", { class: "no-data" }, "No logs"));
}
