// Every byte of data comes through tidewatch's public HTTP APIs, as Grafana would call them.

// With sign-in on, every POST from a session carries its CSRF token (read once per page).
let sessionPromise = null;
/** The signed-in session ({user, role, via, authRequired, csrfToken}), or null. */
export function session() {
  if (!sessionPromise) {
    sessionPromise = fetch("/api/tidewatch/auth/session", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((j) => j?.data || null)
      .catch(() => null);
  }
  return sessionPromise;
}
const csrfToken = () => session().then((s) => s?.csrfToken || null);

export async function signOut() {
  await send("POST", "/api/tidewatch/auth/logout");
  sessionPromise = null;
  location.assign("/login");
}

csrfToken(); // started at page load, so the first query does not wait for it

export async function send(method, path, body, contentType) {
  const headers = body ? { "Content-Type": contentType } : {};
  if (method !== "GET") {
    const token = await csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
  }
  const res = await fetch(path, { method, body, headers, credentials: "same-origin" });
  if (res.status === 401) {
    // Signed out (or the session expired): back to the login page, then here again.
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  return res;
}

async function request(method, path, params) {
  const body = params ? new URLSearchParams(params) : undefined;
  const res = await send(method, path, body, "application/x-www-form-urlencoded");
  let json;
  try {
    json = await res.json();
  } catch {
    throw new Error(`${path}: HTTP ${res.status}`);
  }
  if (!res.ok || (json && json.status === "error")) {
    throw new Error(json?.error || json?.message || `${path}: HTTP ${res.status}`);
  }
  return json;
}

const prom = (path, params) => request("POST", path, params).then((j) => j.data);

export const api = {
  get: (path) => request("GET", path).then((j) => j.data),
  queryRange: (query, start, end, step) => prom("/api/v1/query_range", { query, start, end, step }),
  query: (query, time) => prom("/api/v1/query", { query, time }),
  series: (match, start, end) => {
    const p = new URLSearchParams({ start, end });
    p.append("match[]", match);
    return request("POST", "/api/v1/series", p).then((j) => j.data);
  },
  labels: (start, end, match) => {
    const p = new URLSearchParams({ start, end });
    if (match) p.append("match[]", match);
    return request("POST", "/api/v1/labels", p).then((j) => j.data);
  },
  labelValues: (name, start, end, match) => {
    const p = new URLSearchParams({ start, end });
    if (match) p.append("match[]", match);
    return request("GET", `/api/v1/label/${encodeURIComponent(name)}/values?${p}`).then((j) => j.data);
  },
  lokiQueryRange: (query, startNs, endNs, step, limit, direction = "backward") => {
    const p = new URLSearchParams({ query, start: startNs, end: endNs, limit: String(limit), direction });
    if (step) p.set("step", String(step));
    return request("GET", `/loki/api/v1/query_range?${p}`).then((j) => j.data);
  },
  search: (q = "") => request("GET", `/api/search?query=${encodeURIComponent(q)}`),
  dashboard: (uid) => request("GET", `/api/dashboards/uid/${encodeURIComponent(uid)}`),
  saveDashboard: async (dashboard, overwrite = true, folderUid = undefined) => {
    const res = await send("POST", "/api/dashboards/db", JSON.stringify({ dashboard, overwrite, folderUid }), "application/json");
    const json = await res.json();
    if (!res.ok) throw new Error(json.message || `HTTP ${res.status}`);
    return json;
  },
};
