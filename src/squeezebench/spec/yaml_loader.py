"""A YAML loader that remembers where every node came from.

PyYAML composes the document into nodes that carry their start marks; we build plain
Python data from those nodes ourselves and record, for every path into the data, the
position of its value and (for mapping entries) of its key. Duplicate keys are errors,
not silent overwrites. JSON is a subset of YAML, so JSON specs load the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from squeezebench.spec.issues import Path, Position, SpecError, SpecIssue


@dataclass
class LocatedDocument:
    """Plain data plus the position of every value and key, by path."""

    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> Position | None:
        """Position of the node at ``path`` (its key if ``key``), else of its nearest parent."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return None


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load_located(text: str, filename: str) -> LocatedDocument:
    """Parse ``text``; raise :class:`SpecError` on syntax errors and duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position(mark.line + 1, mark.column + 1) if mark else None
        problem = error.problem or str(error)
        if error.context:
            problem = f"{problem} ({error.context})"
        raise SpecError(
            filename, [SpecIssue(f"invalid YAML: {problem}", (), position, "")]
        ) from None
    except yaml.YAMLError as error:
        raise SpecError(filename, [SpecIssue(f"invalid YAML: {error}", (), None, "")]) from None
    finally:
        loader.dispose()
    document = LocatedDocument(data=None)
    if node is None:
        return document
    issues: list[SpecIssue] = []
    document.data = _build(loader, node, (), document, issues)
    if issues:
        raise SpecError(filename, issues)
    return document


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    document: LocatedDocument,
    issues: list[SpecIssue],
) -> Any:
    document.values[path] = _position(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                issues.append(
                    SpecIssue("mapping keys must be plain scalars", path, _position(key_node))
                )
                continue
            child = (*path, key)
            if key in result:
                first = document.keys[child]
                issues.append(
                    SpecIssue(
                        f"duplicate key {key!r} (first defined at line {first.line})",
                        child,
                        _position(key_node),
                    )
                )
                continue
            document.keys[child] = _position(key_node)
            result[key] = _build(loader, value_node, child, document, issues)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, index), document, issues)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
