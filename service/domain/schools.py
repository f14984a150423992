"""Schools of a programme, keyed by the code the programme already uses for them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import Conflict
from service.domain.lookup import get_owned
from service.domain.outcome import Outcome
from service.models import Programme, School
from service.models.types import utcnow


class SchoolInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    name: str = Field(min_length=2, max_length=200)
    district: str | None = Field(default=None, max_length=100)
    sector: str | None = Field(default=None, max_length=100)


async def find_school(session: AsyncSession, programme_id: int, code: str) -> School | None:
    stmt = select(School).where(School.programme_id == programme_id, School.code == code)
    return (await session.exec(stmt)).first()


async def upsert_school(
    programme: Programme, data: SchoolInput, *, session: AsyncSession, actor: Actor
) -> tuple[School, Outcome]:
    assert programme.id is not None
    school = await find_school(session, programme.id, data.code)
    if school is None:
        school = School(programme_id=programme.id, **data.model_dump())
        session.add(school)
        await session.flush()
        audit.record(session, actor, "school.create", school, changes=data.model_dump())
        return school, Outcome.created
    changes = audit.apply_changes(school, data.model_dump(exclude={"code"}))
    if not changes:
        return school, Outcome.unchanged
    school.updated_at = utcnow()
    audit.record(session, actor, "school.update", school, changes=changes)
    await session.flush()
    return school, Outcome.updated


async def plan_school(programme_id: int, data: SchoolInput, *, session: AsyncSession) -> Outcome:
    """What `upsert_school` would do with `data`, writing nothing (a roster's preview)."""
    school = await find_school(session, programme_id, data.code)
    if school is None:
        return Outcome.created
    current = {field: getattr(school, field) for field in ("name", "district", "sector")}
    changes = audit.diff(current, data.model_dump(exclude={"code"}))
    return Outcome.updated if changes else Outcome.unchanged


async def create_school(
    programme: Programme, data: SchoolInput, *, session: AsyncSession, actor: Actor
) -> School:
    assert programme.id is not None
    if await find_school(session, programme.id, data.code) is not None:
        raise Conflict(f"a school with code {data.code!r} already exists", field="code")
    school, _ = await upsert_school(programme, data, session=session, actor=actor)
    return school


async def update_school(
    programme: Programme, school_id: int, data: SchoolInput, *, session: AsyncSession, actor: Actor
) -> School:
    assert programme.id is not None
    school = await get_owned(session, School, school_id, programme.id)
    if data.code != school.code:
        if await find_school(session, programme.id, data.code) is not None:
            raise Conflict(f"a school with code {data.code!r} already exists", field="code")
        school.code = data.code
    await upsert_school(programme, data, session=session, actor=actor)
    return school
