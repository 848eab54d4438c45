"""tidewatch's host metrics against the real node_exporter on the same machine.

Both run with the same filters (tidewatch's defaults, passed to node_exporter as
flags, since distributions patch node_exporter's defaults) and are scraped
back to back. Every family tidewatch emits must exist in node_exporter's output
with the same type and label names, and comparable values must be close.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.peers import require_binary
from tidewatch.collectors import host
from tidewatch.collectors.host import HostCollector, render_host_metrics

NODE_EXPORTER = "prometheus-node-exporter"

# Prefixes of the node_exporter collectors tidewatch implements, to list what it lacks.
COVERED_PREFIXES = (
    "node_cpu_",
    "node_memory_",
    "node_load",
    "node_filesystem_",
    "node_disk_",
    "node_network_",
    "node_netstat_",
    "node_vmstat_",
    "node_pressure_",
    "node_uname_",
    "node_os_",
    "node_time_",
    "node_boot_time",
    "node_filefd_",
    "node_context_switches",
    "node_forks",
    "node_intr",
    "node_procs_",
    "node_entropy_",
    "node_sockstat_",
    "node_softnet_",
    "node_arp_",
    "node_nf_conntrack_",
    "node_timex_",
    "node_scrape_",
)


@dataclass
class Family:
    type: str
    label_names: frozenset[str]
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> dict[str, Family]:
    out: dict[str, Family] = {}
    for fam in text_string_to_metric_families(text):
        names: set[str] = set()
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for s in fam.samples:
            names.update(s.labels)
            samples[(s.name, frozenset(s.labels.items()))] = s.value
        out[fam.name] = Family(fam.type, frozenset(names), samples)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_node_exporter() -> str:
    return require_binary(NODE_EXPORTER)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode("utf-8"))


@pytest.fixture(scope="module")
def node_exporter_url() -> Iterator[str]:
    binary = find_node_exporter()
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--collector.filesystem.mount-points-exclude={host.DEFAULT_MOUNT_POINTS_EXCLUDE}",
            f"--collector.filesystem.fs-types-exclude={host.DEFAULT_FS_TYPES_EXCLUDE}",
            f"--collector.diskstats.device-exclude={host.DEFAULT_DISKSTATS_DEVICE_EXCLUDE}",
            f"--collector.netdev.device-exclude={host.DEFAULT_NETDEV_DEVICE_EXCLUDE}",
            f"--collector.netclass.ignored-devices={host.DEFAULT_NETCLASS_IGNORED_DEVICES}",
            f"--collector.netstat.fields={host.DEFAULT_NETSTAT_FIELDS}",
            f"--collector.vmstat.fields={host.DEFAULT_VMSTAT_FIELDS}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"node_exporter exited: {err[-2000:]}")
            try:
                scrape(url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def both(node_exporter_url: str) -> tuple[dict[str, Family], dict[str, Family]]:
    collector = HostCollector()
    ours = parse(render_host_metrics(collector).decode())
    theirs = parse(scrape(node_exporter_url))
    return ours, theirs


def test_every_family_matches_name_type_and_labels(
    both: tuple[dict[str, Family], dict[str, Family]],
) -> None:
    ours, theirs = both
    assert len(ours) > 100, "host collector emitted suspiciously few families"
    problems = []
    for name, fam in sorted(ours.items()):
        other = theirs.get(name)
        if other is None:
            problems.append(f"{name}: not in node_exporter's output")
        elif other.type != fam.type:
            problems.append(f"{name}: type {fam.type}, node_exporter says {other.type}")
        elif other.label_names != fam.label_names:
            problems.append(
                f"{name}: labels {sorted(fam.label_names)}, node_exporter {sorted(other.label_names)}"
            )
    assert not problems, "\n".join(problems)

    lacking = sorted(n for n in theirs if n.startswith(COVERED_PREFIXES) and n not in ours)
    print(f"\nnode_exporter families tidewatch lacks ({len(lacking)}): {', '.join(lacking)}")


def test_same_series_for_shared_families(
    both: tuple[dict[str, Family], dict[str, Family]],
) -> None:
    # Same label values too (device names, mount points, cpu ids), not only names.
    ours, theirs = both
    checked = 0
    for name in (
        "node_cpu_seconds",
        "node_filesystem_size_bytes",
        "node_disk_reads_completed",
        "node_network_receive_bytes",
        "node_network_mtu_bytes",
        "node_network_info",
        "node_uname_info",
        "node_os_info",
        "node_time_clocksource_current_info",
    ):
        if name in ours and name in theirs:
            assert set(ours[name].samples) == set(theirs[name].samples), name
            checked += 1
    assert checked >= 5


def _value(fams: dict[str, Family], family: str, sample: str, **labels: str) -> float:
    return fams[family].samples[(sample, frozenset(labels.items()))]


def test_comparable_values_are_close(both: tuple[dict[str, Family], dict[str, Family]]) -> None:
    ours, theirs = both
    exact = [
        ("node_memory_MemTotal_bytes", "node_memory_MemTotal_bytes"),
        ("node_boot_time_seconds", "node_boot_time_seconds"),
        ("node_filefd_maximum", "node_filefd_maximum"),
        ("node_entropy_pool_size_bits", "node_entropy_pool_size_bits"),
        ("node_timex_tick_seconds", "node_timex_tick_seconds"),
        ("node_timex_status", "node_timex_status"),
    ]
    for family, sample in exact:
        assert _value(ours, family, sample) == _value(theirs, family, sample), family

    assert (
        abs(
            _value(ours, "node_time_seconds", "node_time_seconds")
            - _value(theirs, "node_time_seconds", "node_time_seconds")
        )
        < 10
    )

    # CPU counters move at most a few seconds between the two scrapes.
    cpu = ours["node_cpu_seconds"].samples
    for key, value in cpu.items():
        other = theirs["node_cpu_seconds"].samples[key]
        assert abs(value - other) < 5.0, (key, value, other)

    # Filesystem size is fixed; free space may move a little.
    for key, value in ours["node_filesystem_size_bytes"].samples.items():
        assert theirs["node_filesystem_size_bytes"].samples[key] == value, key
    for key, value in ours["node_filesystem_files"].samples.items():
        assert theirs["node_filesystem_files"].samples[key] == value, key

    # Counters that only grow: ours was scraped first, so never ahead by more than noise.
    for family in ("node_disk_reads_completed", "node_network_receive_packets"):
        for key, value in ours.get(family, Family("", frozenset(), {})).samples.items():
            other = theirs[family].samples[key]
            assert value <= other + 1 and other - value < max(1000, 0.05 * other), (
                key,
                value,
                other,
            )

    for key, value in ours.get(
        "node_network_mtu_bytes", Family("", frozenset(), {})
    ).samples.items():
        assert theirs["node_network_mtu_bytes"].samples[key] == value


def test_missing_binary_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        find_node_exporter()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        find_node_exporter()
