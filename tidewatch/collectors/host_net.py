"""Network sub-collectors: netdev, netclass, netstat, sockstat, softnet, arp, conntrack.

Each function reads its node_exporter collector's files and returns its families.
"""

from __future__ import annotations

import os
from collections import Counter

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tidewatch.collectors import procfs
from tidewatch.collectors.base import (
    Files,
    HostPaths,
    NoData,
    Pattern,
    excluded,
    family,
    gauge,
    read_int,
    untyped,
)

# /sys/class/net/<dev>/<file> -> node_network_<metric>; files that fail to read are skipped.
NETCLASS_INT_FILES: tuple[tuple[str, str, str], ...] = (
    ("address_assign_type", "addr_assign_type", "gauge"),
    ("carrier", "carrier", "gauge"),
    ("carrier_changes_total", "carrier_changes", "counter"),
    ("carrier_up_changes_total", "carrier_up_count", "counter"),
    ("carrier_down_changes_total", "carrier_down_count", "counter"),
    ("device_id", "dev_id", "gauge"),
    ("dormant", "dormant", "gauge"),
    ("flags", "flags", "gauge"),
    ("iface_id", "ifindex", "gauge"),
    ("iface_link", "iflink", "gauge"),
    ("iface_link_mode", "link_mode", "gauge"),
    ("mtu_bytes", "mtu", "gauge"),
    ("name_assign_type", "name_assign_type", "gauge"),
    ("net_dev_group", "netdev_group", "gauge"),
    ("speed_bytes", "speed", "gauge"),
    ("transmit_queue_length", "tx_queue_len", "gauge"),
    ("protocol_type", "type", "gauge"),
)
NETCLASS_INFO_FILES = ("address", "broadcast", "duplex", "operstate", "ifalias")

CONNTRACK_STATS = (
    "found",
    "invalid",
    "ignore",
    "insert",
    "insert_failed",
    "drop",
    "early_drop",
    "search_restart",
)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def netdev(files: Files, paths: HostPaths, exclude: Pattern | None) -> list[Metric]:
    devices = procfs.parse_net_dev(files.text(paths.proc("net/dev")))
    names = [f"receive_{f}" for f in procfs.NET_DEV_RECEIVE]
    names += [f"transmit_{f}" for f in procfs.NET_DEV_TRANSMIT]
    families = [
        CounterMetricFamily(
            f"node_network_{name}_total", f"Network device statistic {name}.", labels=["device"]
        )
        for name in names
    ]
    # Not in /proc/net/dev; node_exporter gets it over netlink, sysfs has the same counter.
    nohandler = CounterMetricFamily(
        "node_network_receive_nohandler_total",
        "Network device statistic receive_nohandler.",
        labels=["device"],
    )
    for device, values in devices.items():
        if excluded(exclude, device):
            continue
        for fam, value in zip(families, values, strict=True):
            fam.add_metric([device], value)
        dropped = read_int(files, paths.sys(f"class/net/{device}/statistics/rx_nohandler"))
        if dropped is not None:
            nohandler.add_metric([device], dropped)
    return [f for f in (*families, nohandler) if f.samples]


def netclass(files: Files, paths: HostPaths, ignored: Pattern | None) -> list[Metric]:
    base = paths.sys("class/net")
    up = GaugeMetricFamily(
        "node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels=["device"]
    )
    info = GaugeMetricFamily(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        labels=["device", *NETCLASS_INFO_FILES],
    )
    ints = [
        family(kind, f"node_network_{name}", f"Network device property: {name}", ["device"])
        for name, _, kind in NETCLASS_INT_FILES
    ]
    for device in sorted(os.listdir(base)):
        if excluded(ignored, device):
            continue
        path = f"{base}/{device}"
        if not os.path.isdir(path):  # e.g. bonding_masters is a plain file
            continue
        text = {n: (files.optional(f"{path}/{n}") or "").strip() for n in NETCLASS_INFO_FILES}
        up.add_metric([device], 1.0 if text["operstate"] == "up" else 0.0)
        info.add_metric([device, *(text[n] for n in NETCLASS_INFO_FILES)], 1.0)
        for fam, (name, filename, _) in zip(ints, NETCLASS_INT_FILES, strict=True):
            value = read_int(files, f"{path}/{filename}")
            if value is None:
                continue
            if name == "speed_bytes":
                value = float(int(value * 1000 * 1000 / 8))  # Mbit/s -> bytes/s
            fam.add_metric([device], value)
    return [f for f in (up, info, *ints) if f.samples]


