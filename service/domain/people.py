"""People of a programme: one E.164 phone each (or none), their language, roles and consent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, webhooks
from service.domain.actor import Actor
from service.domain.errors import Conflict, DuplicatePhone, PersonErased, ValidationError
from service.domain.external_ids import ExternalId
from service.domain.lookup import check_owned, get_owned, plan_for_batches
from service.domain.outcome import Outcome
from service.domain.phones import normalise_phone
from service.domain.reach import opted_in_between
from service.models import Person, Programme, School
from service.models.enums import Channel, Gender, Language, Reach, Role
from service.models.types import utcnow

# A person a facilitator added by number who has not told us their name yet: their
# pending membership is an invitation they answer, not a request anyone approves.
UNKNOWN_NAME = ""

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
    # None: a new person gets SMS, a known one keeps theirs. Set here, WhatsApp is not an
    # opt-in (see `service.domain.reach.set_reach`).
    reach: Reach | None = None
    # None: a new person has none, a known one keeps theirs (`update_person` sets it as given).
    external_id: ExternalId = None

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


async def find_by_external_id(
    session: AsyncSession, programme_id: int, external_id: str
) -> Person | None:
    stmt = select(Person).where(
        Person.programme_id == programme_id, Person.external_id == external_id
    )
    return (await session.exec(stmt)).first()


def _external_id_taken(external_id: str) -> Conflict:
    return Conflict(
        f"external id {external_id!r} already belongs to someone in this programme",
        field="external_id",
    )


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person's roster fields as stored: checked and normalised by `prepare_person` only."""

    name: str
    phone: str | None
    language: Language
    school_id: int | None
    roles: list[str]
    subjects: list[str]
    gender: Gender | None
    reach: Reach | None = None  # None: as it is (SMS for someone new)
    external_id: str | None = None  # None: as it is (none for someone new)

    def columns(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": self.name,
            "phone": self.phone,
            "language": self.language,
            "school_id": self.school_id,
            "roles": self.roles,
            "subjects": self.subjects,
            "gender": self.gender,
        }
        if self.reach is not None:
            values["reach"] = self.reach
        if self.external_id is not None:
            values["external_id"] = self.external_id
        return values

    @property
    def key(self) -> tuple[str, int | None] | str:
        """Who the record is within one batch: by external id, phone, or name and school."""
        return _identity(self.phone, self.external_id, self.name, self.school_id)


def _identity(
    phone: str | None, external_id: str | None, name: str, school_id: int | None
) -> tuple[str, int | None] | str:
    # A person has at most one of each: an external id, a phone, a (name, school) without
    # either. Tagged so an external id never equals a phone.
    if external_id is not None:
        return f"external:{external_id}"
    return phone if phone else (name, school_id)


def prepare_person(programme: Programme, data: PersonInput) -> PersonRecord:
    """Every rule on a person's fields that needs no database (the school's owner does)."""
    language = data.language or programme.default_language
    if language not in programme.languages:
        offered = ", ".join(programme.languages)
        raise ValidationError(
            f"language {language} is not offered by this programme ({offered})", field="language"
        )
    if data.reach == Reach.whatsapp and not data.phone:
        raise ValidationError(
            "a person with no phone number cannot be reached on WhatsApp", field="reach"
        )
    return PersonRecord(
        name=data.name,
        phone=normalise_phone(data.phone, programme.phone_region) if data.phone else None,
        language=language,
        school_id=data.school_id,
        roles=[str(r) for r in data.roles],
        subjects=data.subjects,
        gender=data.gender,
        reach=data.reach,
        external_id=data.external_id,
    )


async def _values(programme: Programme, data: PersonInput, session: AsyncSession) -> dict[str, Any]:
    assert programme.id is not None
    if data.school_id is not None:
        await get_owned(session, School, data.school_id, programme.id)
    # One person's own form sets the external id as given: None clears it.
    return prepare_person(programme, data).columns() | {"external_id": data.external_id}


def _chose_language(values: dict[str, Any], actor: Actor, now: datetime) -> dict[str, Any]:
    """A language set for one person, by them or for them, is theirs: imports keep it."""
    return values | {"language_chosen_at": now, "language_chosen_channel": actor.channel}


