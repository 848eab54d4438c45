"""Validation of on-disk blocks, so a damaged or foreign block is skipped at open
(with one clear error) instead of failing every query and compaction that touches it."""

from __future__ import annotations

import zstandard

from tidewatch.tsdb.block import Block
from tidewatch.tsdb.encoding import decode_frame

# Frame layout (encoding.encode_frame): an 11-byte "<IIBBB" header, then one zstd frame.
_FRAME_HEADER_BYTES = 11
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

ADVICE = (
    "it is damaged or was written by another (older) version; move the directory out of "
    "the data directory (or delete it), or re-import its data"
)


def block_problem(block: Block, deep: bool = False) -> str | None:
    """What is wrong with ``block``, or None when it reads.

    The quick check loads the index and the label table, checks that every chunk frame
    holds a zstd frame that records its size, and decodes the first and last frames;
    ``deep`` decodes every frame (used after a read already failed).
    """
    try:
        run = block.run
        if len(run.ids):
            block.label_of(0)
            block.label_of(len(run.ids) - 1)
        for k in range(run.nframes):
            frame = bytes(run.frame_bytes(k))
            zframe = frame[_FRAME_HEADER_BYTES:]
            if not zframe.startswith(_ZSTD_MAGIC):
                return f"chunk frame {k} is not a zstd frame"
            if zstandard.frame_content_size(zframe) < 0:
                return f"chunk frame {k} does not record its content size"
            if deep or k in (0, run.nframes - 1):
                decode_frame(frame)
    except Exception as exc:  # anything unreadable, whatever the library raises
        return f"{type(exc).__name__}: {exc}"
    return None
