"""Each roster file's rows: checked against the domain's rules without writing, then written.

A file object is made after the codes it refers to were looked up, once and in bulk; its
`check` turns one row into what the domain stores, or raises with the reason; its `write`
stores a chunk of checked rows through the domain's use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import (
    CommunityInput,
    add_members,
    check_community,
    plan_community,
    plan_members,
    upsert_community,
)
from service.domain.consent import record_consents
from service.domain.console_access import set_console_role
from service.domain.outcome import Outcome
from service.domain.people import (
    PersonInput,
    PersonRecord,
    match_people,
    plan_people,
    prepare_person,
    upsert_people,
)
from service.domain.phones import normalise_phone
from service.domain.schools import SchoolInput, plan_school, upsert_school
from service.models import Person, Programme
from service.models.enums import Channel, ConsentState, ConsoleRole, MembershipRole
from service.models.types import utcnow
from service.roster import columns as c

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    outcome: Outcome
    kept_language: bool = False  # the person's own choice of language was kept
    kept_reach: bool = False  # the channel the person chose themselves was kept


def _no_refusals(items: list[Any]) -> list[str | None]:
    return [None] * len(items)


class RosterFile(Protocol[T]):
    # Rows written per transaction: short enough that others get the database in between.
    chunk_rows: int

    def check(self, line: int, row: dict[str, str]) -> T: ...

    async def write(self, session: AsyncSession, items: list[T], actor: Actor) -> list[Written]: ...

    # What `write` would do with a chunk, writing nothing (a preview).
    async def plan(self, session: AsyncSession, items: list[T]) -> list[Written]: ...

    # Codes this file's rows add, for the files after it in the same preview.
    def codes_of(self, items: list[T]) -> list[str]: ...

    # Per checked row of a chunk, why what is stored refuses it (None: nothing does),
    # reading only: an external id that is one record's while the row's phone or code
    # is another's.
    async def refusals(self, session: AsyncSession, items: list[T]) -> list[str | None]: ...


class _Once:
    """The same key twice in one file is a bad row, naming the line it was first on."""

    def __init__(self) -> None:
        self.seen: dict[object, int] = {}

    def __call__(self, key: object, line: int, what: str) -> None:
        first = self.seen.setdefault(key, line)
        if first != line:
            raise ValueError(f"duplicate {what}: already on line {first}")


def _code(codes: dict[str, int], code: str, what: str, before: str) -> int:
    try:
        return codes[code]
    except KeyError:
        raise ValueError(f"unknown {what} {code!r}; import {before} first") from None


class SchoolsFile:
    chunk_rows = 200

    def __init__(self, programme: Programme) -> None:
        self.programme = programme
        self.once = _Once()

    def check(self, line: int, row: dict[str, str]) -> SchoolInput:
        self.once(row.get("code", "").lower(), line, f"school code {row.get('code')!r}")
        data = SchoolInput(
            code=row["code"], name=row["name"],
            district=row.get("district") or None, sector=row.get("sector") or None,
            external_id=row.get("external_id") or None,
        )  # fmt: skip
        if data.external_id is not None:
            self.once(("external_id", data.external_id), line, f"external id {data.external_id!r}")
        return data

    async def write(
        self, session: AsyncSession, items: list[SchoolInput], actor: Actor
    ) -> list[Written]:
        done = []
        for data in items:
            _, outcome = await upsert_school(self.programme, data, session=session, actor=actor)
            done.append(Written(outcome))
        return done

    async def plan(self, session: AsyncSession, items: list[SchoolInput]) -> list[Written]:
        assert self.programme.id is not None
        pid = self.programme.id
        return [Written((await plan_school(pid, data, session=session))[0]) for data in items]

    def codes_of(self, items: list[SchoolInput]) -> list[str]:
        return [data.code for data in items]

    async def refusals(self, session: AsyncSession, items: list[SchoolInput]) -> list[str | None]:
        assert self.programme.id is not None
        pid = self.programme.id
        return [
            (await plan_school(pid, data, session=session))[1] if data.external_id else None
            for data in items
        ]


class CommunitiesFile:
    chunk_rows = 200

    def __init__(self, programme: Programme, schools: dict[str, int]) -> None:
        self.programme = programme
        self.schools = schools
        self.once = _Once()

    def check(self, line: int, row: dict[str, str]) -> CommunityInput:
        self.once(row.get("code", "").lower(), line, f"community code {row.get('code')!r}")
        data = CommunityInput(
            code=row["code"],
            name=row["name"],
            kind=c.parse_kind(row["kind"]),
            subjects=c.split_list(row.get("subjects", "")),
            school_ids=[
                _code(self.schools, code, "school", "schools")
                for code in c.split_list(row.get("schools", ""))
            ],
            meetings_per_term=int(row.get("meetings_per_term") or 3),
        )
        check_community(data)
        return data

    async def write(
        self, session: AsyncSession, items: list[CommunityInput], actor: Actor
    ) -> list[Written]:
        done = []
        for data in items:
            _, outcome = await upsert_community(self.programme, data, session=session, actor=actor)
            done.append(Written(outcome))
        return done

    async def plan(self, session: AsyncSession, items: list[CommunityInput]) -> list[Written]:
        assert self.programme.id is not None
        pid = self.programme.id
        return [Written(await plan_community(pid, data, session=session)) for data in items]

    def codes_of(self, items: list[CommunityInput]) -> list[str]:
        return [data.code for data in items]

    async def refusals(
        self, session: AsyncSession, items: list[CommunityInput]
    ) -> list[str | None]:
        return _no_refusals(items)


@dataclass(frozen=True, slots=True)
class PersonRow:
    record: PersonRecord
    groups: tuple[tuple[int, MembershipRole], ...]  # (community id, role) to be added to
    console: ConsoleRole | None = None  # None: the person's console access stays as it is
    line: int = 0  # where the row is in its file
    consent: ConsentState | None = None  # None: the person's consent stays as it is


class PeopleFile:
    chunk_rows = 1000

    def __init__(
        self,
        programme: Programme,
        schools: dict[str, int],
        communities: dict[str, int],
        console_roles: dict[str, ConsoleRole] | None = None,
    ) -> None:
        """`console_roles`: None if whoever imports may grant console access (an operator,
        a programme admin); else the roles people have now, by phone, which a row may
        repeat but not change."""
        assert programme.id is not None
        self.programme = programme
        self.programme_id = programme.id
        self.schools = schools
        self.communities = communities
        self.console_roles = console_roles
        self.once = _Once()
        self.external_ids = False  # some row carries one
        self.matched: dict[int, int] = {}  # stored person id → the line that matched them

    def check(self, line: int, row: dict[str, str]) -> PersonRow:
        phone = row.get("phone", "")
        if phone:
            # The domain normalises the same text again below: a cache hit (phones.py).
            normalised = normalise_phone(phone, self.programme.phone_region)
            self.once(normalised, line, f"phone {normalised}")
        school = row.get("school", "")
        data = PersonInput(
            name=row["name"],
            phone=phone or None,
            language=c.parse_language(row.get("language", "")),
            school_id=_code(self.schools, school, "school", "schools") if school else None,
            roles=c.parse_roles(row.get("roles", "")),
            subjects=c.split_list(row.get("subjects", "")),
            gender=c.parse_gender(row.get("gender", "")),
            reach=c.parse_reach(row.get("channel", "")),
            external_id=row.get("external_id") or None,
        )
        record = prepare_person(self.programme, data)
        if record.external_id is not None:
            # Two people without a phone and of one name at one school are told apart by it.
            external = record.external_id
            self.once(("external_id", external), line, f"external id {external!r}")
            self.external_ids = True
        elif record.phone is None:
            where = f"at school {school}" if school else "with no school"
            self.once(record.key, line, f"person without a phone {record.name!r} {where}")
        groups: dict[int, MembershipRole] = {}
        for code in c.split_list(row.get("communities", "")):
            groups[_code(self.communities, code, "community", "communities")] = (
                MembershipRole.member
            )
        # Facilitating a community the row also lists as a member's: facilitator wins.
        for code in c.split_list(row.get("facilitates", "")):
            groups[_code(self.communities, code, "community", "communities")] = (
                MembershipRole.facilitator
            )
        console = c.parse_console_role(row.get("console", ""))
        if console is not None:
            if record.phone is None:
                raise ValueError("console access needs a phone number to sign in with")
            if self.console_roles is not None and self.console_roles.get(record.phone) != console:
                raise ValueError("only a programme administrator may give or change console access")
        consent = c.parse_consent(row.get("consent", ""))
        return PersonRow(record, tuple(groups.items()), console, line, consent)

    async def write(
        self, session: AsyncSession, items: list[PersonRow], actor: Actor
    ) -> list[Written]:
        upserted = await upsert_people(
            self.programme, [i.record for i in items], session=session, actor=actor
        )
        wanted = [
            (community_id, person.person_id, role)
            for item, person in zip(items, upserted, strict=True)
            for community_id, role in item.groups
        ]
        joined = iter(await add_members(self.programme_id, wanted, session=session, actor=actor))
        granted = await self._grant(session, items, [p.person_id for p in upserted], actor)
        granted |= await self._consent(session, items, [p.person_id for p in upserted], actor)
        done = []
        for item, person in zip(items, upserted, strict=True):
            outcome = person.outcome
            for _ in item.groups:
                if next(joined) is not Outcome.unchanged and outcome is Outcome.unchanged:
                    outcome = Outcome.updated
            if person.person_id in granted and outcome is Outcome.unchanged:
                outcome = Outcome.updated
            done.append(Written(outcome, person.kept_language, person.kept_reach))
        return done

    async def _grant(
        self, session: AsyncSession, items: list[PersonRow], ids: list[int], actor: Actor
    ) -> set[int]:
        """Set the console roles the rows give (through the one audited path, which also
        ends the sessions of whoever's access changed); the ids whose role changed."""
        roles = {pid: i.console for i, pid in zip(items, ids, strict=True) if i.console}
        if not roles:
            return set()
        stmt = (
            select(Person)
            .where(col(Person.id).in_(sorted(roles)))
            .execution_options(populate_existing=True)
        )
        changed = set()
        now = utcnow()
        for person in (await session.exec(stmt)).all():
            assert person.id is not None
            if await set_console_role(session, person, roles[person.id], actor=actor, now=now):
                changed.add(person.id)
        return changed

    async def _consent(
        self, session: AsyncSession, items: list[PersonRow], ids: list[int], actor: Actor
    ) -> set[int]:
        """Record the consent the rows give where it differs from the person's now (a file
        imported again adds nothing to their history); the ids whose consent changed."""
        wanted = {pid: i.consent for i, pid in zip(items, ids, strict=True) if i.consent}
        if not wanted:
            return set()
        stmt = (
            select(Person)
            .where(col(Person.id).in_(sorted(wanted)))
            .execution_options(populate_existing=True)
        )
        differ = [
            (person, wanted[person.id or 0])
            for person in (await session.exec(stmt)).all()
            if person.consent != wanted[person.id or 0]
        ]
        await record_consents(differ, channel=Channel.import_, session=session, actor=actor)
        return {person.id or 0 for person, _ in differ}

    async def plan(self, session: AsyncSession, items: list[PersonRow]) -> list[Written]:
        planned = await plan_people(self.programme_id, [i.record for i in items], session=session)
        wanted = [
            (community_id, person.person_id, role)
            for item, person in zip(items, planned, strict=True)
            for community_id, role in item.groups
        ]
        joined = iter(await plan_members(wanted, session=session))
        known = {
            p.person_id: i
            for i, p in zip(items, planned, strict=True)
            if i.console is not None or i.consent is not None
        }
        roles: dict[int, ConsoleRole | None] = {}
        consents: dict[int, ConsentState] = {}
        if any(pid is not None for pid in known):
            stmt = sa.select(col(Person.id), col(Person.console_role), col(Person.consent)).where(
                col(Person.id).in_([pid for pid in known if pid is not None])
            )
            for pid, role, consent in (await session.execute(stmt)).all():
                roles[pid], consents[pid] = role, consent
        done = []
        for item, person in zip(items, planned, strict=True):
            outcome = person.outcome
            for _ in item.groups:
                if next(joined) is not Outcome.unchanged and outcome is Outcome.unchanged:
                    outcome = Outcome.updated
            if (
                item.console is not None
                and person.person_id is not None
                and roles.get(person.person_id) != item.console
                and outcome is Outcome.unchanged
            ):
                outcome = Outcome.updated
            if (
                item.consent is not None
                and person.person_id is not None
                and consents.get(person.person_id) != item.consent
                and outcome is Outcome.unchanged
            ):
                outcome = Outcome.updated
            done.append(Written(outcome, person.kept_language, person.kept_reach))
        return done

    def codes_of(self, items: list[PersonRow]) -> list[str]:
        return []

    async def refusals(self, session: AsyncSession, items: list[PersonRow]) -> list[str | None]:
        """Only external ids clash with what is stored: a row's that is another person's
        than its phone, or two rows finding one person (one by external id, the other by
        phone), which no file without external ids can do."""
        if not self.external_ids:
            return _no_refusals(items)
        records = [i.record for i in items]
        matched = await match_people(self.programme_id, records, session=session)
        reasons: list[str | None] = []
        for item, (person_id, refusal) in zip(items, matched, strict=True):
            if refusal is not None or person_id is None:
                reasons.append(refusal)
                continue
            first = self.matched.setdefault(person_id, item.line)
            reasons.append(
                None
                if first == item.line
                else f"the same person as line {first} (one of the rows finds them by external id)"
            )
        return reasons
