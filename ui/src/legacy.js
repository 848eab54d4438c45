// Dashboards written for node_exporter before 0.16 query metric names that no longer
// exist (node_cpu, node_memory_MemTotal, ...). tidewatch's host collector exports the
// current names, as node_exporter has since 2018, so such panels have no data. Rather
// than rewriting queries (several metrics changed unit too: *_ms became *_seconds_total,
// sectors became bytes), the dashboard says so plainly.

const RENAMED = {
  node_cpu: "node_cpu_seconds_total", node_boot_time: "node_boot_time_seconds", node_time: "node_time_seconds",
  node_filesystem_size: "node_filesystem_size_bytes", node_filesystem_avail: "node_filesystem_avail_bytes",
  node_filesystem_free: "node_filesystem_free_bytes", node_network_receive_bytes: "node_network_receive_bytes_total",
  node_network_transmit_bytes: "node_network_transmit_bytes_total", node_disk_reads_completed: "node_disk_reads_completed_total",
  node_disk_writes_completed: "node_disk_writes_completed_total", node_disk_io_time_ms: "node_disk_io_time_seconds_total",
  node_context_switches: "node_context_switches_total", node_forks: "node_forks_total", node_intr: "node_intr_total",
};

function exprsOf(dash) {
  const out = [];
  const visit = (p) => {
    for (const t of p.targets || []) if (t.expr) out.push(t.expr);
    (p.panels || []).forEach(visit);
  };
  (dash.panels || []).forEach(visit);
  for (const v of dash.templating?.list || []) out.push(typeof v.query === "string" ? v.query : v.query?.query || "");
  return out;
}

/** [old, new] pairs of pre-0.16 node_exporter names the dashboard uses (empty if none). */
export function legacyNodeNames(dash) {
  const found = new Map();
  for (const expr of exprsOf(dash)) {
    for (const [name] of String(expr).matchAll(/\bnode_[A-Za-z0-9_]+/g)) {
      if (RENAMED[name]) found.set(name, RENAMED[name]);
      else if (/^node_memory_[A-Za-z0-9_]+$/.test(name) && !/_(bytes|total)$/.test(name)) found.set(name, `${name}_bytes`);
    }
  }
  return [...found];
}
