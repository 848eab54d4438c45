// The panel editor: a live preview, the panel's queries and its options (title, type,
// unit, decimals, min/max, thresholds and their style, legend, value mappings,
// overrides), edited on a draft copy. "Apply" puts the
// draft into the dashboard; "Save dashboard" also posts it to /api/dashboards/db.
import { PALETTE, color } from "./fields.js";
import { el } from "./dom.js";
import { legendSection, mappingsSection, overridesSection } from "./editorsections.js";
import { UNIT_IDS } from "./units.js";

export const PANEL_TYPES = [
  ["timeseries", "Time series"], ["stat", "Stat"], ["gauge", "Gauge"], ["bargauge", "Bar gauge"],
  ["table", "Table"], ["text", "Text"], ["heatmap", "Heatmap"], ["state-timeline", "State timeline"], ["logs", "Logs"],
];
const THRESHOLD_COLORS = ["green", "red", "orange", "yellow", "blue", "purple"];
const PREVIEW_DELAY_MS = 350;
// Grafana's "Show thresholds" choices (fieldConfig.defaults.custom.thresholdsStyle.mode).
const THRESHOLD_STYLES = [
  ["off", "Off"], ["line", "As lines"], ["dashed", "As lines (dashed)"], ["area", "As filled regions"],
  ["line+area", "As filled regions and lines"], ["dashed+area", "As filled regions and lines (dashed)"],
];
const LEGEND_TYPES = new Set(["timeseries", "state-timeline", "heatmap"]);

/** Sets obj[path] = value, or deletes it when value is undefined (so saved JSON stays clean). */
function put(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (value === undefined && !o[k]) return;
    o = o[k] = o[k] && typeof o[k] === "object" ? o[k] : {};
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
}

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

const numberOrUndefined = (text) => {
  const t = String(text).trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
};

/** The next free refId: A, B, … Z, then A1 … */
export function nextRefId(targets) {
  const used = new Set(targets.map((t) => t.refId));
  for (let i = 0; ; i++) {
    const id = String.fromCharCode(65 + (i % 26)) + (i >= 26 ? Math.floor(i / 26) : "");
    if (!used.has(id)) return id;
  }
}

/** A new panel as Grafana's "Add visualization" makes it: a time series with one query. */
export function newPanel(id, y) {
  return {
    id, type: "timeseries", title: "New panel",
    gridPos: { x: 0, y, w: 12, h: 8 },
    targets: [{ refId: "A", expr: "" }],
    fieldConfig: { defaults: {}, overrides: [] },
    options: {},
  };
}

export class PanelEditor {
  /**
   * host: {preview(panel, container) → cleanup, apply(panel), save() → Promise, close()}.
   */
  constructor(panel, host) {
    this.draft = structuredClone(panel);
    this.draft.fieldConfig = this.draft.fieldConfig || { defaults: {}, overrides: [] };
    this.draft.fieldConfig.defaults = this.draft.fieldConfig.defaults || {};
    this.host = host;
    this.timer = null;
    this.previewCleanup = null;
  }

  open() {
    this.previewBox = el("div", { class: "editor-preview" });
    this.queriesBox = el("div", { class: "editor-queries" });
    this.optionsBox = el("div", { class: "editor-options" });
    this.msg = el("span", { class: "form-msg" });
    this.node = el("div", { class: "panel-editor", role: "dialog", "aria-label": "Edit panel" },
      el("div", { class: "editor-head" },
        el("h2", {}, "Edit panel"), el("div", { class: "spacer" }), this.msg,
        el("button", { class: "btn", onclick: () => this.close() }, "Discard"),
        el("button", { class: "btn editor-apply", onclick: () => { this.host.apply(this.draft); this.close(); } }, "Apply"),
        el("button", { class: "btn btn-primary editor-save", onclick: () => this.save() }, "Save dashboard")),
      el("div", { class: "editor-body" },
        el("div", { class: "editor-main" }, this.previewBox, this.queriesBox),
        this.optionsBox));
    document.body.append(this.node);
    this.onKey = (e) => { if (e.key === "Escape" && !e.target.closest?.(".var-menu")) this.close(); };
    document.addEventListener("keydown", this.onKey);
    this.renderQueries();
    this.renderOptions();
    this.preview();
  }

