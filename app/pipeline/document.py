"""YAML to plain Python data, remembering the line and column of every key and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.pipeline.parts import Loc

MAX_NODES = 100_000
"""Refuse documents that expand (through aliases) to more values than this."""

_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in the text."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Position:
        """The position of a PyYAML mark (which counts from 0)."""
        return cls(mark.line + 1, mark.column + 1)

    @classmethod
    def at(cls, text: str, offset: int) -> Position:
        """The position of the character at `offset` (0-based) in `text`."""
        before = text[: max(offset, 0)]
        return cls(before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


class YamlSyntaxError(Exception):
    """The text is not YAML, or not one YAML document; `position` is where the parser stopped."""

    def __init__(self, message: str, position: Position | None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass
class Document:
    """Data of one YAML document with where each part of it is written."""

    data: Any = None
    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)
    scalars: dict[Loc, str] = field(default_factory=dict)
    problems: list[tuple[Position, str]] = field(default_factory=list)

    def position(self, loc: Loc, *, at_key: bool = False) -> Position | None:
        """Where `loc` is written, or else its nearest enclosing value."""
        if at_key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return None


def compose(text: str) -> Document:
    """Parse one YAML document into plain data and positions (YamlSyntaxError if not YAML)."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as error:
        # The reader refuses control characters before parsing starts, with an offset only.
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise YamlSyntaxError(
            f"the character U+{code:04X} is not allowed in YAML", Position.at(text, error.position)
        ) from None
    try:
        node = loader.get_single_node()
        document = Document()
        if node is not None:
            document.data = _Walker(loader, document).walk(node, ())
        return document
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = error.problem or error.context or "not YAML"
        if error.context and error.problem and error.context_mark:
            where = Position.of(error.context_mark)
            message += f" ({error.context} at line {where.line}, column {where.column})"
        raise YamlSyntaxError(message, Position.of(mark) if mark else None) from error
    except yaml.YAMLError as error:
        raise YamlSyntaxError(str(error), Position(1, 1)) from error
    finally:
        loader.dispose()


class _Walker:
    """Builds plain data from composed nodes, filling a Document's position tables."""

    def __init__(self, loader: yaml.SafeLoader, document: Document) -> None:
        self.loader = loader
        self.document = document
        self.count = 0
        self.active: set[int] = set()

    def walk(self, node: Node, loc: Loc) -> Any:
        """The plain value of `node`, found at `loc`."""
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlSyntaxError(
                f"the document expands to more than {MAX_NODES} values (through aliases)",
                Position.of(node.start_mark),
            )
        self.document.values[loc] = Position.of(node.start_mark)
        if isinstance(node, ScalarNode):
            self.document.scalars[loc] = node.value
            return self.loader.construct_object(node)
        if id(node) in self.active:
            self.document.problems.append(
                (Position.of(node.start_mark), "an alias refers to a value that contains it")
            )
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.walk(item, (*loc, index)) for index, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, loc)
            return None
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        """A mapping with string keys: merged keys (`<<`) first, then the keys written here."""
        written = [(key, value) for key, value in node.value if key.tag != _MERGE]
        self.loader.flatten_mapping(node)
        merged = [pair for pair in node.value if not any(pair[0] is key for key, _ in written)]
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        for pairs, is_merged in ((merged, True), (written, False)):
            for key_node, value_node in pairs:
                key = self._key(key_node)
                if key is None:
                    continue
                where = Position.of(key_node.start_mark)
                if not is_merged and key in first_seen:
                    earlier = first_seen[key]
                    self.document.problems.append(
                        (where, f"duplicate key '{key}' (first at line {earlier.line})")
                    )
                    continue
                if not is_merged:
                    first_seen[key] = where
                self.document.keys[(*loc, key)] = where
                result[key] = self.walk(value_node, (*loc, key))
        return result

    def _key(self, node: Node) -> str | None:
        """A mapping key as written; keys must be plain scalars."""
        if isinstance(node, ScalarNode):
            return str(node.value)
        self.document.problems.append(
            (Position.of(node.start_mark), "a key must be a plain string, not a list or mapping")
        )
        return None
