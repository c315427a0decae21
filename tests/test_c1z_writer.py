"""Files written by C1zWriter: container, schema, sync run and rows."""

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from baton_scim.c1z import C1zError, C1zReader, C1zWriter
from baton_scim.c1z import messages as m

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d*[1-9])?")

# §2: (column, declared type, NOT NULL) in the SDK's column order.
COLUMNS = {
    "v1_resource_types": [
        ("id", "integer", 0),
        ("external_id", "text", 1),
        ("data", "blob", 1),
        ("sync_id", "text", 1),
        ("discovered_at", "datetime", 1),
    ],
    "v1_resources": [
        ("id", "integer", 0),
        ("resource_type_id", "text", 1),
        ("external_id", "text", 1),
        ("parent_resource_type_id", "text", 0),
        ("parent_resource_id", "text", 0),
        ("data", "blob", 1),
        ("sync_id", "text", 1),
        ("discovered_at", "datetime", 1),
    ],
    "v1_entitlements": [
        ("id", "integer", 0),
        ("resource_type_id", "text", 1),
        ("resource_id", "text", 1),
        ("external_id", "text", 1),
        ("data", "blob", 1),
        ("sync_id", "text", 1),
        ("discovered_at", "datetime", 1),
    ],
    "v1_grants": [
        ("id", "integer", 0),
        ("resource_type_id", "text", 1),
        ("resource_id", "text", 1),
        ("entitlement_id", "text", 1),
        ("principal_resource_type_id", "text", 1),
        ("principal_resource_id", "text", 1),
        ("external_id", "text", 1),
        ("expansion", "blob", 0),
        ("needs_expansion", "integer", 1),
        ("data", "blob", 1),
        ("sync_id", "text", 1),
        ("discovered_at", "datetime", 1),
    ],
    "v1_sync_runs": [
        ("id", "integer", 0),
        ("sync_id", "text", 1),
        ("started_at", "datetime", 1),
        ("ended_at", "datetime", 0),
        ("sync_token", "text", 1),
        ("sync_type", "text", 1),
        ("parent_sync_id", "text", 1),
        ("linked_sync_id", "text", 1),
        ("supports_diff", "integer", 1),
    ],
    "v1_assets": [
        ("id", "integer", 0),
        ("external_id", "text", 1),
        ("content_type", "text", 1),
        ("data", "blob", 1),
        ("sync_id", "text", 1),
        ("discovered_at", "datetime", 1),
    ],
    "v1_connector_sessions": [
        ("id", "integer", 0),
        ("sync_id", "text", 1),
        ("key", "text", 1),
        ("value", "blob", 1),
    ],
}

# §2: index name -> (table, indexed columns); which are unique; which partial.
INDEXES = {
    "idx_resource_types_external_sync_v1": ("v1_resource_types", "external_id sync_id"),
    "idx_resources_resource_type_id_v1": ("v1_resources", "resource_type_id"),
    "idx_resources_external_sync_v1": (
        "v1_resources",
        "parent_resource_type_id parent_resource_id",
    ),
    "idx_resources_parent_resource_id_v1": ("v1_resources", "external_id sync_id"),
    "idx_entitlements_resource_id_v1": (
        "v1_entitlements",
        "resource_type_id resource_id",
    ),
    "idx_entitlements_external_sync_v1": ("v1_entitlements", "external_id sync_id"),
    "idx_grants_resource_type_id_resource_id_v1": (
        "v1_grants",
        "resource_type_id resource_id",
    ),
    "idx_grants_principal_id_v1": (
        "v1_grants",
        "principal_resource_type_id principal_resource_id",
    ),
    "idx_grants_entitlement_id_principal_id_v1": (
        "v1_grants",
        "entitlement_id principal_resource_type_id principal_resource_id",
    ),
    "idx_grants_external_sync_v1": ("v1_grants", "external_id sync_id"),
    "idx_grants_sync_expansion_v1": ("v1_grants", "sync_id"),
    "idx_grants_sync_needs_expansion_v1": ("v1_grants", "sync_id"),
    "idx_sync_runs_sync_id_v1": ("v1_sync_runs", "sync_id"),
    "idx_assets_external_sync_v1": ("v1_assets", "external_id sync_id"),
    "idx_session_store_sync_key_v1": ("v1_connector_sessions", "sync_id key"),
}
UNIQUE_INDEXES = {
    "idx_resource_types_external_sync_v1",
    "idx_resources_parent_resource_id_v1",
    "idx_entitlements_external_sync_v1",
    "idx_grants_external_sync_v1",
    "idx_sync_runs_sync_id_v1",
    "idx_assets_external_sync_v1",
    "idx_session_store_sync_key_v1",
}
PARTIAL_INDEXES = {
    "idx_grants_sync_expansion_v1": "expansion is not null",
    "idx_grants_sync_needs_expansion_v1": "needs_expansion = 1",
}


