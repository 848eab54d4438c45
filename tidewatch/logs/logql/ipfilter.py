"""``ip("...")`` matching: a single address, a CIDR, or a ``first-last`` range (v4 or v6)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import re2

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address

# Candidate addresses inside a line: runs of the characters an IPv4/IPv6 text uses.
_CANDIDATES = re2.compile(r"[0-9a-fA-F:.]+")


class IPPatternError(ValueError):
    pass


def parse_ip_pattern(pattern: str) -> Callable[[IPAddr], bool]:
    text = pattern.strip()
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return lambda a: a.version == net.version and a in net
        if "-" in text:
            lo_s, hi_s = text.split("-", 1)
            lo = ipaddress.ip_address(lo_s.strip())
            hi = ipaddress.ip_address(hi_s.strip())
            if lo.version != hi.version or lo > hi:  # type: ignore[operator]
                raise ValueError(text)
            return lambda a: a.version == lo.version and lo <= a <= hi  # type: ignore[operator]
        one = ipaddress.ip_address(text)
        return lambda a: a == one
    except ValueError:
        raise IPPatternError(f'ip: invalid pattern "{pattern}"') from None


def parse_address(text: str) -> IPAddr | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def line_has_ip(line: str, pred: Callable[[IPAddr], bool]) -> bool:
    """Whether any address-looking token of ``line`` satisfies ``pred``."""
    for cand in _CANDIDATES.findall(line):
        if "." not in cand and ":" not in cand:
            continue
        addr = parse_address(cand.strip(".:"))
        if addr is None and ":" in cand:
            # "10.0.0.1:8080": try the v4 part before a port.
            addr = parse_address(cand.split(":", 1)[0])
        if addr is not None and pred(addr):
            return True
    return False
