"""Writing into an existing c1z: earlier syncs kept, old ones cleaned up."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from baton_scim.c1z import C1zError, C1zReader, C1zWriter, writer
from baton_scim.c1z import messages as m
from baton_scim.c1z.container import write_c1z


def user(ident: str) -> m.Resource:
    resource_id = m.ResourceId(resource_type="user", resource=ident)
    return m.Resource(id=resource_id, display_name=ident)


def write_sync(path: Path, *users: str, keep_syncs: int | None = None) -> str:
    with C1zWriter(path, keep_syncs=keep_syncs) as sync:
        sync.add_resource_type(m.ResourceType(id="user", traits=[1]))
        for ident in users:
            sync.add_resource(user(ident))
        sync.finish()
    return sync.sync_id


def sync_ids(path: Path) -> list[str]:
    with C1zReader(path) as reader:
        return [run.sync_id for run in reader.syncs()]


def rows_of(path: Path, sync_id: str) -> int:
    with C1zReader(path) as reader:
        conn = reader.connection
        tables = ("v1_resource_types", "v1_resources", "v1_sync_runs")
        counts = [
            conn.execute(f"select count(*) from {t} where sync_id=?", (sync_id,))
            for t in tables
        ]
        return sum(count.fetchone()[0] for count in counts)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_KEEP_SYNC_COUNT", raising=False)
    monkeypatch.delenv("BATON_SKIP_CLEANUP", raising=False)


def test_three_writes_keep_the_last_two_syncs(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"

    first = write_sync(path, "u1")
    second = write_sync(path, "u1", "u2")
    third = write_sync(path, "u1", "u2", "u3")

    with C1zReader(path) as reader:
        runs = reader.syncs()
        latest = reader.latest_sync_id()
        listed = [r.id.resource for r in reader.resources()]
    assert [run.sync_id for run in runs] == [second, third]
    assert all(run.finished and run.sync_type == "full" for run in runs)
    assert runs[0].ended_at < runs[1].ended_at  # type: ignore[operator]
    assert len({first, second, third}) == 3
    assert latest == third and listed == ["u1", "u2", "u3"]


def test_rows_of_a_deleted_sync_are_gone(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"

    first = write_sync(path, "u1")
    second = write_sync(path, "u1")
    assert rows_of(path, first) == 3
    write_sync(path, "u1")

    assert rows_of(path, first) == 0
    assert rows_of(path, second) == 3


def test_space_of_deleted_syncs_is_reclaimed(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    users = [f"user-{number}" for number in range(2000)]

    for _ in range(3):
        write_sync(path, *users)

    with C1zReader(path) as reader:
        (free_pages,) = reader.connection.execute("pragma freelist_count").fetchone()
    assert free_pages == 0


def test_earlier_sync_stays_readable_by_its_id(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"

    first = write_sync(path, "u1", "u2")
    write_sync(path, "u9")

    with C1zReader(path) as reader:
        earlier = [r.id.resource for r in reader.resources(sync_id=first)]
        assert reader.stats(first)["user"] == 2
    assert earlier == ["u1", "u2"]


def test_keep_syncs_argument_sets_how_many_survive(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"

    for _ in range(4):
        write_sync(path, "u1", keep_syncs=3)

    assert len(sync_ids(path)) == 3


def test_keep_sync_count_variable_applies_without_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sync.c1z"
    monkeypatch.setenv("BATON_KEEP_SYNC_COUNT", "1")

    write_sync(path, "u1")
    last = write_sync(path, "u1")

    assert sync_ids(path) == [last]


def test_skip_cleanup_variable_keeps_every_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sync.c1z"
    monkeypatch.setenv("BATON_SKIP_CLEANUP", "1")

    written = [write_sync(path, "u1") for _ in range(3)]

    assert sync_ids(path) == written


def test_invalid_keep_sync_count_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_KEEP_SYNC_COUNT", "two")

    with pytest.raises(C1zError, match="BATON_KEEP_SYNC_COUNT"):
        C1zWriter(tmp_path / "sync.c1z")


def test_keeping_no_sync_is_refused(tmp_path: Path) -> None:
    with pytest.raises(C1zError, match="at least one"):
        C1zWriter(tmp_path / "sync.c1z", keep_syncs=0)


def test_new_sync_sorts_last_even_when_the_clock_went_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sync.c1z"
    earlier = write_sync(path, "u1")

    class Yesteryear(datetime):
        @classmethod
        def now(cls, tz: object = None) -> "Yesteryear":
            return cls(2020, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(writer, "datetime", Yesteryear)
    later = write_sync(path, "u2")

    with C1zReader(path) as reader:
        ended = {run.sync_id: run.ended_at for run in reader.syncs()}
        latest = reader.latest_sync_id()
    assert latest == later
    assert ended[later] > ended[earlier]  # type: ignore[operator]


def test_zero_byte_output_is_treated_as_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    path.touch()

    sync_id = write_sync(path, "u1")

    assert sync_ids(path) == [sync_id]


def test_unfinished_sync_older_than_the_kept_ones_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    write_sync(path, "u1")
    stale = _add_unfinished_sync(path, started_at="2001-01-01 00:00:00")

    write_sync(path, "u1")
    write_sync(path, "u1")

    assert stale not in sync_ids(path)


def _add_unfinished_sync(path: Path, started_at: str) -> str:
    """Rewrite `path` with one more, unfinished sync run row."""
    with C1zReader(path) as reader:
        conn = reader.connection
        conn.execute(
            "insert into v1_sync_runs (sync_id, started_at, sync_token)"
            " values ('stale', ?, '')",
            (started_at,),
        )
        conn.commit()
        conn.execute("pragma journal_mode = delete")
        database = Path(conn.execute("pragma database_list").fetchone()[2])
        with path.open("wb") as out:
            write_c1z(database, out)
    return "stale"