def rid(kind: str, ident: str) -> m.ResourceId:
    return m.ResourceId(resource_type=kind, resource=ident)


def user(ident: str) -> m.Resource:
    trait = m.Any()
    trait.Pack(m.UserTrait(login=f"{ident}@example.com"))
    return m.Resource(id=rid("user", ident), display_name=ident, annotations=[trait])


def group(ident: str, parent: str | None = None) -> m.Resource:
    resource = m.Resource(id=rid("group", ident), display_name=ident.upper())
    if parent:
        resource.parent_resource_id.CopyFrom(rid("group", parent))
    return resource


def member_entitlement(on: m.Resource) -> m.Entitlement:
    ident = f"{on.id.resource_type}:{on.id.resource}:member"
    return m.Entitlement(resource=on, id=ident, slug="member")


def membership(on: m.Resource, principal: m.Resource) -> m.Grant:
    entitlement = member_entitlement(on)
    return m.Grant(
        entitlement=m.Entitlement(resource=on, id=entitlement.id),
        principal=m.Resource(id=principal.id),
        id=f"{entitlement.id}:{principal.id.resource_type}:{principal.id.resource}",
    )


def fill(writer: C1zWriter, users: int = 3) -> None:
    """A small directory: `users` users, groups g1 and g2 (child of g1)."""
    writer.add_resource_type(m.ResourceType(id="user", traits=[1]))
    writer.add_resource_type(m.ResourceType(id="group", traits=[2]))
    people = [user(f"u{number}") for number in range(1, users + 1)]
    groups = [group("g1"), group("g2", parent="g1")]
    for resource in people + groups:
        writer.add_resource(resource)
    for on in groups:
        writer.add_entitlement(member_entitlement(on))
    for principal in people:
        writer.add_grant(membership(groups[0], principal))


def write_sync(path: Path, users: int = 3) -> str:
    with C1zWriter(path) as writer:
        fill(writer, users)
        writer.finish()
    return writer.sync_id


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return tmp_path / "sync.c1z"


@pytest.fixture
def written(output: Path) -> Path:
    write_sync(output)
    return output


@pytest.fixture
def reader(written: Path) -> Iterator[C1zReader]:
    with C1zReader(written) as opened:
        yield opened


def rows(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql).fetchall()


# --- container ----------------------------------------------------------------


def test_file_starts_with_the_c1zf_magic(written: Path) -> None:
    assert written.read_bytes()[:5] == b"C1ZF\x00"


def test_payload_is_one_checksummed_zstd_frame_without_dictionary(
    written: Path,
) -> None:
    payload = written.read_bytes()[5:]
    decoder = zstandard.ZstdDecompressor().decompressobj()

    database = decoder.decompress(payload)
    params = zstandard.get_frame_parameters(payload)

    assert decoder.eof and decoder.unused_data == b""
    assert database.startswith(b"SQLite format 3\x00")
    assert params.dict_id == 0
    assert params.window_size <= 128 * 1024 * 1024
    assert params.has_checksum


def test_reader_reports_the_frame_it_decoded(reader: C1zReader) -> None:
    (frame,) = reader.frames

    assert reader.header == b"C1ZF\x00"
    assert not frame.skippable and frame.dict_id == 0 and frame.has_checksum


def test_database_is_self_contained_in_rollback_mode(reader: C1zReader) -> None:
    (mode,) = reader.connection.execute("pragma journal_mode").fetchone()

    assert mode == "delete"


# --- schema -------------------------------------------------------------------


