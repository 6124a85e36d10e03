"""YAML loading that remembers line numbers, so a bad knowledge file is reported as file:line.

Parsed by libyaml's C parser when PyYAML was built with it (about 13x faster than the pure-Python
one on the bundled knowledge base, which matters at hundreds of schools); its nodes carry the
same marks, so lines and messages stay file:line either way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml


class LineMap(dict):
    """A mapping from YAML that knows the line it started on (1-based) and each key's line."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int = 0


_STR = "tag:yaml.org,2002:str"


def _construct(loader, node: yaml.Node) -> Any:
    """A node's value; a string scalar directly. Strings are most of a policy file's nodes
    (every clause text and `about` phrasing), and PyYAML's general path costs more than the
    parse for each: skipping it for them took a quarter off parsing 500 schools' files."""
    if node.tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value
    return loader.construct_object(node, deep=True)


def _construct_mapping(loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = _construct(loader, key_node)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = _construct(loader, value_node)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(_construct(loader, child) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


def _construct_str(loader, node: yaml.ScalarNode) -> str:
    # Dates and times stay as the author wrote them; the knowledge loader parses them.
    return loader.construct_scalar(node)


def line_loader(base: type) -> type:
    """A safe loader on `base` (CSafeLoader or SafeLoader) whose mappings and lists know their lines."""
    loader = type("LineLoader", (base,), {})
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)
    return loader


# libyaml's parser with PyYAML's safe constructors (ours above), else the pure-Python parser.
_LineLoader = line_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class YamlError(Exception):
    """Malformed YAML, carrying the file and line for the message."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


class ParsedStore(Protocol):
    """Where parsed trees are kept by the file's bytes (parsed_cache.ParsedCache)."""

    def get(self, data: bytes) -> Any | None: ...

    def put(self, data: bytes, value: Any) -> None: ...


def load_yaml(path: Path, cache: ParsedStore | None = None) -> Any:
    """Parse one YAML file; a syntax error becomes YamlError naming file and line. With a cache
    (parsed_cache.py), a file whose bytes were parsed before is not parsed again."""
    data = path.read_bytes()
    if cache is not None and (value := cache.get(data)) is not None:
        return value
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(path, 1, f"not UTF-8 text ({exc.reason})") from None
    value = load_yaml_text(text.replace("\r\n", "\n").replace("\r", "\n"), path)
    if cache is not None and value is not None:
        cache.put(data, value)
    return value


def load_yaml_text(text: str, path: Path) -> Any:
    """Parse YAML held in memory (a draft not yet written); errors name `path` and the line."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "malformed YAML"
        raise YamlError(path, line, f"malformed YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        # No mark, and its position is in characters (Python parser) or bytes (C parser): the
        # first occurrence of the refused character is where either stopped.
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        at = text.find(char)
        line = text.count("\n", 0, at) + 1 if at >= 0 else 1
        raise YamlError(path, line, f"malformed YAML: unacceptable character #x{ord(char[:1] or ' '):04x} "
                                    f"({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise YamlError(path, 1, f"malformed YAML: {exc}") from None
