"""Backup and restore of a data directory.

A backup has the data directory's own layout, so restoring is a copy. Blocks are
immutable and hard-linked (copied across file systems); WAL files are copied up to
the length they had at the snapshot instant. With a running :class:`TSDB`, head cuts,
compaction and retention are paused while files are taken, so the set is consistent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tidewatch.tsdb.block import is_block_dir

if TYPE_CHECKING:
    from tidewatch.tsdb.db import TSDB

Progress = Callable[[str, float], None]
MANIFEST = "tidewatch-backup.txt"
_COPY_CHUNK = 1 << 20


def _files(data_dir: Path) -> list[tuple[Path, int, bool]]:
    """``(relative path, bytes to take, is immutable)`` for everything worth keeping."""
    out: list[tuple[Path, int, bool]] = []
    for p in sorted(data_dir.iterdir()):
        if is_block_dir(p):
            for f in sorted(p.iterdir()):
                if f.is_file():
                    out.append((f.relative_to(data_dir), f.stat().st_size, True))
    wal = data_dir / "wal"
    if wal.is_dir():
        for f in sorted(wal.iterdir()):
            if f.is_file() and not f.name.endswith(".tmp"):
                out.append((f.relative_to(data_dir), f.stat().st_size, False))
    return out


def _copy_prefix(src: Path, dst: Path, length: int) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        left = length
        while left > 0:
            buf = fin.read(min(_COPY_CHUNK, left))
            if not buf:
                break
            fout.write(buf)
            left -= len(buf)
        fout.flush()
        os.fsync(fout.fileno())


def _take(
    src_dir: Path, dest: Path, files: list[tuple[Path, int, bool]], progress: Progress | None
) -> None:
    total = sum(size for _, size, _ in files) or 1
    done = 0
    for rel, size, immutable in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        linked = False
        if immutable:
            try:
                os.link(src_dir / rel, target)
                linked = True
            except OSError:
                linked = False
        if not linked:
            _copy_prefix(src_dir / rel, target, size)
        done += size
        if progress:
            progress("backup", done / total)


def _require_empty(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"backup destination {dest} is not empty")


def backup(
    src: TSDB | str | os.PathLike[str], dest_dir: str, progress: Progress | None = None
) -> None:
    """Snapshot a running TSDB (or a data directory no process is writing) into ``dest_dir``."""
    from tidewatch.tsdb.db import TSDB

    dest = Path(dest_dir)
    _require_empty(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if progress:
        progress("backup", 0.0)
    if isinstance(src, TSDB):
        with src.paused_maintenance():
            with src.head.lock:
                src.wal.sync()
                files = _files(src.path)
            _take(src.path, dest, files, progress)
        src_dir = src.path
    else:
        src_dir = Path(src)
        if not src_dir.is_dir():
            raise FileNotFoundError(f"no data directory at {src_dir}")
        _take(src_dir, dest, _files(src_dir), progress)
    with open(dest / MANIFEST, "w") as f:
        f.write(f"tidewatch tsdb backup of {src_dir.name}\n")
    if progress:
        progress("backup", 1.0)


@contextlib.contextmanager
def _staging(data_dir: Path) -> Iterator[Path]:
    staging = data_dir.with_name(data_dir.name + ".restoring")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def restore(
    backup_dir: str, data_dir: str, progress: Progress | None = None, overwrite: bool = False
) -> None:
    """Copy a backup into ``data_dir``; refuses a non-empty ``data_dir`` unless ``overwrite``."""
    src = Path(backup_dir)
    dest = Path(data_dir)
    if not (src / MANIFEST).exists() and not (src / "wal").is_dir():
        raise FileNotFoundError(f"{src} does not look like a tidewatch backup")
    if dest.exists() and any(dest.iterdir()) and not overwrite:
        raise FileExistsError(f"{dest} is not empty; pass overwrite to replace it")
    files = [(rel, size, False) for rel, size, _ in _files(src)]
    if progress:
        progress("restore", 0.0)
    with _staging(dest) as staging:
        total = sum(size for _, size, _ in files) or 1
        done = 0
        for rel, size, _ in files:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_prefix(src / rel, target, size)
            done += size
            if progress:
                progress("restore", done / total)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    if progress:
        progress("restore", 1.0)
