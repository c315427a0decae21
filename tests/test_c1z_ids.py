"""Sync ids (KSUIDs) and the timestamp text of c1z files."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from baton_scim.c1z import new_ksuid
from baton_scim.c1z.schema import format_timestamp, parse_timestamp

NEW_YEAR_2025 = datetime(2025, 1, 1, tzinfo=UTC)


def test_ksuid_matches_the_documented_example() -> None:
    ksuid = new_ksuid(NEW_YEAR_2025, bytes(range(16)))

    assert ksuid == "2r0IWs8Hwfpd89wQSKKQEF8IfFv"


def test_ksuid_is_27_base62_characters_and_random_by_default() -> None:
    first, second = new_ksuid(), new_ksuid()

    assert len(first) == 27 and first.isalnum() and first.isascii()
    assert first != second


def test_ksuids_of_later_seconds_sort_later() -> None:
    payload = b"\xff" * 16

    earlier = new_ksuid(NEW_YEAR_2025, payload)
    later = new_ksuid(NEW_YEAR_2025 + timedelta(seconds=1), bytes(16))

    assert earlier < later


def test_ksuid_rejects_a_payload_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        new_ksuid(NEW_YEAR_2025, b"short")


def test_ksuid_rejects_times_before_its_epoch() -> None:
    with pytest.raises(ValueError, match="outside"):
        new_ksuid(datetime(2014, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 1, 1, tzinfo=UTC), "2025-01-01 00:00:00"),
        (datetime(2025, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), "2025-01-01 00:00:01.5"),
        (datetime(2025, 1, 1, 0, 0, 1, 120, tzinfo=UTC), "2025-01-01 00:00:01.00012"),
        (datetime(2025, 1, 1, 0, 0, 1, 123456), "2025-01-01 00:00:01.123456"),
    ],
)
def test_timestamp_text_has_no_trailing_zeros(moment: datetime, text: str) -> None:
    assert format_timestamp(moment) == text


def test_timestamp_text_is_utc() -> None:
    berlin_noon = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    assert format_timestamp(berlin_noon) == "2025-06-01 10:00:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 16:22:48.301136094", datetime(2026, 12, 3, 16, 22, 48, 301136)),
        ("2025-01-01 00:00:01.5", datetime(2025, 1, 1, 0, 0, 1, 500000)),
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1)),
        ("2025-01-01 02:00:00+02:00", datetime(2025, 1, 1)),
        ("2025-01-01 00:00", datetime(2025, 1, 1)),
        ("2025-01-01", datetime(2025, 1, 1)),
    ],
)
def test_stored_timestamps_parse_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected.replace(tzinfo=UTC)


def test_epoch_numbers_are_not_timestamps() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("1735689600")
