// Alerting (rules, alerts, silences) and Targets pages, over the Prometheus and
// Alertmanager v2 APIs tidewatch serves.
import { send } from "./api.js";
import { el } from "./dom.js";
import { formatDateTime } from "./time.js";

async function getJSON(path) {
  const res = await send("GET", path);
  const json = await res.json();
  if (!res.ok) throw new Error(json?.error || json?.message || `${path}: HTTP ${res.status}`);
  return json;
}

const badge = (text, kind) => el("span", { class: `badge badge-${kind}` }, text);
const STATE_KIND = { firing: "red", pending: "orange", inactive: "green", active: "green", expired: "grey", up: "green", down: "red", unknown: "grey", ok: "green", err: "red" };
const labelsText = (labels) => Object.entries(labels || {}).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`).join(", ");
const ago = (iso) => {
  const t = Date.parse(iso);
  if (!t || t < 0) return "never";
  const s = Math.round((Date.now() - t) / 1000);
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

/** `a="b", c=~"d.*", e!="f"` → Alertmanager v2 matchers. */
export function parseMatchers(text) {
  const out = [];
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/gy;
  let m;
  let consumed = 0;
  while ((m = re.exec(text)) !== null && m[0] !== "") {
    out.push({ name: m[1], value: m[3].replace(/\\(.)/g, "$1"), isRegex: m[2].includes("~"), isEqual: !m[2].startsWith("!") });
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || !out.length) throw new Error('matchers look like: alertname="HighLoad", instance=~"web.*"');
  return out;
}

const matcherText = (m) => `${m.name}${m.isEqual === false ? (m.isRegex ? "!~" : "!=") : m.isRegex ? "=~" : "="}"${m.value}"`;

export class AlertingPage {
  constructor(root) {
    this.root = root;
  }

  destroy() {}

  async load() {
    document.title = "Alerting - tidewatch";
    this.rulesBox = el("div", { class: "section-body" }, "Loading…");
    this.silencesBox = el("div", { class: "section-body" }, "Loading…");
    const params = new URLSearchParams(location.search);
    const matchers = el("input", { class: "search", name: "matchers", placeholder: 'alertname="HighLoad", instance=~"web.*"', value: params.get("matchers") || "" });
    const duration = el("select", { name: "duration" }, ...["1h", "2h", "4h", "12h", "1d", "7d"].map((d) => el("option", { value: d }, d)));
    const comment = el("input", { class: "search", name: "comment", placeholder: "Why (required)" });
    const author = el("input", { class: "search", name: "createdBy", placeholder: "Your name", value: localStorage.getItem("tw-author") || "" });
    const msg = el("span", { class: "import-msg" });
    const create = el("button", { class: "btn btn-primary", onclick: async () => {
      try {
        const hours = { "1h": 1, "2h": 2, "4h": 4, "12h": 12, "1d": 24, "7d": 168 }[duration.value];
        if (!comment.value.trim()) throw new Error("a comment is required");
        localStorage.setItem("tw-author", author.value);
        const body = { matchers: parseMatchers(matchers.value), startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + hours * 36e5).toISOString(), createdBy: author.value || "tidewatch", comment: comment.value };
        const res = await send("POST", "/api/v2/silences", JSON.stringify(body), "application/json");
        if (!res.ok) throw new Error((await res.text()) || `HTTP ${res.status}`);
        msg.textContent = "";
        matchers.value = comment.value = "";
        this.fillSilences();
      } catch (err) {
        msg.textContent = err.message;
      }
    } }, "Create silence");
    this.matchersInput = matchers;
    this.root.replaceChildren(el("div", { class: "list-page wide" },
      el("h1", {}, "Alerting"),
      el("h2", {}, "Alert rules"), this.rulesBox,
      el("h2", {}, "Silences"),
      el("div", { class: "silence-form" }, matchers, duration, comment, author, create, msg),
      this.silencesBox));
    await Promise.all([this.fillRules(), this.fillSilences()]);
  }

  async fillRules() {
    try {
      const { data } = await getJSON("/api/v1/rules");
      const rows = [];
      for (const g of data.groups || []) {
        for (const r of g.rules || []) {
          const state = r.type === "alerting" ? r.state : r.health;
          const silence = r.type === "alerting" && (r.alerts || []).length
            ? el("button", { class: "btn btn-small", onclick: () => this.prefill(r.alerts[0].labels) }, "Silence") : null;
          rows.push(el("tr", { class: "rule-row", "data-state": state },
            el("td", {}, badge(state, STATE_KIND[state] || "grey")),
            el("td", {}, el("b", {}, r.name), el("div", { class: "muted" }, `${g.file} › ${g.name}`)),
            el("td", { class: "mono" }, r.query),
            el("td", {}, String((r.alerts || []).length)),
            el("td", {}, r.lastEvaluation ? ago(r.lastEvaluation) : "never", r.lastError ? el("div", { class: "panel-error-text" }, r.lastError) : null),
            el("td", {}, silence)));
          for (const a of r.alerts || []) {
            rows.push(el("tr", { class: "alert-row" }, el("td", {}, badge(a.state, STATE_KIND[a.state] || "grey")), el("td", { colspan: 3, class: "mono" }, labelsText(a.labels)), el("td", {}, a.activeAt ? ago(a.activeAt) : ""), el("td", {}, el("button", { class: "btn btn-small", onclick: () => this.prefill(a.labels) }, "Silence"))));
          }
        }
      }
      this.rulesBox.replaceChildren(rows.length
        ? el("table", { class: "data-table" }, el("thead", {}, el("tr", {}, ...["State", "Rule", "Query", "Alerts", "Last evaluation", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
        : el("div", { class: "empty" }, "No alerting or recording rules are loaded (rule_files in the config)."));
    } catch (err) {
      this.rulesBox.replaceChildren(el("div", { class: "page-error" }, err.message));
    }
  }

  prefill(labels) {
    this.matchersInput.value = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/"/g, '\\"')}"`).join(", ");
    this.matchersInput.focus();
  }

  async fillSilences() {
    try {
      const list = await getJSON("/api/v2/silences");
      list.sort((a, b) => (a.status.state === "expired") - (b.status.state === "expired") || Date.parse(b.endsAt) - Date.parse(a.endsAt));
      const rows = list.map((s) => el("tr", { class: "silence-row", "data-id": s.id, "data-state": s.status.state },
        el("td", {}, badge(s.status.state, STATE_KIND[s.status.state] || "grey")),
        el("td", { class: "mono" }, s.matchers.map(matcherText).join(", ")),
        el("td", {}, formatDateTime(Date.parse(s.startsAt))),
        el("td", {}, formatDateTime(Date.parse(s.endsAt))),
        el("td", {}, s.createdBy, el("div", { class: "muted" }, s.comment)),
        el("td", {}, s.status.state === "expired" ? null : el("button", { class: "btn btn-small", onclick: async () => {
          await send("DELETE", `/api/v2/silence/${encodeURIComponent(s.id)}`);
          this.fillSilences();
        } }, "Expire"))));
      this.silencesBox.replaceChildren(rows.length
        ? el("table", { class: "data-table" }, el("thead", {}, el("tr", {}, ...["State", "Matchers", "Starts", "Ends", "Created by", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
        : el("div", { class: "empty" }, "No silences."));
    } catch (err) {
      this.silencesBox.replaceChildren(el("div", { class: "page-error" }, err.message));
    }
  }
}

export class TargetsPage {
  constructor(root) {
    this.root = root;
  }

  destroy() {}

  async load() {
    document.title = "Targets - tidewatch";
    const box = el("div", {}, "Loading…");
    this.root.replaceChildren(el("div", { class: "list-page wide" }, el("h1", {}, "Targets"), box));
    try {
      const { data } = await getJSON("/api/v1/targets");
      const byPool = new Map();
      for (const t of data.activeTargets || []) {
        if (!byPool.has(t.scrapePool)) byPool.set(t.scrapePool, []);
        byPool.get(t.scrapePool).push(t);
      }
      const row = (t) => el("tr", { class: "target-row", "data-health": t.health },
        el("td", {}, el("a", { href: t.scrapeUrl, target: "_blank", rel: "noopener" }, t.scrapeUrl)),
        el("td", {}, badge(t.health, STATE_KIND[t.health] || "grey")),
        el("td", { class: "mono", title: `before relabeling: ${labelsText(t.discoveredLabels)}` }, labelsText(t.labels)),
        el("td", {}, ago(t.lastScrape)),
        el("td", {}, `${(t.lastScrapeDuration * 1000).toFixed(1)} ms`),
        el("td", { class: "panel-error-text" }, t.lastError || ""));
      const head = el("thead", {}, el("tr", {}, ...["Endpoint", "State", "Labels", "Last scrape", "Duration", "Error"].map((h) => el("th", {}, h))));
      const pools = [...byPool].map(([pool, targets]) => {
        const up = targets.filter((t) => t.health === "up").length;
        return el("div", { class: "folder" }, el("h2", {}, `${pool} (${up}/${targets.length} up)`), el("table", { class: "data-table" }, head.cloneNode(true), el("tbody", {}, targets.map(row))));
      });
      box.replaceChildren(...pools);
      if (!byPool.size) box.replaceChildren(el("div", { class: "empty" }, "No targets."));
    } catch (err) {
      box.replaceChildren(el("div", { class: "page-error" }, err.message));
    }
  }
}
