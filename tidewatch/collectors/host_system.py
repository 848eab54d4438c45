"""System sub-collectors: cpu, stat, meminfo, loadavg, filefd, entropy, vmstat,
pressure, uname, os, time and timex."""

from __future__ import annotations

import os
import time

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tidewatch.collectors import procfs
from tidewatch.collectors.base import (
    Files,
    HostPaths,
    NoData,
    Pattern,
    counter,
    family,
    gauge,
    untyped,
)
from tidewatch.collectors.timex import STA_NANO, TIME_ERROR, read_timex

OS_INFO_KEYS = (
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
)

PRESSURE_RESOURCES = (
    ("cpu", "node_pressure_cpu_waiting_seconds_total", None),
    ("io", "node_pressure_io_waiting_seconds_total", "node_pressure_io_stalled_seconds_total"),
    (
        "memory",
        "node_pressure_memory_waiting_seconds_total",
        "node_pressure_memory_stalled_seconds_total",
    ),
)

PPM16 = 1_000_000.0 * 65536.0  # adjtimex frequencies are ppm with a 16-bit fraction


JUMP_BACK_SECONDS = 3.0  # idle going back this far means the CPU was hot-plugged


class CPU:
    """node_cpu_seconds_total and node_cpu_guest_seconds_total, kept monotonic.

    Some kernels let a CPU-time counter (iowait notably) step backwards; as
    node_exporter does, each counter keeps its highest value seen, unless idle
    jumps back by seconds, which means a hot-plugged CPU starting from zero.
    """

    def __init__(self) -> None:
        self._last: np.ndarray | None = None  # shape (cpus, 10), seconds

    def collect(self, files: Files, paths: HostPaths) -> list[Metric]:
        stat = procfs.parse_proc_stat(files.text(paths.proc("stat")))
        ids = [cpu_id for cpu_id, _ in stat.cpus]
        times = self._monotonic(np.array([t for _, t in stat.cpus], dtype=np.float64))
        seconds = CounterMetricFamily(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            labels=["cpu", "mode"],
        )
        guest = CounterMetricFamily(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            labels=["cpu", "mode"],
        )
        for cpu_id, row in zip(ids, times.tolist(), strict=True):
            for mode, value in zip(procfs.CPU_MODES, row, strict=False):
                seconds.add_metric([cpu_id, mode], value)
            guest.add_metric([cpu_id, "user"], row[8])
            guest.add_metric([cpu_id, "nice"], row[9])
        return [seconds, guest]

    def _monotonic(self, new: np.ndarray) -> np.ndarray:
        last = self._last
        if last is None or last.shape != new.shape:  # first scrape, or CPUs came or went
            last = np.zeros_like(new)
        idle = procfs.CPU_MODES.index("idle")
        hotplugged = (last[:, idle] - new[:, idle]) >= JUMP_BACK_SECONDS
        last[hotplugged] = 0.0
        merged = np.maximum(last, new)
        self._last = merged
        return merged


def stat(files: Files, paths: HostPaths) -> list[Metric]:
    st = procfs.parse_proc_stat(files.text(paths.proc("stat")))
    out: list[Metric] = []
    for value, make, name, doc in (
        (st.boot_time, gauge, "node_boot_time_seconds", "Node boot time, in unixtime."),
        (
            st.context_switches,
            counter,
            "node_context_switches_total",
            "Total number of context switches.",
        ),
        (st.forks, counter, "node_forks_total", "Total number of forks."),
        (st.interrupts, counter, "node_intr_total", "Total number of interrupts serviced."),
        (
            st.procs_blocked,
            gauge,
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
        ),
        (st.procs_running, gauge, "node_procs_running", "Number of processes in runnable state."),
    ):
        if value is not None:
            out.append(make(name, doc, value))
    return out


