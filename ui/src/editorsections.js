// Panel editor sections for the options Grafana keeps in lists: the legend, value
// mappings and field overrides. Each section edits the draft panel in place and calls
// `changed(now)` so the editor re-renders its preview.
import { CALC_NAMES, color } from "./fields.js";
import { el } from "./dom.js";

const option = (value, text, selected) => el("option", { value, selected: selected || null }, text);
const title = (text) => el("div", { class: "editor-section-title" }, text);

function select(name, choices, current, onchange) {
  return el("select", { name, onchange: (e) => onchange(e.target.value) }, ...choices.map(([v, t]) => option(v, t, v === current)));
}

function input(name, value, oninput, attrs = {}) {
  return el("input", { class: "search", name, value: value ?? "", ...attrs, oninput: (e) => oninput(e.target.value) });
}

function labelled(label, control) {
  return el("label", { class: "opt" }, el("span", { class: "opt-label" }, label), control);
}

const LEGEND_CALCS = ["lastNotNull", "last", "mean", "min", "max", "sum", "firstNotNull", "count", "range", "delta"];

/** Legend mode (list, table, hidden), placement and calculations: `options.legend`. */
export function legendSection(panel, changed) {
  panel.options = panel.options || {};
  const legend = () => (panel.options.legend = panel.options.legend || { displayMode: "list", placement: "bottom", showLegend: true, calcs: [] });
  const cur = panel.options.legend || {};
  const hidden = cur.showLegend === false || cur.displayMode === "hidden";
  const mode = hidden ? "hidden" : cur.displayMode || "list";
  const modeSel = select("legend-mode", [["list", "List"], ["table", "Table"], ["hidden", "Hidden"]], mode, (v) => {
    const l = legend();
    // Grafana 9+ hides the legend with showLegend: false and keeps the mode.
    l.showLegend = v !== "hidden";
    l.displayMode = v === "hidden" ? (l.displayMode === "table" ? "table" : "list") : v;
    changed(true);
  });
  const placement = select("legend-placement", [["bottom", "Bottom"], ["right", "Right"]], cur.placement || "bottom", (v) => {
    legend().placement = v;
    changed(true);
  });
  const chosen = new Set(cur.calcs || []);
  const calcs = el("div", { class: "legend-calcs" }, ...LEGEND_CALCS.map((c) => {
    const box = el("input", { type: "checkbox", name: "legend-calc", value: c, checked: chosen.has(c) || null, onchange: (e) => {
      const l = legend();
      const set = new Set(l.calcs || []);
      if (e.target.checked) set.add(c);
      else set.delete(c);
      // Kept in the order Grafana's picker lists them.
      l.calcs = LEGEND_CALCS.filter((x) => set.has(x)).concat([...set].filter((x) => !LEGEND_CALCS.includes(x)));
      changed(true);
    } });
    return el("label", { class: "calc-choice" }, box, CALC_NAMES[c] || c);
  }));
  return el("div", { class: "legend-options" }, title("Legend"), el("div", { class: "opt-pair" }, labelled("Mode", modeSel), labelled("Placement", placement)), labelled("Values", calcs));
}

const MAPPING_TYPES = [["value", "Value"], ["range", "Range"], ["regex", "Regex"], ["special", "Special"]];
const SPECIAL_MATCHES = [["null", "Null"], ["nan", "NaN"], ["null+nan", "Null + NaN"], ["true", "True"], ["false", "False"], ["empty", "Empty"]];

