// timeseries (and migrated graph) panels drawn with uPlot.
import uPlot from "uplot";
import { CALC_NAMES, PALETTE, color, fieldConfigFor, reduce, withAlpha } from "../fields.js";
import { formatDateTime } from "../time.js";
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
    const col = cfg.color?.mode === "fixed" ? color(cfg.color.fixedColor) : PALETTE[k % PALETTE.length];
    const draw = c.drawStyle || "line";
    const fillOpacity = (c.fillOpacity ?? (stacked ? 10 : 0)) / 100;
    const s = {
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
    },
  };
  const data = [Array.from(xs), ...ys];
  const u = new uPlot(opts, data, plotBox);
  const fit = () => {
    const r = plotBox.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) u.setSize({ width: Math.floor(r.width), height: Math.floor(r.height) });
  };
  fit();
  const ro = new ResizeObserver(fit);
  ro.observe(plotBox);
  return () => {
    ro.disconnect();
    u.destroy();
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
    rows.push(el("div", { class: "tt-row" }, el("span", { class: "swatch", style: `background:${series[k].stroke}` }), el("span", { class: "tt-name" }, frames[k - 1].name), el("b", {}, series[k].value(u, v))));
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
    box.append(el("div", { class: "lg-row" }, el("span", { class: "lg-name" }, el("span", { class: "swatch", style: `background:${series[k + 1].stroke}` }), f.name), ...vals));
  });
  return box;
}
