"""An -f path in a folder that does not exist: one line naming the folder.

The sync checks the folder before its first request and the provisioning
run before it reads anything, so a mistyped path costs no traffic and
leaves nothing behind. The server is FakeScim shaped like Slack (the
provider does not matter here; providers.md §2.1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from baton_scim.c1z import C1zError, C1zReader, C1zWriter

from tests.support.cli import Result
from tests.support.provider_e2e import ProviderCli
from tests.test_provider_slack import TOKEN, slack_server


def missing_folder(tmp_path: Path) -> Path:
    return tmp_path / "no-such-folder" / "deeper"


def assert_names_the_folder(result: Result, folder: Path) -> None:
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert f"there is no folder {folder}" in line
    assert "FileNotFoundError" not in line
    assert "Traceback" not in result.output


def test_sync_into_a_missing_folder_names_it_before_any_request(tmp_path):
    folder = missing_folder(tmp_path)
    cli = ProviderCli("slack", (f"--token={TOKEN}",), folder / "sync.c1z")

    with slack_server() as server:
        result = cli.sync(server)

    assert_names_the_folder(result, folder)
    assert "create the folder first" in result.stderr
    assert server.requests == []
    assert not (tmp_path / "no-such-folder").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--revoke-grant", "group:S0001:member:user:U00001"),
        ("grant", "--group", "S0001", "--user", "U00005"),
    ],
    ids=["revoke-flags", "grant-subcommand"],
)
def test_provisioning_from_a_missing_folder_names_it_and_sends_nothing(
    tmp_path, args: tuple[str, ...]
):
    folder = missing_folder(tmp_path)
    cli = ProviderCli("slack", (f"--token={TOKEN}",), folder / "sync.c1z")

    with slack_server() as server:
        result = cli.run(server, "-p", *args)

    assert_names_the_folder(result, folder)
    assert "pass the c1z file of a finished sync with -f" in result.stderr
    assert server.requests == []


def test_writer_refuses_a_missing_folder_when_it_starts(tmp_path):
    folder = missing_folder(tmp_path)

    with pytest.raises(C1zError, match="there is no folder") as caught:
        C1zWriter(folder / "sync.c1z").start()

    assert str(folder) in caught.value.message
    assert caught.value.hint is not None


def test_writer_refuses_a_missing_temporary_folder_too(tmp_path):
    folder = missing_folder(tmp_path)

    with pytest.raises(C1zError, match=f"there is no folder {folder}"):
        C1zWriter(tmp_path / "sync.c1z", temp_dir=folder).start()

    assert list(tmp_path.iterdir()) == []


def test_reader_names_a_missing_folder_apart_from_a_missing_file(tmp_path):
    folder = missing_folder(tmp_path)

    with pytest.raises(C1zError, match=f"there is no folder {folder}"):
        C1zReader(folder / "sync.c1z").open()
    with pytest.raises(C1zError, match="no such c1z file"):
        C1zReader(tmp_path / "sync.c1z").open()
