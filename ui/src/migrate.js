// Brings older Grafana dashboard JSON up to the shape the renderer reads, as Grafana's
// own migrator does on load: `rows` → row panels with gridPos, graph → timeseries,
// singlestat → stat, old-style y-axis/legend/threshold fields → fieldConfig.

const CELL_HEIGHT = 30;
const CELL_VMARGIN = 8;

function gridHeight(height) {
  let h = typeof height === "string" ? parseInt(height.replace("px", ""), 10) : height;
  if (!h || Number.isNaN(h)) h = 250;
  return Math.max(3, Math.ceil(h / (CELL_HEIGHT + CELL_VMARGIN)));
}

function migrateRows(dash) {
  const panels = [];
  let y = 0;
  let nextId = 1 + Math.max(0, ...dash.rows.flatMap((r) => (r.panels || []).map((p) => p.id || 0)));
  const showRows = dash.rows.length > 1 || dash.rows.some((r) => r.showTitle);
  for (const row of dash.rows) {
    const rowH = gridHeight(row.height);
    const children = [];
    let x = 0;
    let rowY = y + (showRows ? 1 : 0);
    let lineH = 0;
    for (const p of row.panels || []) {
      const w = Math.max(1, Math.round((p.span || 12) * 2));
      const h = p.height ? gridHeight(p.height) : rowH;
      if (x + w > 24) {
        rowY += lineH;
        x = 0;
        lineH = 0;
      }
      const copy = { ...p, gridPos: { x, y: rowY, w, h } };
      delete copy.span;
      children.push(copy);
      x += w;
      lineH = Math.max(lineH, h);
    }
    if (showRows) {
      const rowPanel = { type: "row", id: nextId++, title: row.title || "", collapsed: !!row.collapse, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] };
      if (row.repeat) rowPanel.repeat = row.repeat;
      panels.push(rowPanel);
      if (row.collapse) rowPanel.panels = children;
      else panels.push(...children);
    } else panels.push(...children);
    y = rowY + lineH;
  }
  dash.panels = panels;
  delete dash.rows;
}

function thresholdsFromOld(text, colors) {
  const vals = String(text || "").split(",").map((s) => parseFloat(s)).filter((n) => !Number.isNaN(n));
  const palette = colors?.length ? colors : ["green", "orange", "red"];
  const steps = [{ value: null, color: palette[0] }];
  vals.forEach((v, i) => steps.push({ value: v, color: palette[Math.min(i + 1, palette.length - 1)] }));
  return { mode: "absolute", steps };
}

const VALUE_NAME_TO_CALC = { current: "lastNotNull", avg: "mean", max: "max", min: "min", total: "sum", first: "firstNotNull", delta: "delta", diff: "diff", range: "range", last_time: "lastNotNull", name: "lastNotNull" };

function migrateSinglestat(p) {
  const unit = p.format && p.format !== "none" ? p.format : p.format === "none" ? "none" : "short";
  const thresholds = p.thresholds ? thresholdsFromOld(p.thresholds, p.colors) : { mode: "absolute", steps: [{ value: null, color: "green" }] };
  const mappings = [];
  for (const m of p.valueMaps || []) {
    if (m.value === "null") mappings.push({ type: "special", options: { match: "null", result: { text: m.text } } });
    else mappings.push({ type: "value", options: { [m.value]: { text: m.text } } });
  }
  for (const r of p.rangeMaps || []) mappings.push({ type: "range", options: { from: parseFloat(r.from), to: parseFloat(r.to), result: { text: r.text } } });
  const isGauge = p.gauge?.show;
  p.type = isGauge ? "gauge" : "stat";
  const colorMode = p.colorBackground ? "background" : p.colorValue ? "value" : "none";
  p.fieldConfig = {
    defaults: {
      unit, decimals: p.decimals ?? undefined, thresholds, mappings,
      min: isGauge ? p.gauge.minValue : undefined, max: isGauge ? p.gauge.maxValue : undefined,
      color: { mode: "thresholds" },
    },
    overrides: [],
  };
  p.options = {
    reduceOptions: { calcs: [VALUE_NAME_TO_CALC[p.valueName] || "lastNotNull"] },
    colorMode: colorMode === "none" && !p.thresholds ? "none" : colorMode === "none" ? "value" : colorMode,
    graphMode: p.sparkline?.show ? "area" : "none",
    prefix: p.prefix, postfix: p.postfix,
  };
  if (!p.colorBackground && !p.colorValue) p.options.colorMode = "none";
}