def test_every_table_of_the_schema_exists(reader: C1zReader) -> None:
    names = rows(reader.connection, "select name from sqlite_master where type='table'")

    assert {name for (name,) in names} == set(COLUMNS)


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_table_has_the_documented_columns_and_types(
    reader: C1zReader, table: str
) -> None:
    info = rows(reader.connection, f"pragma table_info({table})")

    declared = [(name, kind.lower(), notnull) for _, name, kind, notnull, *_ in info]

    assert declared == COLUMNS[table]


def test_every_index_of_the_schema_exists(reader: C1zReader) -> None:
    names = rows(reader.connection, "select name from sqlite_master where type='index'")

    assert {name for (name,) in names} == set(INDEXES)


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_index_has_the_documented_definition(reader: C1zReader, name: str) -> None:
    table, columns = INDEXES[name]
    conn = reader.connection

    listed = {row[1]: row for row in rows(conn, f"pragma index_list({table})")}
    indexed = [row[2] for row in rows(conn, f"pragma index_info({name})")]
    (sql,) = conn.execute(
        "select sql from sqlite_master where name=?", (name,)
    ).fetchone()

    assert indexed == columns.split()
    assert bool(listed[name][2]) is (name in UNIQUE_INDEXES)
    assert bool(listed[name][4]) is (name in PARTIAL_INDEXES)
    if name in PARTIAL_INDEXES:
        assert sql.lower().endswith(f"where {PARTIAL_INDEXES[name]}")


def test_tables_are_ordinary_rowid_tables(reader: C1zReader) -> None:
    sqls = rows(reader.connection, "select sql from sqlite_master where type='table'")

    for (sql,) in sqls:
        assert "strict" not in sql.lower() and "without rowid" not in sql.lower()


# --- the sync run -------------------------------------------------------------


def test_sync_run_row_records_one_finished_full_sync(reader: C1zReader) -> None:
    ((sync_id, started, ended, token, kind, parent, linked, diff),) = rows(
        reader.connection,
        "select sync_id, started_at, ended_at, sync_token, sync_type,"
        " parent_sync_id, linked_sync_id, supports_diff from v1_sync_runs",
    )

    assert len(str(sync_id)) == 27
    assert TIMESTAMP.fullmatch(str(started)) and TIMESTAMP.fullmatch(str(ended))
    assert str(started) <= str(ended)
    assert (token, kind, parent, linked, diff) == ("", "full", "", "", 1)


def test_writer_exposes_the_sync_it_wrote(output: Path) -> None:
    sync_id = write_sync(output)

    with C1zReader(output) as reader:
        (run,) = reader.syncs()
        latest = reader.latest_sync_id()

    assert run.sync_id == sync_id == latest
    assert run.finished and run.supports_diff


def test_timestamps_are_stored_as_text(reader: C1zReader) -> None:
    kinds = rows(
        reader.connection,
        "select typeof(started_at), typeof(ended_at) from v1_sync_runs"
        " union select typeof(discovered_at), 'text' from v1_grants",
    )

    assert set(kinds) == {("text", "text")}


def test_every_row_belongs_to_the_sync(reader: C1zReader) -> None:
    sync_id = reader.latest_sync_id()

    for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"):
        owners = rows(reader.connection, f"select distinct sync_id from {table}")
        assert owners == [(sync_id,)]


# --- rows ---------------------------------------------------------------------


def test_objects_read_back_equal_to_what_was_written(reader: C1zReader) -> None:
    people = [user(f"u{number}") for number in (1, 2, 3)]
    groups = [group("g1"), group("g2", parent="g1")]

    assert [rt.id for rt in reader.resource_types()] == ["user", "group"]
    assert list(reader.resources()) == people + groups
    assert list(reader.entitlements()) == [member_entitlement(g) for g in groups]
    assert list(reader.grants()) == [membership(groups[0], p) for p in people]


def test_resource_rows_are_keyed_type_colon_id(reader: C1zReader) -> None:
    sql = "select resource_type_id, external_id, data from v1_resources"
    keys = rows(reader.connection, sql)

    for kind, key, data in keys:
        resource = m.Resource.FromString(data)
        assert (kind, key) == (
            resource.id.resource_type,
            f"{resource.id.resource_type}:{resource.id.resource}",
        )


