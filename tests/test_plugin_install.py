"""Installing providers as a user does, in one fresh virtual environment.

The environment first gets only ``baton-scim`` and ``baton-scim-slack``
(``pip install ./core ./plugins/slack``); later tests add the tutorial's
plugin and each other built-in plugin on its own. The tests of this module
run in file order and build on each other.

To run offline and in seconds, the third-party packages the core needs
(httpx, pydantic, setuptools...) are borrowed read-only from the test's own
environment, through a ``.pth`` file listing a folder of links to them; no
baton-scim distribution is among them. pip runs with ``--no-index``, so it
still checks that every requirement of what it installs is present.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.fake_scim import FakeScim
from tests.support.scim_server import ScimServer, seed_directory

pytestmark = pytest.mark.slow

TOKEN = "xoxp-venv-test-token"
SKIP = shutil.ignore_patterns("*.egg-info", "build", "dist", "__pycache__")


@dataclass
class Env:
    """A virtual environment and copies of the sources to install from."""

    root: Path
    sources: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    def pip(self, *args: str) -> None:
        command = [str(self.bin / "python"), "-m", "pip", "install", "-q", *args]
        done = subprocess.run(command, capture_output=True, text=True, env=_env())
        assert done.returncode == 0, done.stderr[-3000:]

    def install(self, *relative: str) -> None:
        """pip install source directories, as ``pip install ./<dir>``."""
        sources = [str(self.source(path)) for path in relative]
        self.pip("--no-build-isolation", "--no-index", *sources)

    def source(self, relative: str) -> Path:
        target = self.sources / relative
        if not target.exists():
            shutil.copytree(ROOT / relative, target, ignore=SKIP)
        return target

    def baton_scim(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / "baton-scim"), *args]
        return subprocess.run(command, capture_output=True, text=True, env=_env())

    def providers(self) -> dict[str, dict[str, str]]:
        done = self.baton_scim("providers", "--json")
        assert done.returncode == 0, done.stderr
        return {row["name"]: row for row in json.loads(done.stdout)}


def _env() -> dict[str, str]:
    """The test's environment without BATON_* settings or this venv's paths."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    keep.pop("PYTHONPATH", None)
    keep.pop("VIRTUAL_ENV", None)
    keep["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return keep


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    root = tmp_path_factory.mktemp("venv")
    environment = Env(root / "env", root / "src")
    venv.create(environment.root, with_pip=False)
    _borrow_dependencies(environment, root / "dependencies")

    environment.install("core", "plugins/slack")
    return environment


def _borrow_dependencies(environment: Env, folder: Path) -> None:
    """Link this environment's third-party packages, none of baton-scim's."""
    folder.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.startswith(("baton_scim", "__editable__", "__pycache__")):
            continue
        if entry.suffix != ".pth":
            (folder / entry.name).symlink_to(entry)

    query = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    python = str(environment.bin / "python")
    purelib = subprocess.run([python, "-c", query], capture_output=True, text=True)
    Path(purelib.stdout.strip(), "borrowed.pth").write_text(f"{folder}\n")


def slack_server() -> FakeScim:
    users = [
        {
            "id": f"U{n}",
            "userName": f"user{n}",
            "name": {"givenName": "Given", "familyName": f"{n}"},
            "emails": [{"value": f"user{n}@example.com", "primary": True}],
            "active": True,
        }
        for n in range(1, 4)
    ]
    groups = [{"id": "S1", "displayName": "all", "members": [{"value": "U1"}]}]
    # Slack's page cap and default page (providers.md §2.1).
    return FakeScim(
        users,
        groups,
        token=TOKEN,
        max_count=1000,
        default_count=10,
        base_path="/scim/v2",
    )


def test_slack_alone_syncs_and_zoom_asks_for_its_package(env, tmp_path):
    assert set(env.providers()) == {"slack", "slack-v1"}

    out = tmp_path / "sync.c1z"
    with slack_server() as server:
        synced = env.baton_scim(
            f"--token={TOKEN}",
            "--service-provider=slack",
            f"--api-endpoint={server.url}",
            f"--file={out}",
        )
    missing = env.baton_scim(
        "--api-key=k", "--service-provider=zoom", f"--file={tmp_path / 'z.c1z'}"
    )

    assert synced.returncode == 0, synced.stderr
    assert out.is_file()
    assert {r.path for r in server.requests} == {"/scim/v2/Users", "/scim/v2/Groups"}
    assert missing.returncode == 2
    [line] = missing.stderr.strip().splitlines()
    assert "no provider called 'zoom' is installed (installed: slack, slack-v1)" in line
    assert "pip install baton-scim-zoom" in line


def test_tutorial_plugin_installs_shows_up_and_syncs(env, tmp_path):
    env.install("docs/examples/baton-scim-acme")

    acme = env.providers()["acme"]
    assert acme == {
        "name": "acme",
        "package": "baton-scim-acme",
        "version": "0.1.0",
        "description": "Acme HR's SCIM 2.0 API",
        "configuration": "built in: baton_scim_acme/acme.yaml",
    }
    out = tmp_path / "acme.c1z"
    with ScimServer("acme-test-token") as server:
        directory = seed_directory(server, users=12, groups=3)
        synced = env.baton_scim(
            "--service-provider=acme",
            "--token=acme-test-token",
            f"--api-endpoint={server.url}",
            f"--file={out}",
        )
    assert synced.returncode == 0, synced.stderr
    assert out.stat().st_size > 0
    assert len(directory.users) == 12


def test_each_plugin_installs_on_its_own(env):
    plugins = {
        "plugins/zoom": ("zoom", "baton-scim-zoom"),
        "plugins/miro": ("miro", "baton-scim-miro"),
        "plugins/postman": ("postman", "baton-scim-postman"),
        "plugins/generic-yaml": ("custom", "baton-scim-generic-yaml"),
    }

    for directory in plugins:
        env.install(directory)  # one pip install per plugin

    listed = env.providers()
    for name, package in plugins.values():
        assert listed[name]["package"] == package
        assert listed[name]["version"] == "0.1.0"
