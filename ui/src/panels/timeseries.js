// timeseries (and migrated graph) panels drawn with uPlot.
import uPlot from "uplot";
import { CALC_NAMES, PALETTE, color, displayName, fieldConfigFor, reduce, thresholdColor, withAlpha } from "../fields.js";
import { formatDateTime, ianaName } from "../time.js";
import { formatValue } from "../units.js";
import { el } from "../dom.js";

const IEC_UNITS = new Set(["bytes", "bits", "binBps", "binbps", "kbytes", "mbytes", "gbytes"]);
// Tick steps that land on round binary sizes (1 KiB, 256 MiB, 4 GiB, ...).
const BINARY_INCRS = [];
for (let k = 0; k < 7; k++) for (const m of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) BINARY_INCRS.push(m * 1024 ** k);

function isolatedPoints(u, seriesIdx) {
  const ys = u.data[seriesIdx];
  const out = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] != null && (i === 0 || ys[i - 1] == null) && (i === ys.length - 1 || ys[i + 1] == null)) out.push(i);
  }
  return out;
}

function align(frames) {
  const set = new Set();
  for (const f of frames) for (const t of f.ts) set.add(t);
  const xs = Float64Array.from(set).sort();
  const index = new Map();
  xs.forEach((t, i) => index.set(t, i));
  const ys = frames.map((f) => {
    const col = new Array(xs.length).fill(null);
    for (let i = 0; i < f.ts.length; i++) {
      const v = f.values[i];
      col[index.get(f.ts[i])] = Number.isFinite(v) ? v : null;
    }
    return col;
  });
  return { xs, ys };
}

function stack(ys, configs, percent) {
  const n = ys[0]?.length || 0;
  const acc = new Array(n).fill(0);
  const totals = new Array(n).fill(0);
  if (percent) ys.forEach((col, k) => configs[k].custom.stacking?.mode !== "none" && col.forEach((v, i) => { totals[i] += Math.abs(v ?? 0); }));
  return ys.map((col, k) => {
    if (configs[k].custom.stacking?.mode === "none" || configs[k].custom.stackingOff) return col;
    return col.map((v, i) => {
      if (v == null) return acc[i] === 0 ? null : acc[i];
      acc[i] += percent ? (totals[i] ? v / totals[i] : 0) : v;
      return acc[i];
    });
  });
}

