"""The c1z container: a 5-byte magic followed by zstd frames of an SQLite file.

Both directions stream through fixed-size buffers, so memory stays flat
however large the database grows (c1z-format.md §1).
"""

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from .errors import C1zError

logger = logging.getLogger(__name__)

MAGIC = b"C1ZF\x00"
SQLITE_HEADER = b"SQLite format 3\x00"
# Level 1 leaves a 100k-user database (276 MB) at 33.9 MB against 33.8 MB
# at level 2, in two thirds of the time; see benchmarks/README.md.
COMPRESSION_LEVEL = 1
# Compression workers: zstd splits the input into jobs and still writes one
# frame. Beyond four, the disk reads feeding it are the limit.
_MAX_WORKERS = 4

_CHUNK = 1 << 20
# Compressed input per step; SQLite pages shrink some 10-20 fold, so each
# step yields a few MiB of output at most in practice.
_COMPRESSED_CHUNK = 1 << 17
# A zstd frame header is at most 18 bytes; enough to read its parameters.
_FRAME_HEADER_MAX = 18
_SKIPPABLE_MAGIC = b"\x2a\x4d\x18"


@dataclass(frozen=True)
class FrameInfo:
    """Header facts of one zstd frame of a c1z payload."""

    skippable: bool
    window_size: int
    dict_id: int
    has_checksum: bool
    content_size: int | None


def write_c1z(database: Path, target: BinaryIO) -> int:
    """Write the magic and one zstd frame of `database`; return bytes written.

    Level 1 keeps the window at 512 KiB, far below the 128 MiB the Baton
    reader allows; no dictionary, content checksum on. With more than one
    CPU free, zstd compresses on several threads.
    """
    compressor = zstandard.ZstdCompressor(
        level=COMPRESSION_LEVEL, write_checksum=True, threads=_workers()
    )
    target.write(MAGIC)

    with database.open("rb") as source:
        _, written = compressor.copy_stream(source, target, read_size=_CHUNK)

    return len(MAGIC) + written


def _workers() -> int:
    """zstd worker threads: 0 compresses on the calling thread."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(cpus, _MAX_WORKERS)


def read_c1z(source: Path, database: Path) -> list[FrameInfo]:
    """Decompress the c1z at `source` into the file `database`.

    A zero-byte source gives an empty database file. Raises C1zError naming
    `source` for a wrong magic, a broken or truncated payload, or a payload
    that is not an SQLite database.
    """
    with source.open("rb") as raw, database.open("wb") as out:
        magic = raw.read(len(MAGIC))
        if magic and magic != MAGIC:
            raise C1zError(f"{source}: not a c1z file (starts with {magic!r})")

        frames = _decompress(raw, out, source)

    _check_sqlite(database, source)
    logger.debug("decompressed %s into %s (%d frames)", source, database, len(frames))
    return frames


def _decompress(raw: BinaryIO, out: BinaryIO, source: Path) -> list[FrameInfo]:
    splitter = _FrameSplitter(out)
    try:
        while chunk := raw.read(_COMPRESSED_CHUNK):
            splitter.feed(chunk)
    except zstandard.ZstdError as error:
        raise C1zError(f"{source}: broken zstd payload ({error})") from error

    if splitter.in_frame:
        raise C1zError(f"{source}: the zstd payload is truncated")
    return splitter.frames


class _FrameSplitter:
    """Feeds a payload frame by frame to zstd so a cut-off frame is noticed.

    The stream readers of `zstandard` end quietly at a truncated frame; a
    decompressor per frame reports `eof` only once its frame is complete.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        # libzstd's default window limit is 128 MiB, the limit of baton too.
        self._context = zstandard.ZstdDecompressor()
        self._decoder = self._context.decompressobj()
        self._head = b""
        self.frames: list[FrameInfo] = []

    @property
    def in_frame(self) -> bool:
        return bool(self._head)

    def feed(self, data: bytes) -> None:
        while data:
            if len(self._head) < _FRAME_HEADER_MAX:
                self._head += data[: _FRAME_HEADER_MAX - len(self._head)]
            self._out.write(self._decoder.decompress(data))
            if not self._decoder.eof:
                return

            data = self._decoder.unused_data
            self._end_frame()

    def _end_frame(self) -> None:
        self.frames.append(_frame_info(self._head))
        self._decoder = self._context.decompressobj()
        self._head = b""


def _frame_info(head: bytes) -> FrameInfo:
    if head[1:4] == _SKIPPABLE_MAGIC and head[0] & 0xF0 == 0x50:
        return FrameInfo(True, 0, 0, False, None)

    params = zstandard.get_frame_parameters(head)
    known = params.content_size != zstandard.CONTENTSIZE_UNKNOWN
    return FrameInfo(
        skippable=False,
        window_size=params.window_size,
        dict_id=params.dict_id,
        has_checksum=bool(params.has_checksum),
        content_size=params.content_size if known else None,
    )


def _check_sqlite(database: Path, source: Path) -> None:
    with database.open("rb") as db:
        header = db.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise C1zError(f"{source}: the payload is not an SQLite database")


def fsync_directory(directory: Path) -> None:
    """Persist a rename in `directory` (a no-op where directories cannot sync)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        logger.debug("cannot fsync directory %s", directory)
    finally:
        os.close(fd)


def remove_tree(path: Path | None) -> None:
    """Delete a temporary directory, ignoring one that is already gone."""
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
