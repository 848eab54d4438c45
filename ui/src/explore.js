// Explore: PromQL (graph + table, with completion) or LogQL (log lines, live tail, or a
// graph for metric queries) over the picked time range; "Split" adds a second query pane
// over the same range, e.g. metrics next to the logs of the same minutes.
import { api } from "./api.js";
import { PromCompleter } from "./complete.js";
import { runPanelQueries } from "./data.js";
import { el } from "./dom.js";
import { logRow, logRows, renderLogs } from "./panels/logs.js";
import { renderTable } from "./panels/table.js";
import { renderTimeseries } from "./panels/timeseries.js";
import { QUICK_RANGES, resolveRange } from "./time.js";
import { Variables } from "./vars.js";

const LOKI = { type: "loki", uid: "tidewatch-loki" };
const PLACEHOLDER = {
  prometheus: "PromQL, e.g. rate(prometheus_http_requests_total[5m])  (Shift+Enter runs it)",
  loki: 'LogQL, e.g. {job="varlogs"} |= "error"  (Shift+Enter runs it)',
};
const LIVE_MAX_LINES = 1000;

function panelBox(cls, title) {
  return el("div", { class: `panel ${cls}`, "data-state": "idle" }, el("div", { class: "panel-header" }, el("div", { class: "panel-title" }, title)), el("div", { class: "panel-body" }));
}

