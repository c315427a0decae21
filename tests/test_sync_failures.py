"""Bad input: one clear line, a non-zero exit, the old file untouched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import GO_REFERENCE
from tests.support.cli import run_cli
from tests.support.fake_scim import FakeScim, Response

TOKEN = "right-token-123"
# A real earlier sync (the Go connector's) stands for the last good file.
OLD_BYTES = (GO_REFERENCE / "sync.c1z").read_bytes()


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "sync.c1z"
    path.write_bytes(OLD_BYTES)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sync(config: Path, out: Path, *extra: str):
    return run_cli("--scim-config", str(config), "-f", str(out), *extra)


def _assert_one_line_failure(result, old_file: Path, *words: str) -> None:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in errors[0], errors[0]
    assert old_file.read_bytes() == OLD_BYTES
    assert sorted(
        p.name for p in old_file.parent.iterdir() if p.name != "config.yaml"
    ) == ["sync.c1z"]


def test_wrong_token(old_file, reference_directory, reference_config):
    with FakeScim(reference_directory["Users"], [], token=TOKEN) as server:
        result = _sync(reference_config(server.url), old_file, "--api-key", "wrong-one")
    _assert_one_line_failure(result, old_file, "401", "credentials")
    assert "wrong-one" not in result.output


def test_unreachable_server(old_file, reference_config):
    config = reference_config(f"http://127.0.0.1:{_free_port()}/scim/v2")
    result = _sync(config, old_file, "--api-key", TOKEN)
    _assert_one_line_failure(result, old_file, "cannot connect")


def test_yaml_syntax_error(old_file, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("apiEndpoint: [unclosed\n")
    result = _sync(config, old_file, "--api-key", TOKEN)
    _assert_one_line_failure(result, old_file, "config.yaml", "YAML syntax error")


def test_missing_required_key(old_file, reference_config):
    config = reference_config("http://127.0.0.1:9/scim/v2")
    config.write_text(config.read_text().replace('  firstName: "name.givenName"\n', ""))
    result = _sync(config, old_file, "--api-key", TOKEN)
    _assert_one_line_failure(result, old_file, "user.firstName: required")


def test_unknown_key_names_the_closest_valid_one(old_file, reference_config):
    config = reference_config("http://127.0.0.1:9/scim/v2")
    config.write_text(config.read_text().replace("hasScimHeader", "hasScimHeaders"))
    result = _sync(config, old_file, "--api-key", TOKEN)
    _assert_one_line_failure(result, old_file, "hasScimHeaders", "hasScimHeader'")


def test_invalid_json_from_the_server(old_file, reference_directory, reference_config):
    def broken(request):
        body = b'{"totalResults": 3, "Resources": [ {"id": '
        return Response(200, {"Content-Type": "application/scim+json"}, body)

    with FakeScim([], [], token=TOKEN, before_request=broken) as server:
        result = _sync(reference_config(server.url), old_file, "--api-key", TOKEN)
    _assert_one_line_failure(result, old_file, "not JSON", "GET /scim/v2/")


def test_nothing_is_sent_before_the_configuration_is_valid(
    old_file, reference_directory, reference_config
):
    with FakeScim(reference_directory["Users"], [], token=TOKEN) as server:
        config = reference_config(server.url)
        config.write_text(config.read_text().replace('  active: "active"\n', ""))
        result = _sync(config, old_file, "--api-key", TOKEN)
        assert server.requests == []
    _assert_one_line_failure(result, old_file, "user.active: required")


def test_missing_credentials_say_which_flag(old_file, reference_config):
    result = _sync(reference_config("http://127.0.0.1:9/scim/v2"), old_file)
    _assert_one_line_failure(result, old_file, "--token", "BATON_TOKEN")


def test_debug_level_shows_the_traceback(old_file, reference_config):
    config = reference_config(f"http://127.0.0.1:{_free_port()}/scim/v2")
    result = _sync(config, old_file, "--api-key", TOKEN, "--log-level", "debug")
    assert result.exit_code != 0
    assert "Traceback" in result.stderr
    assert old_file.read_bytes() == OLD_BYTES
