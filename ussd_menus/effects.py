"""What a finished USSD session changes: each effect calls one domain use case."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import Protocol, runtime_checkable

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.attendance import record_presence, record_rsvp
from service.domain.communities import approve_membership, request_to_join
from service.domain.invitations import give_name, named
from service.domain.meetings import cancel_meeting, reschedule_meeting
from service.domain.outbox import Queued
from service.domain.people import PersonInput, create_person, find_by_phone, set_language
from service.domain.reach import set_reach
from service.domain.reminders import remind_now
from service.domain.surveys import open_response, record_answer
from service.models import Programme
from service.models.enums import Channel, Language, Presence, Reach, Rsvp
from ussd_menus.context import Caller, TextAnswer


class Effect(Protocol):
    """A change a hop makes; what it queued for others, when it tells anyone."""

    @property
    def key(self) -> str: ...

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> Queued | None: ...


@runtime_checkable
class Reporting(Effect, Protocol):
    """An effect whose closing message shows what it made (a new meeting's code): read
    after the change, or on a retried hop from what the first try made."""

    async def report(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> dict[str, str]: ...


def action_key(index: int, effect: Effect) -> str:
    """What a change is claimed under (UssdAction.key): the input that made it, and it."""
    return f"{index}:{effect.key}"


_ANSWER_KEY = re.compile(r"(\d+):survey:(\d+):(\d+):(\d+):")


def text_answers(keys: Iterable[str]) -> dict[int, TextAnswer]:
    """The answers a session's claimed changes record, by the input each began at."""
    found = {}
    for key in keys:
        match = _ANSWER_KEY.match(key)
        if match is not None:
            index, survey_id, position, parts = map(int, match.groups())
            found[index] = TextAnswer(survey_id, position, parts)
    return found


def actor_of(caller: Caller) -> Actor:
    assert caller.person_id is not None
    return Actor.person(caller.person_id, Channel.ussd)


@dataclass(frozen=True)
class Respond:
    meeting_id: int
    answer: Rsvp
    reason: str | None

    @property
    def key(self) -> str:
        return f"rsvp:{self.meeting_id}:{self.answer.value}:{self.reason or ''}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert caller.person_id is not None
        await record_rsvp(
            programme.id or 0,
            self.meeting_id,
            caller.person_id,
            self.answer,
            self.reason,
            session=session,
            actor=actor_of(caller),
            now=now,
        )


@dataclass(frozen=True)
class CheckIn:
    meeting_id: int
    presence: Presence

    @property
    def key(self) -> str:
        return f"presence:{self.meeting_id}:{self.presence.value}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert caller.person_id is not None
        await record_presence(
            programme.id or 0,
            self.meeting_id,
            caller.person_id,
            self.presence,
            session=session,
            actor=actor_of(caller),
            now=now,
        )


@dataclass(frozen=True)
class SetLanguage:
    language: Language

    @property
    def key(self) -> str:
        return f"language:{self.language.value}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert caller.person_id is not None
        await set_language(
            programme, caller.person_id, self.language, session=session, actor=actor_of(caller)
        )


@dataclass(frozen=True)
class SetReach:
    """The caller chooses how their messages come: WhatsApp chosen here is their opt-in."""

    reach: Reach

    @property
    def key(self) -> str:
        return f"reach:{self.reach.value}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert caller.person_id is not None
        await set_reach(
            programme, caller.person_id, self.reach, session=session,
            actor=actor_of(caller), now=now, opt_in=True,
        )  # fmt: skip


@dataclass(frozen=True)
class Join:
    join_code: str
    name: str

    @property
    def key(self) -> str:
        return f"join:{self.join_code}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert programme.id is not None
        person = await find_by_phone(session, programme.id, caller.phone)
        if person is not None and not named(person):  # a number a facilitator added
            assert person.id is not None
            await give_name(
                programme.id,
                person.id,
                self.name,
                session=session,
                actor=Actor.person(person.id, Channel.ussd),
            )
        if person is None:
            person = await create_person(
                programme,
                PersonInput(name=self.name, phone=caller.phone),
                session=session,
                actor=Actor(kind="ussd", channel=Channel.ussd, name=caller.phone[-4:]),
            )
        assert person.id is not None
        await request_to_join(
            programme.id,
            self.join_code,
            person.id,
            session=session,
            actor=Actor.person(person.id, Channel.ussd),
        )


@dataclass(frozen=True)
class Mark:
    """A facilitator marks a member present or absent (also members with no phone)."""

    meeting_id: int
    person_id: int
    presence: Presence

    @property
    def key(self) -> str:
        # Without the value: a retried toggle must not toggle back.
        return f"mark:{self.meeting_id}:{self.person_id}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        await record_presence(
            programme.id or 0,
            self.meeting_id,
            self.person_id,
            self.presence,
            session=session,
            actor=actor_of(caller),
            now=now,
        )


@dataclass(frozen=True)
class Cancel:
    meeting_id: int

    @property
    def key(self) -> str:
        return f"cancel:{self.meeting_id}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> Queued | None:
        change = await cancel_meeting(
            programme,
            self.meeting_id,
            "cancelled by USSD",
            session=session,
            actor=actor_of(caller),
            now=now,
        )
        return change.told


@dataclass(frozen=True)
class Move:
    meeting_id: int
    starts_at: datetime  # aware, programme time

    @property
    def key(self) -> str:
        return f"move:{self.meeting_id}:{self.starts_at.isoformat()}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> Queued | None:
        change = await reschedule_meeting(
            programme,
            self.meeting_id,
            self.starts_at,
            session=session,
            actor=actor_of(caller),
            now=now,
        )
        return change.told


@dataclass(frozen=True)
class Approve:
    membership_id: int

    @property
    def key(self) -> str:
        return f"approve:{self.membership_id}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        await approve_membership(
            programme.id or 0,
            self.membership_id,
            session=session,
            actor=actor_of(caller),
            approver_id=caller.person_id,
        )


@dataclass(frozen=True)
class Remind:
    meeting_id: int

    @property
    def key(self) -> str:
        return f"remind:{self.meeting_id}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> Queued:
        return await remind_now(
            programme, self.meeting_id, session=session, actor=actor_of(caller), now=now
        )


@dataclass(frozen=True)
class AnswerSurvey:
    survey_id: int
    response_id: int | None
    meeting_id: int | None
    position: int
    value: str
    parts: int = 1  # the inputs the answer took: a free text may hold AT's separator `*`

    @property
    def key(self) -> str:
        # A long text stands in the key as its digest: the key is a bounded column.
        tag = self.value if len(self.value) <= 40 else sha256(self.value.encode()).hexdigest()[:24]
        return f"survey:{self.survey_id}:{self.position}:{self.parts}:{tag}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert caller.person_id is not None
        response = await open_response(
            session, self.survey_id, caller.person_id, Channel.ussd, now, self.meeting_id
        )
        await record_answer(
            session,
            response,
            self.position,
            self.value,
            channel=Channel.ussd,
            now=now,
            session_ref=caller.session_ref,
        )