async def create_person(
    programme: Programme, data: PersonInput, *, session: AsyncSession, actor: Actor
) -> Person:
    assert programme.id is not None
    values = await _values(programme, data, session)
    if values["phone"] and await find_by_phone(session, programme.id, values["phone"]):
        raise DuplicatePhone(
            f"{values['phone']} already belongs to someone in this programme", field="phone"
        )
    if values["external_id"] and await find_by_external_id(
        session, programme.id, values["external_id"]
    ):
        raise _external_id_taken(values["external_id"])
    person = Person(programme_id=programme.id, **values)
    session.add(person)
    await session.flush()
    audit.record(session, actor, "person.create", person, changes=values)
    return person


async def update_person(
    programme: Programme, person_id: int, data: PersonInput, *, session: AsyncSession, actor: Actor
) -> Person:
    """Edit one person. A new language given here is taken as chosen on the person's
    request (staff correcting one record, unlike a roster), so later imports keep it."""
    assert programme.id is not None
    person = await get_owned(session, Person, person_id, programme.id)
    if person.erased_at is not None:
        raise PersonErased("this person's data was erased: nothing more is recorded about them")
    values = await _values(programme, data, session)
    if values["phone"] and values["phone"] != person.phone:
        other = await find_by_phone(session, programme.id, values["phone"])
        if other is not None:
            raise DuplicatePhone(
                f"{values['phone']} already belongs to someone in this programme", field="phone"
            )
    external_id = values["external_id"]
    if (
        external_id
        and external_id != person.external_id
        and await find_by_external_id(session, programme.id, external_id)
    ):
        raise _external_id_taken(external_id)
    now = utcnow()
    if values["language"] != person.language:
        values = _chose_language(values, actor, now)
    changes = audit.apply_changes(person, values)
    if changes:
        person.updated_at = now
        audit.record(session, actor, "person.update", person, changes=changes, at=now)
        await session.flush()
    return person


@dataclass(frozen=True, slots=True)
class Upserted:
    person_id: int
    outcome: Outcome
    kept_language: bool  # the person's own choice was kept over a different language given
    kept_reach: bool = False  # the same, for the channel they chose themselves


