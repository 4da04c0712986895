"""YAML loading that remembers where each value came from, so config errors can name file:line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# One constructor for every scalar: compose() has already resolved the tags.
_SCALARS = yaml.SafeLoader("")

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
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(path, line, f"YAML syntax error: {e.problem}") from e
    lines: dict[Loc, int] = {}
    if node is None:
        return YamlSource(path, None, lines)
    data = _convert(node, (), lines, path)
    return YamlSource(path, data, lines)


def _convert(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _SCALARS.construct_object(key_node)  # scalars only
            if isinstance(key, int | float | bool):
                key = str(key)
            if not isinstance(key, str):
                raise YamlSyntaxError(path, key_node.start_mark.line + 1, "keys must be text")
            if key in result:
                raise YamlSyntaxError(
                    path, key_node.start_mark.line + 1, f"{key}: duplicate key in the same mapping"
                )
            child = (*loc, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, child, lines, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item.start_mark.line + 1
            items.append(_convert(item, child, lines, path))
        return items
    return _SCALARS.construct_object(node)
