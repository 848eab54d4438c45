// tidewatch UI entry: a two-page router (dashboard list, one dashboard).
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, session, signOut } from "./api.js";
import { DashboardPage } from "./dashboard.js";
import { el } from "./dom.js";
import { ExplorePage } from "./explore.js";
import { AlertingPage, TargetsPage } from "./alerting.js";
import { StatusPage } from "./status.js";
import { UsersPage } from "./users.js";

const root = document.getElementById("app");
let current = null;

function navigate(path) {
  history.pushState(null, "", path);
  route();
}

function nav() {
  return el("nav", { class: "sidenav" },
    el("a", { href: "/dashboards", class: "logo", title: "tidewatch", onclick: (e) => { e.preventDefault(); navigate("/dashboards"); } }, "≋"),
    el("a", { href: "/dashboards", title: "Dashboards", onclick: (e) => { e.preventDefault(); navigate("/dashboards"); } }, "▦"),
    el("a", { href: "/explore", title: "Explore", class: "nav-explore", onclick: (e) => { e.preventDefault(); navigate("/explore"); } }, "⌕"),
    el("a", { href: "/alerting", title: "Alerting", onclick: (e) => { e.preventDefault(); navigate("/alerting"); } }, "⚑"),
    el("a", { href: "/targets", title: "Targets", onclick: (e) => { e.preventDefault(); navigate("/targets"); } }, "◎"),
    el("a", { href: "/status", title: "Status", onclick: (e) => { e.preventDefault(); navigate("/status"); } }, "≡"),
    adminLink(),
    userBadge());
}

// Users and tokens: only admins get the link (the API refuses everyone else anyway).
function adminLink() {
  const link = el("a", { href: "/admin/users", title: "Users and tokens", class: "nav-admin", hidden: true, onclick: (e) => { e.preventDefault(); navigate("/admin/users"); } }, "⚇");
  session().then((s) => { link.hidden = s?.role !== "admin"; });
  return link;
}

// Who is signed in, at the foot of the side bar; a click signs out (only with sign-in on).
function userBadge() {
  const badge = el("button", { class: "nav-user", hidden: true, onclick: () => signOut() });
  session().then((s) => {
    if (!s?.user || !s.authRequired || s.via !== "session") return;
    badge.textContent = s.user;
    badge.title = `Signed in as ${s.user} (${s.role}). Click to sign out.`;
    badge.hidden = false;
  });
  return badge;
}

async function listPage(main) {
  document.title = "Dashboards - tidewatch";
  const list = el("div", { class: "dash-list" }, "Loading…");
  const search = el("input", { class: "search", placeholder: "Search dashboards", oninput: () => fill(search.value) });
  const importBox = el("textarea", { class: "import-json", placeholder: "Paste Grafana dashboard JSON to import", rows: 4 });
  const importMsg = el("span", { class: "import-msg" });
  const importBtn = el("button", { class: "btn btn-primary", onclick: async () => {
    try {
      const dash = JSON.parse(importBox.value);
      delete dash.id;
      const res = await api.saveDashboard(dash, true);
      navigate(res.url);
    } catch (err) {
      importMsg.textContent = `Import failed: ${err.message}`;
    }
  } }, "Import");
  main.replaceChildren(el("div", { class: "list-page" }, el("h1", {}, "Dashboards"), search, list, el("h2", {}, "Import dashboard"), importBox, el("div", {}, importBtn, importMsg)));
  async function fill(q) {
    try {
      const hits = await api.search(q);
      const byFolder = new Map();
      for (const h of hits.filter((x) => x.type === "dash-db")) {
        const f = h.folderTitle || "General";
        if (!byFolder.has(f)) byFolder.set(f, []);
        byFolder.get(f).push(h);
      }
      list.replaceChildren(...[...byFolder].map(([folder, items]) => el("div", { class: "folder" }, el("div", { class: "folder-title" }, folder),
        ...items.map((h) => el("a", { class: "dash-link", href: h.url, onclick: (e) => { e.preventDefault(); navigate(h.url); } }, el("span", {}, h.title), el("span", { class: "tags" }, ...(h.tags || []).map((t) => el("span", { class: "tag" }, t))))))));
      if (!hits.length) list.replaceChildren(el("div", { class: "empty" }, "No dashboards found."));
    } catch (err) {
      list.replaceChildren(el("div", { class: "page-error" }, err.message));
    }
  }
  fill("");
}

function route() {
  if (current) current.destroy();
  current = null;
  const main = el("main", { class: "main" });
  root.replaceChildren(el("div", { class: "shell" }, nav(), main));
  const m = location.pathname.match(/^\/d\/([^/]+)/);
  if (m) {
    current = new DashboardPage(main, decodeURIComponent(m[1]), navigate);
    current.load();
  } else if (location.pathname.startsWith("/explore")) {
    current = new ExplorePage(main);
    current.load();
  } else if (location.pathname.startsWith("/alerting")) {
    current = new AlertingPage(main);
    current.load();
  } else if (location.pathname.startsWith("/targets")) {
    current = new TargetsPage(main);
    current.load();
  } else if (location.pathname.startsWith("/admin")) {
    current = new UsersPage(main);
    current.load();
  } else if (location.pathname.startsWith("/status")) {
    current = new StatusPage(main);
    current.load();
  } else listPage(main);
}

window.addEventListener("popstate", route);
route();
