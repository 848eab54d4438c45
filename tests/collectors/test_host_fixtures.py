"""The host collector on a hand-made /proc, /sys and root filesystem (node_exporter's rules)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tidewatch.collectors import procfs
from tidewatch.collectors.host import HostCollector, render_host_metrics

PROC_STAT = """\
cpu  300 20 100 5000 10 0 5 1 40 2
cpu0 200 10 60 2500 5 0 3 1 30 2
cpu1 100 10 40 2500 5 0 2 0 10 0
intr 12345 1 2 3
ctxt 67890
btime 1700000000
processes 4321
procs_running 3
procs_blocked 1
softirq 100 1 2
"""

MEMINFO = """\
MemTotal:       16000000 kB
MemFree:         8000000 kB
Active(anon):     100000 kB
Inactive(file):   200000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""

DISKSTATS = """\
   7       0 loop0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 100 5 2000 30 50 7 1000 40 0 60 70 3 1 80 9 11 12
 254       1 vda1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   8       0 sdb 10 0 20 3 5 0 10 4 2 6 7
"""

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 5000000    4000    1    2    0     0          0         3   600000    3000    0    0    0     0       0          0
"""

NETSTAT = """\
TcpExt: SyncookiesSent ListenDrops TCPTimeouts DelayedACKs
TcpExt: 1 2 3 4
IpExt: InOctets OutOctets InNoRoutes
IpExt: 100 200 5
"""

SNMP = """\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 999
Tcp: RtoAlgorithm ActiveOpens CurrEstab InErrs
Tcp: 1 7 2 0
"""

SNMP6 = """\
Ip6InReceives                   	12
Ip6InOctets                     	3400
Udp6InDatagrams                 	5
"""

VMSTAT = """\
nr_free_pages 100
pgpgin 11
pgpgout 12
pswpin 0
pgfault 999
pgmajfault 7
oom_kill 1
"""

PRESSURE_IO = """\
some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000
full avg10=0.00 avg60=0.00 avg300=0.00 total=1000000
"""

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12.4"
VERSION="12 (bookworm)"
ID=debian
# comment
"""

SOCKSTAT = """\
sockets: used 17
TCP: inuse 2 orphan 0 tw 2 alloc 3 mem 5
UDP: inuse 1 mem 0
FRAG: inuse 0 memory 0
"""

SOFTNET = """\
00000087 00000002 00000000 00000000 00000000
00000b14 00000000 00000001 00000000 00000000
"""

ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0
192.0.2.2        0x1         0x2         02:fc:00:00:00:06     *        eth0
10.0.0.1         0x1         0x2         02:fc:00:00:00:07     *        eth1
"""

CONNTRACK_STAT = """\
entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000000  00000000 00000001 00000000 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000002
00000000  00000000 00000002 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    proc, sys, rootfs = tmp_path / "proc", tmp_path / "sys", tmp_path / "rootfs"
    write(proc, "stat", PROC_STAT)
    write(proc, "meminfo", MEMINFO)
    write(proc, "loadavg", "0.50 0.25 0.10 2/300 4000\n")
    write(proc, "sys/fs/file-nr", "1024\t0\t9223372036854775807\n")
    write(proc, "sys/kernel/random/entropy_avail", "256\n")
    write(proc, "sys/kernel/random/poolsize", "256\n")
    write(proc, "diskstats", DISKSTATS)
    write(proc, "net/dev", NET_DEV)
    write(proc, "net/netstat", NETSTAT)
    write(proc, "net/snmp", SNMP)
    write(proc, "net/snmp6", SNMP6)
    write(proc, "vmstat", VMSTAT)
    write(proc, "pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n")
    write(proc, "pressure/io", PRESSURE_IO)
    write(proc, "pressure/memory", PRESSURE_IO)
    write(proc, "net/sockstat", SOCKSTAT)
    write(proc, "net/sockstat6", "TCP6: inuse 3\nUDP6: inuse 1\n")
    write(proc, "net/softnet_stat", SOFTNET)
    write(proc, "net/arp", ARP)
    write(proc, "sys/net/netfilter/nf_conntrack_count", "12\n")
    write(proc, "sys/net/netfilter/nf_conntrack_max", "262144\n")
    write(proc, "net/stat/nf_conntrack", CONNTRACK_STAT)
    (rootfs / "data").mkdir(parents=True)
    (rootfs / "with space").mkdir()
    write(
        proc,
        "1/mounts",
        textwrap.dedent(
            """\
            /dev/vda / ext4 rw,relatime 0 0
            proc /proc proc rw 0 0
            tmpfs /dev/shm tmpfs rw 0 0
            cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
            /dev/vdb /data xfs ro,noatime 0 0
            /dev/vdb /data xfs ro,noatime 0 0
            /dev/vdc /with\\040space ext4 rw 0 0
            /dev/vdd /gone ext4 rw 0 0
            overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
            """
        ),
    )
    write(rootfs, "etc/os-release", OS_RELEASE)
    eth0 = sys / "class/net/eth0"
    for name, value in {
        "operstate": "up",
        "address": "02:00:00:00:00:01",
        "broadcast": "ff:ff:ff:ff:ff:ff",
        "duplex": "full",
        "mtu": "1500",
        "flags": "0x1003",
        "speed": "1000",
        "carrier": "1",
        "ifindex": "2",
        "type": "1",
    }.items():
        write(eth0, name, value + "\n")
    write(sys, "class/net/eth0/statistics/rx_nohandler", "4\n")
    write(sys, "class/net/bonding_masters", "\n")
    write(sys, "devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet \n")
    write(sys, "devices/system/clocksource/clocksource0/current_clocksource", "tsc\n")
    return proc, sys, rootfs