export function renderTimeseries(body, panel, frames, ctx) {
  const configs = frames.map((f) => fieldConfigFor(panel, f));
  // Overrides may rename a series (displayName); legend and tooltip show the new name.
  frames = frames.map((f, k) => ({ ...f, name: displayName(configs[k], f) }));
  const defaults = panel.fieldConfig?.defaults || {};
  const unit = defaults.unit || "short";
  const { xs, ys: raw } = align(frames);
  raw.forEach((col, k) => {
    if (configs[k].custom.transform === "negative-Y") for (let i = 0; i < col.length; i++) if (col[i] != null) col[i] = -col[i];
  });
  const mode = defaults.custom?.stacking?.mode;
  const stacked = mode === "normal" || mode === "percent";
  const ys = stacked ? stack(raw, configs, mode === "percent") : raw;
  const legendOpts = panel.options?.legend || {};
  const showLegend = legendOpts.showLegend !== false && legendOpts.displayMode !== "hidden";

  const series = [{}];
  const bands = [];
  const visibleIdx = [];
  frames.forEach((f, k) => {
    const cfg = configs[k];
    const c = cfg.custom;
    // "From thresholds (by value)" colours the line by the step each value falls in;
    // its legend swatch takes the last value's colour.
    const byThresholds = cfg.color?.mode === "thresholds" || c.thresholdsStyle?.mode === "series";
    let col = cfg.color?.mode === "fixed" ? color(cfg.color.fixedColor) : PALETTE[k % PALETTE.length];
    if (byThresholds) col = thresholdColor(withDefaultThresholds(cfg), reduce(raw[k], "lastNotNull") ?? 0);
    const draw = c.drawStyle || "line";
    const fillOpacity = (c.fillOpacity ?? (stacked ? 10 : 0)) / 100;
    const s = {
      swatch: col,
      label: f.name,
      stroke: col,
      width: draw === "points" ? 0 : c.lineWidth ?? 1,
      fill: fillOpacity > 0 ? withAlpha(col, fillOpacity) : undefined,
      spanGaps: c.spanNulls === true,
      points: { size: c.pointSize || 5, fill: col },
      value: (u, v) => (v == null ? "" : formatValue(v, cfg.unit || unit, cfg.decimals ?? defaults.decimals)),
    };
    if (draw === "points" || c.showPoints === "always") s.points.show = true;
    else if (c.showPoints === "never") s.points.show = false;
    else {
      // Grafana's "auto": a point only where a sample has no neighbour to draw a line to.
      s.points.show = true;
      s.points.filter = isolatedPoints;
    }
    if (draw === "bars") s.paths = uPlot.paths.bars({ size: [0.8, 64] });
    if (c.lineInterpolation === "stepAfter") s.paths = uPlot.paths.stepped({ align: 1 });
    if (c.lineInterpolation === "smooth") s.paths = uPlot.paths.spline();
    if (c.hideFrom?.viz) s.show = false;
    if (byThresholds) {
      s.stroke = (u) => thresholdGradient(u, cfg, 1);
      if (fillOpacity > 0) s.fill = (u) => thresholdGradient(u, cfg, fillOpacity);
    }
    series.push(s);
    if (stacked && k > 0 && fillOpacity > 0) bands.push({ series: [k + 1, k], fill: withAlpha(col, fillOpacity) });
    visibleIdx.push(k);
  });
  if (stacked) series.forEach((s, i) => { if (i > 1 && bands.some((b) => b.series[0] === i)) s.fill = undefined; });

  const wrap = el("div", { class: "ts" });
  const plotBox = el("div", { class: "ts-plot" });
  wrap.append(plotBox);
  let legendBox = null;
  if (showLegend && frames.length) legendBox = renderLegend(frames, raw, configs, series, legendOpts, unit, defaults.decimals);
  if (legendBox) wrap.append(legendBox);
  if (legendOpts.placement === "right") wrap.classList.add("legend-right");
  body.replaceChildren(wrap);

  const scaleDist = defaults.custom?.scaleDistribution;
  const yScale = { auto: true };
  if (scaleDist?.type === "log") Object.assign(yScale, { distr: 3, log: scaleDist.log || 2 });
  if (defaults.min != null || defaults.max != null || defaults.custom?.axisSoftMin != null || defaults.custom?.axisSoftMax != null) {
    yScale.range = (u, dmin, dmax) => {
      let lo = defaults.min ?? Math.min(dmin, defaults.custom?.axisSoftMin ?? dmin);
      let hi = defaults.max ?? Math.max(dmax, defaults.custom?.axisSoftMax ?? dmax);
      if (mode === "percent") [lo, hi] = [0, 1];
      if (lo === hi) hi = lo + 1;
      return [lo, hi];
    };
  }
  // Bars and stacks grow from zero, so the axis must show it (uPlot's auto range may not).
  const fromZero = stacked || configs.some((c) => c.custom.drawStyle === "bars");
  if (fromZero && !yScale.range && !yScale.distr) {
    yScale.range = (u, dmin, dmax) => {
      const lo = Math.min(0, dmin);
      const hi = Math.max(0, dmax);
      return lo === hi ? [0, 1] : [lo, hi + (hi - lo) * 0.05];
    };
  }
  const axisColor = "#9fa7b3";
  const grid = { stroke: "rgba(204,204,220,0.07)", width: 1 };
  const yUnit = mode === "percent" ? "percentunit" : unit;
  const opts = {
    width: 300,
    height: 150,
    series,
    bands,
    scales: { x: { time: true, min: ctx.range.from / 1000, max: ctx.range.to / 1000 }, y: yScale },
    legend: { show: false },
    cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    axes: [
      { stroke: axisColor, grid, ticks: grid, font: "11px Inter, system-ui, sans-serif", space: 60 },
      {
        stroke: axisColor, grid, ticks: grid, font: "11px Inter, system-ui, sans-serif",
        values: (u, splits) => splits.map((v) => formatValue(v, yUnit, defaults.decimals)),
        // Wide enough for the longest tick label, as Grafana sizes its axes.
        size: (u, values) => 24 + 7 * Math.max(3, ...(values || []).map((v) => String(v).length)),
        incrs: IEC_UNITS.has(yUnit) ? BINARY_INCRS : undefined,
      },
    ],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width > 5 && ctx.onZoom) {
          const a = u.posToVal(u.select.left, "x");
          const b = u.posToVal(u.select.left + u.select.width, "x");
          ctx.onZoom(Math.round(a * 1000), Math.round(b * 1000));
        }
        u.setSelect({ width: 0, height: 0 }, false);
      }],
      setCursor: [(u) => tooltip(u, plotBox, frames, series)],
      drawClear: [(u) => drawThresholds(u, defaults)],
      draw: [(u) => annotations.draw(u)],
    },
  };
  // Axes in the dashboard's time zone (uPlot's default is the browser's).
  const tz = ianaName();
  if (tz) opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), tz);
  const annotations = annotationLayer(ctx.annotations || [], plotBox);
  const data = [Array.from(xs), ...ys];
  // The plot is built in the ResizeObserver's first callback, which comes after the
  // browser's own layout: no forced layout per panel, and one draw at the final size
  // (dozens of panels arriving together are laid out once, not once each).
  let u = null;
  let markReady;
  const ready = new Promise((resolve) => { markReady = resolve; });
  const ro = new ResizeObserver((entries) => {
    const r = entries[entries.length - 1].contentRect;
    const size = { width: Math.floor(r.width), height: Math.floor(r.height) };
    if (size.width <= 0 || size.height <= 0) {
      markReady(); // hidden for now: nothing to draw until it gets a size
      return;
    }
    if (u) u.setSize(size);
    else {
      u = new uPlot({ ...opts, ...size }, data, plotBox);
      plotBox._uplot = u; // lets tests and debugging map values to pixels
      annotations.attach(u);
      markReady();
    }
  });
  ro.observe(plotBox);
  const cleanup = () => {
    ro.disconnect();
    if (u) u.destroy();
    markReady();
  };
  cleanup.ready = ready; // the dashboard counts the panel drawn when this resolves
  return cleanup;
}

