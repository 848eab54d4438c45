// Time ranges as Grafana writes them ("now-6h", "now/d", epoch ms, ISO) and the
// interval maths Grafana uses for $__interval / $__rate_interval / query steps.

const UNIT_MS = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, M: 2592e6, y: 31536e6 };

export function parseDurationMs(text) {
  if (text == null || text === "") return null;
  if (typeof text === "number") return text * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)/g;
  let total = 0;
  let consumed = 0;
  let m;
  const trimmed = String(text).trim().replace(/^[<>]=?/, "");
  while ((m = re.exec(trimmed)) !== null) {
    total += parseFloat(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== trimmed.length) {
    return /^\d+(\.\d+)?$/.test(trimmed) ? parseFloat(trimmed) * 1000 : null;
  }
  return total;
}

// "now/d" and friends round in the dashboard's zone: midnight there, not in the browser.
function roundTo(ms, unit, up) {
  const [y, mo, d, h, mi, s] = wallClock(ms);
  const f = {
    y: [y, 1, 1, 0, 0, 0], M: [y, mo, 1, 0, 0, 0], d: [y, mo, d, 0, 0, 0],
    w: [y, mo, d - new Date(Date.UTC(y, mo - 1, d)).getUTCDay(), 0, 0, 0],
    h: [y, mo, d, h, 0, 0], m: [y, mo, d, h, mi, 0], s: [y, mo, d, h, mi, s],
  }[unit];
  if (!f) return ms;
  if (up) {
    const i = { y: 0, M: 1, w: 2, d: 2, h: 3, m: 4, s: 5 }[unit];
    f[i] += unit === "w" ? 7 : 1;
    // Date.UTC normalises overflowing fields (month 13, day 32) to the next period.
    const n = new Date(Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5]));
    return fromWallClock(n.getUTCFullYear(), n.getUTCMonth() + 1, n.getUTCDate(), n.getUTCHours(), n.getUTCMinutes(), n.getUTCSeconds()) - 1;
  }
  const n = new Date(Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5]));
  return fromWallClock(n.getUTCFullYear(), n.getUTCMonth() + 1, n.getUTCDate(), n.getUTCHours(), n.getUTCMinutes(), n.getUTCSeconds());
}

/** "now-6h", "now/d", "1700000000000", "2024-01-01 10:00:00" → epoch ms. */
export function parseTime(text, now, roundUp = false) {
  const t = String(text).trim();
  if (/^\d{10,}$/.test(t)) return parseInt(t, 10);
  if (t.startsWith("now")) {
    let ms = now;
    const re = /([+-])(\d+)(ms|s|m|h|d|w|M|y)|\/(s|m|h|d|w|M|y)/g;
    let m;
    while ((m = re.exec(t.slice(3))) !== null) {
      if (m[4]) ms = roundTo(ms, m[4], roundUp);
      else {
        const n = parseInt(m[2], 10) * (m[1] === "-" ? -1 : 1);
        if (m[3] === "M" || m[3] === "y") {
          const d = new Date(ms);
          if (m[3] === "M") d.setMonth(d.getMonth() + n);
          else d.setFullYear(d.getFullYear() + n);
          ms = d.getTime();
        } else ms += n * UNIT_MS[m[3]];
      }
    }
    return ms;
  }
  // A wall-clock date (and time) without a zone is in the dashboard's zone.
  const m = t.match(/^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?)?$/);
  if (m) return fromWallClock(+m[1], +m[2], +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
  const d = Date.parse(t.includes("T") ? t : t.replace(" ", "T"));
  return Number.isNaN(d) ? null : d;
}

export function resolveRange(range, now = Date.now()) {
  const from = parseTime(range.from, now, false);
  const to = parseTime(range.to, now, true);
  return { from: from ?? now - 6 * 36e5, to: to ?? now };
}

// Grafana's table of "nice" intervals (rangeutil.roundInterval).
const ROUND_STEPS = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500],
  [1500, 1e3], [3500, 2e3], [7500, 5e3], [12500, 1e4], [17500, 15e3], [25000, 2e4],
  [45000, 3e4], [90000, 6e4], [210000, 12e4], [450000, 3e5], [750000, 6e5],
  [1050000, 9e5], [1500000, 12e5], [2700000, 18e5], [5400000, 36e5], [9000000, 72e5],
  [16200000, 108e5], [32400000, 216e5], [86400000, 432e5], [604800000, 864e5],
  [1814400000, 6048e5], [3628800000, 2592e6],
];

export function roundInterval(ms) {
  for (const [limit, step] of ROUND_STEPS) if (ms < limit) return step;
  return 31536e6;
}