/** Grafana's saved mappings → one editable row per condition, in their `index` order. */
export function mappingRows(mappings) {
  const rows = [];
  for (const m of mappings || []) {
    const o = m.options || {};
    if (m.type === "value") {
      for (const [key, r] of Object.entries(o)) rows.push({ type: "value", value: key, text: r?.text, color: r?.color, index: r?.index });
    } else if (m.type === "range") rows.push({ type: "range", from: o.from, to: o.to, text: o.result?.text, color: o.result?.color, index: o.result?.index });
    else if (m.type === "regex") rows.push({ type: "regex", pattern: o.pattern, text: o.result?.text, color: o.result?.color, index: o.result?.index });
    else if (m.type === "special") rows.push({ type: "special", match: o.match, text: o.result?.text, color: o.result?.color, index: o.result?.index });
    // Grafana 6 mappings: {type: 1, value, text} and {type: 2, from, to, text}.
    else if (m.type === 1) rows.push({ type: "value", value: String(m.value), text: m.text });
    else if (m.type === 2) rows.push({ type: "range", from: numberOr(m.from), to: numberOr(m.to), text: m.text });
  }
  return rows.map((r, i) => ({ ...r, index: r.index ?? i })).sort((a, b) => a.index - b.index);
}

function numberOr(text, fallback = undefined) {
  const t = String(text ?? "").trim();
  if (t === "") return fallback;
  const n = Number(t);
  return Number.isFinite(n) ? n : fallback;
}

/** Editable rows → Grafana's saved form: all value rows in one "value" mapping, first. */
export function mappingsFromRows(rows) {
  const values = { type: "value", options: {} };
  const others = [];
  rows.forEach((r, index) => {
    const result = { index };
    if (r.text != null && String(r.text).trim() !== "") result.text = r.text;
    if (r.color) result.color = r.color;
    if (r.type === "value") {
      if (r.value != null && r.value !== "") values.options[r.value] = result;
    } else if (r.type === "range") {
      if (r.from != null || r.to != null) others.push({ type: "range", options: { from: r.from ?? null, to: r.to ?? null, result } });
    } else if (r.type === "regex") {
      if (r.pattern) others.push({ type: "regex", options: { pattern: r.pattern, result } });
    } else if (r.type === "special") others.push({ type: "special", options: { match: r.match || "null", result } });
  });
  return Object.keys(values.options).length ? [values, ...others] : others;
}

/** Value mappings (`fieldConfig.defaults.mappings`): value, range, regex and special rows. */
export function mappingsSection(defaults, changed) {
  const rows = mappingRows(defaults.mappings);
  const box = el("div", { class: "mappings" });
  const save = (now = false) => {
    const m = mappingsFromRows(rows);
    if (m.length || defaults.mappings) defaults.mappings = m;
    changed(now);
  };
  const render = () => {
    const items = rows.map((r, i) => {
      let cond;
      if (r.type === "range") {
        cond = [input("mapping-from", r.from, (v) => { r.from = numberOr(v); save(); }, { placeholder: "From", inputmode: "decimal" }),
          input("mapping-to", r.to, (v) => { r.to = numberOr(v); save(); }, { placeholder: "To", inputmode: "decimal" })];
      } else if (r.type === "regex") cond = [input("mapping-pattern", r.pattern, (v) => { r.pattern = v; save(); }, { placeholder: "Pattern" })];
      else if (r.type === "special") cond = [select("mapping-match", SPECIAL_MATCHES, r.match || "null", (v) => { r.match = v; save(true); })];
      else cond = [input("mapping-value", r.value, (v) => { r.value = v; save(); }, { placeholder: "Value" })];
      const swatch = el("span", { class: "th-swatch", style: `background:${r.color ? color(r.color) : "transparent"}` });
      return el("div", { class: "mapping-row", "data-index": i },
        el("div", { class: "mapping-cond" },
          select("mapping-type", MAPPING_TYPES, r.type, (v) => { r.type = v; render(); save(true); }), ...cond,
          el("button", { class: "btn btn-small", title: "Remove mapping", onclick: () => { rows.splice(i, 1); render(); save(true); } }, "✕")),
        el("div", { class: "mapping-result" },
          input("mapping-text", r.text, (v) => { r.text = v; save(); }, { placeholder: "Display text" }),
          swatch,
          input("mapping-color", r.color, (v) => { r.color = v || undefined; swatch.style.background = v ? color(v) : "transparent"; save(); }, { placeholder: "Colour", class: "search th-color" })));
    });
    const add = el("button", { class: "btn btn-small add-mapping", onclick: () => { rows.push({ type: "value", value: "", text: "" }); render(); } }, "+ Add mapping");
    box.replaceChildren(title("Value mappings"), ...items, add);
  };
  render();
  return box;
}

