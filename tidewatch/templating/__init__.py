"""Go ``text/template`` for Python values, with Prometheus's and Alertmanager's function sets.

Used for alert labels and annotations, notification templates and LogQL
``line_format`` / ``label_format``.
"""

from tidewatch.templating.alertmanager import KV as KV
from tidewatch.templating.alertmanager import Alert, Alerts, Data, Pair, Pairs, alertmanager_funcs
from tidewatch.templating.errors import TemplateError
from tidewatch.templating.gofmt import render_go_value, sprint, sprintf
from tidewatch.templating.gotime import GoDuration, go_time_format, go_time_string
from tidewatch.templating.prometheus import (
    AlertTemplateData,
    Sample,
    expand_alert_template,
    prometheus_funcs,
)
from tidewatch.templating.template import Template, execute_text
from tidewatch.templating.values import MISSING, is_true

__all__ = [
    "KV",
    "MISSING",
    "Alert",
    "AlertTemplateData",
    "Alerts",
    "Data",
    "GoDuration",
    "Pair",
    "Pairs",
    "Sample",
    "Template",
    "TemplateError",
    "alertmanager_funcs",
    "execute_text",
    "expand_alert_template",
    "go_time_format",
    "go_time_string",
    "is_true",
    "prometheus_funcs",
    "render_go_value",
    "sprint",
    "sprintf",
]
