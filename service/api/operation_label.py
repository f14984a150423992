"""A GraphQL request's name for the metrics: its first root field, as the schema spells it.

The operation's own name is the client's free text (anything, new every request) and
cannot be a label. The root fields can: the schema has a fixed set of them. So a
request is labelled `query.communities`, `mutation.scheduleMeeting`…; a field the
schema does not have (the request will fail validation) `other`; an introspection
query `query.introspection`. The access log's middleware reads the label from the
request's scope (service.access_log).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, FieldNode, GraphQLSchema, OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension

SCOPE_KEY = "copline.graphql_operation"
OTHER = "other"
INTROSPECTION = "introspection"


def operation_label(
    schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
) -> str:
    if document is None:
        return OTHER
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return OTHER
    kind = operation.operation
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[kind]
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return OTHER  # a fragment at the root: rare enough not to be worth following
        name = selection.name.value
        if name == "__typename":
            continue
        if name.startswith("__"):
            return f"{kind.value}.{INTROSPECTION}"
        if root is None or name not in root.fields:
            return OTHER
        return f"{kind.value}.{name}"
    return OTHER


class OperationLabel(SchemaExtension):
    """Leaves the request's label where the access log finds it, once parsed."""

    def on_parse(self) -> Iterator[None]:
        yield
        context = self.execution_context
        request = getattr(context.context, "request", None)
        scope = getattr(request, "scope", None)
        if isinstance(scope, dict):
            scope[SCOPE_KEY] = operation_label(
                context.schema._schema, context.graphql_document, context.operation_name
            )
