// One dashboard page: toolbar (time picker, refresh), variables, the 24-column grid of
// panels with collapsible rows, and URL state (from, to, var-*, refresh).
import { api, session } from "./api.js";
import { runPanelQueries, intervalVars } from "./data.js";
import { el } from "./dom.js";
import { PanelEditor, newPanel } from "./editor.js";
import { legacyNodeNames } from "./legacy.js";
import { migrateDashboard } from "./migrate.js";
import { renderBarGauge } from "./panels/bargauge.js";
import { renderGauge } from "./panels/gauge.js";
import { renderHeatmap } from "./panels/heatmap.js";
import { renderLogs } from "./panels/logs.js";
import { renderStateTimeline } from "./panels/statetimeline.js";
import { renderStat } from "./panels/stat.js";
import { renderTable } from "./panels/table.js";
import { renderText } from "./panels/text.js";
import { renderTimeseries } from "./panels/timeseries.js";
import { ALL, Variables, resolveVariables, setCurrent } from "./vars.js";
import { QUICK_RANGES, describeRange, formatDateTime, getTimeZone, parseDurationMs, parseTime, resolveRange, setTimeZone, timeZoneLabel } from "./time.js";
import { eventsForPanel, isEnabled, loadAnnotations, queryAnnotations } from "./annotations.js";