// A LogQL query that returns lines (a stream selector and pipeline), not numbers.
function isLogQuery(expr) {
  return /^\s*\{/.test(expr) && !/\|\s*unwrap\b/.test(expr);
}

class QueryPane {
  constructor(page, ds, expr) {
    this.page = page;
    this.ds = ds === "loki" ? "loki" : "prometheus";
    this.cleanup = null;
    this.socket = null;
    this.input = el("textarea", { class: "explore-input", rows: 2, spellcheck: "false" });
    this.input.value = expr || "";
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && e.shiftKey) {
        e.preventDefault();
        this.page.runAll();
      }
    });
    this.completer = new PromCompleter(this.input, () => {
      const r = resolveRange(this.page.range);
      return [Math.floor(r.from / 1000), Math.ceil(r.to / 1000)];
    });
    const dsSelect = el("select", { class: "ds-select", "aria-label": "Data source", onchange: (e) => this.setSource(e.target.value) },
      el("option", { value: "prometheus", selected: this.ds === "prometheus" || null }, "Prometheus"),
      el("option", { value: "loki", selected: this.ds === "loki" || null }, "Loki"));
    this.liveBtn = el("button", { class: "btn live-btn", title: "Stream new lines as they arrive (Loki tail)", onclick: () => (this.socket ? this.stopLive() : this.startLive()) }, "▶ Live");
    this.status = el("div", { class: "explore-status" });
    this.graph = panelBox("explore-graph", "Graph");
    this.table = panelBox("explore-table", "Table");
    this.logs = panelBox("explore-logs", "Logs");
    this.volume = panelBox("explore-volume", "Log volume");
    this.results = el("div", { class: "explore-results" });
    this.root = el("div", { class: "explore-pane", "data-ds": this.ds },
      el("div", { class: "pane-head" }, dsSelect, this.liveBtn),
      el("div", { class: "input-wrap" }, this.input, this.completer.box), this.status, this.results);
    this.setSource(this.ds, false);
  }

  setSource(ds, clear = true) {
    this.stopLive();
    this.ds = ds;
    this.root.dataset.ds = ds;
    this.input.placeholder = PLACEHOLDER[ds];
    this.completer.source = ds;
    this.completer.cache.clear();
    this.liveBtn.hidden = ds !== "loki";
    if (clear) {
      this.input.value = "";
      this.results.replaceChildren();
      this.status.textContent = "";
    }
  }

  destroy() {
    this.stopLive();
    if (this.cleanup) this.cleanup();
  }

  async run() {
    const expr = this.input.value;
    if (!expr.trim()) return;
    this.stopLive();
    if (this.cleanup) this.cleanup();
    this.cleanup = null;
    this.status.textContent = "";
    const started = performance.now();
    const abs = resolveRange(this.page.range);
    const logs = this.ds === "loki" && isLogQuery(expr);
    const boxes = logs ? [this.volume, this.logs] : this.ds === "loki" ? [this.graph] : [this.graph, this.table];
    this.results.replaceChildren(...boxes);
    for (const b of boxes) b.dataset.state = "loading";
    const gBody = this.graph.querySelector(".panel-body");
    const ctx = { range: abs, vars: new Variables([], {}), scoped: {}, widthPx: this.results.getBoundingClientRect().width };
    try {
      if (logs) {
        const panel = { type: "logs", datasource: LOKI, targets: [{ expr, refId: "A" }], options: { showLabels: true, maxLines: 1000 } };
        const [res] = await Promise.all([runPanelQueries(panel, ctx), this.drawVolume(expr, ctx)]);
        renderLogs(this.logs.querySelector(".panel-body"), panel, res.frames);
        const n = res.frames.reduce((a, f) => a + (f.logs?.length || 0), 0);
        this.logs.dataset.state = n ? "done" : "nodata";
        this.status.textContent = `${n} ${n === 1 ? "line" : "lines"} from ${res.frames.length} ${res.frames.length === 1 ? "stream" : "streams"} · ${Math.round(performance.now() - started)} ms`;
        return;
      }
      const datasource = this.ds === "loki" ? LOKI : undefined;
      const panel = { type: "timeseries", datasource, targets: [{ expr, refId: "A" }], fieldConfig: { defaults: { custom: { fillOpacity: 10 } }, overrides: [] }, options: { legend: { displayMode: "list" } } };
      const instant = { type: "table", targets: [{ expr, refId: "A", instant: true }] };
      const [series, table] = await Promise.all([
        runPanelQueries(panel, ctx),
        this.ds === "prometheus" ? runPanelQueries(instant, ctx) : null,
      ]);
      this.cleanup = series.frames.length ? renderTimeseries(gBody, panel, series.frames, { range: abs, onZoom: (a, b) => this.page.setRange({ from: String(a), to: String(b) }) }) : null;
      if (!series.frames.length) gBody.replaceChildren(el("div", { class: "no-data" }, "No data"));
      this.graph.dataset.state = series.frames.length ? "done" : "nodata";
      if (table) {
        renderTable(this.table.querySelector(".panel-body"), instant, table.frames);
        this.table.dataset.state = table.frames.length ? "done" : "nodata";
      }
      this.status.textContent = `${series.frames.length} series · ${Math.round(performance.now() - started)} ms`;
    } catch (err) {
      for (const b of boxes) {
        b.dataset.state = "error";
        b.querySelector(".panel-body").replaceChildren();
      }
      this.status.replaceChildren(el("span", { class: "panel-error-text" }, String(err.message || err)));
    }
  }

  // Lines per interval over the range, as bars above the lines (Grafana's log volume).
  async drawVolume(expr, ctx) {
    const body = this.volume.querySelector(".panel-body");
    const panel = {
      type: "timeseries", datasource: LOKI,
      targets: [{ expr: `sum(count_over_time(${expr} [$__interval]))`, legendFormat: "lines", refId: "A" }],
      fieldConfig: { defaults: { custom: { drawStyle: "bars", fillOpacity: 60, lineWidth: 1 } }, overrides: [] },
      options: { legend: { showLegend: false } },
    };
    try {
      const res = await runPanelQueries(panel, { ...ctx, widthPx: Math.min(ctx.widthPx, 300) });
      if (this.cleanup) this.cleanup();
      this.cleanup = res.frames.length ? renderTimeseries(body, panel, res.frames, { range: ctx.range, onZoom: (a, b) => this.page.setRange({ from: String(a), to: String(b) }) }) : null;
      if (!res.frames.length) body.replaceChildren(el("div", { class: "no-data" }, "No data"));
      this.volume.dataset.state = res.frames.length ? "done" : "nodata";
    } catch (err) {
      // The lines still show when the volume query fails.
      body.replaceChildren(el("div", { class: "no-data" }, String(err.message || err)));
      this.volume.dataset.state = "error";
    }
  }

  // Live tail over /loki/api/v1/tail: new lines go on top, as in Grafana's live view.
  startLive() {
    const expr = this.input.value;
    if (!expr.trim() || !isLogQuery(expr)) {
      this.status.textContent = "Live tail needs a log query, e.g. {job=\"web\"}";
      return;
    }
    const startNs = `${Date.now() - 60_000}000000`;
    const p = new URLSearchParams({ query: expr, limit: "100", start: startNs });
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/loki/api/v1/tail?${p}`);
    this.socket = ws;
    if (this.cleanup) this.cleanup();
    this.cleanup = null;
    const list = el("div", { class: "logs" });
    this.logs.querySelector(".panel-body").replaceChildren(list);
    this.results.replaceChildren(this.logs);
    this.logs.dataset.state = "live";
    this.liveBtn.textContent = "■ Stop";
    this.liveBtn.classList.add("btn-primary");
    let count = 0;
    ws.onmessage = (msg) => {
      let data;
      try {
        data = JSON.parse(msg.data);
      } catch {
        return;
      }
      const frames = (data.streams || []).map((s) => ({ labels: s.stream, logs: s.values }));
      const rows = logRows(frames, false);
      list.prepend(...rows.map((r) => logRow(r, { showTime: true, showLabels: true })));
      count += rows.length;
      while (list.childElementCount > LIVE_MAX_LINES) list.lastElementChild.remove();
      this.status.textContent = `Live: ${count} lines received`;
    };
    ws.onerror = () => {
      this.status.replaceChildren(el("span", { class: "panel-error-text" }, "Live tail failed (is the query valid?)"));
    };
    ws.onclose = () => {
      if (this.socket === ws) this.stopLive();
    };
  }

  stopLive() {
    const ws = this.socket;
    if (!ws) return;
    this.socket = null;
    ws.close();
    this.liveBtn.textContent = "▶ Live";
    this.liveBtn.classList.remove("btn-primary");
    if (this.logs.dataset.state === "live") this.logs.dataset.state = "done";
  }
}

export class ExplorePage {
  constructor(root) {
    this.root = root;
    this.panes = [];
  }

  destroy() {
    for (const p of this.panes) p.destroy();
  }

  load() {
    document.title = "Explore - tidewatch";
    const params = new URLSearchParams(location.search);
    this.range = { from: params.get("from") || "now-1h", to: params.get("to") || "now" };
    this.rangeSelect = el("select", { class: "range-select", "aria-label": "Time range", onchange: (e) => this.setRange({ from: e.target.value, to: "now" }) });
    this.fillRangeOptions();
    const run = el("button", { class: "btn btn-primary", onclick: () => this.runAll() }, "Run query");
    this.splitBtn = el("button", { class: "btn split-btn", onclick: () => this.toggleSplit() }, "Split");
    this.paneBox = el("div", { class: "explore-panes" });
    this.root.replaceChildren(el("div", { class: "explore" },
      el("div", { class: "toolbar" }, el("h1", { class: "dash-title" }, "Explore"), el("div", { class: "spacer" }), this.splitBtn, this.rangeSelect, run),
      this.paneBox));
    this.addPane(params.get("ds") || "prometheus", params.get("expr") || "");
    if (params.has("ds2") || params.has("expr2")) this.addPane(params.get("ds2") || "loki", params.get("expr2") || "");
    if (this.panes.some((p) => p.input.value.trim())) this.runAll();
  }

  fillRangeOptions() {
    const opts = QUICK_RANGES.map(([f, label]) => el("option", { value: f, selected: f === this.range.from && this.range.to === "now" ? true : null }, label));
    // A zoomed (absolute) range shows as itself, so the picker never lies about it.
    if (!QUICK_RANGES.some(([f]) => f === this.range.from) || this.range.to !== "now") {
      const a = resolveRange(this.range);
      opts.unshift(el("option", { value: this.range.from, selected: true }, `${new Date(a.from).toLocaleString()} to ${new Date(a.to).toLocaleString()}`));
    }
    this.rangeSelect.replaceChildren(...opts);
  }

  addPane(ds, expr) {
    const pane = new QueryPane(this, ds, expr);
    this.panes.push(pane);
    this.paneBox.append(pane.root);
    this.paneBox.classList.toggle("split", this.panes.length > 1);
    this.splitBtn.textContent = this.panes.length > 1 ? "Close split" : "Split";
    return pane;
  }

  toggleSplit() {
    if (this.panes.length > 1) {
      const pane = this.panes.pop();
      pane.destroy();
      pane.root.remove();
      this.paneBox.classList.remove("split");
      this.splitBtn.textContent = "Split";
    } else {
      // The usual second pane: the logs beside the metrics (or the other way round).
      this.addPane(this.panes[0].ds === "loki" ? "prometheus" : "loki", "");
    }
    this.saveUrl();
  }

  setRange(range) {
    this.range = range;
    this.fillRangeOptions();
    this.runAll();
  }

  saveUrl() {
    const p = new URLSearchParams();
    this.panes.forEach((pane, i) => {
      const n = i ? "2" : "";
      if (pane.ds !== "prometheus" || i) p.set(`ds${n}`, pane.ds);
      p.set(`expr${n}`, pane.input.value);
    });
    p.set("from", this.range.from);
    p.set("to", this.range.to);
    history.replaceState(null, "", `/explore?${p}`);
  }

  runAll() {
    this.saveUrl();
    // One range for every pane, so split metrics and logs cover the same minutes.
    return Promise.all(this.panes.map((p) => p.run()));
  }
}
