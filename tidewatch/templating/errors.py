"""The one error type for template parse and execution failures."""

from __future__ import annotations


class TemplateError(Exception):
    """A parse or execution error; ``str()`` is Go's message, e.g.
    ``template: name:1:10: executing "name" at <.Foo>: ...``."""
