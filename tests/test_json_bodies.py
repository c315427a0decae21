"""Page bodies: the fast parser reads what the standard library reads."""

import json

import pytest
from baton_scim.http import parse_json

USER = {"id": "u1", "userName": "ann@example.com", "active": True, "emails": []}


def test_a_page_reads_the_same_as_with_the_standard_library():
    body = json.dumps({"totalResults": 1, "Resources": [USER], "ratio": 0.1}).encode()

    assert parse_json(body) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Beyond 64 bits: still an exact integer, never a float.
        (
            b'{"employeeNumber": 123456789012345678901234567890}',
            123456789012345678901234567890,
        ),
        (b'{"employeeNumber": NaN}', "nan"),
        ('{"employeeNumber": "7"}'.encode("utf-16"), "7"),
    ],
)
def test_what_the_fast_parser_refuses_is_still_read(body, expected):
    value = parse_json(body)["employeeNumber"]

    assert (str(value) if isinstance(value, float) else value) == expected


@pytest.mark.parametrize("body", [b"<html>sign in</html>", b'{"a": ', b""])
def test_what_is_not_json_raises_the_standard_library_error(body):
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_json(body)

    assert type(caught.value) is json.JSONDecodeError
