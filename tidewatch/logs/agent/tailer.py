"""Reading one log file as it grows, across rotations.

Polling, not inotify: each poll reads what was appended since the last one (in large
blocks, split into lines in one go). A size below the read position means the file
was truncated in place (copytruncate): reading restarts at 0. A path that now names
another inode (rename-and-create) or nothing (deleted) means this file is finished:
its last bytes are drained, and the runner opens whatever the path names now.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # a "line" without a newline is cut here, so memory stays bounded


@dataclass
class ReadResult:
    lines: list[str]
    nbytes: int  # bytes consumed by these lines
    offset: int  # where the next run resumes once these lines are delivered
    truncated: bool = False
    finished: str = ""  # "", "rotated" or "deleted"


class FileTailer:
    def __init__(
        self, path: str, labels: dict[str, str], offset: int, encoding: str = "utf-8"
    ) -> None:
        self.path = path
        self.labels = labels
        self.encoding = encoding
        self.offset = offset  # end of the last complete line read
        self._fh: BinaryIO | None = None
        self.ident: tuple[int, int] = (0, 0)
        self._buf = b""
        self.size = 0
        self.last_ts = 0
        self.finished = ""

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    def open(self) -> bool:
        """Open at the saved offset (0 if the file is now shorter: it was truncated)."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open across polls
        except OSError:
            return False
        st = os.fstat(fh.fileno())
        self.ident = (st.st_ino, st.st_dev)
        self.size = st.st_size
        if self.offset > st.st_size:
            self.offset = 0
        fh.seek(self.offset)
        self._fh = fh
        self._buf = b""
        return True

    def reposition(self, offset: int) -> None:
        """Continue an open file from ``offset`` (a renamed file already read that far)."""
        if self._fh is not None and offset <= self.size:
            self._fh.seek(offset)
            self.offset = offset
            self._buf = b""

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _split(self, data: bytes, final: bool) -> tuple[list[str], int]:
        buf = self._buf + data if self._buf else data
        cut = buf.rfind(b"\n")
        if final:
            complete, rest = buf, b""
        elif cut < 0:
            if len(buf) <= MAX_LINE_BYTES:
                self._buf = buf
                return [], 0
            complete, rest = buf + b"\n", b""
        else:
            complete, rest = buf[: cut + 1], buf[cut + 1 :]
            if len(rest) > MAX_LINE_BYTES:
                complete, rest = buf + b"\n", b""
        self._buf = rest
        if not complete:
            return [], 0
        text = complete.decode(self.encoding, "replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        consumed = len(buf) - len(rest)
        self.offset += consumed
        return lines, consumed

    def poll(self, budget: int) -> ReadResult:
        """Read up to ``budget`` bytes of complete lines; detect truncation and rotation."""
        fh = self._fh
        if fh is None:
            return ReadResult([], 0, self.offset)
        st = os.fstat(fh.fileno())
        truncated = False
        read_pos = self.offset + len(self._buf)
        if st.st_size < read_pos:
            fh.seek(0)
            self.offset = 0
            self._buf = b""
            truncated = True
        self.size = st.st_size
        data = fh.read(budget)
        if data:
            lines, nbytes = self._split(data, final=False)
            return ReadResult(lines, nbytes, self.offset, truncated)
        try:
            pst = os.stat(self.path)
            gone = ""
            if (pst.st_ino, pst.st_dev) != self.ident:
                gone = "rotated"
        except FileNotFoundError:
            gone = "deleted"
        if not gone:
            return ReadResult([], 0, self.offset, truncated)
        # The writer may have added a last line between our read and the rename.
        lines, nbytes = self._split(fh.read(), final=True)
        self.finished = gone
        self.close()
        return ReadResult(lines, nbytes, self.offset, truncated, gone)
