"""Shared fixtures: real and fake SCIM servers, paths, a CLI runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.support.fixtures"]

ROOT = Path(__file__).resolve().parents[1]
GO_REFERENCE = ROOT / "tests" / "data" / "go-reference"


@pytest.fixture
def reference_directory() -> dict[str, Any]:
    """The Go connector's reference directory (7 users, 4 groups)."""
    return json.loads((GO_REFERENCE / "directory.json").read_text())


@pytest.fixture
def reference_config(tmp_path: Path):
    """Write the reference description pointed at a server URL."""

    def write(url: str, name: str = "config.yaml") -> Path:
        text = (GO_REFERENCE / "config.yaml").read_text()
        text = text.replace("http://127.0.0.1:PORT/scim/v2/", url.rstrip("/") + "/")
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
