"""KSUIDs, the sync identifiers Baton uses (c1z-format.md §3.1).

A KSUID is 20 bytes: a 4-byte big-endian count of seconds since the KSUID
epoch, then 16 random bytes. Its text form is that 160-bit number in base 62,
left-padded with `0` to 27 characters, so ids sort by creation second.
"""

import os
from datetime import UTC, datetime

KSUID_EPOCH = 1_400_000_000
PAYLOAD_SIZE = 16
TEXT_SIZE = 27

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAX_SECONDS = 2**32 - 1


def new_ksuid(now: datetime | None = None, payload: bytes | None = None) -> str:
    """Return a KSUID for `now` (default: the current time, naive means UTC)."""
    if payload is None:
        payload = os.urandom(PAYLOAD_SIZE)
    if len(payload) != PAYLOAD_SIZE:
        raise ValueError(f"a KSUID payload has {PAYLOAD_SIZE} bytes")

    seconds = _seconds_since_epoch(now or datetime.now(UTC))
    number = int.from_bytes(seconds.to_bytes(4, "big") + payload, "big")

    return _base62(number).rjust(TEXT_SIZE, "0")


def _seconds_since_epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(moment.timestamp()) - KSUID_EPOCH
    if not 0 <= seconds <= _MAX_SECONDS:
        raise ValueError(f"{moment.isoformat()} is outside the KSUID time range")
    return seconds


def _base62(number: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_DIGITS[rest])
    return "".join(reversed(digits))