function migrateGraph(p) {
  const y = p.yaxes?.[0] || {};
  const custom = {
    drawStyle: p.bars && !p.lines ? "bars" : p.points && !p.lines ? "points" : "line",
    lineWidth: p.linewidth ?? 1,
    fillOpacity: p.lines === false && !p.bars ? 0 : (p.fill ?? 1) * 10,
    showPoints: p.points ? "always" : "never",
    pointSize: p.pointradius ? p.pointradius * 2 : 5,
    stacking: { mode: p.stack ? (p.percentage ? "percent" : "normal") : "none", group: "A" },
    scaleDistribution: y.logBase && y.logBase > 1 ? { type: "log", log: y.logBase } : { type: "linear" },
    spanNulls: p.nullPointMode === "connected",
  };
  const overrides = [];
  for (const so of p.seriesOverrides || []) {
    const props = [];
    if (so.transform === "negative-Y") props.push({ id: "custom.transform", value: "negative-Y" });
    if (so.stack === false) props.push({ id: "custom.stacking", value: { mode: "none" } });
    if (so.color) props.push({ id: "color", value: { mode: "fixed", fixedColor: so.color } });
    if (so.fill !== undefined) props.push({ id: "custom.fillOpacity", value: so.fill * 10 });
    if (so.linewidth !== undefined) props.push({ id: "custom.lineWidth", value: so.linewidth });
    if (so.lines === false && so.bars) props.push({ id: "custom.drawStyle", value: "bars" });
    if (so.dashes) props.push({ id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } });
    if (so.hiddenSeries || so.legend === false) props.push({ id: "custom.hideFrom", value: { legend: so.legend === false, viz: !!so.hiddenSeries, tooltip: false } });
    if (!props.length) continue;
    const alias = String(so.alias || "");
    const m = alias.match(/^\/(.*)\/$/);
    overrides.push({ matcher: m ? { id: "byRegexp", options: m[1] } : { id: "byName", options: alias }, properties: props });
  }
  const legend = p.legend || {};
  const calcs = [];
  for (const [k, c] of [["min", "min"], ["max", "max"], ["avg", "mean"], ["current", "lastNotNull"], ["total", "sum"]]) if (legend[k]) calcs.push(c);
  p.fieldConfig = {
    defaults: {
      unit: y.format || "short", decimals: y.decimals ?? p.decimals ?? undefined,
      min: y.min != null && y.min !== "" ? Number(y.min) : undefined,
      max: y.max != null && y.max !== "" ? Number(y.max) : undefined,
      custom,
      color: { mode: "palette-classic" },
    },
    overrides,
  };
  p.options = {
    legend: { showLegend: legend.show !== false, displayMode: legend.alignAsTable ? "table" : "list", placement: legend.rightSide ? "right" : "bottom", calcs },
    tooltip: { mode: p.tooltip?.shared === false ? "single" : "multi" },
  };
  p.type = "timeseries";
}

function migratePanel(p) {
  if (p.type === "graph") migrateGraph(p);
  else if (p.type === "singlestat" || p.type === "grafana-singlestat-panel") migrateSinglestat(p);
  else if (p.type === "table-old") p.type = "table";
  else if (p.type === "gauge" || p.type === "stat" || p.type === "bargauge") {
    // Very old gauge/stat options kept fieldOptions instead of fieldConfig.
    const fo = p.options?.fieldOptions;
    if (fo && !p.fieldConfig) {
      p.fieldConfig = { defaults: { ...fo.defaults, thresholds: fo.thresholds ? { mode: "absolute", steps: fo.thresholds } : fo.defaults?.thresholds, mappings: fo.mappings || [] }, overrides: fo.overrides || [] };
      p.options.reduceOptions = { calcs: fo.calcs || ["lastNotNull"] };
    }
  }
  if (p.panels) p.panels.forEach(migratePanel);
}

/** Returns the dashboard migrated in place. */
export function migrateDashboard(dash) {
  if (Array.isArray(dash.rows) && !Array.isArray(dash.panels)) migrateRows(dash);
  dash.panels = dash.panels || [];
  for (const p of dash.panels) migratePanel(p);
  // Panels without an id get one, as Grafana assigns them on load.
  const all = dash.panels.flatMap((p) => [p, ...(p.panels || [])]);
  let next = 1 + Math.max(0, ...all.map((p) => (Number.isInteger(p.id) ? p.id : 0)));
  for (const p of all) if (!Number.isInteger(p.id)) p.id = next++;
  dash.templating = dash.templating || { list: [] };
  for (const v of dash.templating.list || []) {
    if (v.type === "query" && typeof v.query === "object" && v.query?.query === undefined && v.definition) v.query = v.definition;
  }
  return dash;
}
