"""Partner-app tests: real keys, real HTTP semantics (httpx over ASGI), both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from service.app import create_app
from service.config import Settings
from service.db import SessionFactory
from service.domain.actor import Actor
from service.domain.apikeys import create_api_key
from service.models import Programme
from service.models.enums import Country, Language, Scope
from tests import factories as f

ALL = [Scope.read, Scope.read_pii, Scope.write, Scope.sms_send, Scope.admin]


@dataclass
class Api:
    client: httpx.AsyncClient
    app: Starlette
    statements: list[str] = field(default_factory=list)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str
    ) -> dict[str, Any]:
        """The `data` of a query that must succeed without errors."""
        response = await self.post(query, variables, key=key)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str
    ) -> list[str]:
        response = await self.post(query, variables, key=key)
        return [e["message"] for e in response.json().get("errors", [])]


def make_api(settings: Settings) -> tuple[Starlette, httpx.AsyncClient]:
    app = create_app(settings)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://copline.test"
    )
    return app, client


@pytest_asyncio.fixture
async def api(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Api]:
    app, client = make_api(settings)
    api = Api(client=client, app=app)

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        api.statements.append(statement)

    engine = app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    async with client:
        yield api
    await app.state.services.engine.dispose()


async def issue_key(session: AsyncSession, programme: Programme, *scopes: Scope) -> str:
    issued = await create_api_key(
        programme, "tests", list(scopes), session=session, actor=Actor.cli("tests")
    )
    await session.commit()
    return issued.secret


@dataclass
class Two:
    """Programme A (Kenya) and programme B (Rwanda), each a full world, with keys."""

    a: f.World
    b: f.World
    admin_a: str
    reader_a: str
    admin_b: str


@pytest_asyncio.fixture
async def two(session: AsyncSession) -> Two:
    a = await f.world(session)
    b = await f.world(
        session, slug="rw-sbi", country=Country.RW, timezone="Africa/Kigali", language=Language.rw
    )
    return Two(
        a=a,
        b=b,
        admin_a=await issue_key(session, a.programme, *ALL),
        reader_a=await issue_key(session, a.programme, Scope.read),
        admin_b=await issue_key(session, b.programme, *ALL),
    )
