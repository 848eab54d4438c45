"""How one notification attempt fails: whether retrying may help, and the reason
label Alertmanager puts on ``alertmanager_notifications_failed_total``."""

from __future__ import annotations

OTHER = "other"
CLIENT_ERROR = "clientError"
SERVER_ERROR = "serverError"
CANCELED = "contextCanceledOrDeadlineExceeded"


class NotifyError(Exception):
    def __init__(self, message: str, *, retry: bool, reason: str = OTHER) -> None:
        super().__init__(message)
        self.retry = retry
        self.reason = reason


def reason_for_status(status: int) -> str:
    if 400 <= status < 500:
        return CLIENT_ERROR
    if 500 <= status < 600:
        return SERVER_ERROR
    return OTHER


def check_status(status: int, body: str, retry_codes: tuple[int, ...] = ()) -> None:
    """Alertmanager's ``Retrier.Check``: 2xx succeeds, 5xx (and ``retry_codes``) retry."""
    if status // 100 == 2:
        return
    retry = status // 100 == 5 or status in retry_codes
    message = f"unexpected status code {status}"
    if body:
        message += f": {body}"
    raise NotifyError(message, retry=retry, reason=reason_for_status(status))
