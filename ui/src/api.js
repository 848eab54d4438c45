// Every byte of data comes through tidewatch's public HTTP APIs, as Grafana would call them.

async function request(method, path, params) {
  const body = params ? new URLSearchParams(params) : undefined;
  const res = await fetch(path, {
    method,
    body,
    headers: body ? { "Content-Type": "application/x-www-form-urlencoded" } : {},
    credentials: "same-origin",
  });
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
  search: (q = "") => request("GET", `/api/search?query=${encodeURIComponent(q)}`),
  dashboard: (uid) => request("GET", `/api/dashboards/uid/${encodeURIComponent(uid)}`),
  saveDashboard: async (dashboard, overwrite = true) => {
    const res = await fetch("/api/dashboards/db", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ dashboard, overwrite }),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(json.message || `HTTP ${res.status}`);
    return json;
  },
};