def families(proc: Path, sys: Path, rootfs: Path, **kwargs: str) -> dict[str, dict[str, float]]:
    """{family name as exposed: {sample name + sorted labels: value}}."""
    text = render_host_metrics(
        HostCollector(
            str(proc), str(sys), str(rootfs), udev_data_path=str(proc / "no-udev"), **kwargs
        )
    ).decode()
    out: dict[str, dict[str, float]] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = s.name + "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
            out.setdefault(s.name if fam.type != "counter" else fam.name + "_total", {})[key] = (
                s.value
            )
    out["__types__"] = {k: float(len(v)) for k, v in types.items()}
    out["__typenames__"] = {f"{k}:{v}": 1.0 for k, v in types.items()}
    return out


def test_cpu_and_stat(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    cpu = f["node_cpu_seconds_total"]
    assert cpu["node_cpu_seconds_total{cpu=0,mode=user}"] == 2.0  # ticks / USER_HZ
    assert cpu["node_cpu_seconds_total{cpu=1,mode=idle}"] == 25.0
    assert len(cpu) == 16  # 2 cpus x 8 modes, the aggregate "cpu" line is not exported
    assert (
        f["node_cpu_guest_seconds_total"]["node_cpu_guest_seconds_total{cpu=0,mode=nice}"] == 0.02
    )
    assert f["node_boot_time_seconds"]["node_boot_time_seconds{}"] == 1700000000
    assert f["node_context_switches_total"]["node_context_switches_total{}"] == 67890
    assert f["node_intr_total"]["node_intr_total{}"] == 12345
    assert f["node_forks_total"]["node_forks_total{}"] == 4321
    assert f["node_procs_running"]["node_procs_running{}"] == 3
    assert "node_context_switches_total:counter" in f["__typenames__"]


def test_meminfo_names(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    assert f["node_memory_MemTotal_bytes"]["node_memory_MemTotal_bytes{}"] == 16000000 * 1024
    assert f["node_memory_Active_anon_bytes"]["node_memory_Active_anon_bytes{}"] == 100000 * 1024
    assert "node_memory_Inactive_file_bytes" in f
    assert f["node_memory_HugePages_Total"]["node_memory_HugePages_Total{}"] == 0
    assert "node_memory_Hugepagesize_bytes:gauge" in f["__typenames__"]


def test_filesystem_exclusions_dedup_and_errors(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    size = f["node_filesystem_size_bytes"]
    mounts = {k.split("mountpoint=")[1].split("}")[0] for k in size}
    # /proc, /dev/shm, cgroup2 and docker overlay are excluded; /gone fails statfs.
    assert mounts == {"/", "/data", "/with space"}
    assert len(f["node_filesystem_readonly"]) == 3  # duplicate /data exported once
    ro = f["node_filesystem_readonly"]
    assert ro["node_filesystem_readonly{device=/dev/vdb,fstype=xfs,mountpoint=/data}"] == 1
    errors = f["node_filesystem_device_error"]
    assert errors["node_filesystem_device_error{device=/dev/vdd,fstype=ext4,mountpoint=/gone}"] == 1
    st = os.statvfs(tree[2] / "data")
    assert size["node_filesystem_size_bytes{device=/dev/vdb,fstype=xfs,mountpoint=/data}"] == (
        st.f_blocks * st.f_bsize
    )


def test_diskstats_filter_and_units(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    reads = f["node_disk_reads_completed_total"]
    # loop0 and the partition vda1 are excluded by the default device regex.
    assert set(reads) == {
        "node_disk_reads_completed_total{device=vda}",
        "node_disk_reads_completed_total{device=sdb}",
    }
    assert f["node_disk_read_bytes_total"]["node_disk_read_bytes_total{device=vda}"] == 2000 * 512
    assert (
        f["node_disk_read_time_seconds_total"]["node_disk_read_time_seconds_total{device=vda}"]
        == 0.03
    )
    assert f["node_disk_io_now"]["node_disk_io_now{device=sdb}"] == 2
    # Old kernels (11 fields, sdb) have no discard or flush counters.
    assert set(f["node_disk_flush_requests_total"]) == {
        "node_disk_flush_requests_total{device=vda}"
    }
    info = f["node_disk_info"]
    assert (
        "node_disk_info{device=vda,major=254,minor=0,model=,path=,revision=,serial=,wwn=}" in info
    )
    assert "node_disk_io_now:gauge" in f["__typenames__"]


def test_network(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    rx = f["node_network_receive_bytes_total"]
    assert rx == {
        "node_network_receive_bytes_total{device=lo}": 1000,
        "node_network_receive_bytes_total{device=eth0}": 5000000,
    }
    assert (
        f["node_network_receive_multicast_total"][
            "node_network_receive_multicast_total{device=eth0}"
        ]
        == 3
    )
    assert f["node_network_receive_nohandler_total"] == {
        "node_network_receive_nohandler_total{device=eth0}": 4
    }
    assert f["node_network_up"] == {"node_network_up{device=eth0}": 1}
    assert f["node_network_flags"]["node_network_flags{device=eth0}"] == 0x1003
    assert f["node_network_speed_bytes"]["node_network_speed_bytes{device=eth0}"] == 125000000
    assert (
        "node_network_info{address=02:00:00:00:00:01,broadcast=ff:ff:ff:ff:ff:ff,device=eth0,"
        "duplex=full,ifalias=,operstate=up}" in f["node_network_info"]
    )
    assert "node_network_dormant" not in f  # file missing -> not exported
    excluded = families(*tree, netdev_device_exclude="^lo$")
    assert set(excluded["node_network_receive_bytes_total"]) == {
        "node_network_receive_bytes_total{device=eth0}"
    }


def test_netstat_and_vmstat_default_fields(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    netstat = {k for k in f if k.startswith("node_netstat_")}
    assert netstat == {
        "node_netstat_TcpExt_SyncookiesSent",
        "node_netstat_TcpExt_ListenDrops",
        "node_netstat_TcpExt_TCPTimeouts",
        "node_netstat_IpExt_InOctets",
        "node_netstat_IpExt_OutOctets",
        "node_netstat_Ip_Forwarding",
        "node_netstat_Tcp_ActiveOpens",
        "node_netstat_Tcp_CurrEstab",
        "node_netstat_Tcp_InErrs",
        "node_netstat_Ip6_InOctets",
        "node_netstat_Udp6_InDatagrams",
    }
    assert "node_netstat_Tcp_ActiveOpens:untyped" in f["__typenames__"]
    vmstat = {k for k in f if k.startswith("node_vmstat_")}
    assert vmstat == {
        "node_vmstat_pgpgin",
        "node_vmstat_pgpgout",
        "node_vmstat_pswpin",
        "node_vmstat_pgfault",
        "node_vmstat_pgmajfault",
        "node_vmstat_oom_kill",
    }


def test_pressure_os_time_and_missing_sources(tree: tuple[Path, Path, Path]) -> None:
    proc, sys, rootfs = tree
    f = families(proc, sys, rootfs)
    assert (
        f["node_pressure_cpu_waiting_seconds_total"]["node_pressure_cpu_waiting_seconds_total{}"]
        == 1.5
    )
    assert (
        f["node_pressure_io_stalled_seconds_total"]["node_pressure_io_stalled_seconds_total{}"]
        == 1.0
    )
    assert f["node_os_version"] == {
        "node_os_version{id=debian,id_like=,name=Debian GNU/Linux}": 12.4
    }
    (info,) = f["node_os_info"]
    assert "pretty_name=Debian GNU/Linux 12 (bookworm)" in info
    assert set(f["node_time_clocksource_available_info"]) == {
        "node_time_clocksource_available_info{clocksource=hpet,device=0}",
        "node_time_clocksource_available_info{clocksource=tsc,device=0}",
    }
    success = f["node_scrape_collector_success"]
    assert all(v == 1 for v in success.values()), success

    # A kernel without PSI: the family goes, the collector reports failure, the rest stays.
    for res in ("cpu", "io", "memory"):
        (proc / "pressure" / res).unlink()
    f = families(proc, sys, rootfs)
    assert not any(k.startswith("node_pressure_") for k in f)
    assert (
        f["node_scrape_collector_success"]["node_scrape_collector_success{collector=pressure}"] == 0
    )
    assert "node_load1" in f


def test_proc_mounts_fallback(tree: tuple[Path, Path, Path]) -> None:
    proc, sys, rootfs = tree
    (proc / "1" / "mounts").rename(proc / "mounts")
    f = families(proc, sys, rootfs)
    assert len(f["node_filesystem_size_bytes"]) == 3


@pytest.mark.parametrize(
    ("version_id", "expected"),
    [("12", 12.0), ("22.04", 22.04), ("3.18.4", 3.18), ("rolling", 0.0), ("", 0.0), ("7.", 7.0)],
)
def test_os_version_number(version_id: str, expected: float) -> None:
    assert procfs.os_version_number(version_id) == expected


def test_os_release_quoting() -> None:
    parsed = procfs.parse_os_release('NAME="A \\"quoted\\" \\$name"\nID=\'x y\'\nBAD LINE\n')
    assert parsed == {"NAME": 'A "quoted" $name', "ID": "x y"}


def test_sockstat_softnet_arp_conntrack(tree: tuple[Path, Path, Path]) -> None:
    f = families(*tree)
    page = os.sysconf("SC_PAGE_SIZE")
    assert f["node_sockstat_sockets_used"]["node_sockstat_sockets_used{}"] == 17
    assert f["node_sockstat_TCP_alloc"]["node_sockstat_TCP_alloc{}"] == 3
    assert f["node_sockstat_TCP_mem_bytes"]["node_sockstat_TCP_mem_bytes{}"] == 5 * page
    assert f["node_sockstat_FRAG_memory"]["node_sockstat_FRAG_memory{}"] == 0
    assert f["node_sockstat_TCP6_inuse"]["node_sockstat_TCP6_inuse{}"] == 3
    assert f["node_softnet_processed_total"] == {
        "node_softnet_processed_total{cpu=0}": 0x87,
        "node_softnet_processed_total{cpu=1}": 0xB14,
    }
    assert f["node_softnet_dropped_total"]["node_softnet_dropped_total{cpu=0}"] == 2
    assert f["node_softnet_times_squeezed_total"]["node_softnet_times_squeezed_total{cpu=1}"] == 1
    assert f["node_arp_entries"] == {
        "node_arp_entries{device=eth0}": 2,
        "node_arp_entries{device=eth1}": 1,
    }
    assert f["node_nf_conntrack_entries"]["node_nf_conntrack_entries{}"] == 12
    assert f["node_nf_conntrack_stat_found"]["node_nf_conntrack_stat_found{}"] == 3
    assert f["node_nf_conntrack_stat_invalid"]["node_nf_conntrack_stat_invalid{}"] == 11
    assert (
        f["node_nf_conntrack_stat_search_restart"]["node_nf_conntrack_stat_search_restart{}"] == 2
    )


def test_collector_failure_is_isolated_and_logged_once(
    tree: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    proc, sys, rootfs = tree
    (proc / "loadavg").write_text("garbage\n")
    collector = HostCollector(str(proc), str(sys), str(rootfs))
    for _ in range(3):
        text = render_host_metrics(collector).decode()
    assert 'node_scrape_collector_success{collector="loadavg"} 0.0' in text
    assert "node_memory_MemTotal_bytes" in text
    assert sum("collector loadavg failed" in r.message for r in caplog.records) == 1


def test_cpu_counters_never_go_backwards(tree: tuple[Path, Path, Path]) -> None:
    proc, sys, rootfs = tree
    collector = HostCollector(str(proc), str(sys), str(rootfs))

    def cpu0(mode: str) -> float:
        for fam in text_string_to_metric_families(render_host_metrics(collector).decode()):
            if fam.name == "node_cpu_seconds":
                for s in fam.samples:
                    if s.labels == {"cpu": "0", "mode": mode}:
                        return float(s.value)
        raise AssertionError("no sample")

    assert cpu0("iowait") == 0.05
    # iowait steps back by a tick: the exported counter holds its value.
    (proc / "stat").write_text(PROC_STAT.replace("cpu0 200 10 60 2500 5", "cpu0 200 10 60 2501 4"))
    assert cpu0("iowait") == 0.05
    assert cpu0("idle") == 25.01
    # idle back by more than 3 s: a hot-plugged CPU, counters restart from the kernel's.
    (proc / "stat").write_text(PROC_STAT.replace("cpu0 200 10 60 2500 5", "cpu0 1 1 1 10 1"))
    assert cpu0("iowait") == 0.01
    assert cpu0("user") == 0.01
