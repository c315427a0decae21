"""Errors raised by the c1z package.

C1zError
    Raised for a file that cannot be read or extended (wrong magic, broken
    zstd payload, not an SQLite database), for objects that break a rule
    of the format, and for misuse of a writer (adding rows before start).
"""


class C1zError(Exception):
    """A c1z file or one of its objects cannot be processed."""
