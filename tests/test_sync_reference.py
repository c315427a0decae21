"""Compatibility with the Go connector: same objects from the same directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import GO_REFERENCE
from tests.support.cli import run_cli
from tests.support.fake_scim import FakeScim
from tests.support.snapshot import snapshot

# The Go connector's sync was made with this token, two items per page.
TOKEN = "ref-token"


@pytest.fixture
def reference_sync(tmp_path: Path, reference_directory, reference_config) -> Path:
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(users, groups, token=TOKEN) as server:
        config = reference_config(server.url)
        out = tmp_path / "sync.c1z"
        result = run_cli(
            "--scim-config",
            str(config),
            "--api-key",
            TOKEN,
            "--page-size",
            "2",
            "-f",
            str(out),
        )
        assert result.exit_code == 0, result.output
    return out


def test_reference_directory_gives_the_go_connectors_objects(reference_sync):
    ours = snapshot(reference_sync)
    theirs = snapshot(GO_REFERENCE / "sync.c1z")

    for kind in ("resource_types", "resources", "entitlements", "grants"):
        assert ours[kind] == theirs[kind], kind


def test_reference_counts_match_baton_stats(reference_sync):
    ours = snapshot(reference_sync)

    # baton-stats.txt of the fixture: 3 types, 16 resources, 9, 14.
    assert len(ours["resource_types"]) == 3
    assert len(ours["resources"]) == 16
    assert len(ours["entitlements"]) == 9
    assert len(ours["grants"]) == 14


def test_primary_email_filter_works_without_dollar_prefix(reference_sync):
    # Alice's first email is personal; her primary one is the work address.
    resources = {r[1]: r for r in snapshot(reference_sync)["resources"]}
    alice = dict(resources["2819c223-7f76-453a-919d-413861904646"][3])

    assert dict(alice["emails"][0])["address"] == "alice@example.com"


def test_user_without_name_or_emails_still_syncs(tmp_path, reference_config):
    users = [
        {"id": "u1", "userName": "bare", "active": True},
        {"id": "u2", "userName": "named", "name": {"givenName": "Ann"}},
    ]
    with FakeScim(users, [], token=TOKEN) as server:
        out = tmp_path / "sync.c1z"
        result = run_cli(
            "--scim-config",
            str(reference_config(server.url)),
            "--api-key",
            TOKEN,
            "-f",
            str(out),
        )
    assert result.exit_code == 0, result.output

    shown = {r[1]: r[2] for r in snapshot(out)["resources"]}
    assert shown == {"u1": "bare", "u2": "Ann"}