// Grafana's thresholdsStyle modes: lines (solid or dashed) at each step above the base,
// and/or areas tinting each step's band of the y axis; drawn under the series.
const THRESHOLD_LINE_MODES = new Set(["line", "dashed", "line+area", "dashed+area"]);
const THRESHOLD_AREA_MODES = new Set(["area", "line+area", "dashed+area"]);
// What a Grafana panel has when its JSON names no thresholds.
const GRAFANA_DEFAULT_THRESHOLDS = { mode: "absolute", steps: [{ value: null, color: "green" }, { value: 80, color: "red" }] };

/** Threshold steps on the y scale, the base (null / -Infinity) first, as Grafana keeps them. */
function thresholdSteps(th, yMin, yMax) {
  const steps = (th?.steps || []).map((s) => ({ value: s.value == null ? -Infinity : Number(s.value), color: s.color }));
  steps.sort((a, b) => a.value - b.value);
  if (th?.mode !== "percentage") return steps;
  // Percentage steps are relative to the axis range drawn.
  return steps.map((s) => (s.value === -Infinity ? s : { ...s, value: yMin + ((yMax - yMin) * s.value) / 100 }));
}

const withDefaultThresholds = (cfg) => (cfg.thresholds ? cfg : { ...cfg, thresholds: GRAFANA_DEFAULT_THRESHOLDS });

