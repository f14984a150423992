"""Relay-style connections: `first`/`after`, `pageInfo`, `totalCount`; pages of at most 100."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from service.domain.errors import ValidationError

MAX_PAGE = 100
DEFAULT_PAGE = 20

Node = TypeVar("Node")
Row = TypeVar("Row")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[Node]:
        return [edge.node for edge in self.edges]


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "o":
            raise ValueError
        return int(value) + 1
    except ValueError:
        raise ValidationError(f"{cursor!r} is not a cursor from this API", field="after") from None


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 0 <= size <= MAX_PAGE:
        raise ValidationError(f"first must be between 0 and {MAX_PAGE}", field="first")
    return size


async def paginate(
    session: AsyncSession,
    stmt: SelectOfScalar[Any],
    *,
    first: int | None,
    after: str | None,
    wrap: Callable[[Any], Node],
) -> Connection[Node]:
    """One COUNT and one page query, whatever the size of the table."""
    size = page_size(first)
    start = _offset(after)
    total = (await session.exec(select(func.count()).select_from(stmt.subquery()))).one()
    rows: Sequence[Any] = (await session.exec(stmt.offset(start).limit(size))).all() if size else []
    edges = [Edge(cursor=_cursor(start + i), node=wrap(row)) for i, row in enumerate(rows)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + len(rows) < total,
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )
