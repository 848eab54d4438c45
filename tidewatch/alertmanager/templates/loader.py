"""The notification templates: Alertmanager's defaults plus the user's files
(``templates:`` globs in ``alertmanager.yml``), parsed once into a text template
(missing keys print as zero values) and an HTML-escaping one for e-mail bodies."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tidewatch.alertmanager.templates.default_tmpl import DEFAULT_TMPL
from tidewatch.alertmanager.templates.email_tmpl import EMAIL_TMPL
from tidewatch.templating import SafeHTML, Template, alertmanager_funcs
from tidewatch.templating.values import html_text_escape

_URL_KEEP = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!#$&*+,/:;=?@[]%"
)
_SAFE_SCHEMES = ("http", "https", "mailto")


def url_attr(value: Any) -> SafeHTML:
    """A URL as Go's ``html/template`` writes it into an ``href``: unsafe schemes
    become ``#ZgotmplZ``, other bytes are percent-encoded, then HTML-escaped."""
    s = "" if value is None else str(value)
    scheme, sep, _ = s.partition(":")
    if sep and "/" not in scheme and scheme.lower() not in _SAFE_SCHEMES:
        return SafeHTML("#ZgotmplZ")
    out = []
    for b in s.encode():
        c = chr(b)
        out.append(c if b < 0x80 and c in _URL_KEEP else f"%{b:02x}")
    return SafeHTML(html_text_escape("".join(out)))


def strip_html_comments(text: str) -> str:
    """Go's ``html/template`` drops ``<!-- -->`` comments from template text."""
    out = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _funcs() -> dict[str, Any]:
    funcs = alertmanager_funcs()
    funcs["__urlAttr"] = url_attr
    return funcs


class NotificationTemplates:
    """Parsed once per configuration; executing is cheap and thread-safe."""

    def __init__(self, paths: Iterable[str] = (), external_url: str = "") -> None:
        # Alertmanager prints the URL without a trailing slash ("…/#/alerts" follows).
        self.external_url = external_url.rstrip("/")
        self.text = Template("", _funcs(), missingkey_zero=True)
        self.html = Template("", _funcs(), missingkey_zero=True, autoescape=True)
        texts = [DEFAULT_TMPL, EMAIL_TMPL]
        for pattern in paths:
            # As Alertmanager: a glob matching nothing is fine (files may come later).
            for file in sorted(glob.glob(pattern)):
                texts.append(Path(file).read_text(encoding="utf-8"))
        for text in texts:
            self.text.parse(text)
            self.html.parse(strip_html_comments(text))

    def execute_text(self, text: str, data: Any) -> str:
        """Alertmanager's ``ExecuteTextString``."""
        return self.text.execute_string(text, data)

    def execute_html(self, text: str, data: Any) -> str:
        """Alertmanager's ``ExecuteHTMLString``."""
        return self.html.execute_string(text, data)
