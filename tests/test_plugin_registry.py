"""Finding providers: installed packages, clashes, unknown names, the listing.

Throwaway plugins are either objects handed to the registry (pluggy's way)
or fake distributions: a module and a ``.dist-info`` with an entry point,
put on ``sys.path`` for one test, as ``pip install`` would leave them.
"""

from __future__ import annotations

import itertools
import json
import tomllib

import pytest
from baton_scim import plugins
from baton_scim.errors import PluginError, ProviderNotFound
from baton_scim.hookspecs import hookimpl
from baton_scim.plugins import load_registry
from baton_scim.provider import Provider, read_file_description

from tests.conftest import ROOT
from tests.support.cli import run_cli

BUILT_IN = {
    "custom": "baton-scim-generic-yaml",
    "miro": "baton-scim-miro",
    "postman": "baton-scim-postman",
    "slack": "baton-scim-slack",
    "slack-v1": "baton-scim-slack",
    "zoom": "baton-scim-zoom",
}
_serial = itertools.count()


def plugin_source(provider_name: str) -> str:
    return f"""
from baton_scim.hookspecs import hookimpl
from baton_scim.provider import Provider, read_file_description


@hookimpl
def baton_scim_providers():
    return [
        Provider(
            name={provider_name!r},
            description="A throwaway provider",
            load_description=read_file_description,
            source="a throwaway file",
        )
    ]
"""


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Put a fake distribution with one entry point on sys.path."""

    def make(package: str, entry_name: str, source: str) -> str:
        module = f"throwaway_plugin_{next(_serial)}"
        root = tmp_path / module
        root.mkdir()
        (root / f"{module}.py").write_text(source)
        info = root / f"{package.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.2.3\n"
        )
        (info / "entry_points.txt").write_text(
            f"[baton_scim.providers]\n{entry_name} = {module}\n"
        )
        monkeypatch.syspath_prepend(str(root))
        return module

    return make


# -- The registry ----------------------------------------------------------------


def test_every_built_in_provider_is_found_with_its_package():
    registry = load_registry()

    assert {p.name: p.package for p in registry} == BUILT_IN
    assert {p.version for p in registry} == {"0.1.0"}


def test_the_core_itself_registers_no_provider(monkeypatch):
    # Providers come from installed packages only: without their entry
    # points the registry is empty.
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: ())

    assert load_registry().names() == []


def test_a_package_claiming_a_taken_name_is_a_clear_error(install):
    # The entry point even has the built-in's own name, which pluggy's
    # loader would have skipped without a word.
    install("baton-scim-slack-fork", "slack", plugin_source("slack"))

    with pytest.raises(PluginError) as caught:
        load_registry()
    message = str(caught.value)
    assert "two plugins claim the provider 'slack'" in message
    assert "baton-scim-slack" in message
    assert "baton-scim-slack-fork" in message
    assert caught.value.hint == "uninstall one of them"


def test_a_plugin_object_claiming_a_taken_name_is_a_clear_error():
    class Impostor:
        @hookimpl
        def baton_scim_providers(self) -> list[Provider]:
            return [Provider("zoom", "another zoom", read_file_description, "x")]

    with pytest.raises(PluginError, match="two plugins claim the provider 'zoom'"):
        load_registry(extra=[Impostor()])


def test_clash_stops_the_cli_with_one_line(install, tmp_path):
    install("baton-scim-zoom-fork", "zoom-fork", plugin_source("zoom"))

    listing = run_cli("providers")
    sync = run_cli(
        "--service-provider=zoom", "--token=t", f"--file={tmp_path / 'out.c1z'}"
    )

    for result in (listing, sync):
        assert result.exit_code == 1
        [line] = result.stderr.strip().splitlines()
        assert "two plugins claim the provider 'zoom'" in line
        assert "uninstall one of them" in line


def test_a_plugin_that_fails_to_import_names_its_package(install):
    install("baton-scim-broken", "broken", "raise ImportError('no module named x')")

    with pytest.raises(PluginError) as caught:
        load_registry()
    assert "'broken' of baton-scim-broken failed to load" in str(caught.value)
    assert caught.value.hint == "reinstall or uninstall baton-scim-broken"


def test_a_plugin_returning_something_else_than_providers_is_refused(install):
    source = (
        "from baton_scim.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def baton_scim_providers():\n"
        "    return ['slack']\n"
    )
    install("baton-scim-odd", "odd", source)

    with pytest.raises(PluginError, match="baton-scim-odd returned something other"):
        load_registry()


# -- Unknown providers -------------------------------------------------------------


def test_unknown_provider_names_the_installed_ones_and_the_package():
    with pytest.raises(ProviderNotFound) as caught:
        load_registry().get("okta")

    assert str(caught.value.message) == (
        "no provider called 'okta' is installed "
        "(installed: custom, miro, postman, slack, slack-v1, zoom)"
    )
    assert (
        caught.value.hint == "pip install baton-scim-okta, or pass --scim-config FILE"
    )


def test_unknown_provider_on_the_command_line_is_one_line(tmp_path):
    result = run_cli(
        "--service-provider=slak", "--token=t", f"--file={tmp_path / 'out.c1z'}"
    )

    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "no provider called 'slak' is installed" in line
    assert "did you mean 'slack'?" in line
    assert "pip install baton-scim-slak" in line
    assert not (tmp_path / "out.c1z").exists()


# -- baton-scim providers -------------------------------------------------------------


def test_providers_json_lists_name_package_version_description_source(install):
    install("baton-scim-acme-hr", "acme-hr", plugin_source("acme-hr"))

    result = run_cli("providers", "--json")

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {name: row["package"] for name, row in rows.items()} == {
        **BUILT_IN,
        "acme-hr": "baton-scim-acme-hr",
    }
    assert rows["acme-hr"] == {
        "name": "acme-hr",
        "package": "baton-scim-acme-hr",
        "version": "1.2.3",
        "description": "A throwaway provider",
        "configuration": "a throwaway file",
    }
    assert rows["slack"]["configuration"] == "built in: baton_scim_slack/slack.yaml"
    assert "--scim-config" in rows["custom"]["configuration"]


def test_providers_table_shows_every_name_and_package_whole():
    result = run_cli("providers")

    assert result.exit_code == 0, result.output
    for name, package in BUILT_IN.items():
        assert name in result.stdout
        assert package in result.stdout


# -- The workspace ------------------------------------------------------------------


def plugin_projects() -> dict[str, dict]:
    projects = {}
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        projects[pyproject.parent.name] = tomllib.loads(pyproject.read_text())
    return projects


def test_all_extra_installs_every_built_in_plugin():
    core = tomllib.loads((ROOT / "core" / "pyproject.toml").read_text())
    extra = set(core["project"]["optional-dependencies"]["all"])

    names = {p["project"]["name"] for p in plugin_projects().values()}
    assert extra == names


def test_every_plugin_is_a_workspace_member_with_an_entry_point_and_data():
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = set(workspace["tool"]["baton-scim"]["workspace"]["members"])

    for directory, project in plugin_projects().items():
        assert f"plugins/{directory}" in members
        assert project["project"]["dependencies"] == ["baton-scim>=0.1.0"]
        assert project["project"]["entry-points"]["baton_scim.providers"]
        assert project["project"]["name"] == f"baton-scim-{directory}"
        package = project["project"]["name"].replace("-", "_")
        data = project["tool"]["setuptools"]["package-data"][package]
        assert any(pattern.endswith(".yaml") for pattern in data)
        assert (ROOT / "plugins" / directory / "README.md").is_file()


def test_core_source_names_no_built_in_provider_module():
    core = ROOT / "core" / "src" / "baton_scim"
    sources = "\n".join(p.read_text() for p in core.rglob("*.py"))

    for module in ("baton_scim_slack", "baton_scim_zoom", "baton_scim_miro"):
        assert module not in sources
    assert "baton_scim_postman" not in sources


def test_providers_with_none_installed_names_the_all_extra(monkeypatch):
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: ())

    result = run_cli("providers")

    assert result.exit_code == 0
    assert "pip install baton-scim-<name>" in result.stdout
    assert "baton-scim[all]" in result.stdout
