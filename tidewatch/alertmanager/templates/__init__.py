"""Notification templates: Alertmanager's default definitions, the user's template
files, and the data (``.Alerts``, ``.CommonLabels`` ...) they are executed with."""

from tidewatch.alertmanager.templates.data import go_time, group_status, template_data
from tidewatch.alertmanager.templates.loader import NotificationTemplates, url_attr

__all__ = ["NotificationTemplates", "go_time", "group_status", "template_data", "url_attr"]
