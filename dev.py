#!/usr/bin/env python3
"""Set up the workspace in .venv and run one task: the two-command entry.

    python3 dev.py demo [ARGS]   set up, then run `baton-scim demo`
    python3 dev.py test [ARGS]   set up, then lint, type-check and test
    python3 dev.py setup         set up only

Needs only Python 3.11+ with pip and venv. Installs the core and every
plugin in editable mode, plus the development tools listed in the
root pyproject.toml, and skips that step when nothing changed.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on any python3 first
    sys.exit("baton-scim needs Python 3.11 or newer")

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".dev-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def workspace() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def fingerprint(members: list[str]) -> str:
    digest = hashlib.sha256()
    for path in [
        ROOT / "pyproject.toml",
        *(ROOT / m / "pyproject.toml" for m in members),
    ]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def setup() -> None:
    config = workspace()
    members = config["tool"]["baton-scim"]["workspace"]["members"]
    wanted = fingerprint(members)
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV.name} ...", flush=True)
        venv.create(VENV, with_pip=True)
    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run(*pip, "--upgrade", "pip")
    editable = [arg for member in members for arg in ("-e", f"./{member}")]
    print("installing baton-scim and its plugins ...", flush=True)
    run(*pip, *editable, *config["dependency-groups"]["dev"])
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    task, rest = (argv[0], argv[1:]) if argv else ("setup", [])
    setup()
    if task == "setup":
        return 0
    if task == "demo":
        return subprocess.call([str(BIN / "baton-scim"), "demo", *rest], cwd=ROOT)
    if task == "test":
        return test(rest)
    sys.exit(f"unknown task {task!r}: use demo, test or setup")


def test(rest: list[str]) -> int:
    steps = [
        [BIN / "ruff", "check", "."],
        [BIN / "mypy"],
        [BIN / "python", "-m", "pytest", *rest],
    ]
    for step in steps:
        print(
            "$",
            " ".join(str(s.name if isinstance(s, Path) else s) for s in step),
            flush=True,
        )
        code = subprocess.call([str(s) for s in step], cwd=ROOT)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
