"""Storage sub-collectors: filesystem (statfs of each mount) and diskstats."""

from __future__ import annotations

import os

from prometheus_client.core import GaugeMetricFamily, Metric

from tidewatch.collectors import procfs
from tidewatch.collectors.base import Files, HostPaths, Pattern, excluded, family
from tidewatch.collectors.statfs import StatfsRunner

FS_LABELS = ["device", "mountpoint", "fstype"]
FS_FAMILIES = (
    ("avail_bytes", "Filesystem space available to non-root users in bytes."),
    ("device_error", "Whether an error occurred while getting statistics for the given device."),
    ("files", "Filesystem total file nodes."),
    ("files_free", "Filesystem total free file nodes."),
    ("free_bytes", "Filesystem free space in bytes."),
    ("readonly", "Filesystem read-only status."),
    ("size_bytes", "Filesystem size in bytes."),
)

SECTOR_BYTES = 512.0  # /proc/diskstats counts 512-byte sectors whatever the device's block size

# /proc/diskstats columns after the device name -> (metric, type, scale), in kernel order.
DISK_FIELDS: tuple[tuple[str, str, float], ...] = (
    ("reads_completed_total", "counter", 1.0),
    ("reads_merged_total", "counter", 1.0),
    ("read_bytes_total", "counter", SECTOR_BYTES),
    ("read_time_seconds_total", "counter", 0.001),
    ("writes_completed_total", "counter", 1.0),
    ("writes_merged_total", "counter", 1.0),
    ("written_bytes_total", "counter", SECTOR_BYTES),
    ("write_time_seconds_total", "counter", 0.001),
    ("io_now", "gauge", 1.0),
    ("io_time_seconds_total", "counter", 0.001),
    ("io_time_weighted_seconds_total", "counter", 0.001),
    ("discards_completed_total", "counter", 1.0),
    ("discards_merged_total", "counter", 1.0),
    ("discarded_sectors_total", "counter", 1.0),
    ("discard_time_seconds_total", "counter", 0.001),
    ("flush_requests_total", "counter", 1.0),
    ("flush_requests_time_seconds_total", "counter", 0.001),
)
DISK_INFO_LABELS = ["device", "major", "minor", "path", "wwn", "model", "serial", "revision"]
DISK_INFO_UDEV_KEYS = ("ID_PATH", "ID_WWN", "ID_MODEL", "ID_SERIAL_SHORT", "ID_REVISION")


def mounts_to_report(
    files: Files,
    paths: HostPaths,
    mount_points_exclude: Pattern | None,
    fs_types_exclude: Pattern | None,
) -> list[procfs.Mount]:
    """Mounts after node_exporter's exclusions, each (device, mount point, type) once."""
    text = files.optional(paths.proc("1/mounts"))
    if text is None:  # hidepid: fall back to this process's view
        text = files.text(paths.proc("mounts"))
    mounts: list[procfs.Mount] = []
    seen: set[tuple[str, str, str]] = set()
    for mount in procfs.parse_mounts(text):
        mount_point = paths.strip_rootfs(mount.mount_point)
        if excluded(mount_points_exclude, mount_point) or excluded(fs_types_exclude, mount.fs_type):
            continue
        key = (mount.device, mount_point, mount.fs_type)
        if key in seen:  # the same mount stacked twice is exported once
            continue
        seen.add(key)
        mounts.append(procfs.Mount(mount.device, mount_point, mount.fs_type, mount.options))
    return mounts


def filesystem(
    files: Files,
    paths: HostPaths,
    statfs: StatfsRunner,
    mount_points_exclude: Pattern | None,
    fs_types_exclude: Pattern | None,
) -> list[Metric]:
    mounts = mounts_to_report(files, paths, mount_points_exclude, fs_types_exclude)
    results = statfs.statfs_many([paths.rootfs(m.mount_point) for m in mounts])
    fams = {
        name: GaugeMetricFamily(f"node_filesystem_{name}", doc, labels=FS_LABELS)
        for name, doc in FS_FAMILIES
    }
    for mount, st in zip(mounts, results, strict=True):
        labels = [mount.device, mount.mount_point, mount.fs_type]
        fams["device_error"].add_metric(labels, 0.0 if st is not None else 1.0)
        if st is None:
            continue
        # statfs(2) f_bsize, as node_exporter multiplies by (not statvfs's f_frsize).
        block = float(st.f_bsize)
        fams["size_bytes"].add_metric(labels, st.f_blocks * block)
        fams["free_bytes"].add_metric(labels, st.f_bfree * block)
        fams["avail_bytes"].add_metric(labels, st.f_bavail * block)
        fams["files"].add_metric(labels, float(st.f_files))
        fams["files_free"].add_metric(labels, float(st.f_ffree))
        fams["readonly"].add_metric(labels, 1.0 if "ro" in mount.options.split(",") else 0.0)
    return [f for f in fams.values() if f.samples]


def diskstats(
    files: Files, paths: HostPaths, exclude: Pattern | None, udev_data_path: str | None
) -> list[Metric]:
    stats = procfs.parse_diskstats(files.text(paths.proc("diskstats")))
    info = GaugeMetricFamily(
        "node_disk_info", "Info of /sys/block/<block_device>.", labels=DISK_INFO_LABELS
    )
    fams = [
        family(kind, f"node_disk_{name}", f"Disk statistic {name}.", ["device"])
        for name, kind, _ in DISK_FIELDS
    ]
    for disk in stats:
        if excluded(exclude, disk.device):
            continue
        udev = _udev_properties(files, udev_data_path, disk.major, disk.minor)
        info.add_metric(
            [disk.device, disk.major, disk.minor, *(udev.get(k, "") for k in DISK_INFO_UDEV_KEYS)],
            1.0,
        )
        # Older kernels report fewer columns; zip stops where this one's end.
        for fam, (_, _, scale), raw in zip(fams, DISK_FIELDS, disk.counters, strict=False):
            fam.add_metric([disk.device], raw * scale)
    return [info, *(f for f in fams if f.samples)] if info.samples else []


def _udev_properties(
    files: Files, udev_data_path: str | None, major: str, minor: str
) -> dict[str, str]:
    if udev_data_path is None:
        return {}
    text = files.optional(os.path.join(udev_data_path, f"b{major}:{minor}"))
    return procfs.parse_udev_properties(text) if text else {}