const CELL = 30;
const GAP = 8;
const DATA_PANELS = new Set(["timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "state-timeline", "status-history", "logs"]);

/** Top-level panels → sections: [{row|null, panels (y relative to the section)}]. */
export function sections(panels) {
  const sorted = [...panels].sort((a, b) => (a.gridPos?.y ?? 0) - (b.gridPos?.y ?? 0) || (a.gridPos?.x ?? 0) - (b.gridPos?.x ?? 0));
  const out = [{ row: null, panels: [] }];
  for (const p of sorted) {
    if (p.type === "row") {
      const kids = (p.panels || []).map((c) => ({ ...c }));
      out.push({ row: p, panels: kids, base: kids.length ? Math.min(...kids.map((c) => c.gridPos?.y ?? 0)) : 0, fromRow: p.collapsed });
    } else out[out.length - 1].panels.push(p);
  }
  for (const s of out) {
    if (!s.fromRow) s.base = s.panels.length ? Math.min(...s.panels.map((c) => c.gridPos?.y ?? 0)) : 0;
    s.collapsed = !!s.row?.collapsed;
  }
  return out.filter((s) => s.row || s.panels.length);
}

export class DashboardPage {
  constructor(root, uid, onNavigate) {
    this.root = root;
    this.uid = uid;
    this.navigate = onNavigate;
    this.cleanups = [];
    this.timer = null;
    this.generation = 0;
  }

  async load() {
    const params = new URLSearchParams(location.search);
    this.root.replaceChildren(el("div", { class: "loading" }, "Loading dashboard…"));
    let meta;
    try {
      meta = await api.dashboard(this.uid);
    } catch (err) {
      this.root.replaceChildren(el("div", { class: "page-error" }, `Dashboard ${this.uid}: ${err.message}`));
      return;
    }
    this.meta = meta.meta;
    // Viewers may look, not change: no edit, add or save controls for them (the API
    // would refuse the save anyway).
    this.canEdit = (await session())?.role !== "viewer";
    this.dash = migrateDashboard(meta.dashboard);
    setTimeZone(this.dash.timezone);
    document.title = `${this.dash.title} - tidewatch`;
    this.range = { from: params.get("from") || this.dash.time?.from || "now-6h", to: params.get("to") || this.dash.time?.to || "now" };
    this.refresh = params.get("refresh") ?? this.dash.refresh ?? "";
    this.urlVars = {};
    for (const k of new Set(params.keys())) {
      if (!k.startsWith("var-")) continue;
      const name = k.slice(4);
      this.urlVars[name] = params.getAll(k);
    }
    this.sections = sections(this.dash.panels);
    this.varList = (this.dash.templating?.list || []).map((v) => ({ ...v }));
    await this.run(true);
  }

  builtins() {
    const r = this.abs;
    return { ...intervalVars(15000, r.from, r.to), __dashboard: this.dash.title, __from: String(r.from), __to: String(r.to) };
  }

  async run(resolveVars) {
    const gen = ++this.generation;
    // Tests and the perf check wait on drawnAt; it is unset until this run has drawn.
    window.__tw = { pending: -1, drawnAt: null, started: performance.now() };
    this.abs = resolveRange(this.range);
    this.vars = new Variables(this.varList, this.builtins());
    if (resolveVars) await resolveVariables(this.vars, this.urlVars, this.abs, this.vars.builtins);
    if (gen !== this.generation) return;
    // Fetched once per run, beside the panels' own queries; time series panels wait for both.
    this.annotations = loadAnnotations(this.dash, this.vars, this.abs);
    this.urlVars = {};
    this.syncUrl();
    this.draw();
    this.schedule();
  }

  syncUrl() {
    const p = new URLSearchParams();
    p.set("from", this.range.from);
    p.set("to", this.range.to);
    for (const v of this.vars.list) {
      if (v.type === "constant" || v.type === "adhoc") continue;
      for (const val of [].concat(v.current?.value ?? [])) p.append(`var-${v.name}`, val === ALL ? "All" : val);
    }
    if (this.refresh) p.set("refresh", this.refresh);
    history.replaceState(null, "", `${location.pathname}?${p}`);
  }

  schedule() {
    clearInterval(this.timer);
    const ms = parseDurationMs(this.refresh);
    if (ms && ms >= 1000) this.timer = setInterval(() => this.run(false), ms);
  }

  destroy() {
    setTimeZone("browser");
    clearInterval(this.timer);
    this.cleanups.forEach((f) => f());
    this.cleanups = [];
  }

  draw() {
    this.cleanups.forEach((f) => f());
    this.cleanups = [];
    const page = el("div", { class: "dashboard" }, this.toolbar(), this.legacyNotice(), this.variablesBar());
    const grid = el("div", { class: "grid" });
    page.append(grid);
    this.root.replaceChildren(page);
    this.layout(grid);
  }

  toolbar() {
    const select = el("select", { class: "range-select", "aria-label": "Time range", onchange: (e) => this.setRange({ from: e.target.value, to: "now" }) });
    select.append(el("option", { value: "" }, describeRange(this.range)));
    for (const [f, label] of QUICK_RANGES) select.append(el("option", { value: f, selected: f === this.range.from && this.range.to === "now" ? true : null }, label));
    if (QUICK_RANGES.some(([f]) => f === this.range.from) && this.range.to === "now") select.firstChild.remove();
    // Absolute times are shown, and typed, in the dashboard's time zone.
    const shown = (t) => (/^\d{10,}$/.test(t) ? formatDateTime(parseInt(t, 10)) : t);
    const stored = (text, up) => {
      const t = text.trim();
      if (t.startsWith("now") || /^\d{10,}$/.test(t)) return t;
      const ms = parseTime(t, Date.now(), up);
      return ms == null ? "" : String(ms);
    };
    const fromIn = el("input", { class: "time-input", name: "from", value: shown(this.range.from), size: 18 });
    const toIn = el("input", { class: "time-input", name: "to", value: shown(this.range.to), size: 18 });
    const apply = el("button", { class: "btn", onclick: () => this.setRange({ from: stored(fromIn.value, false), to: stored(toIn.value, true) || "now" }) }, "Apply");
    const zones = ["browser", "utc", ...(["browser", "utc", ""].includes(this.dash.timezone || "") ? [] : [getTimeZone()])];
    const tzSelect = el("select", { class: "tz-select", "aria-label": "Time zone", title: "Time zone of the axes and the time picker (the dashboard's timezone)", onchange: (e) => {
      this.dash.timezone = e.target.value;
      setTimeZone(e.target.value);
      this.dirty = true;
      this.draw();
    } }, ...[...new Set(zones)].map((z) => el("option", { value: z, selected: z === getTimeZone() || null }, timeZoneLabel(z))));
    const refresh = el("select", { class: "refresh-select", "aria-label": "Auto refresh", onchange: (e) => { this.refresh = e.target.value; this.syncUrl(); this.schedule(); } });
    for (const r of ["", "5s", "10s", "30s", "1m", "5m", "15m", "1h"]) refresh.append(el("option", { value: r, selected: r === this.refresh ? true : null }, r || "Off"));
    const zoomOut = el("button", { class: "btn", title: "Zoom out", onclick: () => {
      const span = this.abs.to - this.abs.from;
      this.setRange({ from: String(Math.round(this.abs.from - span / 2)), to: String(Math.min(Date.now(), Math.round(this.abs.to + span / 2))) });
    } }, "⊖");
    const reload = el("button", { class: "btn btn-primary", title: "Refresh", onclick: () => this.run(true) }, "⟳ Refresh");
    const save = el("button", { class: "btn", title: "Export JSON", onclick: () => this.exportJson() }, "Export");
    const add = el("button", { class: "btn add-panel", title: "Add a panel", onclick: () => this.editPanel(null) }, "+ Add panel");
    this.saveBtn = el("button", { class: `btn save-dash ${this.dirty ? "btn-primary" : ""}`, title: "Save the dashboard", onclick: () => this.saveDashboard().catch((err) => alert(`Save failed: ${err.message}`)) }, this.dirty ? "Save •" : "Save");
    const edit = el("button", { class: "btn", title: "Edit the dashboard's JSON model and save it", onclick: () => this.editJson() }, "JSON");
    return el("div", { class: "toolbar" },
      el("a", { href: "/dashboards", class: "crumb", onclick: (e) => { e.preventDefault(); this.navigate("/dashboards"); } }, "Dashboards"),
      el("span", { class: "crumb-sep" }, "/"),
      el("h1", { class: "dash-title" }, this.dash.title || "Untitled"),
      el("div", { class: "spacer" }),
      select, fromIn, toIn, tzSelect, apply, zoomOut, reload, refresh, this.canEdit ? [add, this.saveBtn] : null, edit, save);
  }

  /** A note on dashboards made for node_exporter < 0.16, whose metric names are gone. */
  legacyNotice() {
    const old = legacyNodeNames(this.dash);
    if (old.length < 3) return null;
    const examples = old.slice(0, 3).map(([a, b]) => el("span", {}, el("code", {}, a), " → ", el("code", {}, b)));
    return el("div", { class: "notice legacy-notice" },
      el("b", {}, "Written for node_exporter before 0.16. "),
      `This dashboard queries ${old.length} metric names that node_exporter renamed in 0.16 (2018), e.g. `,
      ...examples.flatMap((e, i) => (i ? [", ", e] : [e])),
      ". tidewatch's host collector exports the current names, so these panels show no data. Use a current revision of the dashboard (Node Exporter Full, grafana.com 1860).");
  }

  exportJson() {
    const blob = new Blob([JSON.stringify(this.dash, null, 2)], { type: "application/json" });
    const a = el("a", { href: URL.createObjectURL(blob), download: `${this.dash.uid || "dashboard"}.json` });
    a.click();
  }

  /** The JSON model in an editor; Save posts it to /api/dashboards/db as Grafana's UI does. */
  editJson() {
    const area = el("textarea", { class: "json-editor", spellcheck: "false" });
    area.value = JSON.stringify(this.dash, null, 2);
    const msg = el("div", { class: "modal-msg" });
    const close = () => modal.remove();
    const doSave = async (asCopy, overwrite) => {
      let dash;
      try {
        dash = JSON.parse(area.value);
      } catch (err) {
        msg.textContent = `Invalid JSON: ${err.message}`;
        return;
      }
      if (asCopy) {
        delete dash.uid;
        delete dash.id;
        dash.title = `${dash.title} copy`;
      }
      try {
        const res = await api.saveDashboard(dash, overwrite, asCopy ? undefined : this.meta?.folderUid);
        close();
        this.navigate(res.url);
      } catch (err) {
        msg.replaceChildren(`Save failed: ${err.message}`);
        if (!asCopy && !overwrite && /changed|same name/.test(err.message)) {
          msg.append(" ", el("button", { class: "btn", onclick: () => doSave(false, true) }, "Overwrite"));
        }
      }
    };
    const readOnly = this.meta && this.meta.canSave === false;
    const modal = el("div", { class: "modal-backdrop", onclick: (e) => { if (e.target === modal) close(); } },
      el("div", { class: "modal" },
        el("div", { class: "modal-head" }, el("h2", {}, "JSON model"), el("button", { class: "btn", onclick: close }, "✕")),
        readOnly ? el("div", { class: "modal-note" }, "This dashboard is provisioned from a file; save it as a copy to change it here.") : null,
        area,
        el("div", { class: "modal-actions" },
          readOnly ? null : el("button", { class: "btn btn-primary", onclick: () => doSave(false, false) }, "Save"),
          el("button", { class: "btn", onclick: () => doSave(true, false) }, "Save as copy"),
          msg)));
    document.body.append(modal);
    area.focus();
  }

  setRange(range) {
    if (!range.from) return;
    this.range = range;
    this.run(true);
  }

  variablesBar() {
    const bar = el("div", { class: "variables" });
    for (const v of this.vars.list) {
      if (v.hide === 2 || v.type === "constant" || v.type === "adhoc") continue;
      const label = v.hide === 1 ? null : el("label", { class: "var-label", for: `var-${v.name}` }, v.label || v.name);
      let input;
      if (v.type === "textbox") {
        input = el("input", { id: `var-${v.name}`, class: "var-input", value: v.current?.value ?? "", onchange: (e) => { setCurrent(v, [e.target.value]); v.options = [{ text: e.target.value, value: e.target.value }]; this.afterVarChange(v); } });
      } else {
        input = this.picker(v);
      }
      const wrap = el("div", { class: "var" }, label, input);
      if (v.error) wrap.append(el("span", { class: "var-error", title: v.error }, "!"));
      bar.append(wrap);
    }
    for (const a of queryAnnotations(this.dash)) {
      if (a.hide === true) continue;
      const box = el("input", { type: "checkbox", checked: isEnabled(a) || null, onchange: (e) => { a.enable = e.target.checked; this.run(false); } });
      bar.append(el("label", { class: "annotation-toggle", "data-annotation": a.name || "", style: `--c:${a.iconColor || "#ff6060"}` }, box, el("span", { class: "annotation-dot" }), a.name || "Annotations"));
    }
    return bar.childNodes.length ? bar : el("div");
  }

  /** Grafana-style value picker: a button with the current text and a menu of options. */
  picker(v) {
    const current = () => [].concat(v.current?.value ?? []);
    const label = () => [].concat(v.current?.text ?? "").join(" + ") || "None";
    const node = el("div", { class: "var-picker", "data-var": v.name, "data-value": current().join(",") });
    const button = el("button", { type: "button", class: "var-button", id: `var-${v.name}` }, el("span", { class: "var-current" }, label()), el("span", { class: "caret" }, "▾"));
    node.append(button);
    let menu = null;
    let chosen = null;
    const close = (apply) => {
      if (!menu) return;
      menu.remove();
      menu = null;
      document.removeEventListener("mousedown", outside, true);
      document.removeEventListener("keydown", onKey, true);
      const before = current().join("\u0000");
      if (apply && chosen && chosen.join("\u0000") !== before) {
        setCurrent(v, chosen.length ? chosen : [v.options[0]?.value ?? ""]);
        this.afterVarChange(v);
      }
    };
    const outside = (e) => { if (!node.contains(e.target)) close(true); };
    const onKey = (e) => { if (e.key === "Escape") close(true); };
    const renderMenu = () => {
      menu.replaceChildren(...v.options.map((o) => {
        const on = chosen.includes(o.value);
        return el("div", { class: `var-option ${on ? "selected" : ""}`, "data-value": o.value, onclick: () => {
          if (!v.multi) {
            chosen = [o.value];
            close(true);
            return;
          }
          if (o.value === ALL) chosen = [ALL];
          else {
            chosen = chosen.filter((x) => x !== ALL);
            chosen = on ? chosen.filter((x) => x !== o.value) : [...chosen, o.value];
          }
          renderMenu();
        } }, v.multi ? el("span", { class: `check ${on ? "on" : ""}` }, on ? "✓" : "") : null, o.text);
      }));
    };
    button.addEventListener("click", () => {
      if (menu) return close(true);
      chosen = current();
      menu = el("div", { class: "var-menu", role: "listbox" });
      renderMenu();
      node.append(menu);
      document.addEventListener("mousedown", outside, true);
      document.addEventListener("keydown", onKey, true);
    });
    return node;
  }

  /** A variable changed: later ones may depend on it, so resolve from there on. */
  afterVarChange(changed) {
    for (const v of this.vars.list) this.urlVars[v.name] = v.current?.value;
    void changed;
    this.run(true);
  }

  /** The values a `repeat` variable expands to (All → every option). */
  repeatValues(name) {
    const v = this.vars.byName(name);
    if (!v) return [];
    const vals = this.vars.values(v);
    return (vals === null ? v.options.filter((o) => o.value !== ALL).map((o) => o.value) : vals).filter((x) => x !== "");
  }

  /** Rows and panels with `repeat` become one copy per variable value, as in Grafana. */
  expandRepeats(sections) {
    const out = [];
    for (const s of sections) {
      const rowValues = s.row?.repeat ? this.repeatValues(s.row.repeat) : [null];
      for (const value of rowValues.length ? rowValues : [null]) {
        const scoped = value === null ? {} : { [s.row.repeat]: value };
        const copy = { ...s, scoped, panels: this.repeatPanels(s.panels, scoped) };
        // Collapsing one repeated row collapses that copy only.
        if (value !== null) {
          s.repeatState = s.repeatState || {};
          copy.collapsed = s.repeatState[value] ?? s.collapsed;
          copy.toggle = () => { s.repeatState[value] = !copy.collapsed; };
        }
        out.push(copy);
      }
    }
    return out;
  }

  repeatPanels(panels, rowScoped) {
    const out = [];
    let shift = []; // [fromY, extra]: panels below a repeated one move down
    for (const p of panels) {
      const g = p.gridPos || { x: 0, y: 0, w: 12, h: 8 };
      const values = p.repeat ? this.repeatValues(p.repeat) : [];
      if (values.length <= 1) {
        const scoped = values.length ? { ...rowScoped, [p.repeat]: values[0] } : rowScoped;
        out.push({ ...p, _scoped: scoped });
        continue;
      }
      const vertical = p.repeatDirection === "v";
      const perRow = vertical ? 1 : Math.max(1, p.maxPerRow ? Math.min(p.maxPerRow, values.length) : Math.floor(24 / g.w));
      const w = vertical ? g.w : p.maxPerRow ? Math.floor(24 / perRow) : g.w;
      values.forEach((val, i) => out.push({
        ...p,
        id: `${p.id ?? "p"}-${i}`,
        _scoped: { ...rowScoped, [p.repeat]: val },
        _repeatClone: true,
        _sourceId: p.id,
        gridPos: { ...g, w, x: vertical ? g.x : (i % perRow) * w, y: g.y + Math.floor(i / perRow) * g.h },
      }));
      shift.push([g.y + g.h, (Math.ceil(values.length / perRow) - 1) * g.h]);
    }
    if (!shift.length) return out;
    return out.map((c) => {
      if (c._repeatClone) return c;
      const y = c.gridPos?.y ?? 0;
      const extra = shift.reduce((acc, [from, add]) => acc + (y >= from ? add : 0), 0);
      return extra ? { ...c, gridPos: { ...c.gridPos, y: y + extra } } : c;
    });
  }

  layout(grid) {
    let y = 0;
    const panelsToLoad = [];
    for (const s of this.expandRepeats(this.sections)) {
      if (s.row) {
        const toggle = el("div", { class: `row-header ${s.collapsed ? "collapsed" : ""}`, style: `grid-row:${y + 1} / span 1;grid-column:1 / span 24`, onclick: () => { if (s.toggle) s.toggle(); else this.sections.find((x) => x.row === s.row).collapsed = !s.collapsed; this.draw(); } },
          el("span", { class: "row-caret" }, s.collapsed ? "▸" : "▾"), this.vars.interpolate(s.row.title || "", s.scoped || {}, false), s.collapsed ? el("span", { class: "row-count" }, `(${s.panels.length} panels)`) : null);
        grid.append(toggle);
        y += 1;
      }
      if (s.collapsed) continue;
      let bottom = 0;
      for (const p of s.panels) {
        const g = p.gridPos || { x: 0, y: 0, w: 12, h: 8 };
        const py = y + (g.y - s.base);
        bottom = Math.max(bottom, g.y - s.base + g.h);
        const box = this.panelBox(p, { ...g, y: py });
        grid.append(box.node);
        panelsToLoad.push(box);
      }
      y += bottom;
    }
    grid.style.gridTemplateRows = `repeat(${Math.max(1, y)}, ${CELL}px)`;
    this.loadPanels(panelsToLoad);
  }

  panelBox(panel, g) {
    const title = el("div", { class: "panel-title", title: panel.description || "" }, this.vars.interpolate(panel.title || "", panel._scoped || {}, false));
    const status = el("span", { class: "panel-status" });
    const body = el("div", { class: "panel-body" });
    const actions = !this.canEdit ? null : el("span", { class: "panel-actions" },
      el("button", { class: "panel-action panel-edit", title: "Edit panel", onclick: () => this.editPanel(panel) }, "✎"),
      el("button", { class: "panel-action panel-remove", title: "Remove panel", onclick: () => this.removePanel(panel) }, "✕"));
    const node = el("div", { class: `panel panel-${panel.type}`, "data-panel-id": panel.id ?? "", "data-type": panel.type, "data-state": "loading", style: `grid-column:${g.x + 1} / span ${g.w};grid-row:${g.y + 1} / span ${g.h}` },
      el("div", { class: "panel-header" }, title, status, actions), body);
    if (panel.transparent) node.classList.add("transparent");
    return { node, body, status, panel };
  }

  /** Where a panel lives in the model: [list, index] (top level or inside a row), or null. */
  findPanel(id) {
    for (const list of [this.dash.panels, ...this.dash.panels.filter((p) => p.type === "row").map((r) => r.panels || [])]) {
      const i = list.findIndex((p) => p.id === id);
      if (i >= 0) return [list, i];
    }
    return null;
  }

  /** After a change to the model: new sections (rows keep their folded state), redraw. */
  modelChanged() {
    const folded = new Map(this.sections.filter((s) => s.row).map((s) => [s.row.id, s.collapsed]));
    this.sections = sections(this.dash.panels);
    for (const s of this.sections) if (s.row && folded.has(s.row.id)) s.collapsed = folded.get(s.row.id);
    this.dirty = true;
    this.draw();
  }

  editPanel(rendered) {
    const id = rendered ? rendered._sourceId ?? rendered.id : null;
    const at = id == null ? null : this.findPanel(id);
    const ids = this.dash.panels.flatMap((p) => [p, ...(p.panels || [])]).map((p) => (Number.isInteger(p.id) ? p.id : 0));
    const original = at ? at[0][at[1]] : newPanel(1 + Math.max(0, ...ids), 0);
    const scoped = rendered?._scoped || {};
    this.editor = new PanelEditor(original, {
      preview: (draft, container) => this.preview(draft, scoped, container),
      apply: (draft) => {
        const where = this.findPanel(draft.id);
        if (where) where[0][where[1]] = draft;
        else {
          // A new panel goes on top, the others move down, as in Grafana.
          for (const p of this.dash.panels) if (p.gridPos) p.gridPos.y += draft.gridPos.h;
          this.dash.panels.unshift(draft);
        }
        this.modelChanged();
      },
      save: () => this.saveDashboard(),
      close: () => { this.editor = null; },
    });
    this.editor.open();
  }

  /** Draws a draft panel into the editor's preview; returns its cleanup. */
  preview(draft, scoped, container) {
    const box = this.panelBox({ ...draft, _scoped: scoped }, { x: 0, y: 0, w: 24, h: 8 });
    box.node.removeAttribute("style");
    box.node.querySelector(".panel-actions")?.remove();
    container.replaceChildren(box.node);
    const sink = { dead: false, items: [], push(f) { if (this.dead) f(); else this.items.push(f); } };
    this.loadPanel(box, this.generation, sink);
    return () => {
      sink.dead = true;
      sink.items.forEach((f) => f());
    };
  }

  removePanel(rendered) {
    const at = this.findPanel(rendered._sourceId ?? rendered.id);
    if (!at || !confirm(`Remove panel "${rendered.title || "untitled"}"?`)) return;
    at[0].splice(at[1], 1);
    this.modelChanged();
  }

  /** Posts the model to /api/dashboards/db; a newer version saved elsewhere is an error. */
  async saveDashboard() {
    const res = await api.saveDashboard(this.dash, false, this.meta?.folderUid);
    this.dash.version = res.version;
    this.dirty = false;
    if (this.saveBtn) {
      this.saveBtn.textContent = "Save";
      this.saveBtn.classList.remove("btn-primary");
    }
    if (res.uid && res.uid !== this.uid) this.navigate(res.url);
    return res;
  }

  loadPanels(boxes) {
    const gen = this.generation;
    const started = performance.now();
    let pending = boxes.length;
    window.__tw = { pending, drawnAt: null, started };
    const done = () => {
      pending--;
      window.__tw.pending = pending;
      if (pending === 0) window.__tw.drawnAt = performance.now();
    };
    if (!pending) window.__tw.drawnAt = performance.now();
    for (const box of boxes) {
      this.loadPanel(box, gen).finally(done);
    }
  }

  async loadPanel(box, gen, cleanups = this.cleanups) {
    const { panel, body, node, status } = box;
    const type = panel.type;
    try {
      if (type === "text") {
        renderText(body, panel, this.vars);
        node.dataset.state = "done";
        return;
      }
      if (!DATA_PANELS.has(type)) {
        body.replaceChildren(el("div", { class: "no-data" }, `Panel type "${type}" is not supported yet`));
        node.dataset.state = "unsupported";
        return;
      }
      // Measured before anything is drawn, so renderers need not force a layout to ask.
      const rect = body.getBoundingClientRect();
      const width = rect.width;
      const [{ frames }, events] = await Promise.all([
        runPanelQueries(panel, { range: this.abs, vars: this.vars, scoped: panel._scoped || {}, widthPx: width }),
        type === "timeseries" ? this.annotations : [],
      ]);
      if (gen !== this.generation) return;
      if (!frames.length) {
        body.replaceChildren(el("div", { class: "no-data" }, "No data"));
        node.dataset.state = "nodata";
        return;
      }
      const render = { timeseries: renderTimeseries, stat: renderStat, gauge: renderGauge, bargauge: renderBarGauge, table: renderTable, heatmap: renderHeatmap, "state-timeline": renderStateTimeline, "status-history": renderStateTimeline, logs: renderLogs }[type];
      const annotations = eventsForPanel(events || [], panel._sourceId ?? panel.id);
      const cleanup = render(body, panel, frames, { range: this.abs, annotations, size: { width: rect.width, height: rect.height }, onZoom: (a, b) => this.setRange({ from: String(a), to: String(b) }) });
      if (typeof cleanup === "function") cleanups.push(cleanup);
      if (cleanup?.ready) await cleanup.ready;
      node.dataset.state = "done";
      node.dataset.series = String(frames.length);
    } catch (err) {
      if (gen !== this.generation) return;
      node.dataset.state = "error";
      status.replaceChildren(el("span", { class: "panel-error", title: String(err.message || err) }, "!"));
      body.replaceChildren(el("div", { class: "panel-error-text" }, String(err.message || err)));
    }
  }
}

export { formatDateTime };
