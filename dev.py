#!/usr/bin/env python3
"""Set up the workspace in .venv and run one task: the two-command entry.

    python3 dev.py demo [ARGS]   set up, then run `baton-scim demo ARGS`
    python3 dev.py test [ARGS]   set up with the dev tools, then lint,
                                 type-check and test (ARGS go to pytest)
    python3 dev.py setup         set up with the dev tools only

Needs only Python 3.11+ with pip and venv. Installs the core and every
plugin of the workspace in editable mode (the demo needs nothing more),
plus the development tools of the root pyproject.toml for `test` and
`setup`. A step is skipped when the pyproject files have not changed.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on any python3 first
    sys.exit("baton-scim needs Python 3.11 or newer")

import hashlib
import os
import subprocess
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".dev-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
# What each task needs installed; "dev" includes everything "run" has.
RUN, DEV = "run", "dev"


def workspace() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def members(config: dict) -> list[str]:
    return config["tool"]["baton-scim"]["workspace"]["members"]


def fingerprint(config: dict) -> str:
    digest = hashlib.sha256()
    paths = [
        ROOT / "pyproject.toml",
        *(ROOT / m / "pyproject.toml" for m in members(config)),
    ]
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_requirements(config: dict) -> list[str]:
    """Every member's build-system requirements, installed once into .venv."""
    wanted: list[str] = []
    for member in members(config):
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
        for requirement in project["build-system"]["requires"]:
            if requirement not in wanted:
                wanted.append(requirement)
    return wanted


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def installed(stamp: str, level: str) -> bool:
    if not STAMP.exists():
        return False
    have_level, _, have = STAMP.read_text().partition(" ")
    return have == stamp and (have_level == DEV or level == RUN)


def setup(level: str = DEV) -> None:
    """Create .venv and install the workspace (and the dev tools for DEV)."""
    config = workspace()
    stamp = fingerprint(config)
    if installed(stamp, level):
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV.name} ...", flush=True)
        venv.create(VENV, with_pip=True)

    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("installing baton-scim and its plugins ...", flush=True)
    # The build backend goes into .venv first, so that the editable builds
    # need no throw-away build environment each (half the setup time).
    run(*pip, *build_requirements(config))
    packages = [arg for member in members(config) for arg in ("-e", f"./{member}")]
    if level == DEV:
        packages += config["dependency-groups"]["dev"]
    run(*pip, "--no-build-isolation", *packages)
    STAMP.write_text(f"{level} {stamp}")


def main(argv: list[str]) -> int:
    task, rest = (argv[0], argv[1:]) if argv else ("setup", [])
    if task not in ("demo", "test", "setup"):
        sys.exit(f"unknown task {task!r}: use demo, test or setup")
    setup(RUN if task == "demo" else DEV)
    if task == "demo":
        return demo(rest)
    if task == "test":
        return test(rest)
    return 0


def demo(rest: list[str]) -> int:
    code = subprocess.call([str(BIN / "baton-scim"), "demo", *rest])
    if code == 0:
        print(
            "\nThe commands above live in .venv: run `source .venv/bin/activate`"
            " first, or call .venv/bin/baton-scim.",
            flush=True,
        )
    return code


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
