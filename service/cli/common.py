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
from sqlalchemy import exc as sa
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service import db
from service import migrate as migrations
from service.config import Settings
from service.domain.actor import Actor
from service.domain.errors import DomainError, field_messages

T = TypeVar("T")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    """The settings from the environment, or one line per problem (never the values:
    a database URL may carry a password)."""
    try:
        return Settings()
    except pydantic.ValidationError as exc:
        lines = [
            f"COPLINE_{where.upper()}: {msg}" if where else msg
            for where, msg in field_messages(exc)
        ]
        raise fail("; ".join(lines)) from None


def operator() -> Actor:
    """The person at the terminal, recorded in the audit trail."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "operator"
    return Actor.cli(name)


class DatabaseUnusable(Exception):
    """What is wrong with the database, and what to run: one line for the person."""


def where(config: Settings) -> str:
    """The database as a person finds it: the SQLite file, or the URL without its password."""
    path = config.sqlite_path()
    if path is not None:
        return str(path.resolve())
    return make_url(config.database_url).render_as_string(hide_password=True)


def require_file(config: Settings) -> None:
    """SQLite creates a missing file on connect: only `copline migrate` (and `serve`, which
    migrates) may do that. Elsewhere a missing file is a mistaken folder or URL."""
    path = config.sqlite_path()
    if path is not None and not path.exists():
        raise DatabaseUnusable(
            f"no database at {where(config)}: run `copline migrate` to create it here, "
            "or set COPLINE_DATABASE_URL to the database to use"
        )


async def require_migrated(engine: AsyncEngine, config: Settings) -> None:
    current, head = await migrations.current_revision(engine), migrations.head_revision()
    if current == head:
        return
    state = (
        "has no tables yet"
        if current is None
        else f"is at revision {current} (this copline needs {head})"
    )
    raise DatabaseUnusable(f"the database at {where(config)} {state}: run `copline migrate`")


@asynccontextmanager
async def database(config: Settings | None = None) -> AsyncIterator[AsyncEngine]:
    """An engine on a database that exists and is migrated; created by nobody but migrate."""
    config = config or settings()
    require_file(config)
    engine = db.build_engine(config)
    try:
        await require_migrated(engine, config)
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def unit_of_work(config: Settings | None = None) -> AsyncIterator[AsyncSession]:
    async with database(config) as engine, db.build_session_factory(engine)() as session:
        yield session


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run async work; domain, validation and database errors become one clear line and
    exit code 1 (a traceback is for a failure of copline itself)."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except DomainError as exc:
        raise fail(exc.message) from None
    except pydantic.ValidationError as exc:
        lines = [f"--{field.replace('_', '-')}: {msg}" for field, msg in field_messages(exc)]
        raise fail("; ".join(lines)) from None
    except DatabaseUnusable as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # refused, unknown host, timed out: the driver's own errors
        raise fail(
            f"cannot reach the database at {where(settings())}: {exc}; is it running? "
            "(COPLINE_DATABASE_URL says where it is)"
        ) from None
    except sa.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise fail(
            f"cannot use the database at {where(settings())}: {reason} "
            "(check COPLINE_DATABASE_URL, and run `copline migrate`)"
        ) from None