def meminfo(files: Files, paths: HostPaths) -> list[Metric]:
    out: list[Metric] = []
    for key, value in procfs.parse_meminfo(files.text(paths.proc("meminfo"))).items():
        kind = "counter" if key.endswith("_total") else "gauge"
        fam = family(kind, f"node_memory_{key}", f"Memory information field {key}.")
        fam.add_metric([], value)
        out.append(fam)
    return out


def loadavg(files: Files, paths: HostPaths) -> list[Metric]:
    one, five, fifteen = procfs.parse_loadavg(files.text(paths.proc("loadavg")))
    return [
        gauge("node_load1", "1m load average.", one),
        gauge("node_load5", "5m load average.", five),
        gauge("node_load15", "15m load average.", fifteen),
    ]


def filefd(files: Files, paths: HostPaths) -> list[Metric]:
    allocated, maximum = procfs.parse_file_nr(files.text(paths.proc("sys/fs/file-nr")))
    return [
        gauge("node_filefd_allocated", "File descriptor statistics: allocated.", allocated),
        gauge("node_filefd_maximum", "File descriptor statistics: maximum.", maximum),
    ]


def entropy(files: Files, paths: HostPaths) -> list[Metric]:
    available = float(files.text(paths.proc("sys/kernel/random/entropy_avail")))
    pool = float(files.text(paths.proc("sys/kernel/random/poolsize")))
    return [
        gauge("node_entropy_available_bits", "Bits of available entropy.", available),
        gauge("node_entropy_pool_size_bits", "Bits of entropy pool.", pool),
    ]


def vmstat(files: Files, paths: HostPaths, fields: Pattern | None) -> list[Metric]:
    stats = procfs.parse_vmstat(files.text(paths.proc("vmstat")))
    return [
        untyped(f"node_vmstat_{key}", f"/proc/vmstat information field {key}.", value)
        for key, value in stats.items()
        if fields is None or fields.search(key)
    ]


def pressure(files: Files, paths: HostPaths) -> list[Metric]:
    out: list[Metric] = []
    for resource, some_name, full_name in PRESSURE_RESOURCES:
        text = files.optional(paths.proc(f"pressure/{resource}"))
        if text is None:
            raise NoData(
                "pressure stall information is disabled (psi=1 on the kernel command line)"
            )
        totals = procfs.parse_pressure(text)
        out.append(
            counter(
                some_name,
                f"Total time in seconds that processes have waited for {resource}.",
                totals.get("some", 0.0),
            )
        )
        if full_name is not None:
            out.append(
                counter(
                    full_name,
                    f"Total time in seconds no process could make progress due to {resource}.",
                    totals.get("full", 0.0),
                )
            )
    return out


def uname(files: Files, paths: HostPaths) -> list[Metric]:
    uts = os.uname()
    # os.uname() lacks the NIS domain name that uname(2) returns; procfs has it.
    domainname = (files.optional(paths.proc("sys/kernel/domainname")) or "(none)").strip()
    fam = GaugeMetricFamily(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        labels=["sysname", "release", "version", "machine", "nodename", "domainname"],
    )
    fam.add_metric(
        [uts.sysname, uts.release, uts.version, uts.machine, uts.nodename, domainname], 1.0
    )
    return [fam]


class OSRelease:
    """node_os_info / node_os_version from os-release, reparsed only when its mtime changes."""

    def __init__(self) -> None:
        self._cache: tuple[str, float, dict[str, str]] | None = None

    def collect(self, files: Files, paths: HostPaths) -> list[Metric]:
        release = self._read(paths)
        info = GaugeMetricFamily(
            "node_os_info",
            "A metric with a constant '1' value labeled by the os-release fields.",
            labels=[label for label, _ in OS_INFO_KEYS],
        )
        info.add_metric([release.get(key, "") for _, key in OS_INFO_KEYS], 1.0)
        out: list[Metric] = [info]
        version = procfs.os_version_number(release.get("VERSION_ID", ""))
        if version > 0:
            fam = GaugeMetricFamily(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                labels=["id", "id_like", "name"],
            )
            fam.add_metric(
                [release.get("ID", ""), release.get("ID_LIKE", ""), release.get("NAME", "")],
                version,
            )
            out.append(fam)
        return out

    def _read(self, paths: HostPaths) -> dict[str, str]:
        for rel in ("etc/os-release", "usr/lib/os-release"):
            path = paths.rootfs(rel)
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            cached = self._cache
            if cached is not None and cached[0] == path and cached[1] == mtime:
                return cached[2]
            with open(path, encoding="utf-8", errors="replace") as f:
                parsed = procfs.parse_os_release(f.read())
            self._cache = (path, mtime, parsed)
            return parsed
        raise NoData("no os-release file")


