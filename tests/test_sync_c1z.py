"""The file a sync writes: Baton's MUSTs, and repeated syncs into one file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import zstandard
from baton_scim.c1z import C1zReader

from tests.support.cli import run_cli
from tests.support.fake_scim import FakeScim

TOKEN = "ref-token"
TRAIT_URLS = {
    "user": "type.googleapis.com/c1.connector.v2.UserTrait",
    "group": "type.googleapis.com/c1.connector.v2.GroupTrait",
    "role": "type.googleapis.com/c1.connector.v2.RoleTrait",
}


@pytest.fixture
def server(reference_directory):
    users, groups = reference_directory["Users"], reference_directory["Groups"]
    with FakeScim(users, groups, token=TOKEN) as fake:
        yield fake


def _sync(server, config: Path, out: Path) -> None:
    result = run_cli("--scim-config", str(config), "--api-key", TOKEN, "-f", str(out))
    assert result.exit_code == 0, result.output


def test_synced_file_meets_the_format_musts(server, reference_config, tmp_path):
    out = tmp_path / "sync.c1z"
    _sync(server, reference_config(server.url), out)
    raw = out.read_bytes()

    assert raw[:5] == b"C1ZF\x00"
    params = zstandard.get_frame_parameters(raw[5:])
    assert params.dict_id == 0 and params.window_size <= 128 * 1024 * 1024
    database = tmp_path / "db"
    database.write_bytes(
        zstandard.ZstdDecompressor().decompress(raw[5:], max_output_size=1 << 30)
    )
    assert database.read_bytes()[:16] == b"SQLite format 3\x00"
    _check_tables(sqlite3.connect(database))
    with C1zReader(out) as reader:
        _check_objects(reader)


def _check_tables(db: sqlite3.Connection) -> None:
    tables = {
        name
        for (name,) in db.execute("select name from sqlite_master where type='table'")
    }
    assert {
        "v1_resource_types",
        "v1_resources",
        "v1_entitlements",
        "v1_grants",
        "v1_sync_runs",
    } <= tables
    runs = db.execute(
        "select sync_id, ended_at, sync_token, sync_type, parent_sync_id,"
        " supports_diff from v1_sync_runs"
    ).fetchall()
    assert len(runs) == 1
    sync_id, ended_at, token, kind, parent, diff = runs[0]
    assert len(sync_id) == 27 and ended_at and token == "" and kind == "full"
    assert parent == "" and diff == 1
    keys = db.execute(
        "select resource_type_id, external_id from v1_resources"
    ).fetchall()
    assert all(
        external == f"{kind}:{external.split(':', 1)[1]}"
        and external.startswith(kind + ":")
        for kind, external in keys
    )
    assert db.execute(
        "select count(*) from v1_grants"
        " where expansion is not null or needs_expansion != 0"
    ).fetchone() == (0,)


def _check_objects(reader: C1zReader) -> None:
    for resource in reader.resources():
        urls = [a.type_url for a in resource.annotations]
        assert urls == [TRAIT_URLS[resource.id.resource_type]]
    for entitlement in reader.entitlements():
        assert entitlement.id and entitlement.resource.id.resource
        assert entitlement.slug == "member" and entitlement.purpose == 1
    for grant in reader.grants():
        assert grant.entitlement.id and grant.entitlement.resource.id.resource
        assert (
            grant.principal.id.resource_type == "user" and grant.principal.id.resource
        )
        ent = grant.entitlement
        assert grant.id == f"{ent.id}:user:{grant.principal.id.resource}"


def test_second_and_third_sync_keep_the_last_two(server, reference_config, tmp_path):
    out = tmp_path / "sync.c1z"
    config = reference_config(server.url)
    ids = []
    for _ in range(3):
        _sync(server, config, out)
        with C1zReader(out) as reader:
            ids.append(reader.latest_sync_id())

    with C1zReader(out) as reader:
        runs = reader.syncs()
        assert [run.sync_id for run in runs] == ids[1:]
        assert all(run.finished for run in runs)
        assert runs[0].ended_at < runs[1].ended_at
        kept = reader.connection.execute("select distinct sync_id from v1_resources")
        assert {sync_id for (sync_id,) in kept} == set(ids[1:])
    assert sorted(
        p.name
        for p in tmp_path.iterdir()
        if p.name.endswith("c1z") or p.name.startswith(".")
    ) == ["sync.c1z"]
