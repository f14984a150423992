"""People of a programme: one E.164 phone each (or none), their language, roles and consent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import DuplicatePhone, ValidationError
from service.domain.lookup import get_owned
from service.domain.outcome import Outcome
from service.domain.phones import normalise_phone
from service.models import Person, Programme, School
from service.models.enums import Channel, ConsentState, Gender, Language, Role
from service.models.types import utcnow

FACILITATOR_ROLES = frozenset(
    {Role.subject_lead, Role.head_teacher, Role.deputy_head, Role.coach, Role.sector_facilitator}
)


class PersonInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=200)
    phone: str | None = None  # any format; normalised with the programme's region
    language: Language | None = None  # None: the programme's default
    school_id: int | None = None
    roles: list[Role] = Field(default_factory=lambda: [Role.teacher])
    subjects: list[str] = Field(default_factory=list, max_length=10)
    gender: Gender | None = None

    @field_validator("phone")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[Role]) -> list[Role]:
        return list(dict.fromkeys(value)) or [Role.teacher]

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, value: list[str]) -> list[str]:
        cleaned = [s.strip() for s in value if s.strip()]
        if any(len(s) > 40 for s in cleaned):
            raise ValueError("a subject name is at most 40 characters")
        return list(dict.fromkeys(cleaned))


async def find_by_phone(session: AsyncSession, programme_id: int, phone: str) -> Person | None:
    stmt = select(Person).where(Person.programme_id == programme_id, Person.phone == phone)
    return (await session.exec(stmt)).first()


async def _values(programme: Programme, data: PersonInput, session: AsyncSession) -> dict[str, Any]:
    assert programme.id is not None
    if data.school_id is not None:
        await get_owned(session, School, data.school_id, programme.id)
    language = data.language or programme.default_language
    if language not in programme.languages:
        offered = ", ".join(programme.languages)
        raise ValidationError(
            f"language {language} is not offered by this programme ({offered})", field="language"
        )
    return {
        "name": data.name,
        "phone": normalise_phone(data.phone, programme.phone_region) if data.phone else None,
        "language": language,
        "school_id": data.school_id,
        "roles": [str(r) for r in data.roles],
        "subjects": data.subjects,
        "gender": data.gender,
    }


async def create_person(
    programme: Programme, data: PersonInput, *, session: AsyncSession, actor: Actor
) -> Person:
    assert programme.id is not None
    values = await _values(programme, data, session)
    if values["phone"] and await find_by_phone(session, programme.id, values["phone"]):
        raise DuplicatePhone(
            f"{values['phone']} already belongs to someone in this programme", field="phone"
        )
    return await _insert(programme, values, session=session, actor=actor)


async def update_person(
    programme: Programme, person_id: int, data: PersonInput, *, session: AsyncSession, actor: Actor
) -> Person:
    assert programme.id is not None
    person = await get_owned(session, Person, person_id, programme.id)
    values = await _values(programme, data, session)
    if values["phone"] and values["phone"] != person.phone:
        other = await find_by_phone(session, programme.id, values["phone"])
        if other is not None:
            raise DuplicatePhone(
                f"{values['phone']} already belongs to someone in this programme", field="phone"
            )
    person, _ = await _save(person, values, session=session, actor=actor)
    return person


async def _insert(
    programme: Programme, values: dict[str, Any], *, session: AsyncSession, actor: Actor
) -> Person:
    assert programme.id is not None
    person = Person(programme_id=programme.id, **values)
    session.add(person)
    await session.flush()
    audit.record(session, actor, "person.create", person, changes=values)
    return person


async def _save(
    person: Person, values: dict[str, Any], *, session: AsyncSession, actor: Actor
) -> tuple[Person, Outcome]:
    changes = audit.apply_changes(person, values)
    if not changes:
        return person, Outcome.unchanged
    person.updated_at = utcnow()
    audit.record(session, actor, "person.update", person, changes=changes)
    await session.flush()
    return person, Outcome.updated


async def upsert_person(
    programme: Programme, data: PersonInput, *, session: AsyncSession, actor: Actor
) -> tuple[Person, Outcome]:
    """Match by phone, or by name and school for people without one (roster imports)."""
    assert programme.id is not None
    values = await _values(programme, data, session)
    if values["phone"]:
        existing = await find_by_phone(session, programme.id, values["phone"])
    else:
        stmt = select(Person).where(
            Person.programme_id == programme.id,
            Person.phone == None,  # noqa: E711 - SQL IS NULL
            Person.name == values["name"],
            Person.school_id == values["school_id"],
        )
        existing = (await session.exec(stmt)).first()
    if existing is None:
        return await _insert(programme, values, session=session, actor=actor), Outcome.created
    return await _save(existing, values, session=session, actor=actor)


def record_consent(
    person: Person, *, given: bool, channel: Channel, session: AsyncSession, actor: Actor
) -> None:
    now = utcnow()
    person.consent = ConsentState.given if given else ConsentState.refused
    person.consent_at = now
    person.consent_channel = channel
    audit.record(
        session,
        actor,
        "person.consent",
        person,
        changes={"consent": person.consent, "channel": channel},
        at=now,
    )


def opt_out(person: Person, *, channel: Channel, session: AsyncSession, actor: Actor) -> bool:
    """Stop all messages to this person. Returns False when they had already opted out."""
    if person.opted_out_at is not None:
        return False
    now = utcnow()
    person.opted_out_at = now
    person.opted_out_channel = channel
    audit.record(session, actor, "person.opt_out", person, changes={"channel": channel}, at=now)
    return True


def opt_in(person: Person, *, channel: Channel, session: AsyncSession, actor: Actor) -> bool:
    if person.opted_out_at is None:
        return False
    person.opted_out_at = None
    person.opted_out_channel = None
    audit.record(session, actor, "person.opt_in", person, changes={"channel": channel})
    return True


async def set_language(
    programme: Programme, person_id: int, language: Language, *, session: AsyncSession, actor: Actor
) -> Person:
    """A person picks the language their menus and messages come in."""
    assert programme.id is not None
    person = await get_owned(session, Person, person_id, programme.id)
    if language not in programme.languages:
        raise ValidationError(
            f"language {language} is not offered by this programme", field="language"
        )
    changes = audit.apply_changes(person, {"language": language})
    if changes:
        person.updated_at = utcnow()
        audit.record(session, actor, "person.language", person, changes=changes)
        await session.flush()
    return person
