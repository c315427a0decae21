"""JSONPath expressions of a provider description, compiled once per run.

Most expressions are plain (``name.givenName``, ``emails[0].value``): those
become a list of steps walked directly, which is far cheaper than a general
JSONPath engine on a 100k-user directory. The one filter shape providers
use, ``emails[?(@.primary==true)].value``, is compiled natively too. Anything
else goes to jsonpath-ng's extended parser. A leading ``$.`` is optional.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_extended

from .errors import ConfigError

Finder = Callable[[Any], list[Any]]
Getter = Callable[[Any], Any]

_STEP = re.compile(r"([A-Za-z_][\w:\-]*)|\[(\d+)\]")
_PLAIN = re.compile(r"^[A-Za-z_][\w:\-]*(\.[A-Za-z_][\w:\-]*|\[\d+\])*$")
_FILTER = re.compile(
    r"^(?P<list>[\w.:\-]+)\[\?\(?@\.(?P<key>\w+)\s*==\s*(?P<lit>[^)\]]+?)\)?\]"
    r"(?:\.(?P<rest>.+))?$"
)
_MISSING = object()


class JsonPath:
    """One compiled expression; ``first`` and ``all`` read it from a document.

    ``get`` is the hot-path form of ``first``: a plain function of the
    document giving the first value, or None when nothing matches.
    ``plain`` says the expression selects at most one value (no filter).
    """

    __slots__ = ("_find", "expression", "get", "plain")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        stripped = _strip_root(expression.strip())
        self._find = _compile(stripped)
        self.plain = not stripped or bool(_PLAIN.match(stripped))
        self.get: Getter = _getter(stripped, self._find)

    def all(self, document: Any) -> list[Any]:
        """Every value the expression selects, in document order."""
        return self._find(document)

    def first(self, document: Any, default: Any = None) -> Any:
        """The first selected value, or ``default`` when nothing matches."""
        found = self._find(document)
        return found[0] if found else default

    def __repr__(self) -> str:
        return f"JsonPath({self.expression!r})"


def compile_path(expression: str, *, key: str = "") -> JsonPath:
    """Compile an expression; a syntax error names the description key."""
    try:
        return JsonPath(expression)
    except (JsonPathParserError, Exception) as exc:  # jsonpath-ng raises broadly
        where = f"{key}: " if key else ""
        raise ConfigError(
            f"{where}invalid JSONPath {expression!r}: {exc}",
            hint="see the guide's JSONPath examples",
        ) from None


def _strip_root(expression: str) -> str:
    if expression.startswith("$."):
        return expression[2:]
    return expression[1:] if expression.startswith("$") else expression


def _compile(expression: str) -> Finder:
    if not expression:
        return lambda document: [document]
    if _PLAIN.match(expression):
        return _plain(_steps(expression))
    match = _FILTER.match(expression)
    if match:
        return _filter(match)
    return _general(expression)


def _getter(expression: str, find: Finder) -> Getter:
    """The cheapest function giving the first match, or None."""
    if not expression:
        return lambda document: document
    if _PLAIN.match(expression):
        return _plain_getter(_steps(expression))
    match = _FILTER.match(expression)
    if match:
        return _filter_getter(match)

    def get(document: Any) -> Any:
        found = find(document)
        return found[0] if found else None

    return get


def _plain_getter(steps: list[str | int]) -> Getter:
    # One or two named steps cover nearly every mapping (``id``,
    # ``name.givenName``); they skip the generic walk.
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]
        return lambda document: (
            document.get(key) if isinstance(document, dict) else None
        )
    if len(steps) == 2 and isinstance(steps[0], str) and isinstance(steps[1], str):
        outer, inner = steps

        def get_nested(document: Any) -> Any:
            if isinstance(document, dict):
                value = document.get(outer)
                if isinstance(value, dict):
                    return value.get(inner)
            return None

        return get_nested

    def get(document: Any) -> Any:
        value = _walk(document, steps)
        return None if value is _MISSING else value

    return get


def _filter_getter(match: re.Match[str]) -> Getter:
    container = _plain_getter(_steps(match["list"]))
    key = match["key"]
    literal = _literal(match["lit"].strip())
    rest = _steps(match["rest"]) if match["rest"] else []

    def get(document: Any) -> Any:
        items = container(document)
        if not isinstance(items, list):
            return None
        for item in items:
            if isinstance(item, dict) and item.get(key, _MISSING) == literal:
                value = _walk(item, rest)
                if value is not _MISSING:
                    return value
        return None

    return get


def _steps(expression: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(expression)]


def _plain(steps: list[str | int]) -> Finder:
    def find(document: Any) -> list[Any]:
        value = _walk(document, steps)
        return [] if value is _MISSING else [value]

    return find


def _walk(value: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
        elif not isinstance(value, dict) or step not in value:
            return _MISSING
        value = value[step]
    return value


def _filter(match: re.Match[str]) -> Finder:
    """``list[?(@.key==literal)].rest``: the common primary-email filter."""
    container = _plain(_steps(match["list"]))
    key = match["key"]
    literal = _literal(match["lit"].strip())
    rest = _steps(match["rest"]) if match["rest"] else []

    def find(document: Any) -> list[Any]:
        found = container(document)
        items = found[0] if found and isinstance(found[0], list) else []
        selected = (
            _walk(item, rest)
            for item in items
            if isinstance(item, dict) and item.get(key, _MISSING) == literal
        )
        return [value for value in selected if value is not _MISSING]

    return find


def _literal(text: str) -> Any:
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _general(expression: str) -> Finder:
    parsed = parse_extended(expression)

    def find(document: Any) -> list[Any]:
        return [match.value for match in parsed.find(document)]

    return find
