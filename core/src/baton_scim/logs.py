"""Logging: console or JSON lines on stderr, with secrets redacted.

Every log record passes through a filter that replaces each known secret
value (tokens, keys, passwords, client secrets, obtained access tokens)
with ``[redacted]`` in the message, its arguments and any traceback text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
# Shorter values are not redacted: they would blank out ordinary words.
MIN_SECRET_LENGTH = 4
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class Redactor(logging.Filter):
    """Scrubs registered secret values from every record."""

    def __init__(self) -> None:
        super().__init__()
        # Longest first, so that a secret holding another is replaced whole.
        self._secrets: tuple[str, ...] = ()

    def add(self, *values: str | None) -> None:
        """Register secret values; very short ones would redact ordinary words."""
        fresh = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
        if fresh - set(self._secrets):
            known = set(self._secrets) | fresh
            # One assignment: a record filtered meanwhile sees old or new.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def __contains__(self, value: str) -> bool:
        return value in self._secrets

    def scrub(self, text: str) -> str:
        """The text with every registered secret replaced by ``[redacted]``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


redactor = Redactor()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text or record.exc_info:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


def level_of(name: str) -> int:
    """The logging level for a --log-level value."""
    return _LEVELS.get(name.lower(), logging.INFO)


def setup_logging(level: str, fmt: str, handler: logging.Handler | None = None) -> None:
    """Send baton_scim logs to stderr in the chosen format and level."""
    root = logging.getLogger("baton_scim")
    root.setLevel(level_of(level))
    root.propagate = False
    for old in list(root.handlers):
        root.removeHandler(old)

    handler = handler or logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif handler.formatter is None:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s")
        )
    handler.addFilter(redactor)
    root.addHandler(handler)
    # Whatever our level: httpx logs full URLs at INFO and httpcore logs
    # response headers at DEBUG, outside our redacting handler; our client
    # logs each request itself.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
