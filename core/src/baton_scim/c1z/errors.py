"""Errors raised by the c1z package.

``C1zError`` is the project-wide error for a c1z file that cannot be read
or extended (wrong magic, broken zstd payload, not an SQLite database), for
objects that break a rule of the format, and for misuse of a writer.
"""

from ..errors import C1zError

__all__ = ["C1zError"]
