"""Parsers for the /proc and /sys files the host collector reads.

Each function takes the file's text and returns plain Python data, so the
parsing rules (which mirror node_exporter's) can be tested on fixture text
without touching the real /proc.
"""

from __future__ import annotations

from dataclasses import dataclass

# The kernel reports /proc/stat CPU times in USER_HZ ticks; node_exporter
# (via prometheus/procfs) assumes 100, which is what every Linux ABI uses.
USER_HZ = 100.0

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = ("user", "nice")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The parts of /proc/stat node_exporter exports (cpu and stat collectors)."""

    cpus: list[tuple[str, list[float]]]  # ("0", [user, nice, ..., guest, guest_nice] in seconds)
    boot_time: float | None
    context_switches: float | None
    forks: float | None
    interrupts: float | None
    procs_running: float | None
    procs_blocked: float | None


def parse_proc_stat(text: str) -> ProcStat:
    cpus: list[tuple[str, list[float]]] = []
    scalars: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key.startswith("cpu") and key != "cpu":
            times = [float(v) / USER_HZ for v in parts[1:11]]
            times.extend([0.0] * (10 - len(times)))
            cpus.append((key[3:], times))
        elif key in ("btime", "ctxt", "processes", "procs_running", "procs_blocked", "intr"):
            scalars[key] = float(parts[1])
    return ProcStat(
        cpus=cpus,
        boot_time=scalars.get("btime"),
        context_switches=scalars.get("ctxt"),
        forks=scalars.get("processes"),
        interrupts=scalars.get("intr"),
        procs_running=scalars.get("procs_running"),
        procs_blocked=scalars.get("procs_blocked"),
    )


def parse_meminfo(text: str) -> dict[str, float]:
    """/proc/meminfo -> {metric suffix: value}, named as node_exporter names them.

    `Active(anon):  123 kB` becomes `Active_anon_bytes` = 123*1024; a line with
    no unit (`HugePages_Total:  0`) keeps its name and value.
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        key = parts[0].rstrip(":").replace("(", "_").replace(")", "")
        value = float(parts[1])
        if len(parts) == 3:
            value *= 1024.0
            key += "_bytes"
        elif len(parts) != 2:
            continue
        out[key] = value
    return out


def parse_loadavg(text: str) -> tuple[float, float, float]:
    parts = text.split()
    return float(parts[0]), float(parts[1]), float(parts[2])


def parse_file_nr(text: str) -> tuple[float, float]:
    """/proc/sys/fs/file-nr -> (allocated, maximum)."""
    parts = text.split()
    return float(parts[0]), float(parts[2])


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mount_point: str
    fs_type: str
    options: str


def unescape_mount_field(field: str) -> str:
    # fstab(5) escapes space and tab in mount points; node_exporter undoes those two only.
    return field.replace("\\040", " ").replace("\\011", "\t")


def parse_mounts(text: str) -> list[Mount]:
    mounts: list[Mount] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mounts.append(Mount(parts[0], unescape_mount_field(parts[1]), parts[2], parts[3]))
    return mounts


@dataclass(frozen=True, slots=True)
class DiskStats:
    major: str
    minor: str
    device: str
    # The counters after the device name, as many as this kernel reports (11, 15 or 17).
    counters: list[float]


def parse_diskstats(text: str) -> list[DiskStats]:
    out: list[DiskStats] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 14:
            continue
        out.append(DiskStats(parts[0], parts[1], parts[2], [float(v) for v in parts[3:]]))
    return out


NET_DEV_RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
NET_DEV_TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")


def parse_net_dev(text: str) -> dict[str, list[float]]:
    """/proc/net/dev -> {device: 8 receive counters then 8 transmit counters}."""
    out: dict[str, list[float]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        values = rest.split()
        if len(values) < 16:
            continue
        out[name.strip()] = [float(v) for v in values[:16]]
    return out


def parse_netstat(text: str) -> dict[str, float]:
    """/proc/net/netstat or /proc/net/snmp (header line + value line pairs) -> {Proto_Field: v}."""
    out: dict[str, float] = {}
    lines = text.splitlines()
    for i in range(0, len(lines) - 1, 2):
        names = lines[i].split()
        values = lines[i + 1].split()
        if not names or len(names) != len(values):
            continue
        proto = names[0].rstrip(":")
        for name, value in zip(names[1:], values[1:], strict=True):
            out[f"{proto}_{name}"] = float(value)
    return out


def parse_snmp6(text: str) -> dict[str, float]:
    """/proc/net/snmp6 (`Ip6InReceives 12`) -> {Ip6_InReceives: 12}, split after the first '6'."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        six = parts[0].find("6")
        if six < 0:
            continue
        out[f"{parts[0][: six + 1]}_{parts[0][six + 1 :]}"] = float(parts[1])
    return out


def parse_vmstat(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = float(parts[1])
    return out


def parse_pressure(text: str) -> dict[str, float]:
    """/proc/pressure/<res> -> {"some": total seconds, "full": total seconds}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        for field in parts[1:]:
            if field.startswith("total="):
                out[parts[0]] = float(field[6:]) / 1e6
    return out


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, values optionally quoted with shell escapes."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote = value[0]
            value = value[1:-1]
            if quote == '"':
                value = _unescape_double_quoted(value)
        out[key.strip()] = value
    return out


def _unescape_double_quoted(value: str) -> str:
    if "\\" not in value:
        return value
    chars: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in '\\"$`':
            chars.append(value[i + 1])
            i += 2
            continue
        chars.append(c)
        i += 1
    return "".join(chars)


def os_version_number(version_id: str) -> float:
    """The leading `major.minor` of VERSION_ID as a number, 0 when there is none."""
    end = 0
    while end < len(version_id) and version_id[end].isdigit():
        end += 1
    if end == 0:
        return 0.0
    if end < len(version_id) and version_id[end] == ".":
        end += 1
        while end < len(version_id) and version_id[end].isdigit():
            end += 1
    return float(version_id[:end].rstrip("."))


def parse_udev_properties(text: str) -> dict[str, str]:
    """/run/udev/data/b<major>:<minor> -> its `E:KEY=value` device properties."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("E:"):
            key, _, value = line[2:].partition("=")
            out[key] = value
    return out


def parse_sockstat(text: str) -> list[tuple[str, list[tuple[str, float]]]]:
    """/proc/net/sockstat{,6} (`TCP: inuse 2 orphan 0 ...`) -> [(proto, [(field, value)])]."""
    out: list[tuple[str, list[tuple[str, float]]]] = []
    for line in text.splitlines():
        proto, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        out.append(
            (proto.strip(), [(parts[i], float(parts[i + 1])) for i in range(0, len(parts) - 1, 2)])
        )
    return out


def parse_softnet(text: str) -> list[tuple[float, float, float]]:
    """/proc/net/softnet_stat, one hex row per CPU -> (processed, dropped, time_squeezed)."""
    rows: list[tuple[float, float, float]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            rows.append(
                (float(int(parts[0], 16)), float(int(parts[1], 16)), float(int(parts[2], 16)))
            )
    return rows


def parse_conntrack_stat(text: str) -> dict[str, float]:
    """/proc/net/stat/nf_conntrack (header, then one hex row per CPU) -> totals over CPUs."""
    lines = text.splitlines()
    if not lines:
        return {}
    names = lines[0].split()
    totals = dict.fromkeys(names, 0.0)
    for line in lines[1:]:
        for name, raw in zip(names, line.split(), strict=False):
            totals[name] += int(raw, 16)
    return totals
