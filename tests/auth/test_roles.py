"""Which role each request needs."""

from __future__ import annotations

import pytest

from tidewatch.users.roles import Principal, Role, required_role


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/-/healthy", None),
        ("GET", "/-/ready", None),
        ("HEAD", "/-/healthy", None),
        ("POST", "/-/healthy", Role.EDITOR),
        ("GET", "/login", None),
        ("POST", "/api/tidewatch/auth/login", None),
        ("GET", "/static/app.js", None),
        ("GET", "/ui/assets/index.js", None),
        ("GET", "/api/health", None),
        ("POST", "/api/v1/read", Role.VIEWER),
        ("POST", "/loki/api/v1/label/job/values", Role.VIEWER),
        ("POST", "/loki/api/v1/delete", Role.ADMIN),
        ("POST", "/api/dashboards/db", Role.EDITOR),
        ("DELETE", "/api/dashboards/uid/x", Role.EDITOR),
        ("GET", "/api/dashboards/uid/x", Role.VIEWER),
        ("GET", "/", Role.VIEWER),
        ("GET", "/api/v1/query", Role.VIEWER),
        ("POST", "/api/v1/query", Role.VIEWER),
        ("POST", "/api/v1/query_range", Role.VIEWER),
        ("POST", "/api/v1/series", Role.VIEWER),
        ("POST", "/loki/api/v1/query_range", Role.VIEWER),
        ("GET", "/api/v2/silences", Role.VIEWER),
        ("POST", "/api/v2/silences", Role.EDITOR),
        ("DELETE", "/api/v2/silence/abc", Role.EDITOR),
        ("POST", "/api/v1/write", Role.EDITOR),
        ("POST", "/loki/api/v1/push", Role.EDITOR),
        ("POST", "/api/v1/otlp/v1/metrics", Role.EDITOR),
        ("POST", "/-/reload", Role.ADMIN),
        ("PUT", "/-/reload", Role.ADMIN),
        ("POST", "/api/v1/admin/tsdb/snapshot", Role.ADMIN),
        ("GET", "/api/tidewatch/auth/users", Role.ADMIN),
        ("GET", "/api/tidewatch/auth/tokens", Role.ADMIN),
        ("DELETE", "/api/tidewatch/auth/tokens/x", Role.ADMIN),
        ("GET", "/api/tidewatch/auth/session", Role.VIEWER),
        ("POST", "/api/tidewatch/auth/logout", Role.VIEWER),
    ],
)
def test_required_role(method: str, path: str, needed: Role | None) -> None:
    assert required_role(method, path) == needed


def test_roles_are_ordered() -> None:
    viewer = Principal("v", Role.VIEWER, "token")
    assert viewer.may(None) and viewer.may(Role.VIEWER)
    assert not viewer.may(Role.EDITOR)
    assert Principal("a", Role.ADMIN, "session").may(Role.EDITOR)
    assert Role.parse(" Editor ") is Role.EDITOR
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("root")
