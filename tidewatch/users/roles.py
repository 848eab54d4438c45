"""Roles and which role each HTTP request needs.

viewer < editor < admin. Viewers read everything (including POSTed queries);
editors also write (silences, dashboards, pushed samples and logs); admins also
manage users and tokens, reload the config and use the admin APIs.
"""

from __future__ import annotations

import enum


class Role(enum.IntEnum):
    VIEWER = 1
    EDITOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r} (viewer, editor or admin)") from None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Health checks stay open so load balancers and orchestrators can probe without
# credentials; they reveal nothing but "up". The login endpoints must be reachable
# before logging in, and UI assets carry no data.
OPEN_PATHS = frozenset({"/-/healthy", "/-/ready", "/api/health", "/login", "/favicon.ico"})
OPEN_PREFIXES = ("/ui/assets/", "/static/", "/assets/")
LOGIN_PATH = "/api/tidewatch/auth/login"

# POST endpoints that only read (Prometheus and Loki accept queries as forms).
READ_ONLY_POSTS = frozenset(
    {
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/query_exemplars",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/format_query",
        "/api/v1/parse_query",
        "/loki/api/v1/query",
        "/loki/api/v1/query_range",
        "/loki/api/v1/series",
        "/loki/api/v1/labels",
        "/loki/api/v1/label",
        "/api/v1/read",  # remote read: a POST that only reads
        "/loki/api/v1/index/stats",
        "/loki/api/v1/index/volume",
        "/loki/api/v1/index/volume_range",
        "/loki/api/v1/detected_fields",
        "/loki/api/v1/patterns",
        # What any signed-in user does to their own session.
        "/api/tidewatch/auth/logout",
        "/api/tidewatch/auth/password",
    }
)

# Everything under these needs admin, whatever the method.
ADMIN_PREFIXES = (
    "/api/v1/admin/",
    "/api/tidewatch/auth/users",
    "/api/tidewatch/auth/tokens",
)
# Deleting stored logs destroys data, like the TSDB admin APIs.
ADMIN_PATHS = frozenset({"/-/reload", "/-/quit", "/loki/api/v1/delete"})


def is_open(method: str, path: str) -> bool:
    if path == LOGIN_PATH:
        return True
    if method not in SAFE_METHODS:
        return False
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def required_role(method: str, path: str) -> Role | None:
    """The least role that may make this request; ``None`` when it is open to all."""
    if is_open(method, path):
        return None
    if path in ADMIN_PATHS or path.startswith(ADMIN_PREFIXES):
        return Role.ADMIN
    if method in SAFE_METHODS or path in READ_ONLY_POSTS:
        return Role.VIEWER
    if method == "POST" and path.startswith("/loki/api/v1/label/") and path.endswith("/values"):
        return Role.VIEWER
    return Role.EDITOR


class Principal:
    """Who made a request, and with what rights. ``via`` says how they proved it."""

    __slots__ = ("name", "role", "via")

    def __init__(self, name: str, role: Role, via: str) -> None:
        self.name = name
        self.role = role
        self.via = via  # "session", "token", "password", "web-config" or "anonymous"

    def may(self, needed: Role | None) -> bool:
        return needed is None or self.role >= needed

    def __repr__(self) -> str:
        return f"Principal({self.name!r}, {self.role.label}, via={self.via})"