def test_parent_columns_are_null_unless_the_resource_has_a_parent(
    reader: C1zReader,
) -> None:
    parents = rows(
        reader.connection,
        "select external_id, parent_resource_type_id, parent_resource_id"
        " from v1_resources where resource_type_id = 'group'",
    )

    assert parents == [("group:g1", None, None), ("group:g2", "group", "g1")]


def test_entitlement_filter_columns_agree_with_the_blob(reader: C1zReader) -> None:
    found = rows(
        reader.connection,
        "select resource_type_id, resource_id, external_id, data from v1_entitlements",
    )

    for kind, ident, key, data in found:
        entitlement = m.Entitlement.FromString(data)
        on = entitlement.resource.id
        assert (kind, ident, key) == (on.resource_type, on.resource, entitlement.id)


def test_grant_filter_columns_agree_with_the_blob(reader: C1zReader) -> None:
    found = rows(
        reader.connection,
        "select resource_type_id, resource_id, entitlement_id,"
        " principal_resource_type_id, principal_resource_id, external_id,"
        " expansion, needs_expansion, data from v1_grants",
    )

    for *columns, data in found:
        grant = m.Grant.FromString(data)
        on, principal = grant.entitlement.resource.id, grant.principal.id
        assert columns == [
            on.resource_type,
            on.resource,
            grant.entitlement.id,
            principal.resource_type,
            principal.resource,
            grant.id,
            None,
            0,
        ]


def test_discovered_at_uses_the_sdk_text_shape(reader: C1zReader) -> None:
    stamps = rows(
        reader.connection,
        "select discovered_at from v1_resources union select discovered_at"
        " from v1_grants union select discovered_at from v1_resource_types",
    )

    assert all(TIMESTAMP.fullmatch(stamp) for (stamp,) in stamps)


def test_a_repeated_object_is_stored_once(output: Path) -> None:
    with C1zWriter(output) as writer:
        writer.add_resource(user("u1"))
        writer.add_resource(user("u1"))
        writer.add_grant(membership(group("g1"), user("u1")))
        writer.add_grant(membership(group("g1"), user("u1")))
        writer.finish()

    with C1zReader(output) as reader:
        assert len(list(reader.resources())) == 1
        assert len(list(reader.grants())) == 1


def test_the_first_of_repeated_objects_wins_within_a_large_batch(
    output: Path,
) -> None:
    first, later = user("u0"), user("u0")
    first.display_name, later.display_name = "first", "later"

    with C1zWriter(output) as writer:
        writer.add_resource(first)
        for number in range(1, 250):
            writer.add_resource(user(f"u{number}"))
            if number % 50 == 0:
                writer.add_resource(later)
        writer.finish()

    with C1zReader(output) as reader:
        names = [r.display_name for r in reader.resources() if r.id.resource == "u0"]
        assert len(list(reader.resources())) == 250
    assert names == ["first"]


def test_batches_larger_than_one_flush_keep_insertion_order(output: Path) -> None:
    write_sync(output, users=2500)

    with C1zReader(output) as reader:
        idents = [r.id.resource for r in reader.resources(resource_type="user")]

    assert idents == [f"u{number}" for number in range(1, 2501)]


def test_a_grant_without_principal_is_refused(output: Path) -> None:
    broken = membership(group("g1"), user("u1"))
    broken.ClearField("principal")

    with C1zWriter(output) as writer, pytest.raises(C1zError, match="principal"):
        writer.add_grant(broken)


def test_a_resource_without_id_is_refused(output: Path) -> None:
    with C1zWriter(output) as writer, pytest.raises(C1zError, match="id"):
        writer.add_resource(m.Resource(display_name="nobody"))


def test_adding_before_start_is_an_error(output: Path) -> None:
    writer = C1zWriter(output)

    with pytest.raises(C1zError, match="start"):
        writer.add_resource(user("u1"))


def test_a_writer_writes_one_sync_only(output: Path) -> None:
    with C1zWriter(output) as writer:
        writer.finish()

        with pytest.raises(C1zError, match="one sync"):
            writer.start()


def test_empty_sync_is_still_a_valid_file(output: Path) -> None:
    with C1zWriter(output) as writer:
        writer.finish()

    with C1zReader(output) as reader:
        assert reader.stats() == {"entitlements": 0, "grants": 0, "resource_types": 0}
