"""The first admin: created on the first start with auth on, printed once.

The password comes from ``TIDEWATCH_ADMIN_PASSWORD`` when set (never printed), else it
is generated and written once to the terminal (not the log: logs are shipped and
kept). Only the scrypt hash is stored, so it can never be shown again.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping

from tidewatch.users.passwords import generate_password
from tidewatch.users.roles import Role
from tidewatch.users.store import UserStore

log = logging.getLogger(__name__)

ADMIN_PASSWORD_ENV = "TIDEWATCH_ADMIN_PASSWORD"
FIRST_ADMIN_NAME = "admin"


def _print_to_terminal(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def ensure_first_admin(
    store: UserStore,
    *,
    env: Mapping[str, str] | None = None,
    announce: Callable[[str], None] = _print_to_terminal,
) -> bool:
    """Create user ``admin`` when the store has no users; True when it did."""
    if store.has_users():
        return False
    env = os.environ if env is None else env
    password = env.get(ADMIN_PASSWORD_ENV, "")
    if password:
        store.create_user(FIRST_ADMIN_NAME, password, Role.ADMIN)
        log.info("created user %r with the password from %s", FIRST_ADMIN_NAME, ADMIN_PASSWORD_ENV)
        return True
    password = generate_password()
    store.create_user(FIRST_ADMIN_NAME, password, Role.ADMIN)
    log.info(
        "created user %r with a generated password (shown once on the terminal)", FIRST_ADMIN_NAME
    )
    announce(
        "\n"
        f"tidewatch: created the first user {FIRST_ADMIN_NAME!r} with password:\n\n"
        f"    {password}\n\n"
        "This is shown once and stored only as a hash. Sign in and change it, or set\n"
        f"{ADMIN_PASSWORD_ENV} before the first start next time.\n\n"
    )
    return True
