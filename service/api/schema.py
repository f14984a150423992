"""The schema, its protections, and the SDL that partners code against."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from service.api.context import Context
from service.api.errors import is_client_mistake, log_error, without_suggestion
from service.api.limits import StringLengthLimiter
from service.api.mutations import Mutation
from service.api.operation_label import OperationLabel
from service.api.queries import Query
from service.api.reports import ReportQueries
from service.api.subscriptions import Subscription
from service.api.types.access import ApiKeyNode, AuditEntryNode
from service.api.types.communities import CommunityNode, MembershipNode
from service.api.types.meetings import MeetingNode
from service.api.types.messages import MessageNode
from service.api.types.people import PersonNode
from service.api.types.places import ProgrammeNode, SchoolNode, TermNode
from service.api.types.surveys import SurveyNode
from service.api.types.ussd import UssdSessionNode
from service.api.types.webhooks import WebhookDeliveryNode, WebhookEndpointNode
from service.api.webhook_queries import WebhookQueries
from service.config import Environment, Settings

# The reports live in a module of their own; GraphQL sees one root Query.
RootQuery = merge_types("Query", (Query, ReportQueries, WebhookQueries))

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000

NODE_TYPES = [
    ProgrammeNode, TermNode, SchoolNode, PersonNode, CommunityNode, MembershipNode, MeetingNode,
    SurveyNode, MessageNode, ApiKeyNode, AuditEntryNode, UssdSessionNode,
    WebhookEndpointNode, WebhookDeliveryNode,
]  # fmt: skip


class ReleaseSession(SchemaExtension):
    """One session per operation, returned to the pool as soon as the answer is built."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "release"):
            await context.release()


class RouteReads(SchemaExtension):
    """A query's resolvers and loaders read from the read sessions (a streaming replica
    with `database_read_url`); a mutation, whose answer shows what it just changed, and
    a subscription, which follows committed changes, stay on the primary."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context):
            context.reads_only = execution.operation_type is OperationType.QUERY
        yield


def should_mask(error: GraphQLError) -> bool:
    """Hide only the unexpected: a rule's "no", a missing scope or a malformed query is
    the caller's to read; a crash's message may hold internals and is not."""
    return not is_client_mistake(error)


class CoplineSchema(strawberry.Schema):
    """Logs each error once, by whose mistake it is; may keep the schema's names to itself."""

    def __init__(self, *args: Any, suggestions: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggestions = suggestions

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not self.suggestions:
                error.message = without_suggestion(error.message)
            context = execution_context.context if execution_context else None
            operation = execution_context.operation_name if execution_context else None
            log_error(error, context, operation)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The same SDL whatever the settings; only the protections around it differ."""
    if settings is None:
        return _schema(production=False, introspection=True, suggestions=True)
    return _schema(
        production=settings.environment is Environment.production,
        introspection=settings.allows_introspection,
        suggestions=settings.suggests_fields,
    )


@lru_cache(maxsize=8)
def _schema(*, production: bool, introspection: bool, suggestions: bool) -> strawberry.Schema:
    """Built once per process for each set of protections: building walks every type
    (30-120 ms) and the schema keeps no state between requests, so each app (the tests
    make thousands) shares it."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        StringLengthLimiter,
        RouteReads,
        ReleaseSession,
        OperationLabel,
    ]
    if production:
        extensions.append(lambda: MaskErrors(should_mask_error=should_mask))
    if not introspection:
        extensions.append(DisableIntrospection)
    return CoplineSchema(
        query=RootQuery, mutation=Mutation, subscription=Subscription, types=NODE_TYPES,
        extensions=extensions, suggestions=suggestions,
    )  # fmt: skip


def sdl() -> str:
    return build_schema().as_str() + "\n"
