"""A YAML loader for rule files: ``CSafeLoader``'s parser with a leaner constructor.

Takes YAML text like ``yaml.CSafeLoader`` and yields the same Python data. libyaml
parses and resolves tags in C either way; what costs is PyYAML's constructor, which
builds every mapping through generators so that recursive documents work. Sigma
rules are trees of plain mappings, lists and scalars, so :class:`RuleLoader` builds
them by direct recursion, with the safe constructors for every non-string scalar and
aliases kept as shared objects. Anything else in a document (a merge key ``<<``, a
tag such as ``!!set`` or an unknown one, a recursive alias, a key that is not a
scalar, nesting deeper than Python's recursion limit) makes that document go through
``CSafeLoader``'s own constructor, so the result, or the error, is always the one it gives.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Unusual(Exception):
    """The document holds something the lean constructor leaves to PyYAML's."""


class RuleLoader(yaml.CSafeLoader):
    """``yaml.CSafeLoader`` with the lean constructor (same data, same errors)."""

    def construct_document(self, node: Node) -> Any:
        try:
            return _Builder(self).build(node)
        except (_Unusual, RecursionError):  # PyYAML's constructor does not recurse
            return super().construct_document(node)


class _Builder:
    """Builds one document: mappings and lists by recursion, scalars by the safe constructors."""

    __slots__ = ("loader", "built", "open")

    def __init__(self, loader: RuleLoader) -> None:
        self.loader = loader
        self.built: dict[int, Any] = {}  # id(node) → its object, so aliases share it
        self.open: set[int] = set()  # collections being built (an alias to one recurses)

    def build(self, node: Node) -> Any:
        if type(node) is ScalarNode:
            if node.tag == _STR:
                return node.value
            constructor = self.loader.yaml_constructors.get(node.tag)
            if constructor is None:  # merge keys, unknown tags
                raise _Unusual
            return constructor(self.loader, node)
        key = id(node)
        if key in self.built:
            return self.built[key]
        if key in self.open:
            raise _Unusual
        self.open.add(key)
        value: Any
        if type(node) is SequenceNode and node.tag == _SEQ:
            value = [self.build(child) for child in node.value]
        elif type(node) is MappingNode and node.tag == _MAP:
            value = {}
            for key_node, value_node in node.value:
                if type(key_node) is not ScalarNode:
                    raise _Unusual
                name = self.build(key_node)
                try:
                    value[name] = self.build(value_node)
                except TypeError:  # an unhashable key
                    raise _Unusual from None
        else:
            raise _Unusual
        self.open.discard(key)
        self.built[key] = value
        return value