def netstat(files: Files, paths: HostPaths, fields: Pattern | None) -> list[Metric]:
    stats = procfs.parse_netstat(files.text(paths.proc("net/netstat")))
    stats.update(procfs.parse_netstat(files.text(paths.proc("net/snmp"))))
    snmp6 = files.optional(paths.proc("net/snmp6"))
    if snmp6 is not None:
        stats.update(procfs.parse_snmp6(snmp6))
    return [
        untyped(f"node_netstat_{key}", f"Statistic {key.replace('_', '')}.", value)
        for key, value in stats.items()
        if fields is None or fields.search(key)
    ]


def sockstat(files: Files, paths: HostPaths) -> list[Metric]:
    out: list[Metric] = []
    for rel in ("net/sockstat", "net/sockstat6"):
        text = files.optional(paths.proc(rel))
        if text is None:
            continue
        for proto, fields in procfs.parse_sockstat(text):
            for name, value in fields:
                if proto == "sockets":  # "sockets: used N" (IPv4 file only)
                    out.append(
                        gauge(
                            f"node_sockstat_sockets_{name}", "Number of IPv4 sockets in use.", value
                        )
                    )
                    continue
                metric = f"node_sockstat_{proto}_{name}"
                out.append(gauge(metric, f"Number of {proto} sockets in state {name}.", value))
                if name == "mem":
                    out.append(
                        gauge(
                            f"{metric}_bytes",
                            f"Number of {proto} sockets in state mem_bytes.",
                            value * PAGE_SIZE,
                        )
                    )
    return out


def softnet(files: Files, paths: HostPaths) -> list[Metric]:
    rows = procfs.parse_softnet(files.text(paths.proc("net/softnet_stat")))
    processed = CounterMetricFamily(
        "node_softnet_processed_total", "Number of processed packets.", labels=["cpu"]
    )
    dropped = CounterMetricFamily(
        "node_softnet_dropped_total", "Number of dropped packets.", labels=["cpu"]
    )
    squeezed = CounterMetricFamily(
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota.",
        labels=["cpu"],
    )
    for cpu, (p, d, s) in enumerate(rows):
        processed.add_metric([str(cpu)], p)
        dropped.add_metric([str(cpu)], d)
        squeezed.add_metric([str(cpu)], s)
    return [processed, dropped, squeezed]


def arp(files: Files, paths: HostPaths) -> list[Metric]:
    lines = files.text(paths.proc("net/arp")).splitlines()[1:]
    per_device = Counter(parts[5] for parts in (line.split() for line in lines) if len(parts) >= 6)
    entries = GaugeMetricFamily("node_arp_entries", "ARP entries by device", labels=["device"])
    for device, count in sorted(per_device.items()):
        entries.add_metric([device], float(count))
    return [entries] if entries.samples else []


def conntrack(files: Files, paths: HostPaths) -> list[Metric]:
    count = read_int(files, paths.proc("sys/net/netfilter/nf_conntrack_count"))
    limit = read_int(files, paths.proc("sys/net/netfilter/nf_conntrack_max"))
    if count is None or limit is None:
        raise NoData("nf_conntrack not loaded")
    out: list[Metric] = [
        gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            count,
        ),
        gauge(
            "node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.", limit
        ),
    ]
    stats_text = files.optional(paths.proc("net/stat/nf_conntrack"))
    if stats_text is None:
        return out
    totals = procfs.parse_conntrack_stat(stats_text)
    for name in CONNTRACK_STATS:
        out.append(
            gauge(
                f"node_nf_conntrack_stat_{name}",
                f"Conntrack statistic {name}, summed over CPUs.",
                totals.get(name, 0.0),
            )
        )
    return out
