"""Rule-file YAML to plain data, bounded: what `scoring.loader` validates.

Loaded only when a file's text is read (not when `scoring.rulecache` holds its data):
PyYAML and the composing cost a cold start more than the validation.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from scoring.errors import Problem, RuleFileError
from scoring.loader import MAX_DEPTH, MAX_VALUES, Path_, _dotted, _short

_BOOL_TAG = "tag:yaml.org,2002:bool"


class _RuleLoader(yaml.SafeLoader):
    """YAML with 1.2 booleans: only true and false, so `country: [SE, NO]` stays text;
    nesting is bounded while composing, so deep input never exhausts the stack."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.depth >= MAX_DEPTH:
            problem = f"values nest more than {MAX_DEPTH} levels deep"
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, problem, mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_RuleLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RuleLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def plain_data(text: str, name: str) -> tuple[Any, dict[Path_, int]]:
    """The plain data of rule-file text, and the line of every path in it; a
    `RuleFileError` for YAML that is malformed, unbounded or of a kind rules never use."""
    try:
        node = yaml.compose(text, Loader=_RuleLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise RuleFileError([Problem(name, line, "", f"invalid YAML: {exc.problem}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        message = f"control character U+{exc.character:04X} is not allowed in YAML"
        raise RuleFileError([Problem(name, line, "", message)]) from None
    if node is None:
        raise RuleFileError([Problem(name, None, "", "the file is empty")])
    lines: dict[Path_, int] = {}
    try:
        data = _Builder(lines).build(node, ())
    except _Bad as exc:
        raise RuleFileError([Problem(name, exc.line, _dotted(exc.path), str(exc))]) from None
    return data, lines


class _Bad(Exception):
    """A problem found while turning YAML nodes into data: its line, path and message."""

    def __init__(self, node: yaml.Node, path: Path_, message: str) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.path = path


_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


class _Builder:
    """Plain Python data from a YAML node, recording the line of every path.

    Aliases (`&markets` ... `*markets`) are expanded, so the values they stand for
    are counted: a file expanding to more than `MAX_VALUES` values (an alias bomb),
    an alias inside itself, or nesting deeper than `MAX_DEPTH` is refused.
    """

    def __init__(self, lines: dict[Path_, int]) -> None:
        self.lines = lines
        self.count = 0
        self.open: set[int] = set()
        self.scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        self.count += 1
        if self.count > MAX_VALUES:
            message = (
                f"the file expands to more than {MAX_VALUES:,} values; aliases (*name) "
                "may repeat a value, but not this often"
            )
            raise _Bad(node, path, message)
        if len(path) > MAX_DEPTH:
            raise _Bad(node, path, f"values nest more than {MAX_DEPTH} levels deep")
        if id(node) in self.open:
            raise _Bad(node, path, "a recursive alias: the value contains itself")
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self.scalar(node, path)
        self.open.add(id(node))
        result: Any
        if isinstance(node, yaml.MappingNode):
            result = self.mapping(node, path)
        else:
            self.check_tag(node, path, _YAML + "seq")
            result = [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        self.open.discard(id(node))
        return result

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        self.check_tag(node, path, _YAML + "map")
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _YAML + "merge":
                message = "merge keys (<<) are not supported; write the fields out"
                raise _Bad(key_node, path, message)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Bad(key_node, path, "keys must be plain values")
            key = self.scalar(key_node, path)
            if key in result:
                message = f"duplicate key {str(key)!r} (lines {first_line[key]} and {line})"
                raise _Bad(key_node, (*path, str(key)), message)
            key_path = (*path, str(key))
            first_line[key] = line
            self.lines[key_path] = line
            result[key] = self.build(value_node, key_path)
        return result

    def scalar(self, node: yaml.Node, path: Path_) -> Any:
        self.check_tag(node, path, *_SCALAR_TAGS)
        try:
            return self.scalars.construct_object(node)
        except (ValueError, OverflowError, TypeError, yaml.YAMLError) as exc:
            tag = node.tag.removeprefix(_YAML)
            raise _Bad(node, path, f"{_short(node.value)} is not a valid {tag}: {exc}") from None

    @staticmethod
    def check_tag(node: yaml.Node, path: Path_, *allowed: str) -> None:
        if node.tag not in allowed:
            tag = node.tag.replace(_YAML, "!!")
            message = f"unknown tag {tag!r}; rule files use plain values, lists and mappings"
            raise _Bad(node, path, message)
