"""A YAML loader that remembers where every node came from.

PyYAML composes the document into nodes that carry their start marks; we build plain
Python data from those nodes ourselves and record, for every path into the data, the
position of its value and (for mapping entries) of its key. Duplicate keys are errors,
not silent overwrites. JSON is a subset of YAML, so JSON specs load the same way.

Every problem becomes a located :class:`SpecIssue`: syntax errors, bad tags and values,
recursive aliases, too deep nesting and alias bombs (bounded by ``MAX_DEPTH`` levels and
``MAX_NODES`` values). Only plain scalars (strings, numbers, booleans, null, timestamps),
lists and mappings are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

from squeezebench.spec.issues import Path, Position, SpecError, SpecIssue

MAX_DEPTH = 100
MAX_NODES = 100_000

_YAML = "tag:yaml.org,2002:"
_MAP, _SEQ, _MERGE, _VALUE = (f"{_YAML}{name}" for name in ("map", "seq", "merge", "value"))
_SCALAR_TAGS = {f"{_YAML}{name}" for name in ("null", "bool", "int", "float", "str", "timestamp")}
_KEY_TYPES = (str, int, float, bool, type(None))
# What PyYAML's scalar constructors raise for a value that does not fit its tag.
_CONSTRUCTION_ERRORS = (yaml.YAMLError, ValueError, LookupError, AttributeError, TypeError)
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # as PyYAML counts lines
_INVALID = object()  # a scalar that could not be constructed (an issue says why)
_INT64 = -(2**63)  # the smallest int64; results and every consumer of numbers use 64 bits


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


def load_located(text: str, filename: str) -> LocatedDocument:
    """Parse ``text``; raise :class:`SpecError` on syntax errors, bad values and duplicate keys."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except _TooManyNodes as error:
        message = f"the document holds more than {MAX_NODES} values"
        raise SpecError(
            filename, [SpecIssue(message, (), _mark_position(error.mark), "")]
        ) from None
    except yaml.YAMLError as error:
        raise SpecError(filename, [_syntax_issue(text, error)]) from None
    document = LocatedDocument(data=None)
    if node is None:
        return document
    builder = _Builder(loader, document)
    try:
        document.data = builder.build(node, ())
    except _Abort as abort:
        builder.issues[abort.issue] = None
    if builder.issues:
        raise SpecError(filename, list(builder.issues))
    return document


class _AliasNode:
    """A use of an alias (``*name``): the anchored node, positioned where the alias is."""

    def __init__(self, target: yaml.Node, mark: yaml.Mark) -> None:
        self.target = target
        self.mark = mark


