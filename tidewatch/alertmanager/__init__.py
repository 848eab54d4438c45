"""Alertmanager: configuration, routing, grouping, inhibition, silences and the
notification pipeline, compatible with Prometheus Alertmanager's files and decisions.

Modules, each with one job:

- ``config`` / ``globalcfg`` / ``receivers`` / ``timeinterval``: reading ``alertmanager.yml``
- ``matchers``: Alertmanager's matcher strings (``foo=~"a|b"``)
- ``route``: the routing tree, route keys and group keys
- ``alert`` / ``fingerprint`` / ``store``: alerts, their ids, the alert store
- ``silence``, ``inhibit``, ``nflog``: the muting and dedup stages (SQLite-backed)
- ``dispatch``: aggregation groups, timers and the flush pipeline
- ``service``: all of it wired under one data directory
- ``render``: the configuration with secrets masked, for the status API
"""
