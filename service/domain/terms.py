"""School terms: the calendar that meetings are planned against."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import Conflict
from service.models import Programme, Term


class TermInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=60)
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _ordered(self) -> TermInput:
        if self.ends_on < self.starts_on:
            raise ValueError("a term must end on or after the day it starts")
        if (self.ends_on - self.starts_on).days > 200:
            raise ValueError("a term longer than 200 days is almost certainly a typo")
        return self


async def create_term(
    programme: Programme, data: TermInput, *, session: AsyncSession, actor: Actor
) -> Term:
    assert programme.id is not None
    stmt = select(Term.id).where(Term.programme_id == programme.id, Term.name == data.name)
    if (await session.exec(stmt)).first() is not None:
        raise Conflict(f"a term named {data.name!r} already exists", field="name")
    overlap = select(Term.name).where(
        Term.programme_id == programme.id,
        col(Term.starts_on) <= data.ends_on,
        col(Term.ends_on) >= data.starts_on,
    )
    clash = (await session.exec(overlap)).first()
    if clash is not None:
        raise Conflict(f"term dates overlap term {clash!r}", field="starts_on")
    term = Term(programme_id=programme.id, **data.model_dump())
    session.add(term)
    await session.flush()
    audit.record(session, actor, "term.create", term, changes=data.model_dump())
    return term


async def term_on(session: AsyncSession, programme_id: int, day: date) -> Term | None:
    stmt = select(Term).where(
        Term.programme_id == programme_id, col(Term.starts_on) <= day, col(Term.ends_on) >= day
    )
    return (await session.exec(stmt)).first()


async def find_term(session: AsyncSession, programme_id: int, name: str) -> Term | None:
    stmt = select(Term).where(Term.programme_id == programme_id, Term.name == name)
    return (await session.exec(stmt)).first()
