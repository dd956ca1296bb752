"""Read YAML/JSON documents keeping the line of every value, for errors that point at the line.

:func:`load_document` returns a :class:`Doc`: the plain Python value (dicts, lists, str, int,
float, bool, None) plus ``lines``, a map from a value's path (a tuple of keys and list indexes)
to its 1-based line in the source. JSON is a subset of YAML 1.2 flow style, so both go through
PyYAML's composer, which records ``start_mark`` on every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from baton.domain.errors import ValidationError

Path = tuple[str | int, ...]


class SourceError(ValidationError):
    """A document is invalid. ``line`` is 1-based (``None`` when unknown), ``path`` the offending field
    (``rules[2].when.order.value``), ``source`` the file name or ``<text>``."""

    def __init__(self, message: str, *, line: int | None = None, path: str = "", source: str = "<text>") -> None:
        self.line = line
        self.path = path
        self.source = source
        self.detail = message
        where = f"{source}:{line}" if line is not None else source
        field_part = f" {path}:" if path else ""
        super().__init__(f"{where}:{field_part} {message}")


def format_path(path: Sequence[str | int]) -> str:
    """``("rules", 2, "when")`` -> ``rules[2].when``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class Doc:
    """A parsed document and the line (1-based) of each value by path."""

    value: Any
    lines: dict[Path, int] = field(default_factory=dict)
    source: str = "<text>"

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def error(self, path: Path, message: str) -> SourceError:
        return SourceError(message, line=self.line(path), path=format_path(path), source=self.source)


def _convert(node: yaml.Node, path: Path, lines: dict[Path, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) \
                else key_node.value
            key = str(key)
            if key in out:
                raise SourceError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1,
                                  path=format_path((*path, key)), source=source)
            out[key] = _convert(value_node, (*path, key), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), lines, source) for i, item in enumerate(node.value)]
    constructor = yaml.SafeLoader("")
    return constructor.construct_object(node, deep=True)  # type: ignore[no-untyped-call]


def load_document(text: str, source: str = "<text>") -> Doc:
    """Parse YAML or JSON ``text``.

    Raises:
        SourceError: on a syntax error (with its line) or a duplicate key.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SourceError(f"not valid YAML/JSON: {exc.problem or exc}", line=line, source=source) from exc
    if node is None:
        return Doc(None, {(): 1}, source)
    lines: dict[Path, int] = {}
    return Doc(_convert(node, (), lines, source), lines, source)


class Node:
    """A cursor on one mapping of a :class:`Doc` that reads typed fields with line-accurate errors.

    ``allowed`` (when given) lists the keys this mapping may contain; others are refused.
    """

    def __init__(self, doc: Doc, path: Path, allowed: Sequence[str] | None = None) -> None:
        self.doc = doc
        self.path = path
        value = doc.value
        for part in path:
            value = value[part]
        if not isinstance(value, dict):
            raise doc.error(path, f"must be a mapping, got {type(value).__name__}")
        self.data: dict[str, Any] = value
        if allowed is not None:
            for key in self.data:
                if key not in allowed:
                    raise doc.error((*path, key), f"unknown field {key!r} (allowed: {', '.join(allowed)})")

    def has(self, key: str) -> bool:
        return key in self.data

    def error(self, key: str | None, message: str) -> SourceError:
        return self.doc.error(self.path if key is None else (*self.path, key), message)

    def child(self, key: str, allowed: Sequence[str] | None = None) -> Node:
        if key not in self.data:
            raise self.error(None, f"missing field {key!r}")
        return Node(self.doc, (*self.path, key), allowed)

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.error(None, f"missing field {key!r}")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = ...) -> Any:
        value = self.raw(key, default)
        if value is default and key not in self.data:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def number(self, key: str, default: Any = ..., *, minimum: float | None = None,
               maximum: float | None = None) -> Any:
        value = self.raw(key, default)
        if key not in self.data:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be <= {maximum}, got {value}")
        return value

    def integer(self, key: str, default: Any = ..., *, minimum: int | None = None) -> Any:
        value = self.number(key, default, minimum=minimum)
        if key in self.data and not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {value!r}")
        return value

    def boolean(self, key: str, default: Any = ...) -> Any:
        value = self.raw(key, default)
        if key in self.data and not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def str_list(self, key: str, default: Any = ..., *, choices: Sequence[str] | None = None) -> Any:
        value = self.raw(key, default)
        if key not in self.data:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(key, f"must be a list of strings, got {value!r}")
        out = [v.strip() for v in value]
        if choices is not None:
            for i, v in enumerate(out):
                if v not in choices:
                    raise self.doc.error((*self.path, key, i), f"{v!r} is not one of {', '.join(choices)}")
        return out

    def list_of_nodes(self, key: str, allowed: Sequence[str] | None = None) -> list[Node]:
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {type(value).__name__}")
        return [Node(self.doc, (*self.path, key, i), allowed) for i in range(len(value))]
