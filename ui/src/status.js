// Status: build and runtime, command-line flags, the running config and TSDB cardinality.
import { api } from "./api.js";
import { el } from "./dom.js";

const kvTable = (obj) => el("table", { class: "data-table kv" }, el("tbody", {}, Object.entries(obj).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v))))));

function topTable(title, rows) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return el("div", { class: "status-card" }, el("h3", {}, title), el("table", { class: "data-table" }, el("tbody", {}, rows.map((r) => el("tr", {},
    el("td", { class: "mono" }, r.name),
    el("td", { class: "num" }, r.value.toLocaleString()),
    el("td", { class: "bar-cell" }, el("div", { class: "bar", style: `width:${((r.value / max) * 100).toFixed(1)}%` })))))));
}

export class StatusPage {
  constructor(root) {
    this.root = root;
  }

  destroy() {}

  async load() {
    document.title = "Status - tidewatch";
    const box = el("div", {}, "Loading…");
    this.root.replaceChildren(el("div", { class: "list-page wide" }, el("h1", {}, "Status"), box));
    try {
      const [build, runtime, flags, config, tsdb] = await Promise.all(
        ["buildinfo", "runtimeinfo", "flags", "config", "tsdb"].map((n) => api.get(`/api/v1/status/${n}`)),
      );
      const head = tsdb.headStats || {};
      box.replaceChildren(
        el("h2", {}, "Runtime and build"), kvTable({ ...build, ...runtime }),
        el("h2", {}, "TSDB"),
        kvTable({ "head series": head.numSeries, "label pairs": head.numLabelPairs, chunks: head.chunkCount, "min time": new Date(head.minTime).toISOString(), "max time": new Date(head.maxTime).toISOString() }),
        el("div", { class: "status-grid" },
          topTable("Top metrics by series", tsdb.seriesCountByMetricName || []),
          topTable("Top labels by value count", tsdb.labelValueCountByLabelName || []),
          topTable("Top label pairs by series", tsdb.seriesCountByLabelValuePair || []),
          topTable("Memory by label name (bytes)", tsdb.memoryInBytesByLabelName || [])),
        el("h2", {}, "Command-line flags"), kvTable(flags),
        el("h2", {}, "Configuration"), el("pre", { class: "config-yaml" }, config.yaml));
    } catch (err) {
      box.replaceChildren(el("div", { class: "page-error" }, err.message));
    }
  }
}
