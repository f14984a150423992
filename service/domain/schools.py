"""Schools of a programme, keyed by the code the programme already uses for them, and
optionally by another system's id for them (an EMIS code)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import Conflict
from service.domain.external_ids import ExternalId
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
    # None: a new school has none, a known one keeps its (`update_school` sets it as given).
    external_id: ExternalId = None

    def fields(self) -> dict[str, Any]:
        """What an upsert stores: the code and external id only where given."""
        return self.model_dump(exclude={"code", "external_id"}) | (
            {"external_id": self.external_id} if self.external_id is not None else {}
        )


async def find_school(session: AsyncSession, programme_id: int, code: str) -> School | None:
    stmt = select(School).where(School.programme_id == programme_id, School.code == code)
    return (await session.exec(stmt)).first()


async def find_school_by_external_id(
    session: AsyncSession, programme_id: int, external_id: str
) -> School | None:
    stmt = select(School).where(
        School.programme_id == programme_id, School.external_id == external_id
    )
    return (await session.exec(stmt)).first()


def _taken(external_id: str) -> Conflict:
    return Conflict(
        f"external id {external_id!r} already belongs to another school in this programme",
        field="external_id",
    )


async def _match(
    session: AsyncSession, programme_id: int, data: SchoolInput
) -> tuple[School | None, str | None]:
    """The stored school `data` is, and why it cannot be written (None: it can). With an
    external id that school is it (its code then changes to the row's, if no other school
    has that code); matched by code, the school must not carry another external id."""
    mine = col(School.programme_id) == programme_id
    wanted = col(School.code) == data.code
    if data.external_id is not None:
        wanted = or_(wanted, col(School.external_id) == data.external_id)
    found = (await session.exec(select(School).where(mine, wanted))).all()
    by_code = next((s for s in found if s.code == data.code), None)
    by_external = next(
        (s for s in found if data.external_id and s.external_id == data.external_id), None
    )
    if by_external is not None:
        if by_code is not None and by_code.id != by_external.id:
            return by_external, (
                f"external id {data.external_id!r} belongs to school {by_external.code!r}, "
                f"but code {data.code!r} to another school"
            )
        return by_external, None
    theirs = by_code.external_id if by_code is not None else None
    if theirs is not None and data.external_id is not None and theirs != data.external_id:
        return by_code, (
            f"school {data.code!r} has external id {theirs!r}, not {data.external_id!r}"
        )
    return by_code, None


async def upsert_school(
    programme: Programme, data: SchoolInput, *, session: AsyncSession, actor: Actor
) -> tuple[School, Outcome]:
    assert programme.id is not None
    school, refusal = await _match(session, programme.id, data)
    if refusal is not None:
        raise Conflict(refusal, field="external_id")
    if school is None:
        values = data.model_dump()
        school = School(programme_id=programme.id, **values)
        session.add(school)
        await session.flush()
        audit.record(session, actor, "school.create", school, changes=values)
        return school, Outcome.created
    changes = audit.apply_changes(school, data.fields() | {"code": data.code})
    if not changes:
        return school, Outcome.unchanged
    school.updated_at = utcnow()
    audit.record(session, actor, "school.update", school, changes=changes)
    await session.flush()
    return school, Outcome.updated


async def plan_school(
    programme_id: int, data: SchoolInput, *, session: AsyncSession
) -> tuple[Outcome, str | None]:
    """What `upsert_school` would do with `data`, writing nothing (a roster's preview), and
    why it would refuse it (None: it would not)."""
    school, refusal = await _match(session, programme_id, data)
    if school is None:
        return Outcome.created, None
    values = data.fields() | {"code": data.code}
    changes = audit.diff({field: getattr(school, field) for field in values}, values)
    return (Outcome.updated if changes else Outcome.unchanged), refusal


async def create_school(
    programme: Programme, data: SchoolInput, *, session: AsyncSession, actor: Actor
) -> School:
    assert programme.id is not None
    if await find_school(session, programme.id, data.code) is not None:
        raise Conflict(f"a school with code {data.code!r} already exists", field="code")
    if data.external_id is not None and await find_school_by_external_id(
        session, programme.id, data.external_id
    ):
        raise _taken(data.external_id)
    school, _ = await upsert_school(programme, data, session=session, actor=actor)
    return school


async def update_school(
    programme: Programme, school_id: int, data: SchoolInput, *, session: AsyncSession, actor: Actor
) -> School:
    """Edit one school: every field as given (an external id of None clears it)."""
    assert programme.id is not None
    school = await get_owned(session, School, school_id, programme.id)
    if data.code != school.code and await find_school(session, programme.id, data.code):
        raise Conflict(f"a school with code {data.code!r} already exists", field="code")
    if (
        data.external_id is not None
        and data.external_id != school.external_id
        and await find_school_by_external_id(session, programme.id, data.external_id)
    ):
        raise _taken(data.external_id)
    changes = audit.apply_changes(school, data.model_dump())
    if changes:
        school.updated_at = utcnow()
        audit.record(session, actor, "school.update", school, changes=changes)
        await session.flush()
    return school
