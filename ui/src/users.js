// Administration: users (role, password, delete) and API tokens, over
// /api/tidewatch/auth/{users,tokens}. The server enforces the admin role and CSRF; the
// page only hides what a non-admin could not do anyway.
import { send, session } from "./api.js";
import { el } from "./dom.js";
import { formatDateTime } from "./time.js";

const ROLES = ["viewer", "editor", "admin"];
const API = "/api/tidewatch/auth";

async function call(method, path, body) {
  const res = await send(method, `${API}${path}`, body ? JSON.stringify(body) : undefined, "application/json");
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* an empty or non-JSON answer: the status says enough */
  }
  if (!res.ok || json?.status === "error") {
    const err = new Error(json?.error || json?.message || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return json?.data;
}

const when = (s) => (s ? formatDateTime(s * 1000) : "never");
const roleSelect = (value, attrs = {}) => el("select", { class: "role-select", ...attrs }, ...ROLES.map((r) => el("option", { value: r, selected: r === value || null }, r)));

export class UsersPage {
  constructor(root) {
    this.root = root;
  }

  destroy() {}

  async load() {
    document.title = "Users and tokens - tidewatch";
    this.msg = el("div", { class: "form-msg", role: "status" });
    this.usersBox = el("div", { class: "users-box" }, "Loading…");
    this.tokensBox = el("div", { class: "tokens-box" }, "Loading…");
    this.secretBox = el("div", { class: "token-secret", hidden: true });
    const s = await session();
    if (s && s.role !== "admin") {
      this.root.replaceChildren(el("div", { class: "list-page" }, el("h1", {}, "Users and tokens"), el("div", { class: "page-error forbidden" }, "Only admins can manage users and tokens (403).")));
      return;
    }
    this.root.replaceChildren(el("div", { class: "list-page users-page" },
      el("h1", {}, "Users and tokens"), this.msg,
      el("h2", {}, "Users"), this.usersBox, this.userForm(),
      el("h2", {}, "API tokens"), el("p", { class: "muted" }, "For Grafana, scripts and agents: send Authorization: Bearer <token>. A token's role is never above its owner's; the secret is shown only once."),
      this.tokensBox, this.secretBox, this.tokenForm()));
    await this.refresh();
  }

  say(text, ok = false) {
    this.msg.textContent = text;
    this.msg.className = `form-msg ${ok ? "ok" : "bad"}`;
  }

  async refresh() {
    try {
      const [users, tokens] = await Promise.all([call("GET", "/users"), call("GET", "/tokens")]);
      this.users = users;
      this.fillUsers(users);
      this.fillTokens(tokens);
      this.ownerSelect.replaceChildren(...users.map((u) => el("option", { value: u.name, selected: u.name === this.me || null }, u.name)));
    } catch (err) {
      const text = err.status === 403 ? "Only admins can manage users and tokens (403)." : err.message;
      this.usersBox.replaceChildren(el("div", { class: `page-error ${err.status === 403 ? "forbidden" : ""}` }, text));
      this.tokensBox.replaceChildren();
    }
  }

  /** Runs a write, reports it, reloads both tables. */
  async act(work, done) {
    try {
      await work();
      this.say(done, true);
    } catch (err) {
      this.say(err.message);
    }
    await this.refresh();
  }

  fillUsers(users) {
    const rows = users.map((u) => {
      const pw = el("input", { class: "search inline-input", type: "password", name: "new-password", placeholder: "New password", autocomplete: "new-password" });
      const resetBox = el("span", { class: "reset-box", hidden: true }, pw,
        el("button", { class: "btn btn-small btn-primary", onclick: () => this.act(() => call("PUT", `/users/${encodeURIComponent(u.name)}`, { password: pw.value }), `Password of ${u.name} changed; their sessions ended.`) }, "Set"));
      return el("tr", { class: "user-row", "data-user": u.name, "data-role": u.role },
        el("td", {}, el("b", {}, u.name)),
        el("td", {}, roleSelect(u.role, { "aria-label": `Role of ${u.name}`, onchange: (e) => this.act(() => call("PUT", `/users/${encodeURIComponent(u.name)}`, { role: e.target.value }), `${u.name} is now ${e.target.value}.`) })),
        el("td", { class: "muted" }, when(u.createdAt)),
        el("td", { class: "actions" },
          el("button", { class: "btn btn-small", onclick: () => { resetBox.hidden = !resetBox.hidden; if (!resetBox.hidden) pw.focus(); } }, "Reset password"), resetBox,
          el("button", { class: "btn btn-small btn-danger", onclick: () => {
            if (!confirm(`Delete user ${u.name}? Their tokens and sessions end too.`)) return;
            this.act(() => call("DELETE", `/users/${encodeURIComponent(u.name)}`), `User ${u.name} deleted.`);
          } }, "Delete")));
    });
    this.usersBox.replaceChildren(el("table", { class: "data-table" }, el("thead", {}, el("tr", {}, ...["User", "Role", "Created", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
  }

  fillTokens(tokens) {
    if (!tokens.length) {
      this.tokensBox.replaceChildren(el("div", { class: "empty" }, "No API tokens."));
      return;
    }
    const rows = tokens.map((t) => el("tr", { class: "token-row", "data-id": t.id, "data-name": t.name },
      el("td", {}, el("b", {}, t.name), el("div", { class: "muted mono" }, t.id)),
      el("td", {}, t.owner), el("td", {}, t.role),
      el("td", { class: "muted" }, when(t.createdAt)), el("td", { class: "muted" }, when(t.expiresAt)), el("td", { class: "muted" }, when(t.lastUsedAt)),
      el("td", {}, el("button", { class: "btn btn-small btn-danger", onclick: () => {
        if (!confirm(`Revoke token ${t.name}? Clients using it get 401 from now on.`)) return;
        this.act(() => call("DELETE", `/tokens/${encodeURIComponent(t.id)}`), `Token ${t.name} revoked.`);
      } }, "Revoke"))));
    this.tokensBox.replaceChildren(el("table", { class: "data-table" }, el("thead", {}, el("tr", {}, ...["Token", "Owner", "Role", "Created", "Expires", "Last used", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
  }

  userForm() {
    const name = el("input", { class: "search", name: "name", placeholder: "User name", autocomplete: "off" });
    const pw = el("input", { class: "search", name: "password", type: "password", placeholder: "Password (8+ characters)", autocomplete: "new-password" });
    const role = roleSelect("viewer", { name: "role", "aria-label": "Role" });
    const create = el("button", { class: "btn btn-primary", onclick: () => this.act(async () => {
      await call("POST", "/users", { name: name.value.trim(), password: pw.value, role: role.value });
      name.value = "";
      pw.value = "";
    }, `User created.`) }, "Create user");
    return el("div", { class: "silence-form user-form" }, name, pw, role, create);
  }

  tokenForm() {
    const name = el("input", { class: "search", name: "token-name", placeholder: "Token name, e.g. grafana", autocomplete: "off" });
    const role = roleSelect("viewer", { name: "token-role", "aria-label": "Token role" });
    this.ownerSelect = el("select", { name: "token-owner", "aria-label": "Owner" });
    session().then((s) => { this.me = s?.user; });
    const expires = el("select", { name: "token-expires", "aria-label": "Expires in" }, ...[["", "never expires"], ["1d", "1 day"], ["30d", "30 days"], ["90d", "90 days"], ["365d", "1 year"]].map(([v, t]) => el("option", { value: v }, t)));
    const create = el("button", { class: "btn btn-primary", onclick: () => this.act(async () => {
      const body = { name: name.value.trim(), role: role.value, owner: this.ownerSelect.value };
      if (expires.value) body.expires_in = expires.value;
      const made = await call("POST", "/tokens", body);
      name.value = "";
      this.showSecret(made);
    }, "Token created: copy it now, it is not shown again.") }, "Create token");
    return el("div", { class: "silence-form token-form" }, name, el("span", { class: "muted" }, "owner"), this.ownerSelect, el("span", { class: "muted" }, "role"), role, expires, create);
  }

  showSecret(made) {
    const code = el("code", { class: "secret" }, made.token);
    const copy = el("button", { class: "btn btn-small", onclick: async () => {
      try {
        await navigator.clipboard.writeText(made.token);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Select and copy it";
      }
    } }, "Copy");
    this.secretBox.replaceChildren(el("div", {}, `New token "${made.name}" (${made.role}, owner ${made.owner}):`), el("div", { class: "secret-line" }, code, copy), el("div", { class: "muted" }, "This is the only time it is shown; tidewatch stores only its hash."));
    this.secretBox.hidden = false;
  }
}
