"""The one error type for every configuration problem: it names the file, the line
and the field, so `tidewatch check config` and start-up failures point at the fix."""

from __future__ import annotations


class ConfigError(Exception):
    """``str(e) == "<file>:<line>: <field.path>: <message>"``.

    ``line`` is 1-based; 0 means the problem has no single line (a command-line flag,
    a missing file). ``field`` is a dotted path such as ``scrape_configs[0].scrape_interval``
    and may be empty for problems with the document as a whole.
    """

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"

    def __str__(self) -> str:
        return self._render()


class ReloadRefused(Exception):
    """A new configuration (or a file it names) was refused; the running one stays."""
