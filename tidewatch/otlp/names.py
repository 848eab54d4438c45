"""Prometheus names for OTLP metrics and attributes, as Prometheus's OTLP translator
builds them by default (``UnderscoreEscapingWithSuffixes``): invalid characters become
``_``, the unit becomes a suffix (``s`` -> ``_seconds``, ``By`` -> ``_bytes``,
``1`` -> ``_ratio`` for gauges), monotonic counters end in ``_total``.
"""

from __future__ import annotations

from functools import lru_cache

# OTLP (UCUM "c/s") units to Prometheus base-unit words.
UNIT_WORDS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
PER_UNIT_WORDS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}

COUNTER, GAUGE, HISTOGRAM, SUMMARY = "counter", "gauge", "histogram", "summary"


def _metric_char(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c == ":"


def _tokens(text: str) -> list[str]:
    """Runs of ``[a-zA-Z0-9:]``; everything else separates (so ``__`` collapses)."""
    out = "".join(c if _metric_char(c) else " " for c in text)
    return out.split()


def _clean_unit(unit: str) -> str:
    return "_".join(_tokens(unit))


def unit_suffixes(unit: str) -> tuple[str, str]:
    """(main unit word, ``per_<unit>`` word) for an OTLP unit; ``{...}`` annotations give none."""
    main_text, slash, per_text = unit.partition("/")
    main = ""
    main_text = main_text.strip()
    if main_text and "{" not in main_text and "}" not in main_text:
        main = UNIT_WORDS.get(main_text, main_text)
    per = ""
    if slash and per_text:
        per_text = per_text.strip()
        if per_text and "{" not in per_text and "}" not in per_text:
            per = PER_UNIT_WORDS.get(per_text, per_text)
        if per:
            per = "per_" + per
    return main, per


@lru_cache(maxsize=65536)
def metric_name(name: str, unit: str, kind: str, suffixes: bool = True) -> str:
    """The Prometheus metric family name; ``kind`` is COUNTER (monotonic sum), GAUGE, ...

    Without ``suffixes`` (UnderscoreEscapingWithoutSuffixes) only invalid characters
    are replaced. Returns "" when nothing valid is left (the caller drops the metric).
    """
    if not suffixes:
        out = "".join(c if _metric_char(c) or c == "_" else " " for c in name)
        out = "_".join(out.split())
        return "_" + out if out[:1].isdigit() else out
    tokens = _tokens(name)
    main, per = unit_suffixes(unit)
    main, per = _clean_unit(main), _clean_unit(per)
    if main in tokens:
        main = ""
    if per in tokens:
        per = ""
    if main:
        tokens.append(main)
    if per:
        tokens.append(per)
    if kind == COUNTER:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == GAUGE:
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    if out and out[0].isdigit():
        out = "_" + out
    if out.strip("_") == "":
        return ""
    return out


@lru_cache(maxsize=65536)
def label_name(key: str) -> str:
    """A valid Prometheus label name for an attribute key (``key_`` before a leading digit)."""
    if not key:
        return key
    out = "".join(
        c if (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c == "_") else "_"
        for c in key
    )
    if out[0].isdigit():
        return "key_" + out
    if out.startswith("_") and not out.startswith("__"):
        return "key" + out
    return out
