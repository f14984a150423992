"""Size limits checked before anything runs: the request body and every string argument.

A 5 MB string in a search filter cost seconds of database time before any rule saw
it. These limits only stop what no caller needs; the domain's own, tighter rules
(a name of at most 200 characters, an agenda of 500…) then say exactly what fits,
so the limits here leave headroom above them (the domain trims spaces first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    ListValueNode,
    ObjectFieldNode,
    StringValueNode,
    ValidationRule,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

# The largest real request (a survey of 20 questions in four languages, or 500
# attendance marks) is under 100 KB.
MAX_BODY_BYTES = 256 * 1024

# Names, codes, ids, cursors, searches: the longest the domain keeps is 200.
MAX_STRING = 300
# Free texts: an agenda (500 in the domain), a broadcast (459), a cancel reason (200).
MAX_FREE_TEXT = 1000
FREE_TEXTS = frozenset({"agenda", "text", "reason"})


def max_length(name: str) -> int:
    """The longest string the API takes for an argument or input field of this name."""
    return MAX_FREE_TEXT if name in FREE_TEXTS else MAX_STRING


def too_long(where: str, length: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"argument {where!r} is too long: {length:,} characters, at most {limit:,}",
        extensions={"code": "too_long", "argument": where, "maxLength": limit},
    )


def _unwrap(type_: GraphQLInputType) -> GraphQLInputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _too_long_in_value(
    name: str, where: str, type_: GraphQLInputType, value: object
) -> Iterator[GraphQLError]:
    """Strings too long anywhere in a variable's value, walked along its input type."""
    type_ = _unwrap(type_)
    if isinstance(type_, GraphQLList):
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            yield from _too_long_in_value(name, f"{where}[{i}]", type_.of_type, item)
    elif isinstance(type_, GraphQLInputObjectType):
        if isinstance(value, Mapping):
            for key, item in value.items():
                field = type_.fields.get(key)
                if field is not None:
                    yield from _too_long_in_value(key, f"{where}.{key}", field.type, item)
    elif isinstance(value, str) and len(value) > max_length(name):
        yield too_long(where, len(value), max_length(name))


def string_length_rule(variables: Mapping[str, Any]) -> type[ValidationRule]:
    """A validation rule that sees this operation's variables as well as its literals."""

    class StringLengths(ValidationRule):
        def __init__(self, context: Any) -> None:
            super().__init__(context)
            self.path: list[str] = []

        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            self.path = [node.name.value]
            self.check(node.name.value, node.value)

        def enter_object_field(self, node: ObjectFieldNode, *_: object) -> None:
            self.path.append(node.name.value)
            self.check(node.name.value, node.value)

        def leave_object_field(self, *_: object) -> None:
            self.path.pop()

        def check(self, name: str, value: ValueNode) -> None:
            type_ = self.context.get_input_type()
            where = ".".join(self.path)
            values = value.values if isinstance(value, ListValueNode) else (value,)
            for item in values:
                if isinstance(item, StringValueNode) and len(item.value) > max_length(name):
                    self.report_error(too_long(where, len(item.value), max_length(name)))
                elif isinstance(item, VariableNode) and type_ is not None:
                    given = variables.get(item.name.value)
                    item_type = _unwrap(type_)
                    if isinstance(value, ListValueNode) and isinstance(item_type, GraphQLList):
                        item_type = item_type.of_type
                    for error in _too_long_in_value(name, where, item_type, given):
                        self.report_error(error)

    return StringLengths


class StringLengthLimiter(SchemaExtension):
    """Refuses an operation whose string arguments (literal or variable) are too long."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (
            *context.validation_rules,
            string_length_rule(context.variables or {}),
        )
        yield