_CURRENT = [
    col(c)
    for c in (
        Person.id, Person.name, Person.phone, Person.language, Person.school_id,
        Person.roles, Person.subjects, Person.gender, Person.language_chosen_at,
        Person.reach, Person.whatsapp_opt_in_at, Person.whatsapp_opted_out_at,
        Person.external_id,
    )
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Found:
    current: dict[str, Any] | None  # the stored person the record matches; None: nobody
    refusal: str | None = None  # why the record cannot be written


def _found(
    record: PersonRecord, by_external: dict[str, Any] | None, by_phone: dict[str, Any] | None
) -> _Found:
    """A record with an external id is that person's, if stored; its phone must then be
    theirs or nobody's. Matched by phone instead, the person must not carry another one."""
    if by_external is not None:
        if by_phone is not None and by_phone["id"] != by_external["id"]:
            return _Found(
                by_external,
                f"external id {record.external_id!r} belongs to {by_external['name']!r}, "
                f"but phone {record.phone} to another person, {by_phone['name']!r}",
            )
        return _Found(by_external)
    if by_phone is not None and record.external_id is not None:
        theirs = by_phone["external_id"]
        if theirs is not None and theirs != record.external_id:
            return _Found(
                by_phone,
                f"phone {record.phone} belongs to {by_phone['name']!r}, whose external id is "
                f"{theirs!r}, not {record.external_id!r}",
            )
    return _Found(by_phone)


async def _existing(
    session: AsyncSession, programme_id: int, records: Sequence[PersonRecord]
) -> list[_Found]:
    """The stored person each record matches: by external id first, then by phone, or by
    name and school for people without a phone; three queries, whatever their number."""
    phones = [r.phone for r in records if r.phone]
    externals = [r.external_id for r in records if r.external_id is not None]
    names = {r.name for r in records if not r.phone}
    by_phone: dict[str, dict[str, Any]] = {}
    by_external: dict[str, dict[str, Any]] = {}
    by_name: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    connection = await session.connection()
    # An erased person is nobody a roster can match: their number, if it comes back, is new.
    mine = sa.select(*_CURRENT).where(
        col(Person.programme_id) == programme_id, col(Person.erased_at).is_(None)
    )
    if phones:
        for row in await connection.execute(mine.where(col(Person.phone).in_(phones))):
            by_phone[row.phone] = dict(row._mapping)
    if externals:
        stmt = mine.where(col(Person.external_id).in_(externals))
        for row in await connection.execute(stmt):
            by_external[row.external_id] = dict(row._mapping)
    if names:
        stmt = mine.where(col(Person.phone).is_(None), col(Person.name).in_(names))
        for row in await connection.execute(stmt.order_by(col(Person.id))):
            by_name.setdefault((row.name, row.school_id), []).append(dict(row._mapping))
    found = []
    for record in records:
        external = by_external.get(record.external_id) if record.external_id else None
        if record.phone or external is not None:
            phone = by_phone.get(record.phone) if record.phone else None
            found.append(_found(record, external, phone))
            continue
        # Without a phone: the first of that name at that school; a record with an external
        # id that no one has yet is not someone who has another one.
        same = by_name.get((record.name, record.school_id), [])
        if record.external_id is not None:
            same = [p for p in same if p["external_id"] is None]
        found.append(_Found(same[0] if same else None))
    return found


@dataclass(frozen=True, slots=True)
class _Match:
    values: dict[str, Any]  # what to store
    changes: dict[str, Any]  # {field: [old, new]} against the stored person
    kept: bool  # the person's own choice of language was kept
    kept_reach: bool = False  # the channel they chose themselves was kept


def _match(record: PersonRecord, current: dict[str, Any] | None) -> _Match:
    """What a roster record changes on the stored person it matched (None: nobody).
    Every record gets every column (one statement writes a batch): an empty channel is
    SMS for someone new and the stored channel for someone known."""
    values = record.columns()
    if current is None:
        return _Match(values | {"reach": record.reach or Reach.sms}, {}, False)
    kept = current["language_chosen_at"] is not None and values["language"] != current["language"]
    if kept:
        values["language"] = current["language"]
    # WhatsApp the person opted in to themselves is theirs, as a language they chose is.
    own = current["reach"] == Reach.whatsapp and opted_in_between(
        current["whatsapp_opt_in_at"], current["whatsapp_opted_out_at"]
    )
    kept_reach = own and record.reach is not None and record.reach != current["reach"]
    if record.reach is None or kept_reach:
        values["reach"] = current["reach"]
    return _Match(values, audit.diff(current, values), kept, kept_reach)


@dataclass(frozen=True, slots=True)
class Planned:
    person_id: int | None  # None: the person would be created
    outcome: Outcome
    kept_language: bool
    kept_reach: bool = False
    refusal: str | None = None  # why the record would be refused (an external id's clash)


async def match_people(
    programme_id: int, records: Sequence[PersonRecord], *, session: AsyncSession
) -> list[tuple[int | None, str | None]]:
    """Per record, the stored person it matches (None: nobody) and why `upsert_people`
    would refuse it (None: it would not), writing nothing: a roster's checks."""
    await plan_for_batches(session)
    found = await _existing(session, programme_id, records)
    return [(f.current["id"] if f.current else None, f.refusal) for f in found]


async def plan_people(
    programme_id: int, records: Sequence[PersonRecord], *, session: AsyncSession
) -> list[Planned]:
    """What `upsert_people` would do with each record, writing nothing (a roster's
    preview): the same matching, and the same rules on a language the person chose."""
    await plan_for_batches(session)
    existing = await _existing(session, programme_id, records)
    planned = []
    for record, found in zip(records, existing, strict=True):
        current = found.current
        match = _match(record, current)
        if current is None:
            planned.append(Planned(None, Outcome.created, False))
            continue
        outcome = Outcome.updated if match.changes else Outcome.unchanged
        planned.append(Planned(current["id"], outcome, match.kept, match.kept_reach, found.refusal))
    return planned


async def upsert_people(
    programme: Programme,
    records: Sequence[PersonRecord],
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> list[Upserted]:
    """Match each record by external id, then by phone, or by name and school for people
    without one (roster imports), and create or update (a Conflict, writing nothing, if a
    record's external id and phone are two people's): a few statements for the whole
    batch, one audit entry per changed person. A language the person chose themselves is
    kept, and so is WhatsApp they opted in to themselves; WhatsApp given here is not an
    opt-in.
    """
    assert programme.id is not None
    now = now or utcnow()
    keys = [r.key for r in records]
    if len(set(keys)) != len(keys):
        raise ValueError("the same person twice in one batch; send them in separate batches")
    await session.flush()  # the statements below bypass the unit of work: write it first
    await plan_for_batches(session)
    await check_owned(
        session, School, {r.school_id for r in records if r.school_id is not None}, programme.id
    )
    existing = await _existing(session, programme.id, records)
    for found in existing:
        if found.refusal is not None:
            raise Conflict(found.refusal, field="external_id")
    results: list[Upserted | None] = []
    created: list[tuple[int, dict[str, Any]]] = []  # (position in results, values)
    changed: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []

    def entry(action: str, person_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return audit.entry_values(
            actor, action, "person", person_id, changes=changes, at=now, programme_id=programme.id
        )

    for record, found in zip(records, existing, strict=True):
        current = found.current
        match = _match(record, current)
        if current is None:
            created.append((len(results), match.values))
            results.append(None)
            continue
        if match.changes:
            changed.append(match.values | {"person_id": current["id"], "updated_at": now})
            entries.append(entry("person.update", current["id"], match.changes))
        outcome = Outcome.updated if match.changes else Outcome.unchanged
        results.append(Upserted(current["id"], outcome, match.kept, match.kept_reach))
    connection = await session.connection()
    if created:
        # RETURNING gives no order for a multi-row INSERT on every engine: match by key.
        returned = (Person.id, Person.phone, Person.external_id, Person.name, Person.school_id)
        stmt = insert(Person).returning(*(col(c) for c in returned))
        stamps = {"programme_id": programme.id, "created_at": now, "updated_at": now}
        new = [{"external_id": None} | values | stamps for _, values in created]
        rows = await connection.execute(stmt, new)
        ids = {_identity(r.phone, r.external_id, r.name, r.school_id): r.id for r in rows}
        for position, values in created:
            who = (values["phone"], values.get("external_id"), values["name"], values["school_id"])
            person_id: int = ids[_identity(*who)]
            results[position] = Upserted(person_id, Outcome.created, False)
            entries.append(entry("person.create", person_id, values))
    if changed:
        # The SET clause comes from the parameters' keys: every roster field, and the stamp.
        await connection.execute(
            update(Person).where(col(Person.id) == bindparam("person_id")), changed
        )
    await audit.record_many(session, entries)
    return [r for r in results if r is not None]


async def upsert_person(
    programme: Programme, data: PersonInput, *, session: AsyncSession, actor: Actor
) -> tuple[Person, Outcome]:
    """One person through `upsert_people`: the same rules whether one row or a roster."""
    assert programme.id is not None
    record = prepare_person(programme, data)
    (done,) = await upsert_people(programme, [record], session=session, actor=actor)
    person = await session.get(Person, done.person_id, populate_existing=True)
    assert person is not None
    return person, done.outcome


async def opt_out(person: Person, *, channel: Channel, session: AsyncSession, actor: Actor) -> bool:
    """Stop all messages to this person. Returns False when they had already opted out."""
    if person.opted_out_at is not None:
        return False
    now = utcnow()
    person.opted_out_at = now
    person.opted_out_channel = channel
    audit.record(session, actor, "person.opt_out", person, changes={"channel": channel}, at=now)
    await webhooks.emit(session, [webhooks.opted_out_event(person, now)])
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
    now = utcnow()
    values: dict[str, Any] = {"language": language}
    if language != person.language or person.language_chosen_at is None:
        values = _chose_language(values, actor, now)
    changes = audit.apply_changes(person, values)
    if changes:
        person.updated_at = now
        audit.record(session, actor, "person.language", person, changes=changes, at=now)
        await session.flush()
    return person
