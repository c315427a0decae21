"""Read and write Baton c1z sync files (version 1: zstd-compressed SQLite)."""

from . import messages
from .errors import C1zError
from .ksuid import new_ksuid
from .reader import C1zReader, SyncRun
from .writer import C1zWriter

__all__ = [
    "C1zError",
    "C1zReader",
    "C1zWriter",
    "SyncRun",
    "messages",
    "new_ksuid",
]
