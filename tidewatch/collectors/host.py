"""Host metrics with node_exporter's names, types and labels.

HostCollector is a prometheus_client custom collector: each `collect()` reads
/proc and /sys once per file (the same files node_exporter reads) and yields
the families of node_exporter's default Linux collectors that dashboards rely
on. A collector whose source this host lacks (no PSI, no conntrack ...) is left
out and `node_scrape_collector_success{collector}` says so, as node_exporter does.

Collecting does blocking file I/O and statfs(2): callers on an event loop
should run `render_host_metrics` in a thread.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tidewatch.collectors import host_net, host_storage, host_system
from tidewatch.collectors.base import Files, HostPaths, NoData, compile_filter
from tidewatch.collectors.statfs import StatfsRunner

log = logging.getLogger(__name__)

# node_exporter's default filters (upstream's; distributions sometimes patch them).
DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660"
    r"|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs"
    r"|tracefs)$"
)
DEFAULT_DISKSTATS_DEVICE_EXCLUDE = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
DEFAULT_NETDEV_DEVICE_EXCLUDE = ""
DEFAULT_NETCLASS_IGNORED_DEVICES = r"^$"
DEFAULT_NETSTAT_FIELDS = (
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)
DEFAULT_VMSTAT_FIELDS = r"^(oom_kill|pgpg|pswp|pg.*fault).*"

# Failures a sub-collector may hit on an odd host; anything else is a bug and propagates.
_EXPECTED_ERRORS = (OSError, ValueError, IndexError, KeyError, NoData)


class HostCollector(Collector):
    """node_exporter-compatible host metrics, read straight from /proc and /sys."""

    def __init__(
        self,
        proc_path: str = "/proc",
        sys_path: str = "/sys",
        rootfs_path: str = "/",
        *,
        mount_points_exclude: str = DEFAULT_MOUNT_POINTS_EXCLUDE,
        fs_types_exclude: str = DEFAULT_FS_TYPES_EXCLUDE,
        diskstats_device_exclude: str = DEFAULT_DISKSTATS_DEVICE_EXCLUDE,
        netdev_device_exclude: str = DEFAULT_NETDEV_DEVICE_EXCLUDE,
        netclass_ignored_devices: str = DEFAULT_NETCLASS_IGNORED_DEVICES,
        netstat_fields: str = DEFAULT_NETSTAT_FIELDS,
        vmstat_fields: str = DEFAULT_VMSTAT_FIELDS,
        udev_data_path: str = "/run/udev/data",
        mount_timeout_s: float = 5.0,
    ) -> None:
        paths = HostPaths(proc_path, sys_path, rootfs_path)
        self.paths = paths
        mount_points = compile_filter(mount_points_exclude)
        fs_types = compile_filter(fs_types_exclude)
        disks = compile_filter(diskstats_device_exclude)
        netdev = compile_filter(netdev_device_exclude)
        netclass = compile_filter(netclass_ignored_devices)
        netstat = compile_filter(netstat_fields)
        vmstat = compile_filter(vmstat_fields)
        # As node_exporter: udev properties only when the directory exists at start.
        udev = udev_data_path if os.path.isdir(udev_data_path) else None
        statfs = StatfsRunner(timeout_s=mount_timeout_s)
        os_release = host_system.OSRelease()
        cpu = host_system.CPU()
        self._failing: set[str] = set()

        # (node_exporter collector name, function of this scrape's file reader)
        self._collectors: tuple[tuple[str, Callable[[Files], list[Metric]]], ...] = (
            ("arp", lambda f: host_net.arp(f, paths)),
            ("conntrack", lambda f: host_net.conntrack(f, paths)),
            ("cpu", lambda f: cpu.collect(f, paths)),
            ("diskstats", lambda f: host_storage.diskstats(f, paths, disks, udev)),
            ("entropy", lambda f: host_system.entropy(f, paths)),
            ("filefd", lambda f: host_system.filefd(f, paths)),
            (
                "filesystem",
                lambda f: host_storage.filesystem(f, paths, statfs, mount_points, fs_types),
            ),
            ("loadavg", lambda f: host_system.loadavg(f, paths)),
            ("meminfo", lambda f: host_system.meminfo(f, paths)),
            ("netclass", lambda f: host_net.netclass(f, paths, netclass)),
            ("netdev", lambda f: host_net.netdev(f, paths, netdev)),
            ("netstat", lambda f: host_net.netstat(f, paths, netstat)),
            ("os", lambda f: os_release.collect(f, paths)),
            ("pressure", lambda f: host_system.pressure(f, paths)),
            ("sockstat", lambda f: host_net.sockstat(f, paths)),
            ("softnet", lambda f: host_net.softnet(f, paths)),
            ("stat", lambda f: host_system.stat(f, paths)),
            ("time", lambda f: host_system.time_(f, paths)),
            ("timex", lambda f: host_system.timex(f, paths)),
            ("uname", lambda f: host_system.uname(f, paths)),
            ("vmstat", lambda f: host_system.vmstat(f, paths, vmstat)),
        )

    @property
    def collector_names(self) -> list[str]:
        return [name for name, _ in self._collectors]

    def collect(self) -> Iterator[Metric]:
        files = Files()
        duration = GaugeMetricFamily(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            labels=["collector"],
        )
        success = GaugeMetricFamily(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            labels=["collector"],
        )
        for name, collect_one in self._collectors:
            start = time.perf_counter()
            try:
                families = collect_one(files)
                ok = 1.0
            except NoData as exc:
                log.debug("collector %s: no data: %s", name, exc)
                families, ok = [], 0.0
            except _EXPECTED_ERRORS as exc:
                if name not in self._failing:  # once per failure, not every scrape
                    log.warning("collector %s failed: %s", name, exc)
                families, ok = [], 0.0
            if ok:
                self._failing.discard(name)
            else:
                self._failing.add(name)
            duration.add_metric([name], time.perf_counter() - start)
            success.add_metric([name], ok)
            yield from families
        yield duration
        yield success


def render_host_metrics(collector: HostCollector) -> bytes:
    """Text exposition format 0.0.4 of one collect of `collector`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
