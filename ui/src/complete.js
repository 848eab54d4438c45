// PromQL completion in a textarea: metric names, label names inside `{...}`, and label
// values after `name="`, from /api/v1/label/__name__/values, /api/v1/labels and
// /api/v1/label/<name>/values (narrowed to the metric being written, when there is one).
// With `source = "loki"` the same for LogQL stream selectors, from Loki's label API.
import { api } from "./api.js";
import { el } from "./dom.js";

const IDENT = /[A-Za-z_:][A-Za-z0-9_:]*$/;
const KEYWORDS = ["sum", "avg", "min", "max", "count", "rate", "irate", "increase", "histogram_quantile", "by", "without", "topk", "bottomk", "offset", "on", "ignoring", "group_left", "group_right"];

/** What the cursor is in: {kind: "metric"|"label"|"value", prefix, metric?, label?}. */
export function completionContext(text) {
  const open = text.lastIndexOf("{");
  const close = text.lastIndexOf("}");
  if (open > close) {
    const metric = (text.slice(0, open).match(IDENT) || [""])[0];
    const inside = text.slice(open + 1);
    const value = inside.match(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/);
    if (value) return { kind: "value", metric, label: value[1], prefix: value[3] };
    const name = inside.match(/(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)?$/);
    if (name) return { kind: "label", metric, prefix: name[1] || "" };
    return null;
  }
  // Not inside a selector: a metric (or function) name, unless in a range `[5m` or a string.
  if (text.lastIndexOf("[") > text.lastIndexOf("]") || (text.split('"').length - 1) % 2) return null;
  const m = text.match(IDENT);
  return m ? { kind: "metric", prefix: m[0] } : null;
}

export class PromCompleter {
  constructor(input, rangeSeconds) {
    this.input = input;
    this.range = rangeSeconds; // () => [start, end] in seconds
    this.cache = new Map();
    this.items = [];
    this.active = 0;
    this.ctx = null;
    this.box = el("ul", { class: "completions", role: "listbox", hidden: true });
    input.addEventListener("input", () => this.update());
    input.addEventListener("keydown", (e) => this.key(e), true);
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  fetchList(key, load) {
    if (!this.cache.has(key)) this.cache.set(key, load().catch(() => []));
    return this.cache.get(key);
  }

  async candidates(ctx) {
    const [start, end] = this.range();
    if (this.source === "loki") {
      if (ctx.kind === "metric") return [];
      const p = new URLSearchParams({ start: `${start}000000000`, end: `${end}000000000` });
      const path = ctx.kind === "label" ? "/loki/api/v1/labels" : `/loki/api/v1/label/${encodeURIComponent(ctx.label)}/values`;
      return this.fetchList(`loki ${path}`, () => api.get(`${path}?${p}`));
    }
    const match = ctx.metric ? `{__name__="${ctx.metric}"}` : undefined;
    if (ctx.kind === "metric") {
      const names = await this.fetchList("__name__", () => api.labelValues("__name__", start, end));
      return [...names, ...KEYWORDS];
    }
    if (ctx.kind === "label") {
      const names = await this.fetchList(`labels ${match}`, () => api.labels(start, end, match));
      return names.filter((n) => n !== "__name__");
    }
    return this.fetchList(`values ${ctx.label} ${match}`, () => api.labelValues(ctx.label, start, end, match));
  }

  async update() {
    const before = this.input.value.slice(0, this.input.selectionStart);
    const ctx = completionContext(before);
    this.ctx = ctx;
    if (!ctx) return this.close();
    const all = await this.candidates(ctx);
    if (this.ctx !== ctx) return; // typing went on meanwhile
    const p = ctx.prefix.toLowerCase();
    this.items = all.filter((c) => c.toLowerCase().startsWith(p) && c !== ctx.prefix).slice(0, 50);
    if (!this.items.length || (ctx.kind === "metric" && p.length < 1)) return this.close();
    this.active = 0;
    this.draw();
  }

  draw() {
    this.box.replaceChildren(...this.items.map((c, i) => el("li", {
      class: `completion${i === this.active ? " active" : ""}`, "data-value": c, role: "option",
      onmousedown: (e) => { e.preventDefault(); this.accept(i); },
    }, c)));
    this.box.hidden = false;
    this.box.children[this.active]?.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.box.hidden = true;
    this.items = [];
  }

  key(e) {
    if (this.box.hidden || !this.items.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : this.items.length - 1)) % this.items.length;
      this.draw();
    } else if (e.key === "Tab" || (e.key === "Enter" && !e.shiftKey)) {
      this.accept(this.active);
    } else if (e.key === "Escape") {
      this.close();
    } else return;
    e.preventDefault();
    e.stopPropagation();
  }

  accept(i) {
    const ctx = this.ctx;
    const choice = this.items[i];
    if (!ctx || choice == null) return;
    const pos = this.input.selectionStart;
    const head = this.input.value.slice(0, pos - ctx.prefix.length);
    // A label name goes on to its value, a value closes its quotes: the next step is ready.
    const insert = ctx.kind === "label" ? `${choice}="` : ctx.kind === "value" ? `${choice.replace(/["\\]/g, "\\$&")}"` : choice;
    const tail = this.input.value.slice(pos);
    this.input.value = head + insert + (ctx.kind === "value" && tail.startsWith('"') ? tail.slice(1) : tail);
    const caret = head.length + insert.length;
    this.input.setSelectionRange(caret, caret);
    this.input.focus();
    this.close();
    if (ctx.kind === "label") this.update();
  }
}
