"""The README's promises: two commands on a fresh copy, and a complete reference."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from baton_scim.c1z import C1zReader
from baton_scim.cli import app
from baton_scim.config import ProviderConfig
from pydantic import BaseModel

import tests.support.cli  # noqa: F401  (registers the subcommands)

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def cli_options() -> list[tuple[str, str, str | None]]:
    """(command, option, variable) of every option of every command."""
    root = typer.main.get_command(app)
    found = []
    commands = {"": root, **getattr(root, "commands", {})}
    for name, command in commands.items():
        for param in command.params:
            for option in param.opts:
                found.append((name, option, param.envvar))
    return found


def description_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key path of the provider description, as written in YAML."""
    keys = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        keys.append(path)
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                keys.extend(description_keys(arg, path + "."))
    return keys


def documented(path: str) -> bool:
    if f"`{path}`" in README:
        return True
    parts = path.split(".")
    if parts[0] == "provisioning" and len(parts) == 3:
        return f"`provisioning.*.{parts[2]}`" in README or f"| `{parts[2]}` |" in README
    return False


def test_the_readme_documents_every_flag_and_variable():
    missing = [
        f"{command} {option}".strip()
        for command, option, _ in cli_options()
        if f"`{option}`" not in README
    ]
    variables = [env for _, _, env in cli_options() if env and f"`{env}`" not in README]

    assert missing == []
    assert variables == []


def test_the_readme_documents_every_key_of_the_provider_description():
    keys = description_keys(ProviderConfig)
    # A section (auth, user.roles, ...) is documented through its keys.
    leaves = [key for key in keys if not any(k.startswith(key + ".") for k in keys)]
    undocumented = [key for key in leaves if not documented(key)]

    assert undocumented == []


def test_the_two_quick_start_commands_are_the_ones_ci_runs():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]

    assert "python3 dev.py demo" in quick_start
    assert "python3 dev.py test" in quick_start
    assert "exec python3 dev.py test" in (ROOT / ".ci" / "run").read_text()


def repository_files() -> list[str]:
    """The files a clone would have: tracked ones and new ones not ignored."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know the repository's files")
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    names = [name for name in listing.stdout.decode().split("\0") if name]
    return [name for name in names if (ROOT / name).is_file()]


def clean_environment() -> dict[str, str]:
    """This machine's PATH, HOME and pip settings; no virtual environment."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {
        key: value
        for key, value in os.environ.items()
        if key in keep or key.startswith("PIP_") or key.lower().endswith("_proxy")
    }
    if sys.prefix != sys.base_prefix:
        # Leave out an activated virtual environment (ours included).
        env["PATH"] = os.pathsep.join(
            part
            for part in env.get("PATH", "").split(os.pathsep)
            if not part.startswith(sys.prefix)
        )
    return env


@pytest.mark.slow
def test_the_first_readme_command_works_on_a_fresh_copy(tmp_path):
    copy = tmp_path / "baton-scim"
    for name in repository_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    env = clean_environment()
    python = shutil.which("python3", path=env.get("PATH")) or sys.executable
    out = tmp_path / "sync.c1z"

    result = subprocess.run(
        [python, "dev.py", "demo", "--users", "50", "-f", str(out)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    with C1zReader(out) as reader:
        stats = reader.stats()
    assert stats["user"] == 50 and stats["group"] == 40
    venv_config = (copy / ".venv" / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in venv_config
    listing = subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-m", "pip", "list"],
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    installed = {line.split()[0].lower() for line in listing.splitlines()[2:]}
    assert {"baton-scim", "baton-scim-generic-yaml", "scim2-server"} <= installed
    assert "pytest" not in installed, "the demo installs no development tools"
