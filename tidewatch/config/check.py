"""``tidewatch check config FILE...``: what ``promtool check config`` does, for
tidewatch.yml and prometheus.yml alike. Loads each file, then checks the files it
names (TLS and credential files exist, file_sd files parse, rule file patterns match)."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable
from typing import TextIO

from tidewatch.config.errors import ConfigError
from tidewatch.config.file_sd import file_sd_paths, load_file_sd
from tidewatch.config.loader import load_config
from tidewatch.config.model import Config, HTTPClientConfig

# Given a rule file path, the problems found in it (the rules package provides one).
RuleChecker = Callable[[str], list[str]]


def check_config_files(
    paths: list[str], out: TextIO | None = None, rule_checker: RuleChecker | None = None
) -> int:
    """Check each file, print promtool-style results, return the exit code (0 = all good)."""
    stream = out if out is not None else sys.stdout
    failed = False
    for path in paths:
        stream.write(f"Checking {path}\n")
        try:
            cfg = load_config(path)
            warnings, problems = check_referenced_files(cfg, rule_checker)
        except ConfigError as exc:
            stream.write(f"  FAILED: {exc}\n\n")
            failed = True
            continue
        for warning in warnings:
            stream.write(f"  WARNING: {warning}\n")
        if problems:
            for problem in problems:
                stream.write(f"  FAILED: {problem}\n")
            failed = True
        else:
            stream.write(f" SUCCESS: {path} is valid tidewatch config file syntax\n")
        stream.write("\n")
    return 1 if failed else 0


def check_referenced_files(
    cfg: Config, rule_checker: RuleChecker | None = None
) -> tuple[list[str], list[str]]:
    """(warnings, problems) about the files a loaded config refers to."""
    warnings: list[str] = []
    problems: list[str] = []
    prom = cfg.prometheus
    rule_files: list[str] = []
    for pattern in prom.rule_files:
        matched = sorted(glob.glob(pattern))
        if not matched:
            warnings.append(f'no rule files match "{pattern}"')
        rule_files.extend(matched)
    if rule_checker is not None:
        for rule_file in rule_files:
            problems.extend(f"{rule_file}: {p}" for p in rule_checker(rule_file))
    for sc in prom.scrape_configs:
        problems.extend(_client_files(sc.http))
        for sd in sc.http_sd_configs:
            problems.extend(_client_files(sd.http))
        for fsd in sc.file_sd_configs:
            found = file_sd_paths(fsd)
            for pattern in fsd.files:
                if not glob.glob(pattern):
                    warnings.append(
                        f'file "{pattern}" for file_sd in scrape job "{sc.job_name}" does not exist'
                    )
            for path in found:
                try:
                    load_file_sd(path)
                except ConfigError as exc:
                    problems.append(f'checking SD file "{path}": {exc}')
    return warnings, problems


def _client_files(http: HTTPClientConfig) -> list[str]:
    checks = [
        ("CA file", http.tls_config.ca_file),
        ("client cert file", http.tls_config.cert_file),
        ("client key file", http.tls_config.key_file),
    ]
    if http.basic_auth is not None:
        checks.append(("password file", http.basic_auth.password_file))
        checks.append(("username file", http.basic_auth.username_file))
    if http.authorization is not None:
        checks.append(("credentials file", http.authorization.credentials_file))
    return [
        f'error checking {what} "{path}": no such file or directory'
        for what, path in checks
        if path and not os.path.exists(path)
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stderr.write("usage: python -m tidewatch.config FILE...\n")
        return 2
    return check_config_files(args)
