"""YAML loading that remembers where each value came from, so config errors can name file:line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# A path into a loaded document: mapping keys and list indexes, as pydantic reports them in `loc`.
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML document with the line (1-based) of every mapping key and list item."""

    path: Path
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest known prefix of `loc` (an unknown key still maps to its line)."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1


class YamlSyntaxError(ValueError):
    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


def load_yaml(path: Path) -> YamlSource:
    """Parse a YAML file; every way it can be broken is a YamlSyntaxError with its line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise YamlSyntaxError(path, line, "not UTF-8 text") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(path, line, f"YAML syntax error: {e.problem}") from e
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (a control, say)
        line = text.count("\n", 0, e.position) + 1
        char = f"U+{e.character:04X}" if isinstance(e.character, int) else repr(e.character)
        raise YamlSyntaxError(path, line, f"YAML syntax error: {e.reason} ({char})") from e
    except RecursionError as e:  # PyYAML's composer recurses once per level of nesting
        raise YamlSyntaxError(path, 1, "nested too deeply") from e
    lines: dict[Loc, int] = {}
    if node is None:
        return YamlSource(path, None, lines)
    # One constructor per file for the scalars: compose() has already resolved their tags.
    data = _Converter(path, yaml.SafeLoader(""), lines).convert(node, ())
    return YamlSource(path, data, lines)


_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class _Converter:
    """Nodes to plain values, noting the line of every key and item on the way."""

    path: Path
    scalars: yaml.SafeLoader
    lines: dict[Loc, int]

    def convert(self, node: yaml.Node, loc: Loc, within: frozenset[int] = frozenset()) -> Any:
        if id(node) in within:
            # An alias inside the value it names ("a: &x [*x]"): no plain value can hold it.
            raise self._error(node, "an alias refers to a value that contains it")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc, within | {id(node)})
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                child = (*loc, index)
                self.lines[child] = item.start_mark.line + 1
                items.append(self.convert(item, child, within | {id(node)}))
            return items
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, loc: Loc, within: frozenset[int]) -> Any:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise self._error(key_node, "merge keys (<<) are not supported: write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(key_node, "keys must be text")
            key = self._scalar(key_node)
            if isinstance(key, int | float | bool):
                key = str(key)
            if not isinstance(key, str):
                raise self._error(key_node, "keys must be text")
            if key in result:
                raise self._error(key_node, f"{key}: duplicate key in the same mapping")
            child = (*loc, key)
            self.lines[child] = key_node.start_mark.line + 1
            result[key] = self.convert(value_node, child, within)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError) as e:
            # PyYAML's constructors fail each in its own way on a value that does not fit its
            # tag: "!!int abc", "2026-02-30" (a date), "!!timestamp x" (AttributeError), "!foo".
            text = node.value if len(node.value) <= 40 else node.value[:39] + "…"
            raise self._error(node, f"cannot read {text!r} as {node.tag}") from e
        if isinstance(value, str):
            return self._text(node, value)
        return value

    def _text(self, node: yaml.Node, value: str) -> str:
        if "\0" in value:
            # A NUL ("\0" in double quotes) breaks file paths and URLs, and nothing needs one.
            raise self._error(node, "NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # PyYAML reads "\ud83c\udfe0" (JSON's way to write 🏠) as two lone surrogates: joined
            # again here. One without its pair is no character at all.
            try:
                return value.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                raise self._error(node, "a lone surrogate (\\ud800-\\udfff) is not text") from None
        return value

    def _error(self, node: yaml.Node, problem: str) -> YamlSyntaxError:
        return YamlSyntaxError(self.path, node.start_mark.line + 1, problem)
