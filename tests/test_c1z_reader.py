"""C1zReader on files of the Go connector, odd containers and lookups."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from baton_scim.c1z import C1zError, C1zReader, C1zWriter
from baton_scim.c1z import messages as m
from baton_scim.c1z.container import MAGIC

# The Go reference fixture is kept in tests/data/go-reference.
GO_REFERENCE = Path(__file__).parent / "data" / "go-reference"
GO_SYNC = GO_REFERENCE / "sync.c1z"


def first_column(listing: str) -> list[str]:
    """The ID column of a `baton` console table, header left out."""
    lines = (GO_REFERENCE / listing).read_text().splitlines()[1:]
    return [line.split("|")[0].strip() for line in lines if line.strip()]


@pytest.fixture
def go_reader() -> Iterator[C1zReader]:
    with C1zReader(GO_SYNC) as reader:
        yield reader


# --- the Go connector's file (baton-sdk v0.2.61 schema) -----------------------


def test_go_reference_counts_match_baton_stats(go_reader: C1zReader) -> None:
    assert go_reader.stats() == {
        "entitlements": 9,
        "grants": 14,
        "group": 4,
        "resource_types": 3,
        "role": 5,
        "user": 7,
    }


def test_go_reference_listings_have_the_documented_sizes(go_reader: C1zReader) -> None:
    assert len(list(go_reader.resource_types())) == 3
    assert len(list(go_reader.resources())) == 16
    assert len(list(go_reader.entitlements())) == 9
    assert len(list(go_reader.grants())) == 14


def test_go_reference_lists_in_the_order_baton_prints(go_reader: C1zReader) -> None:
    resources = [r.id.resource for r in go_reader.resources()]
    grants = [g.id for g in go_reader.grants()]

    assert resources == first_column("baton-resources.txt")
    assert grants == first_column("baton-grants.txt")


def test_five_column_sync_runs_read_as_one_full_sync(go_reader: C1zReader) -> None:
    (run,) = go_reader.syncs()

    assert run.sync_id == "3MyFb89nbJvb2ASAHnfb45k9Grn"
    assert run.sync_type == "full" and run.parent_sync_id == ""
    assert run.finished and not run.supports_diff
    assert run.started_at < run.ended_at  # type: ignore[operator]
    assert go_reader.latest_sync_id() == run.sync_id


def test_reader_leaves_the_old_schema_as_it_is(go_reader: C1zReader) -> None:
    columns = go_reader.connection.execute("pragma table_info(v1_sync_runs)")

    assert [row[1] for row in columns] == [
        "id",
        "sync_id",
        "started_at",
        "ended_at",
        "sync_token",
    ]


def test_single_lookups_find_go_objects(go_reader: C1zReader) -> None:
    alice = go_reader.resource("user", "2819c223-7f76-453a-919d-413861904646")
    role = go_reader.entitlement("role:super_admin:member")
    grant = go_reader.grant("group:g-sales:member:user:u-dave")

    assert alice is not None and alice.display_name == "Alice Anderson"
    assert role is not None and role.resource.display_name == "SuperAdmin"
    assert grant is not None and grant.principal.id.resource == "u-dave"


def test_missing_objects_are_none(go_reader: C1zReader) -> None:
    assert go_reader.resource("group", "u-dave") is None
    assert go_reader.entitlement("group:nope:member") is None
    assert go_reader.grant("nope") is None
    assert go_reader.resource_type("app") is None


def test_grants_filter_on_their_columns(go_reader: C1zReader) -> None:
    of_zoe = go_reader.grants(principal=("user", "u-zoe"))
    in_sales = go_reader.grants(resource=("group", "g-sales"))
    admins = go_reader.grants(entitlement_id="role:workspace_admin:member")

    assert len(list(of_zoe)) == 4
    assert {g.principal.id.resource for g in in_sales} == {"u-zoe", "u-dave"}
    assert len(list(admins)) == 2


def test_resources_and_entitlements_filter_by_type(go_reader: C1zReader) -> None:
    roles = list(go_reader.resources(resource_type="role"))
    on_eng = list(go_reader.entitlements(resource=("group", "g-eng")))

    assert {r.id.resource_type for r in roles} == {"role"} and len(roles) == 5
    assert [e.id for e in on_eng] == ["group:g-eng:member"]


def test_user_trait_of_a_go_resource_unpacks(go_reader: C1zReader) -> None:
    finn = go_reader.resource("user", "u-finn")
    trait = m.UserTrait()

    assert finn is not None and finn.annotations[0].Unpack(trait)
    assert trait.profile["first_name"] == "Finn"


def test_reading_does_not_change_the_file() -> None:
    before = GO_SYNC.read_bytes()

    with C1zReader(GO_SYNC) as reader:
        list(reader.grants())

    assert GO_SYNC.read_bytes() == before


def test_writer_appends_to_a_copy_of_the_go_file(tmp_path: Path) -> None:
    copy = tmp_path / "sync.c1z"
    shutil.copyfile(GO_SYNC, copy)

    with C1zWriter(copy) as sync:
        sync.add_resource_type(m.ResourceType(id="user", traits=[1]))
        sync.finish()

    with C1zReader(copy) as reader:
        runs = reader.syncs()
        old_counts = reader.stats(runs[0].sync_id)
        latest = reader.latest_sync_id()
        grant_columns = reader.connection.execute("pragma table_info(v1_grants)")
        grant_column_names = {row[1] for row in grant_columns}
    assert runs[0].sync_id == "3MyFb89nbJvb2ASAHnfb45k9Grn"
    assert len(runs) == 2 and latest == runs[1].sync_id == sync.sync_id
    assert runs[1].sync_type == "full" and runs[1].supports_diff
    assert old_counts["grants"] == 14 and old_counts["user"] == 7
    assert {"expansion", "needs_expansion"} <= grant_column_names


# --- containers ------------------------------------------------------------


def test_zero_byte_file_reads_as_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.c1z"
    empty.touch()

    with C1zReader(empty) as reader:
        assert reader.header == b""
        assert reader.syncs() == [] and reader.latest_sync_id() is None
        assert list(reader.resources()) == [] and reader.grant("x") is None
        with pytest.raises(C1zError, match="no finished sync"):
            reader.stats()


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(C1zError, match="no such"), C1zReader(tmp_path / "nope.c1z"):
        pytest.fail("the reader must not open")


def test_several_frames_and_skippable_frames_are_read(tmp_path: Path) -> None:
    database = (
        zstandard.ZstdDecompressor()
        .decompressobj()
        .decompress(GO_SYNC.read_bytes()[len(MAGIC) :])
    )
    half = len(database) // 2
    skippable = bytes.fromhex("502a4d18") + (3).to_bytes(4, "little") + b"abc"
    compressor = zstandard.ZstdCompressor(write_content_size=True)
    split = tmp_path / "split.c1z"
    split.write_bytes(
        MAGIC
        + compressor.compress(database[:half])
        + skippable
        + compressor.compress(database[half:])
    )

    with C1zReader(split) as reader:
        frames = reader.frames
        assert len(list(reader.grants())) == 14

    assert [frame.skippable for frame in frames] == [False, True, False]
    assert frames[0].content_size == half


def test_reader_cleans_up_its_temporary_copy(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    with C1zReader(GO_SYNC, temp_dir=scratch):
        assert len(list(scratch.iterdir())) == 1

    assert list(scratch.iterdir()) == []


def test_closed_reader_refuses_queries() -> None:
    reader = C1zReader(GO_SYNC)

    with pytest.raises(C1zError, match="not open"):
        reader.connection  # noqa: B018
