"""Go ``text/template`` for Python values, with Prometheus's and Alertmanager's function sets.

Used for alert labels and annotations, notification templates and LogQL
``line_format`` / ``label_format``::

    t = Template("name", prometheus_funcs(), missingkey_zero=True).parse(text)
    t.execute(data)              # or t.execute(data, "a {{define}}d name")

Parse once and execute many times: a parse costs tens of microseconds more than a run.
Data is plain Python: dicts (``.key``; ``range`` sorts keys), lists, objects (attributes,
and methods called with the template's arguments), ``None`` as nil. Values print as Go
prints them (``render_go_value``). Errors raise :class:`TemplateError` with Go's text.
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
from tidewatch.templating.values import MISSING, SafeHTML, is_true

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
    "SafeHTML",
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