/** A vertical gradient with a hard edge at each threshold step, over the y scale drawn. */
function thresholdGradient(u, cfg, alpha) {
  const { min, max } = u.scales.y;
  const th = withDefaultThresholds(cfg).thresholds;
  if (min == null || max == null || min === max) return withAlpha(color(th.steps?.[0]?.color), alpha);
  const bottom = u.valToPos(min, "y", true);
  const top = u.valToPos(max, "y", true);
  // Offsets from canvas positions, so log scales put the edges where the values are.
  const at = (v) => Math.min(1, Math.max(0, (u.valToPos(Math.min(Math.max(v, min), max), "y", true) - bottom) / (top - bottom)));
  const g = u.ctx.createLinearGradient(0, bottom, 0, top);
  const steps = thresholdSteps(th, min, max);
  steps.forEach((s, i) => {
    const c = withAlpha(color(s.color), alpha);
    g.addColorStop(s.value === -Infinity ? 0 : at(s.value), c);
    g.addColorStop(i + 1 < steps.length ? at(steps[i + 1].value) : 1, c);
  });
  return g;
}

function drawThresholds(u, defaults) {
  const mode = defaults.custom?.thresholdsStyle?.mode || "off";
  const lines = THRESHOLD_LINE_MODES.has(mode);
  const areas = THRESHOLD_AREA_MODES.has(mode);
  const { min: yMin, max: yMax } = u.scales.y;
  if ((!lines && !areas) || yMin == null || yMax == null) return;
  const steps = thresholdSteps(defaults.thresholds || GRAFANA_DEFAULT_THRESHOLDS, yMin, yMax);
  if (!steps.length) return;
  const c = u.ctx;
  const { left, top, width, height } = u.bbox;
  const yPos = (v) => Math.round(u.valToPos(Math.min(Math.max(v, yMin), yMax), "y", true));
  c.save();
  c.beginPath();
  c.rect(left, top, width, height);
  c.clip();
  if (areas) {
    steps.forEach((s, i) => {
      const lo = s.value === -Infinity ? top + height : yPos(s.value);
      const hi = i + 1 < steps.length ? yPos(steps[i + 1].value) : top;
      if (lo <= hi) return;
      c.fillStyle = withAlpha(color(s.color), 0.15);
      c.fillRect(left, hi, width, lo - hi);
    });
  }
  if (lines) {
    c.lineWidth = 2;
    if (mode.startsWith("dashed")) c.setLineDash([10, 10]);
    for (const s of steps.slice(1)) {
      if (s.value < yMin || s.value > yMax) continue;
      const y = yPos(s.value);
      c.strokeStyle = withAlpha(color(s.color), 0.7);
      c.beginPath();
      c.moveTo(Math.round(left), y);
      c.lineTo(Math.round(left + width), y);
      c.stroke();
    }
  }
  c.restore();
}