const MATCHERS = [["byName", "Fields with name"], ["byRegexp", "Fields with name matching regex"]];
const PROPERTIES = [["displayName", "Display name"], ["unit", "Unit"], ["color", "Color"], ["decimals", "Decimals"]];

function propertyInput(prop, changed) {
  if (prop.id === "color") {
    const swatch = el("span", { class: "th-swatch", style: `background:${color(prop.value?.fixedColor)}` });
    return [swatch, input("override-prop-value", prop.value?.fixedColor, (v) => {
      prop.value = { mode: "fixed", fixedColor: v };
      swatch.style.background = color(v);
      changed();
    }, { placeholder: "A colour name or #rrggbb" })];
  }
  if (prop.id === "decimals") return [input("override-prop-value", prop.value, (v) => { prop.value = numberOr(v); changed(); }, { inputmode: "decimal" })];
  const attrs = prop.id === "unit" ? { list: "unit-ids", placeholder: "short" } : {};
  return [input("override-prop-value", prop.value, (v) => { prop.value = v; changed(); }, attrs)];
}

/** Field overrides (`fieldConfig.overrides`): a matcher and the properties it sets. */
export function overridesSection(fieldConfig, changed) {
  fieldConfig.overrides = fieldConfig.overrides || [];
  const list = fieldConfig.overrides;
  const box = el("div", { class: "overrides" });
  const render = () => {
    const cards = list.map((ov, i) => {
      ov.matcher = ov.matcher || { id: "byName", options: "" };
      ov.properties = ov.properties || [];
      const known = MATCHERS.some(([id]) => id === ov.matcher.id);
      // Matchers this editor has no form for (byValue, byFrameRefID, ...) are kept as they are.
      const matcherChoices = known ? MATCHERS : [...MATCHERS, [ov.matcher.id, ov.matcher.id]];
      const matcherValue = known
        ? input("override-matcher-value", ov.matcher.options, (v) => { ov.matcher.options = v; changed(); }, { placeholder: ov.matcher.id === "byRegexp" ? "/cpu.*/ or cpu.*" : "Series name" })
        : el("code", { class: "override-raw" }, JSON.stringify(ov.matcher.options ?? null));
      const props = ov.properties.map((prop, j) => {
        const knownProp = PROPERTIES.some(([id]) => id === prop.id);
        const choices = knownProp ? PROPERTIES : [...PROPERTIES, [prop.id, prop.id]];
        const idSel = select("override-prop-id", choices, prop.id, (v) => {
          prop.id = v;
          prop.value = v === "color" ? { mode: "fixed", fixedColor: "green" } : undefined;
          render();
          changed(true);
        });
        const value = knownProp ? propertyInput(prop, changed) : [el("code", { class: "override-raw" }, JSON.stringify(prop.value ?? null))];
        const del = el("button", { class: "btn btn-small", title: "Remove property", onclick: () => { ov.properties.splice(j, 1); render(); changed(true); } }, "✕");
        return el("div", { class: "override-prop", "data-prop": prop.id }, idSel, ...value, del);
      });
      return el("div", { class: "override", "data-index": i },
        el("div", { class: "override-head" },
          select("override-matcher-id", matcherChoices, ov.matcher.id, (v) => { ov.matcher = { id: v, options: typeof ov.matcher.options === "string" ? ov.matcher.options : "" }; render(); changed(true); }),
          el("button", { class: "btn btn-small btn-danger", title: "Remove override", onclick: () => { list.splice(i, 1); render(); changed(true); } }, "✕")),
        matcherValue, ...props,
        el("button", { class: "btn btn-small add-override-prop", onclick: () => { ov.properties.push({ id: "displayName", value: "" }); render(); } }, "+ Add property"));
    });
    const add = el("button", { class: "btn btn-small add-override", onclick: () => { list.push({ matcher: { id: "byName", options: "" }, properties: [] }); render(); } }, "+ Add field override");
    box.replaceChildren(title("Overrides"), ...cards, add);
  };
  render();
  return box;
}
