"""Temporaries a killed writer left beside its output, found and removed.

A writer works in a hidden folder ``.<name>.<random>.tmp`` and publishes
through a hidden file of the same shape. An interrupted sync removes both;
a process killed outright (``kill -9``, a lost machine) cannot. Each
temporary is therefore claimed with an advisory lock for as long as its
writer lives, and the next writer of the same output removes those whose
claim has lapsed. A lock is released by the kernel when its process dies,
so a live sync's temporaries are never touched, whatever its age.

Only what this module can recognise goes: a folder holding the claim file
and nothing but a writer's files, or a file that is empty or starts with
the c1z magic. A young temporary is left alone too, since a writer claims
it a moment after creating it. Without ``fcntl`` (Windows) nothing is
claimed and nothing is swept.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import IO

from .container import MAGIC, remove_tree

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

CLAIM_NAME = "owner.lock"
# What a writer's folder may hold: the claim, the database, its compacted
# copy and SQLite's side files.
_WRITER_FILES = frozenset(
    {CLAIM_NAME, "sync.db", "compact.db", "sync.db-journal", "sync.db-wal"}
)
# Seconds between creating a temporary and claiming it, with a wide margin.
GRACE_SECONDS = 60.0


class Claim:
    """An exclusive advisory lock held on one file until released."""

    def __init__(self, handle: IO[bytes] | None) -> None:
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim_folder(folder: Path) -> Claim:
    """Claim a writer's folder through a lock file inside it.

    A folder whose file system refuses locks stays unclaimed; a sweep there
    cannot take the lock either, so it leaves the folder alone.
    """
    if fcntl is None:
        return Claim(None)
    handle = None
    try:
        handle = (folder / CLAIM_NAME).open("wb")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if handle is not None:
            handle.close()
        logger.debug("%s stays unclaimed: %s", folder, error)
        return Claim(None)
    return Claim(handle)


def claim_file(fd: int) -> None:
    """Claim an open file; the claim ends when the descriptor is closed."""
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        logger.debug("a temporary file stays unclaimed: %s", error)


def sweep(folder: Path, output_name: str) -> list[Path]:
    """Remove the lapsed temporaries of ``output_name`` in ``folder``."""
    if fcntl is None:
        return []
    removed = [path for path in _candidates(folder, output_name) if _remove(path)]
    if removed:
        names = ", ".join(path.name for path in removed)
        logger.info("removed what an interrupted sync left in %s: %s", folder, names)
    return removed


def _candidates(folder: Path, output_name: str) -> list[Path]:
    prefix = f".{output_name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return [
        Path(entry.path)
        for entry in entries
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp")
    ]


def _remove(path: Path) -> bool:
    try:
        if time.time() - path.lstat().st_mtime < GRACE_SECONDS:
            return False
        if path.is_dir() and not path.is_symlink():
            return _remove_folder(path)
        if path.is_file() and not path.is_symlink():
            return _remove_file(path)
    except OSError as error:
        logger.debug("left %s in place: %s", path, error)
    return False


def _remove_folder(folder: Path) -> bool:
    names = {entry.name for entry in os.scandir(folder)}
    if CLAIM_NAME not in names or not names <= _WRITER_FILES:
        return False
    with (folder / CLAIM_NAME).open("rb") as handle:
        if not _lapsed(handle):
            return False
        remove_tree(folder)
    return True


def _remove_file(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(len(MAGIC))
        if head not in (b"", MAGIC) or not _lapsed(handle):
            return False
        path.unlink()
    return True


def _lapsed(handle: IO[bytes]) -> bool:
    """True when nobody holds the claim: its writer is gone."""
    assert fcntl is not None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live writer, or no locks on this file system
        return False
    return True