export function formatDuration(ms) {
  const units = [["y", 31536e6], ["w", 6048e5], ["d", 864e5], ["h", 36e5], ["m", 6e4], ["s", 1e3]];
  for (const [u, v] of units) if (ms >= v && ms % v === 0) return `${ms / v}${u}`;
  return `${ms}ms`;
}

export const DEFAULT_SCRAPE_MS = 15000;

/**
 * Grafana's interval for one panel: range / maxDataPoints, rounded, never below the
 * panel's (or target's) min interval, nor so small that the query exceeds 11,000 points.
 */
export function panelInterval(fromMs, toMs, maxDataPoints, minIntervalText) {
  const range = toMs - fromMs;
  let interval = roundInterval(range / Math.max(1, maxDataPoints));
  const min = parseDurationMs(minIntervalText) ?? DEFAULT_SCRAPE_MS;
  if (interval < min) interval = min;
  const safe = Math.ceil(range / 11000);
  if (interval < safe) interval = roundInterval(safe) >= safe ? roundInterval(safe) : safe;
  return interval;
}

/** $__rate_interval as Grafana defines it: max($__interval + scrape, 4 × scrape). */
export function rateInterval(intervalMs, scrapeMs = DEFAULT_SCRAPE_MS) {
  return Math.max(intervalMs + scrapeMs, 4 * scrapeMs);
}

export const QUICK_RANGES = [
  ["now-5m", "Last 5 minutes"], ["now-15m", "Last 15 minutes"], ["now-30m", "Last 30 minutes"],
  ["now-1h", "Last 1 hour"], ["now-3h", "Last 3 hours"], ["now-6h", "Last 6 hours"],
  ["now-12h", "Last 12 hours"], ["now-24h", "Last 24 hours"], ["now-2d", "Last 2 days"],
  ["now-7d", "Last 7 days"], ["now-30d", "Last 30 days"],
];

export function describeRange(range) {
  if (range.to === "now") {
    const q = QUICK_RANGES.find(([f]) => f === range.from);
    if (q) return q[1];
  }
  const fmt = (t) => (/^\d+$/.test(t) ? formatDateTime(parseInt(t, 10)) : t);
  return `${fmt(range.from)} to ${fmt(range.to)}`;
}

// The dashboard's time zone ("browser", "utc" or an IANA name): every time shown or typed
// in is in it. Pages other than a dashboard use the browser's.
let displayTz = "browser";
const partsFormatters = new Map();

export function normalizeTimeZone(tz) {
  if (!tz || tz === "browser") return "browser";
  if (tz === "utc" || tz === "UTC") return "utc";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz;
  } catch {
    return "browser"; // an unknown name: Grafana falls back to the browser's zone too
  }
}

export function setTimeZone(tz) {
  displayTz = normalizeTimeZone(tz);
}

export function getTimeZone() {
  return displayTz;
}

/** uPlot's tzDate for the zone (undefined keeps the browser's). */
export function ianaName(tz = displayTz) {
  return tz === "browser" ? undefined : tz === "utc" ? "UTC" : tz;
}

/** Wall-clock fields [y, mon(1-12), d, h, m, s] of an instant in a zone. */
export function wallClock(ms, tz = displayTz) {
  const d = new Date(ms);
  if (tz === "browser") return [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  if (tz === "utc") return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  let f = partsFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    partsFormatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return [+p.year, +p.month, +p.day, +p.hour % 24, +p.minute, +p.second];
}

/** The instant at a wall-clock time in a zone (DST gaps resolve forward, as Grafana's moment does). */
export function fromWallClock(y, mon, d, h = 0, mi = 0, s = 0, tz = displayTz) {
  if (tz === "browser") return new Date(y, mon - 1, d, h, mi, s).getTime();
  const guess = Date.UTC(y, mon - 1, d, h, mi, s);
  if (tz === "utc") return guess;
  const offsetAt = (t) => {
    const w = wallClock(t, tz);
    return Date.UTC(w[0], w[1] - 1, w[2], w[3], w[4], w[5]) - Math.floor(t / 1000) * 1000;
  };
  let t = guess - offsetAt(guess);
  t = guess - offsetAt(t);
  return t;
}

export function formatDateTime(ms, tz = displayTz) {
  const [y, mo, d, h, mi, s] = wallClock(ms, tz);
  const p = (n) => String(n).padStart(2, "0");
  return `${y}-${p(mo)}-${p(d)} ${p(h)}:${p(mi)}:${p(s)}`;
}

/** A short name for the zone, for the time picker: "UTC", "Europe/Berlin", "Browser". */
export function timeZoneLabel(tz = displayTz) {
  return tz === "browser" ? "Browser time" : tz === "utc" ? "UTC" : tz;
}
