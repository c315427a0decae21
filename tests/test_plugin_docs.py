"""docs/plugins.md: the tutorial's files are the tested ones, every hook has
its reference section, and every Python example is valid Python."""

from __future__ import annotations

import ast
import re

import pytest
from baton_scim import hookspecs

from tests.conftest import ROOT

DOCS = ROOT / "docs"
GUIDE = (DOCS / "plugins.md").read_text()
FENCE = re.compile(r"```(?P<lang>\w*)\n(?P<code>.*?)```", re.DOTALL)
INCLUDE = re.compile(
    r"<!-- include: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.DOTALL
)


def test_tutorial_shows_each_example_file_verbatim():
    shown = {m["path"]: m["code"] for m in INCLUDE.finditer(GUIDE)}

    example = DOCS / "examples" / "baton-scim-acme"
    files = {
        str(path.relative_to(DOCS))
        for path in example.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert set(shown) == files
    for path, code in shown.items():
        assert code == (DOCS / path).read_text(), path


def test_every_hook_has_a_reference_section():
    hooks = [name for name in vars(hookspecs) if name.startswith("baton_scim_")]

    assert len(hooks) == 8
    for hook in hooks:
        assert re.search(rf"^### `{hook}\(", GUIDE, re.MULTILINE), hook


@pytest.mark.parametrize(
    "code",
    [m["code"] for m in FENCE.finditer(GUIDE) if m["lang"] == "python"],
)
def test_python_examples_are_valid_python(code):
    ast.parse(code)
