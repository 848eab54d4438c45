"""Users, roles, API tokens and login sessions, kept in SQLite under ``<data dir>/ui/``."""
