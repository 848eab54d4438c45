"""The positions file: how far each file has been read and sent, in Promtail's format
(``positions: {<path>: "<offset>"}``), so a restart resumes where the last run stopped.

Offsets are recorded only after the lines before them were accepted by the sink, and
the file is replaced atomically (write, fsync, rename), so it is never half written.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import yaml

log = logging.getLogger(__name__)


class PositionsError(Exception):
    pass


class Positions:
    def __init__(self, path: str | Path | None, ignore_invalid_yaml: bool = False) -> None:
        self.path = Path(path) if path else None
        self.ignore_invalid_yaml = ignore_invalid_yaml
        self._offsets: dict[str, int] = {}
        self._other: dict[str, str] = {}
        self._dirty = False

    def load(self) -> None:
        """Read the file if it exists; a corrupt file is an error unless ignored."""
        if self.path is None or not self.path.exists():
            return
        try:
            doc = yaml.load(self.path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
            raw = (doc or {}).get("positions") or {}
            if not isinstance(raw, dict):
                raise ValueError("positions is not a mapping")
            self._offsets = {}
            self._other = {}
            for k, v in raw.items():
                text = str(v)
                if text.lstrip("-").isdigit():
                    self._offsets[str(k)] = int(text)
                else:  # Promtail's journal cursors and the like: kept as they are
                    self._other[str(k)] = text
        except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
            if not self.ignore_invalid_yaml:
                raise PositionsError(f"invalid positions file {self.path}: {exc}") from None
            log.warning("ignoring invalid positions file %s: %s", self.path, exc)
            self._offsets = {}

    def get(self, path: str) -> int:
        return self._offsets.get(path, 0)

    def has(self, path: str) -> bool:
        return path in self._offsets

    def put(self, path: str, offset: int) -> None:
        if self._offsets.get(path) != offset:
            self._offsets[path] = offset
            self._dirty = True

    def remove(self, path: str) -> None:
        if self._offsets.pop(path, None) is not None:
            self._dirty = True

    def snapshot(self) -> dict[str, int]:
        return dict(self._offsets)

    def save(self, force: bool = False) -> None:
        if self.path is None or not (self._dirty or force):
            return
        entries = dict(self._other)
        entries.update((k, str(v)) for k, v in self._offsets.items())
        body = {"positions": dict(sorted(entries.items()))}
        text = yaml.safe_dump(body, default_flow_style=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".positions-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._dirty = False
