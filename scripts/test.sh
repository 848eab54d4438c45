#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs
# ruff, mypy and pytest. `.ci/run` runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests compare against (Prometheus, node_exporter).
apt_packages=(
    prometheus prometheus-node-exporter prometheus-alertmanager prometheus-pushgateway chromium
    victoria-metrics
)
# Node runs the real npm Loki clients in tests/logs/clients.
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages start their services; tests run their own copies on free ports.
for svc in prometheus prometheus-node-exporter prometheus-alertmanager prometheus-pushgateway; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

# Real npm Loki clients (winston-loki, pino-loki) for tests/logs/clients, pinned by its
# package-lock.json and installed under build/ so node_modules stays out of the tree.
mkdir -p build/log-clients
cp tests/logs/clients/package.json tests/logs/clients/package-lock.json build/log-clients/
(cd build/log-clients && npm ci --no-audit --no-fund --loglevel=error)

python3 -m ruff check tidewatch tests bench
python3 -m ruff format --check tidewatch tests bench
python3 -m mypy
python3 -m pytest "$@"