def time_(files: Files, paths: HostPaths) -> list[Metric]:
    now = time.time()
    local = time.localtime(now)
    zone = GaugeMetricFamily(
        "node_time_zone_offset_seconds", "System time zone offset in seconds.", labels=["time_zone"]
    )
    zone.add_metric([local.tm_zone], float(local.tm_gmtoff))
    out: list[Metric] = [
        gauge("node_time_seconds", "System time in seconds since epoch (1970).", now),
        zone,
    ]
    base = paths.sys("devices/system/clocksource")
    try:
        sources = sorted(d for d in os.listdir(base) if d.startswith("clocksource"))
    except OSError:
        sources = []
    available = GaugeMetricFamily(
        "node_time_clocksource_available_info",
        "Available clocksources read from '/sys/devices/system/clocksource'.",
        labels=["device", "clocksource"],
    )
    current = GaugeMetricFamily(
        "node_time_clocksource_current_info",
        "Current clocksource read from '/sys/devices/system/clocksource'.",
        labels=["device", "clocksource"],
    )
    # node_exporter labels each clocksource directory by its position in the sorted listing.
    for index, source in enumerate(sources):
        for name in (files.optional(f"{base}/{source}/available_clocksource") or "").split():
            available.add_metric([str(index), name], 1.0)
        chosen = (files.optional(f"{base}/{source}/current_clocksource") or "").strip()
        current.add_metric([str(index), chosen], 1.0)
    out.extend(f for f in (available, current) if f.samples)
    return out


def timex(files: Files, paths: HostPaths) -> list[Metric]:
    tx = read_timex()
    if tx is None:
        raise NoData("adjtimex unavailable")
    divisor = 1e9 if tx.status & STA_NANO else 1e6
    return [
        gauge(
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            0.0 if tx.state == TIME_ERROR else 1.0,
        ),
        gauge(
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            tx.offset / divisor,
        ),
        gauge(
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1 + tx.freq / PPM16,
        ),
        gauge("node_timex_maxerror_seconds", "Maximum error in seconds.", tx.maxerror / 1e6),
        gauge(
            "node_timex_estimated_error_seconds", "Estimated error in seconds.", tx.esterror / 1e6
        ),
        gauge("node_timex_status", "Value of the status array bits.", float(tx.status)),
        gauge(
            "node_timex_loop_time_constant", "Phase-locked loop time constant.", float(tx.constant)
        ),
        gauge("node_timex_tick_seconds", "Seconds between clock ticks.", tx.tick / 1e6),
        gauge("node_timex_pps_frequency_hertz", "Pulse per second frequency.", tx.ppsfreq / PPM16),
        gauge("node_timex_pps_jitter_seconds", "Pulse per second jitter.", tx.jitter / divisor),
        gauge(
            "node_timex_pps_shift_seconds", "Pulse per second interval duration.", float(tx.shift)
        ),
        gauge(
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            tx.stabil / PPM16,
        ),
        counter(
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            float(tx.jitcnt),
        ),
        counter(
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            float(tx.calcnt),
        ),
        counter(
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            float(tx.errcnt),
        ),
        counter(
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            float(tx.stbcnt),
        ),
        gauge(
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            float(tx.tai),
        ),
    ]
