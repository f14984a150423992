"""The floor for bench/ussd_load.py: parse the same form, make one asyncpg query for the
caller on a pool the size of copline's, answer. What a USSD hop cannot go below
with this stack; copline's menu hops are measured against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.config import Settings
from service.listening import asyncpg_dsn

settings = Settings()
pool: asyncpg.Pool | None = None


async def hop(request: Request) -> Response:
    form = await request.form()
    assert pool is not None
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT id, language FROM person WHERE phone = $1 LIMIT 1", form.get("phoneNumber")
        )
    return PlainTextResponse(f"CON hello {row['language'] if row else ''}")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(
        asyncpg_dsn(settings.database_url),
        min_size=1,
        max_size=settings.database_pool_size,
    )
    yield
    await pool.close()


app = Starlette(routes=[Route("/at/{token}/ussd", hop, methods=["POST"])], lifespan=lifespan)