function annotationLayer(events, box) {
  const markers = [];
  let tip = null;
  const show = (ev, marker) => {
    if (!tip) {
      tip = el("div", { class: "tooltip annotation-tip" });
      box.append(tip);
    }
    const when = ev.timeEnd > ev.time ? `${formatDateTime(ev.time)} to ${formatDateTime(ev.timeEnd)}` : formatDateTime(ev.time);
    tip.replaceChildren(
      el("div", { class: "tt-time" }, when),
      ev.title ? el("div", { class: "ann-title" }, ev.title) : null,
      ev.text ? el("div", { class: "ann-text" }, ev.text) : null,
      ev.tags.length ? el("div", { class: "ann-tags" }, ...ev.tags.map((t) => el("span", { class: "tag" }, t))) : null);
    tip.style.display = "block";
    const left = marker.offsetLeft + marker.parentElement.offsetLeft;
    tip.style.left = `${Math.max(0, Math.min(left, box.clientWidth - 240))}px`;
    tip.style.top = "4px";
  };
  const hide = () => { if (tip) tip.style.display = "none"; };
  return {
    attach(u) {
      for (const ev of events) {
        const m = el("div", { class: `annotation-marker ${ev.timeEnd > ev.time ? "region" : ""}`, style: `--c:${color(ev.color)}`, "data-title": ev.title });
        m.addEventListener("mouseenter", () => show(ev, m));
        m.addEventListener("mouseleave", hide);
        u.over.append(m);
        markers.push(m);
      }
      u.redraw(false, false);
    },
    draw(u) {
      if (!events.length) return;
      const c = u.ctx;
      const { left, top, width: bw, height } = u.bbox;
      const width = u.over.clientWidth;
      c.save();
      c.beginPath();
      c.rect(left, top, bw, height);
      c.clip();
      c.lineWidth = Math.max(1, devicePixelRatio);
      c.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
      events.forEach((ev, i) => {
        const col = color(ev.color);
        const x0 = u.valToPos(ev.time / 1000, "x", true);
        const x1 = u.valToPos(ev.timeEnd / 1000, "x", true);
        if (x1 > x0) {
          c.fillStyle = withAlpha(col, 0.12);
          c.fillRect(x0, top, x1 - x0, height);
        }
        c.strokeStyle = col;
        for (const x of x1 > x0 ? [x0, x1] : [x0]) {
          c.beginPath();
          c.moveTo(x, top);
          c.lineTo(x, top + height);
          c.stroke();
        }
        const m = markers[i];
        if (!m) return;
        // Kept inside the plot: a marker past the edge would make the panel scrollable.
        const l = u.valToPos(ev.time / 1000, "x");
        const r = u.valToPos(ev.timeEnd / 1000, "x");
        m.hidden = r < 0 || l > width;
        m.style.left = `${Math.max(0, l)}px`;
        m.style.width = `${Math.max(0, Math.min(width, r) - Math.max(0, l))}px`;
      });
      c.restore();
    },
  };
}

function tooltip(u, box, frames, series) {
  let tip = box.querySelector(".tooltip");
  const idx = u.cursor.idx;
  if (idx == null || u.cursor.left < 0) {
    if (tip) tip.style.display = "none";
    return;
  }
  if (!tip) {
    tip = el("div", { class: "tooltip" });
    box.append(tip);
  }
  const rows = [el("div", { class: "tt-time" }, formatDateTime(u.data[0][idx] * 1000))];
  for (let k = 1; k < series.length && rows.length < 16; k++) {
    const v = u.data[k][idx];
    if (v == null || series[k].show === false) continue;
    rows.push(el("div", { class: "tt-row" }, el("span", { class: "swatch", style: `background:${series[k].swatch}` }), el("span", { class: "tt-name" }, frames[k - 1].name), el("b", {}, series[k].value(u, v))));
  }
  tip.replaceChildren(...rows);
  tip.style.display = "block";
  const left = u.cursor.left + 60;
  tip.style.left = `${left + 220 > box.clientWidth ? Math.max(0, left - 240) : left}px`;
  tip.style.top = `${Math.max(0, u.cursor.top - 10)}px`;
}

function renderLegend(frames, cols, configs, series, opts, unit, decimals) {
  const calcs = opts.calcs || [];
  const table = opts.displayMode === "table";
  const box = el("div", { class: table ? "legend legend-table" : "legend" });
  if (table && calcs.length) {
    box.append(el("div", { class: "lg-row lg-head" }, el("span", { class: "lg-name" }, ""), ...calcs.map((c) => el("span", { class: "lg-calc" }, CALC_NAMES[c] || c))));
  }
  frames.forEach((f, k) => {
    if (configs[k].custom.hideFrom?.legend) return;
    const cfg = configs[k];
    const vals = calcs.map((c) => el("span", { class: "lg-calc" }, (table ? "" : `${CALC_NAMES[c] || c}: `) + formatValue(reduce(cols[k], c), cfg.unit || unit, cfg.decimals ?? decimals)));
    box.append(el("div", { class: "lg-row" }, el("span", { class: "lg-name" }, el("span", { class: "swatch", style: `background:${series[k + 1].swatch}` }), f.name), ...vals));
  });
  return box;
}
