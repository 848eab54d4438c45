// Value formatting for Grafana's unit ids (fieldConfig.defaults.unit / old "format").

function autoDecimals(v) {
  const a = Math.abs(v);
  if (a === 0 || !Number.isFinite(a)) return 0;
  if (a >= 100) return Number.isInteger(v) ? 0 : a >= 1000 ? 0 : 1;
  if (a >= 10) return Number.isInteger(v) ? 0 : 1;
  if (a >= 1) return Number.isInteger(v) ? 0 : 2;
  return Math.min(6, Math.max(2, 1 - Math.floor(Math.log10(a)) + 1));
}

export function toFixed(v, decimals) {
  const d = decimals == null ? autoDecimals(v) : decimals;
  const s = v.toFixed(d);
  // Auto decimals trims trailing zeros the way Grafana's display does.
  return decimals == null && s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

function scaled(factor, suffixes, offset = 0) {
  return (v, dec) => {
    let i = offset;
    let x = v;
    while (Math.abs(x) >= factor && i < suffixes.length - 1) {
      x /= factor;
      i++;
    }
    while (Math.abs(x) < 1 && x !== 0 && i > 0 && suffixes[i - 1] !== null) {
      x *= factor;
      i--;
    }
    return [toFixed(x, dec), suffixes[i]];
  };
}

const SI = (base) => scaled(1000, ["n", "µ", "m", "", "k", "M", "G", "T", "P", "E"].map((p) => ` ${p}${base}`), 3);
const SI_UP = (base) => scaled(1000, ["", "k", "M", "G", "T", "P", "E"].map((p) => ` ${p}${base}`));
const IEC = (base) => scaled(1024, ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].map((p) => ` ${p}${base}`));
const suffix = (s) => (v, dec) => [toFixed(v, dec), s];
const prefix = (p) => (v, dec) => [`${p}${toFixed(v, dec)}`, ""];

function short(v, dec) {
  return scaled(1000, ["", " K", " Mil", " Bil", " Tri", " Quadr"])(v, dec);
}

function duration(baseMs) {
  const steps = [["ns", 1e-6], ["µs", 1e-3], ["ms", 1], ["s", 1e3], ["min", 6e4], ["hour", 36e5], ["day", 864e5], ["week", 6048e5], ["year", 31536e6]];
  return (v, dec) => {
    const ms = v * baseMs;
    const a = Math.abs(ms);
    let pick = steps[0];
    for (const s of steps) if (a >= s[1]) pick = s;
    if (a === 0) pick = steps.find((s) => s[1] === baseMs) || steps[3];
    const x = ms / pick[1];
    const plural = pick[0].length > 3 && Math.abs(x) !== 1 ? "s" : "";
    return [toFixed(x, dec), ` ${pick[0]}${plural}`];
  };
}

const UNITS = {
  none: (v, d) => [toFixed(v, d), ""],
  short,
  percent: suffix("%"),
  percentunit: (v, d) => [toFixed(v * 100, d), "%"],
  humidity: suffix("%H"),
  bytes: IEC("B"), decbytes: SI_UP("B"), kbytes: (v, d) => IEC("B")(v * 1024, d),
  mbytes: (v, d) => IEC("B")(v * 1024 * 1024, d), gbytes: (v, d) => IEC("B")(v * 1024 ** 3, d),
  bits: IEC("b"), decbits: SI_UP("b"),
  Bps: SI_UP("B/s"), binBps: IEC("B/s"), bps: SI_UP("b/s"), binbps: IEC("b/s"),
  KBs: (v, d) => SI_UP("B/s")(v * 1000, d), MBs: (v, d) => SI_UP("B/s")(v * 1e6, d),
  ops: SI_UP("ops/s"), reqps: SI_UP("req/s"), rps: SI_UP("rd/s"), wps: SI_UP("wr/s"),
  iops: SI_UP("io/s"), opm: SI_UP("ops/min"), rpm: SI_UP("rpm"), pps: SI_UP("p/s"), cps: SI_UP("c/s"),
  hertz: SI_UP("Hz"), watt: SI_UP("W"), volt: SI_UP("V"), amp: SI_UP("A"),
  celsius: suffix("°C"), fahrenheit: suffix("°F"), kelvin: suffix(" K"),
  ns: duration(1e-6), µs: duration(1e-3), us: duration(1e-3), ms: duration(1), s: duration(1e3),
  m: duration(6e4), h: duration(36e5), d: duration(864e5),
  dtdurations: duration(1e3), dtdurationms: duration(1),
  currencyUSD: prefix("$"), currencyEUR: prefix("€"), currencyGBP: prefix("£"),
  bool: (v) => [v ? "True" : "False", ""],
  bool_yes_no: (v) => [v ? "Yes" : "No", ""],
  bool_on_off: (v) => [v ? "On" : "Off", ""],
  dateTimeAsIso: (v) => [new Date(v).toISOString().replace("T", " ").slice(0, 19), ""],
  dateTimeFromNow: (v) => [`${Math.round((Date.now() - v) / 6e4)} minutes ago`, ""],
  locale: (v, d) => [v.toLocaleString(undefined, { maximumFractionDigits: d ?? 2 }), ""],
  sishort: SI(""),
};

/** Returns [number text, unit suffix]; suffix may be "". */
export function formatParts(value, unit, decimals) {
  if (value == null || Number.isNaN(value)) return ["No data", ""];
  if (!Number.isFinite(value)) return [value > 0 ? "+Inf" : "-Inf", ""];
  const dec = decimals == null || decimals === "" || decimals === "auto" ? null : Number(decimals);
  const fn = UNITS[unit || "short"];
  if (fn) return fn(value, dec);
  if (unit?.startsWith("suffix:")) return [toFixed(value, dec), unit.slice(7)];
  if (unit?.startsWith("prefix:")) return [unit.slice(7) + toFixed(value, dec), ""];
  // Unknown unit id: Grafana shows it as a custom suffix.
  return [toFixed(value, dec), unit ? ` ${unit}` : ""];
}

export function formatValue(value, unit, decimals) {
  const [n, s] = formatParts(value, unit, decimals);
  return n + s;
}

/** Every unit id the formatter knows, for the panel editor's unit picker. */
export const UNIT_IDS = Object.keys(UNITS);
