// Explore: one PromQL query over the picked time range, as a graph and a table.
import { api } from "./api.js";
import { runPanelQueries } from "./data.js";
import { el } from "./dom.js";
import { renderTable } from "./panels/table.js";
import { renderTimeseries } from "./panels/timeseries.js";
import { QUICK_RANGES, resolveRange } from "./time.js";
import { Variables } from "./vars.js";

export class ExplorePage {
  constructor(root) {
    this.root = root;
    this.cleanup = null;
  }

  destroy() {
    if (this.cleanup) this.cleanup();
  }

  load() {
    document.title = "Explore - tidewatch";
    const params = new URLSearchParams(location.search);
    this.range = { from: params.get("from") || "now-1h", to: params.get("to") || "now" };
    const input = el("textarea", { class: "explore-input", rows: 2, placeholder: "PromQL, e.g. rate(prometheus_http_requests_total[5m])  (Shift+Enter runs it)", list: "metric-names" });
    input.value = params.get("expr") || "";
    const names = el("datalist", { id: "metric-names" });
    const range = el("select", { class: "range-select", "aria-label": "Time range", onchange: (e) => { this.range = { from: e.target.value, to: "now" }; this.run(input.value); } });
    for (const [f, label] of QUICK_RANGES) range.append(el("option", { value: f, selected: f === this.range.from ? true : null }, label));
    const run = el("button", { class: "btn btn-primary", onclick: () => this.run(input.value) }, "Run query");
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && e.shiftKey) {
        e.preventDefault();
        this.run(input.value);
      }
    });
    this.graph = el("div", { class: "panel explore-graph", "data-state": "idle" }, el("div", { class: "panel-header" }, el("div", { class: "panel-title" }, "Graph")), el("div", { class: "panel-body" }));
    this.table = el("div", { class: "panel explore-table", "data-state": "idle" }, el("div", { class: "panel-header" }, el("div", { class: "panel-title" }, "Table")), el("div", { class: "panel-body" }));
    this.status = el("div", { class: "explore-status" });
    this.root.replaceChildren(el("div", { class: "explore" },
      el("div", { class: "toolbar" }, el("h1", { class: "dash-title" }, "Explore"), el("div", { class: "spacer" }), range, run),
      input, names, this.status, this.graph, this.table));
    // Metric names for completion, fetched once; the query box works without them.
    api.labelValues("__name__", Math.floor(Date.now() / 1000) - 3600, Math.floor(Date.now() / 1000))
      .then((list) => names.replaceChildren(...list.map((n) => el("option", { value: n }))))
      .catch(() => {});
    if (input.value.trim()) this.run(input.value);
  }

  async run(expr) {
    if (!expr.trim()) return;
    const p = new URLSearchParams({ expr, from: this.range.from, to: this.range.to });
    history.replaceState(null, "", `/explore?${p}`);
    const abs = resolveRange(this.range);
    const vars = new Variables([], {});
    const gBody = this.graph.querySelector(".panel-body");
    const tBody = this.table.querySelector(".panel-body");
    this.graph.dataset.state = this.table.dataset.state = "loading";
    this.status.textContent = "";
    if (this.cleanup) this.cleanup();
    const started = performance.now();
    try {
      const panel = { type: "timeseries", targets: [{ expr, refId: "A" }], fieldConfig: { defaults: { custom: { fillOpacity: 10 } }, overrides: [] }, options: { legend: { displayMode: "list" } } };
      const instant = { type: "table", targets: [{ expr, refId: "A", instant: true }] };
      const width = gBody.getBoundingClientRect().width;
      const [series, table] = await Promise.all([
        runPanelQueries(panel, { range: abs, vars, scoped: {}, widthPx: width }),
        runPanelQueries(instant, { range: abs, vars, scoped: {}, widthPx: width }),
      ]);
      this.cleanup = series.frames.length ? renderTimeseries(gBody, panel, series.frames, { range: abs, onZoom: (a, b) => { this.range = { from: String(a), to: String(b) }; this.run(expr); } }) : null;
      if (!series.frames.length) gBody.replaceChildren(el("div", { class: "no-data" }, "No data"));
      renderTable(tBody, instant, table.frames);
      this.graph.dataset.state = series.frames.length ? "done" : "nodata";
      this.table.dataset.state = table.frames.length ? "done" : "nodata";
      this.status.textContent = `${series.frames.length} series · ${Math.round(performance.now() - started)} ms`;
    } catch (err) {
      this.graph.dataset.state = this.table.dataset.state = "error";
      this.status.replaceChildren(el("span", { class: "panel-error-text" }, String(err.message || err)));
      gBody.replaceChildren();
      tBody.replaceChildren();
    }
  }
}
