"""What the fast sync path keeps: reproducible rows and provider mapping hooks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from baton_scim.c1z import C1zReader
from baton_scim.hookspecs import hookimpl
from baton_scim.plugins import Registry
from baton_scim.provider import Credentials, Provider, read_file_description
from baton_scim.records import GroupRecord, UserRecord
from baton_scim.runtime import prepare
from baton_scim.settings import Settings
from baton_scim.sync import sync_into
from pydantic import SecretStr

from tests.support.cli import run_cli
from tests.support.fake_scim import FakeScim

TOKEN = "ref-token"
TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")


def _rows(path: Path) -> dict[str, dict[str, bytes]]:
    with C1zReader(path) as reader:
        sync_id = reader.latest_sync_id()
        return {
            table: {
                external_id: bytes(data)
                for external_id, data in reader.connection.execute(
                    f"select external_id, data from {table} where sync_id = ?",
                    (sync_id,),
                )
            }
            for table in TABLES
        }


def test_same_directory_gives_byte_identical_rows(
    reference_directory, reference_config, tmp_path
):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    outs = [tmp_path / "first.c1z", tmp_path / "second.c1z"]
    with FakeScim(users, groups, token=TOKEN) as server:
        config = reference_config(server.url)
        for out in outs:
            result = run_cli(
                "--scim-config", str(config), "--api-key", TOKEN, "-f", str(out)
            )
            assert result.exit_code == 0, result.output

    first, second = (_rows(out) for out in outs)

    assert first["v1_grants"]  # the directory has memberships and roles
    assert first == second


class RenamingHooks:
    """A provider plugin that maps users and groups its own way."""

    @hookimpl
    def baton_scim_map_user(
        self, provider: Any, resource: dict[str, Any]
    ) -> UserRecord | None:
        record = provider.mapper.user(resource)
        if record is not None:
            record.display_name = f"hooked {record.user_name}"
        return record

    @hookimpl
    def baton_scim_map_group(
        self, provider: Any, resource: dict[str, Any]
    ) -> GroupRecord | None:
        record = provider.mapper.group(resource)
        if record is not None:
            record.members = []
        return record


def test_provider_mapping_hooks_decide_the_records(
    reference_directory, reference_config, tmp_path
):
    provider = Provider(
        name="custom",
        description="custom provider with its own mapping",
        load_description=read_file_description,
        source="test",
        hooks=RenamingHooks(),
        needs_scim_config=True,
    )
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(users, groups, token=TOKEN) as server:
        settings = Settings(
            scim_config=reference_config(server.url),
            credentials=Credentials(api_key=SecretStr(TOKEN)),
            file=tmp_path / "sync.c1z",
        )
        context = prepare(settings, Registry({"custom": provider}))
        summary = asyncio.run(sync_into(context, settings))

    with C1zReader(settings.file) as reader:
        shown = [r.display_name for r in reader.resources(resource_type="user")]
        group_grants = list(reader.grants(resource=("group", "g-eng")))
    assert shown and all(name.startswith("hooked ") for name in shown)
    # g-eng lists members; the hook dropped them, so no membership is written.
    assert summary.memberships == 0 and group_grants == []
