"""The typed per-request context: who is calling, for which programme, and their loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from service.api.errors import DatabaseUnavailable
from service.db import unreachable
from service.domain.actor import Actor
from service.models import ApiKey, Programme
from service.models.enums import Scope
from service.models.types import utcnow

if TYPE_CHECKING:
    from service.api.loaders import Loaders
    from service.services import Services

T = TypeVar("T")


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    services: Services
    key: ApiKey | None = None
    programme: Programme | None = None
    connection_params: dict[str, Any] | None = None
    now: datetime = field(default_factory=utcnow)
    session: AsyncSession | None = None
    # A query reads from the read sessions (the replica, when one is set); a mutation,
    # and a subscription, which follows committed changes, from the primary. Set by
    # `RouteReads` once the operation is parsed.
    reads_only: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loaders: Loaders | None = None

    @property
    def programme_id(self) -> int:
        assert self.programme is not None and self.programme.id is not None
        return self.programme.id

    @property
    def actor(self) -> Actor:
        assert self.key is not None and self.key.id is not None
        return Actor.api_key(self.key.id)

    def has(self, scope: Scope) -> bool:
        """Scopes are explicit; `admin` includes every other."""
        if self.key is None:
            return False
        return scope.value in self.key.scopes or Scope.admin.value in self.key.scopes

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from service.api.loaders import Loaders

            self._loaders = Loaders(self)
        return self._loaders

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` on this operation's session, one piece at a time.

        Sibling fields resolve concurrently, and one session must never be used by
        two tasks at once; the lock keeps them in turn (the loaders batch anyway).
        """
        async with self._lock:
            if self.session is None:
                factory = self.services.read_sessions if self.reads_only else self.services.sessions
                self.session = factory()
            try:
                return await work(self.session)
            except Exception as exc:
                # A query's database away (a replica down, say): one plain error the
                # caller can act on. A mutation's failures keep their usual course.
                if self.reads_only and unreachable(exc):
                    raise DatabaseUnavailable from exc
                raise

    async def release(self) -> None:
        """End the operation's session, returning its connection to the pool."""
        async with self._lock:
            if self.session is not None:
                await self.session.close()
                self.session = None
            self._loaders = None
