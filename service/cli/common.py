"""What every command shares: settings, a unit of work, and errors a person can read."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pydantic
import typer
from rich.console import Console
from sqlmodel.ext.asyncio.session import AsyncSession

from service import db
from service.config import Settings
from service.domain.actor import Actor
from service.domain.errors import DomainError, field_messages

T = TypeVar("T")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    return Settings()


def operator() -> Actor:
    """The person at the terminal, recorded in the audit trail."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "operator"
    return Actor.cli(name)


@asynccontextmanager
async def unit_of_work(config: Settings | None = None) -> AsyncIterator[AsyncSession]:
    engine = db.build_engine(config or settings())
    try:
        async with db.build_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run async work; domain and validation errors become a clear line and exit code 1."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except DomainError as exc:
        raise fail(exc.message) from None
    except pydantic.ValidationError as exc:
        lines = [f"--{where.replace('_', '-')}: {msg}" for where, msg in field_messages(exc)]
        raise fail("; ".join(lines)) from None
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from None
