"""The hot-path getter of a JSONPath reads what ``first`` reads, everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from baton_scim.jsonpath import compile_path

EXPRESSIONS = [
    "id",
    "$.id",
    "name.givenName",
    "$.name.familyName",
    "emails[0].value",
    "emails[1].value",
    "meta.location.host",
    "emails[?(@.primary==true)].value",
    "$.emails[?(@.type=='work')].value",
    "emails[?(@.primary==true)]",
    "roles[*].value",
    "urn:example:ext.employeeNumber",
    "$",
]

DOCUMENTS: list[Any] = [
    {
        "id": "u1",
        "name": {"givenName": "Ann", "familyName": None},
        "emails": [
            {"value": "home@example.com", "type": "home"},
            {"value": "work@example.com", "type": "work", "primary": True},
        ],
        "roles": [{"value": "admin"}, {"value": "viewer"}],
        "meta": {"location": "https://example.com/Users/u1"},
        "urn:example:ext": {"employeeNumber": 7},
    },
    {"id": None, "name": "not an object", "emails": "not a list", "roles": None},
    {"emails": [None, "plain", {"primary": True}], "name": {}},
    {},
    ["a", "list"],
    "text",
    None,
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_getter_reads_what_first_reads(expression: str, document: Any) -> None:
    path = compile_path(expression)

    assert path.get(document) == path.first(document)


@pytest.mark.parametrize(
    ("expression", "plain"),
    [
        ("id", True),
        ("$.name.givenName", True),
        ("emails[0].value", True),
        ("$", True),
        ("emails[?(@.primary==true)].value", False),
        ("roles[*].value", False),
    ],
)
def test_plain_paths_are_the_ones_selecting_at_most_one_value(
    expression: str, plain: bool
) -> None:
    assert compile_path(expression).plain is plain
