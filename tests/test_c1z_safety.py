"""A failed or abandoned sync leaves the previous file and no temp files."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
import zstandard
from baton_scim.c1z import C1zError, C1zReader, C1zWriter, writer
from baton_scim.c1z import messages as m


class Interrupted(Exception):
    """Stands in for anything that stops a sync half-way."""


def user(ident: str) -> m.Resource:
    resource_id = m.ResourceId(resource_type="user", resource=ident)
    return m.Resource(id=resource_id, display_name=ident)


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An output file holding one finished sync."""
    path = tmp_path / "sync.c1z"
    with C1zWriter(path) as sync:
        sync.add_resource(user("u1"))
        sync.finish()
    return path


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every entry of `directory`, hidden ones included, with file contents."""
    return {
        entry.name: entry.read_bytes() if entry.is_file() else b"<dir>"
        for entry in directory.iterdir()
    }


def test_exception_inside_the_block_keeps_the_previous_file(previous: Path) -> None:
    before = snapshot(previous.parent)

    with pytest.raises(Interrupted), C1zWriter(previous) as sync:
        sync.add_resource(user("u2"))
        raise Interrupted

    assert snapshot(previous.parent) == before


def test_abort_keeps_the_previous_file(previous: Path) -> None:
    before = snapshot(previous.parent)
    sync = C1zWriter(previous)
    sync.start()
    sync.add_resource(user("u2"))

    sync.abort()

    assert snapshot(previous.parent) == before


def test_leaving_the_block_without_finish_discards_the_sync(previous: Path) -> None:
    before = snapshot(previous.parent)

    with C1zWriter(previous) as sync:
        sync.add_resource(user("u2"))

    assert snapshot(previous.parent) == before


def test_no_file_appears_when_a_new_sync_is_abandoned(tmp_path: Path) -> None:
    with pytest.raises(Interrupted), C1zWriter(tmp_path / "new.c1z"):
        raise Interrupted

    assert list(tmp_path.iterdir()) == []


def test_failure_while_compressing_keeps_the_previous_file(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(previous.parent)

    def broken_write(database: Path, target: BinaryIO) -> int:
        target.write(b"C1ZF\x00half a frame")
        raise Interrupted

    monkeypatch.setattr(writer, "write_c1z", broken_write)
    with pytest.raises(Interrupted), C1zWriter(previous) as sync:
        sync.add_resource(user("u2"))
        sync.finish()

    assert snapshot(previous.parent) == before


def test_failure_of_the_final_rename_keeps_the_previous_file(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(previous.parent)

    def broken_replace(source: object, target: object) -> None:
        raise Interrupted

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(Interrupted), C1zWriter(previous) as sync:
        sync.finish()

    assert snapshot(previous.parent) == before


def test_abort_after_finish_and_twice_is_harmless(previous: Path) -> None:
    sync = C1zWriter(previous)
    sync.start()
    sync.finish()
    after = snapshot(previous.parent)

    sync.abort()
    sync.abort()

    assert snapshot(previous.parent) == after


def test_temporary_work_happens_in_the_given_temp_dir(
    previous: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    with C1zWriter(previous, temp_dir=scratch) as sync:
        (workdir,) = scratch.iterdir()
        assert workdir.name.startswith(".sync.c1z.") and workdir.name.endswith(".tmp")
        sync.finish()

    assert list(scratch.iterdir()) == []


def test_finished_file_keeps_the_permissions_of_the_one_it_replaces(
    previous: Path,
) -> None:
    previous.chmod(0o640)

    with C1zWriter(previous) as sync:
        sync.finish()

    assert previous.stat().st_mode & 0o777 == 0o640


# --- existing files that cannot be extended ---------------------------------


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def not_sqlite() -> bytes:
    return b"C1ZF\x00" + zstd(b"plain text, not a database" * 100)


def truncated(path: Path) -> bytes:
    return path.read_bytes()[:-40]


CORRUPTIONS: dict[str, Callable[[Path], bytes]] = {
    "bad magic": lambda path: b"C1Z3\x00" + path.read_bytes()[5:],
    "raw sqlite": lambda path: b"SQLite format 3\x00" + bytes(100),
    "magic then garbage": lambda path: b"C1ZF\x00" + os.urandom(300),
    "truncated frame": truncated,
    "zstd of text": lambda path: not_sqlite(),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_unreadable_existing_file_is_refused_and_left_alone(
    previous: Path, corruption: str
) -> None:
    previous.write_bytes(CORRUPTIONS[corruption](previous))
    before = snapshot(previous.parent)

    with pytest.raises(C1zError) as raised, C1zWriter(previous):
        pytest.fail("the writer must not start")

    assert str(previous) in str(raised.value)
    assert "move the file away" in str(raised.value)
    assert snapshot(previous.parent) == before


def test_damaged_database_pages_are_refused(previous: Path) -> None:
    header = b"SQLite format 3\x00" + bytes(84)
    previous.write_bytes(b"C1ZF\x00" + zstd(header + os.urandom(4096 - 100)))
    before = snapshot(previous.parent)

    with pytest.raises(C1zError, match="choose another output file"):
        C1zWriter(previous).start()

    assert snapshot(previous.parent) == before


def test_unreadable_file_is_refused_by_the_reader(previous: Path) -> None:
    previous.write_bytes(CORRUPTIONS["magic then garbage"](previous))

    with pytest.raises(C1zError, match=str(previous)), C1zReader(previous):
        pytest.fail("the reader must not open")


def test_reader_reports_a_truncated_payload(previous: Path) -> None:
    previous.write_bytes(truncated(previous))

    with pytest.raises(C1zError, match="truncated"), C1zReader(previous):
        pytest.fail("the reader must not open")