class _TooManyNodes(yaml.YAMLError):
    """Raised while composing, so that a huge document stops at its 100,001st value."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(mark)
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """Composes aliases as :class:`_AliasNode`, refuses nesting deeper than MAX_DEPTH and
    documents of more than MAX_NODES values (before aliases are expanded: see _Builder)."""

    depth = 0
    nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            return _AliasNode(super().compose_node(parent, index), mark)
        if self.depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nesting too deep (more than {MAX_DEPTH} levels)",
                self.peek_event().start_mark,
            )
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooManyNodes(self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Abort(Exception):
    """Stops building: the document is recursive, too deep or too large."""

    def __init__(self, issue: SpecIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _Builder:
    """Builds plain data from nodes, recording positions and collecting issues."""

    def __init__(self, loader: yaml.SafeLoader, document: LocatedDocument) -> None:
        self.loader = loader
        self.document = document
        self.issues: dict[SpecIssue, None] = {}  # an ordered set
        self.active: set[int] = set()  # ids of the nodes being built (no node twice: no cycle)
        self.count = 0

    def issue(self, message: str, path: Path, position: Position) -> None:
        self.issues[SpecIssue(message, path, position)] = None

    def build(self, node: yaml.Node | _AliasNode, path: Path) -> Any:
        node, position = _deref(node)
        self.document.values[path] = position
        with self._entering(node, path, position):
            if isinstance(node, yaml.ScalarNode):
                value = self._scalar(node, path, position)
                return None if value is _INVALID else value
            if node.tag != (_MAP if isinstance(node, yaml.MappingNode) else _SEQ):
                self.issue(f"unsupported YAML tag {_short_tag(node.tag)!r}", path, position)
                return None
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            result = {}
            for key, (key_node, value_node) in self._entries(node, path).items():
                self.document.keys[(*path, key)] = _deref(key_node)[1]
                result[key] = self.build(value_node, (*path, key))
            return result

    @contextmanager
    def _entering(self, node: yaml.Node, path: Path, position: Position) -> Iterator[None]:
        if id(node) in self.active:
            raise _Abort(
                SpecIssue("recursive alias: an anchor is used inside itself", path, position)
            )
        if len(self.active) >= MAX_DEPTH:
            message = f"nesting too deep (more than {MAX_DEPTH} levels, aliases included)"
            raise _Abort(SpecIssue(message, path, position))
        self.count += 1
        if self.count > MAX_NODES:  # only aliases get here: composing counted the rest
            message = f"the document holds more than {MAX_NODES} values once aliases are expanded"
            raise _Abort(SpecIssue(message, path, position))
        self.active.add(id(node))
        try:
            yield
        finally:
            self.active.discard(id(node))

    def _entries(self, node: yaml.MappingNode, path: Path) -> dict[Any, tuple[Any, Any]]:
        """The mapping's entries, merge keys (``<<``) resolved: its own keys win."""
        own: dict[Any, tuple[Any, Any]] = {}
        merged: dict[Any, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            if _deref(key_node)[0].tag == _MERGE:
                # As PyYAML: the first mapping listed wins, in the order PyYAML gives.
                for source, position in reversed(self._merge_sources(value_node, (*path, "<<"))):
                    merged.update(self._merged_entries(source, path, position))
                continue
            key = self._key(key_node, path)
            if key is _INVALID:
                continue
            if key in own:
                first = _deref(own[key][0])[1]
                message = f"duplicate key {key!r} (first defined at line {first.line})"
                self.issue(message, (*path, key), _deref(key_node)[1])
                continue
            own[key] = (key_node, value_node)
        return {**merged, **own}

    def _merge_sources(
        self, value_node: Any, path: Path
    ) -> list[tuple[yaml.MappingNode, Position]]:
        node = _deref(value_node)[0]
        items = node.value if isinstance(node, yaml.SequenceNode) else [value_node]
        sources = []
        for item in items:
            source, where = _deref(item)
            if isinstance(source, yaml.MappingNode):
                sources.append((source, where))
            else:
                self.issue("a merge key (<<) needs a mapping or a list of mappings", path, where)
        return sources

    def _merged_entries(self, source: yaml.MappingNode, path: Path, position: Position) -> dict:
        # The source's own problems are reported where it is defined, not at each merge.
        issues, self.issues = self.issues, {}
        try:
            with self._entering(source, path, position):
                return self._entries(source, path)
        finally:
            self.issues = issues

    def _key(self, key_node: Any, path: Path) -> Any:
        node, position = _deref(key_node)
        if not isinstance(node, yaml.ScalarNode):
            found = len(self.issues)
            document, self.document = self.document, LocatedDocument(data=None)
            try:
                self.build(key_node, path)  # only for the issues inside the key
            finally:
                self.document = document
            if len(self.issues) == found:
                self.issue(
                    "mapping keys must be plain scalars, not lists or mappings", path, position
                )
            return _INVALID
        key = self._scalar(node, path, position)
        if key is not _INVALID and not isinstance(key, _KEY_TYPES):
            message = (
                f"mapping keys must be plain scalars, but {node.value!r} reads as a "
                f"{type(key).__name__}; quote it to make it a string"
            )
            self.issue(message, (*path, node.value), position)
            return _INVALID
        return key

    def _scalar(self, node: yaml.ScalarNode, path: Path, position: Position) -> Any:
        if node.tag == _VALUE:  # a plain '=' (YAML 1.1 value key): just a string
            return node.value
        if node.tag == _MERGE:
            self.issue("'<<' is a merge key; quote it to use it as a string", path, position)
            return _INVALID
        if node.tag not in _SCALAR_TAGS:
            self.issue(f"unsupported YAML tag {_short_tag(node.tag)!r}", path, position)
            return _INVALID
        try:
            value = self.loader.construct_object(node, deep=True)
        except _CONSTRUCTION_ERRORS:
            name = node.tag.removeprefix(_YAML)
            self.issue(f"invalid value: {node.value!r} is not a valid {name}", path, position)
            return _INVALID
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64 <= value < -_INT64:
            self.issue(
                f"integer {node.value} is out of range: numbers in a spec must fit in 64 bits "
                "(-2**63 to 2**63 - 1)",
                path,
                position,
            )
            return _INVALID
        if isinstance(value, str) and _SURROGATE.search(value):
            try:  # JSON escapes characters beyond the BMP as surrogate pairs: combine them
                value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            except UnicodeDecodeError:
                self.issue("string contains an unpaired UTF-16 surrogate", path, position)
                return _INVALID
        return value


def _deref(node: yaml.Node | _AliasNode) -> tuple[yaml.Node, Position]:
    """The node an alias stands for (or the node itself), and where it is used."""
    if isinstance(node, _AliasNode):
        return node.target, _mark_position(node.mark)
    return node, _mark_position(node.start_mark)


def _mark_position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def position_of(text: str, index: int) -> Position:
    """The line and column of character ``index`` of ``text``, counting lines as PyYAML does."""
    breaks = list(_LINE_BREAK.finditer(text, 0, index))
    line_start = breaks[-1].end() if breaks else 0
    return Position(len(breaks) + 1, index - line_start + 1)


def _syntax_issue(text: str, error: yaml.YAMLError) -> SpecIssue:
    position = None
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        position = _mark_position(mark) if mark else None
        problem = _explain(text, error)
    elif isinstance(error, yaml.reader.ReaderError):
        position = position_of(text, error.position)
        problem = f"unacceptable character #x{error.character:04x}: {error.reason}"
    else:
        problem = str(error)
    return SpecIssue(f"invalid YAML: {problem}", (), position, "")


def _explain(text: str, error: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem, with where its context started and what a tab problem means."""
    problem = error.problem or str(error)
    mark, context = error.problem_mark, error.context_mark
    if mark is not None and "'\\t'" in problem:
        if not text[mark.index - mark.column : mark.index].strip(" \t"):
            return "a tab indents this line: YAML does not allow tabs for indentation; use spaces"
        return "a tab here: the YAML parser only accepts spaces between these tokens; use spaces"
    if mark is not None and ("expected ','" in problem or "'<stream end>'" in problem):
        bracket = _unclosed_bracket(text, mark.index)
        if bracket is not None:
            where = f"line {bracket.start_mark.line + 1}, column {bracket.start_mark.column + 1}"
            opening = "[" if isinstance(bracket, yaml.FlowSequenceStartToken) else "{"
            return f"{problem}: is the '{opening}' at {where} closed?"
    if not error.context:
        return problem
    if context is None or (mark is not None and context.index == mark.index):
        return f"{problem} ({error.context})"
    where = f"line {context.line + 1}, column {context.column + 1}"
    return f"{problem} ({error.context} that starts at {where})"


def _unclosed_bracket(text: str, index: int) -> yaml.Token | None:
    """The innermost ``[`` or ``{`` still open at character ``index``, as PyYAML scans them."""
    opened: list[yaml.Token] = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= index:
                break
            if isinstance(token, yaml.FlowSequenceStartToken | yaml.FlowMappingStartToken):
                opened.append(token)
            elif isinstance(token, yaml.FlowSequenceEndToken | yaml.FlowMappingEndToken) and opened:
                opened.pop()
    except yaml.YAMLError:
        pass  # the scanner stops where the document breaks: what was open stays open
    return opened[-1] if opened else None
