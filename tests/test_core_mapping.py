"""Mapping SCIM JSON through the description's JSONPath expressions."""

from __future__ import annotations

import pytest
from baton_scim.config import parse_config
from baton_scim.jsonpath import compile_path
from baton_scim.mapping import Mapper
from jsonpath_ng.ext import parse

from tests.conftest import GO_REFERENCE

DOCUMENT = {
    "id": "u1",
    "userName": "ann@example.com",
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [
        {"value": "home@example.org", "primary": False},
        {"value": "ann@example.com", "primary": True},
    ],
    "roles": [{"value": "admin", "display": "Workspace Admin"}, {"value": "member"}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
}

EXPRESSIONS = [
    "id",
    "name.givenName",
    "emails[0].value",
    "emails[1].primary",
    "emails[?(@.primary==true)].value",
    "emails[?(@.primary==false)].value",
    "roles[*].value",
    "missing.path",
    "emails[7].value",
    "name.givenName.deeper",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("prefix", ["", "$."])
def test_fast_paths_agree_with_jsonpath_ng(expression, prefix):
    ours = compile_path(prefix + expression).all(DOCUMENT)
    theirs = [m.value for m in parse(expression).find(DOCUMENT)]

    assert ours == theirs


def test_filter_works_with_and_without_root_prefix():
    plain = compile_path("emails[?(@.primary==true)].value")
    rooted = compile_path("$.emails[?(@.primary==true)].value")

    assert plain.first(DOCUMENT) == rooted.first(DOCUMENT) == "ann@example.com"


@pytest.fixture
def mapper() -> Mapper:
    text = (GO_REFERENCE / "config.yaml").read_text().replace("PORT", "1")
    return Mapper(parse_config(text, source="config.yaml"))


def test_primary_email_falls_back_to_the_first_email(mapper):
    user = mapper.user({"id": "u2", "emails": [{"value": "only@example.com"}]})

    assert user is not None and user.email == "only@example.com"


def test_missing_attributes_map_to_empty(mapper):
    user = mapper.user({"id": "u3"})

    assert user is not None
    assert (user.first_name, user.last_name, user.email, user.roles) == ("", "", "", [])
    assert user.active is True and user.display_name == ""


def test_user_without_an_id_is_skipped(mapper):
    assert mapper.user({"userName": "ghost"}) is None


@pytest.mark.parametrize(
    ("value", "active"),
    [(False, False), ("false", False), ("False", False), (0, False), ("true", True)],
)
def test_active_is_coerced_when_its_meaning_is_certain(mapper, value, active):
    user = mapper.user({"id": "u4", "active": value})

    assert user is not None and user.active is active


def test_numeric_ids_become_text(mapper):
    user = mapper.user({"id": 1234, "userName": "n"})
    group = mapper.group({"id": 99.0, "displayName": "G", "members": [{"value": 7}]})

    assert user is not None and user.id == "1234"
    assert group is not None and group.id == "99" and group.members[0].id == "7"


def test_null_lists_map_to_empty(mapper):
    user = mapper.user({"id": "u5", "roles": None, "emails": None})
    group = mapper.group({"id": "g", "displayName": "G", "members": None})

    assert user is not None and user.roles == [] and user.email == ""
    assert group is not None and group.members == []


def test_roles_keep_value_and_display(mapper):
    user = mapper.user(DOCUMENT)

    assert user is not None
    assert [(r.value, r.display, r.id) for r in user.roles] == [
        ("admin", "Workspace Admin", "workspace_admin"),
        ("member", None, "member"),
    ]