  close() {
    clearTimeout(this.timer);
    if (this.previewCleanup) this.previewCleanup();
    document.removeEventListener("keydown", this.onKey);
    this.node.remove();
    this.host.close();
  }

  async save() {
    this.host.apply(this.draft);
    try {
      await this.host.save();
      this.close();
    } catch (err) {
      this.msg.className = "form-msg bad";
      this.msg.textContent = `Save failed: ${err.message}`;
    }
  }

  /** Re-renders the preview a moment after the last change (typing stays smooth). */
  changed(now = false) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.preview(), now ? 0 : PREVIEW_DELAY_MS);
  }

  preview() {
    if (this.previewCleanup) this.previewCleanup();
    this.previewCleanup = this.host.preview(this.draft, this.previewBox);
  }

  renderQueries() {
    const p = this.draft;
    if (p.type === "text") {
      const area = el("textarea", { class: "explore-input editor-content", rows: 8, name: "content", spellcheck: "false", oninput: () => { put(p, "options.content", area.value); this.changed(); } });
      area.value = p.options?.content ?? p.content ?? "";
      this.queriesBox.replaceChildren(el("div", { class: "editor-section-title" }, "Content (markdown)"), area);
      return;
    }
    p.targets = p.targets || [];
    const rows = p.targets.map((t, i) => {
      const expr = el("textarea", { class: "explore-input query-expr", rows: 2, name: "expr", spellcheck: "false", placeholder: "PromQL, e.g. rate(http_requests_total[$__rate_interval])", oninput: () => { t.expr = expr.value; this.changed(); } });
      expr.value = t.expr || "";
      const legend = el("input", { class: "search query-legend", name: "legendFormat", placeholder: "Legend, e.g. {{instance}}", value: t.legendFormat || "", oninput: (e) => { put(t, "legendFormat", e.target.value || undefined); this.changed(); } });
      const hide = el("button", { class: "btn btn-small", title: "Disable this query", onclick: () => { t.hide = !t.hide || undefined; if (!t.hide) delete t.hide; this.renderQueries(); this.changed(true); } }, t.hide ? "Enable" : "Disable");
      const remove = el("button", { class: "btn btn-small btn-danger", title: "Remove this query", onclick: () => { p.targets.splice(i, 1); this.renderQueries(); this.changed(true); } }, "Remove");
      return el("div", { class: `query-row ${t.hide ? "disabled" : ""}`, "data-ref": t.refId },
        el("div", { class: "query-head" }, el("b", { class: "ref-id" }, t.refId || "?"), el("div", { class: "spacer" }), hide, remove),
        expr, el("div", { class: "query-foot" }, el("span", { class: "muted" }, "Legend"), legend));
    });
    const add = el("button", { class: "btn add-query", onclick: () => { p.targets.push({ refId: nextRefId(p.targets), expr: "" }); this.renderQueries(); } }, "+ Query");
    this.queriesBox.replaceChildren(el("div", { class: "editor-section-title" }, "Queries"), ...rows, add);
  }

  field(label, input) {
    return el("label", { class: "opt" }, el("span", { class: "opt-label" }, label), input);
  }

  renderOptions() {
    const p = this.draft;
    const d = p.fieldConfig.defaults;
    const text = (path, attrs = {}, obj = p) => el("input", { class: "search", value: get(obj, path) ?? "", ...attrs, oninput: (e) => { put(obj, path, e.target.value === "" ? undefined : e.target.value); this.changed(); } });
    const num = (path, name) => el("input", { class: "search", name, inputmode: "decimal", value: get(d, path) ?? "", placeholder: "auto", oninput: (e) => { put(d, path, numberOrUndefined(e.target.value)); this.changed(); } });
    const type = el("select", { name: "type", onchange: (e) => {
      p.type = e.target.value;
      this.renderQueries();
      this.renderOptions();
      this.changed(true);
    } }, ...PANEL_TYPES.map(([v, t]) => el("option", { value: v, selected: v === p.type || null }, t)));
    const desc = el("textarea", { class: "search", name: "description", rows: 2, oninput: (e) => { put(p, "description", e.target.value || undefined); this.changed(); } });
    desc.value = p.description || "";
    const units = el("datalist", { id: "unit-ids" }, ...UNIT_IDS.map((u) => el("option", { value: u })));
    const sections = [
      el("div", { class: "editor-section-title" }, "Panel"),
      this.field("Title", text("title", { name: "title" })),
      this.field("Description", desc),
      this.field("Visualization", type),
    ];
    if (p.type !== "text" && p.type !== "logs") {
      sections.push(
        el("div", { class: "editor-section-title" }, "Standard options"),
        this.field("Unit", text("unit", { name: "unit", list: "unit-ids", placeholder: "short" }, d)), units,
        this.field("Decimals", num("decimals", "decimals")),
        el("div", { class: "opt-pair" }, this.field("Min", num("min", "min")), this.field("Max", num("max", "max"))),
        this.thresholds());
      if (p.type === "timeseries") sections.push(this.field("Show thresholds", this.thresholdStyle()));
      const changed = (now) => this.changed(now);
      if (LEGEND_TYPES.has(p.type)) sections.push(legendSection(p, changed));
      sections.push(mappingsSection(d, changed), overridesSection(p.fieldConfig, changed));
    }
    this.optionsBox.replaceChildren(...sections);
  }

  thresholdStyle() {
    const d = this.draft.fieldConfig.defaults;
    const cur = d.custom?.thresholdsStyle?.mode || "off";
    return el("select", { name: "threshold-style", onchange: (e) => { put(d, "custom.thresholdsStyle.mode", e.target.value); this.changed(true); } },
      ...THRESHOLD_STYLES.map(([v, t]) => el("option", { value: v, selected: v === cur || null }, t)));
  }

  thresholds() {
    const d = this.draft.fieldConfig.defaults;
    // Grafana's defaults are shown, but written into the panel only once edited.
    const th = d.thresholds || { mode: "absolute", steps: [{ value: null, color: "green" }, { value: 80, color: "red" }] };
    const box = el("div", { class: "thresholds" });
    const render = () => {
      if (box.childNodes.length) d.thresholds = th;
      // Highest first, as Grafana lists them; the base step (value null) is always last.
      const order = th.steps.map((s, i) => i).sort((a, b) => (th.steps[b].value ?? -Infinity) - (th.steps[a].value ?? -Infinity));
      const rows = order.map((i) => {
        const s = th.steps[i];
        const base = s.value == null || s.value === -Infinity;
        const swatch = el("span", { class: "th-swatch", style: `background:${color(s.color)}` });
        const col = el("input", { class: "search th-color", name: "threshold-color", value: s.color, title: "A Grafana colour name (green, red, …) or #rrggbb", oninput: (e) => { s.color = e.target.value; d.thresholds = th; swatch.style.background = color(s.color); this.changed(); } });
        const val = base
          ? el("span", { class: "th-base" }, "Base")
          : el("input", { class: "search th-value", name: "threshold-value", inputmode: "decimal", value: s.value, onchange: (e) => { const n = numberOrUndefined(e.target.value); if (n !== undefined) s.value = n; render(); this.changed(true); } });
        const del = base ? null : el("button", { class: "btn btn-small", title: "Remove threshold", onclick: () => { th.steps.splice(i, 1); render(); this.changed(true); } }, "✕");
        return el("div", { class: "th-row" }, swatch, col, val, del);
      });
      const add = el("button", { class: "btn btn-small add-threshold", onclick: () => {
        const top = Math.max(0, ...th.steps.map((s) => s.value ?? 0));
        th.steps.push({ value: top + 10, color: THRESHOLD_COLORS[th.steps.length % THRESHOLD_COLORS.length] || PALETTE[th.steps.length] });
        render();
        this.changed(true);
      } }, "+ Add threshold");
      const mode = el("select", { name: "threshold-mode", onchange: (e) => { th.mode = e.target.value; d.thresholds = th; this.changed(true); } },
        el("option", { value: "absolute", selected: th.mode !== "percentage" || null }, "Absolute"),
        el("option", { value: "percentage", selected: th.mode === "percentage" || null }, "Percentage"));
      box.replaceChildren(el("div", { class: "editor-section-title" }, "Thresholds"), add, ...rows, this.field("Mode", mode));
    };
    render();
    return box;
  }
}
