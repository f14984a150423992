"""A person's right to erasure, and the legal hold that suspends it.

Erasing keeps every row the programme's figures count (the person's row, memberships,
attendance, survey responses and choice answers, messages with their status and cost,
USSD dials, consent history, audit entries) and removes what identifies the person:
their name becomes `ERASED_NAME`, their phone goes (NULL on the person, `ERASED_PHONE`
where a row must hold one), message texts and their free-text answers are emptied,
their console sessions end and sign-in codes go. Their name and numbers (every form: E.164
with and without `+`, the local 07… form, and any earlier name or number the audit trail
holds) are then replaced by `ERASED` in every text of the programme that still holds
them: other people's messages that named them, audit entries, roster files waiting in
the console. The erasure itself is audited, with counts and no identifier.

An erased person gets no message (no phone, opted out), is not matched by a later import
(one with their number creates someone new) and has nothing more recorded about them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import LegalHold, PersonErased
from service.domain.lookup import get_owned
from service.models import (
    Answer,
    Attendance,
    AuditEntry,
    Community,
    ConsoleSession,
    Meeting,
    Message,
    Person,
    Programme,
    Question,
    SignInCode,
    Survey,
    SurveyResponse,
    UssdAction,
    UssdSession,
)
from service.models.enums import MessageStatus, QuestionKind, Reach
from service.models.types import EnumText

ERASED_NAME = "[erased]"
ERASED = "[erased]"  # what stands in for their name or number inside other texts
ERASED_PHONE = "erased"  # where a row must hold a phone (messages, USSD dials)
MIN_NAME = 3  # a shorter name is not searched for in other people's texts

# Tables reached from the programme through another table (no programme_id of their own).
# Every table holding text is either here, carries a programme_id, or is named in
# NO_PERSON_TEXT: tests/service/domain/test_erasure.py checks each new table is placed.
NO_PERSON_TEXT = frozenset(
    {
        "person",  # handled row by row: a namesake's own row must keep their name
        "community_school",
        "unmatched_report",  # provider ids and AT's status words
        "sign_in_code",  # keyed by phone alone: deleted for the person, below
        "job_run",  # the worker's jobs: names, counts, exception kinds
        "webhook_attempt",  # status codes and error kinds; the body is on the delivery
    }
)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure changed, in counts (this is what its audit entry records)."""

    messages: int = 0
    free_text_answers: int = 0
    ussd_sessions: int = 0
    console_sessions: int = 0
    sign_in_codes: int = 0
    texts_scrubbed: int = 0  # other rows of the programme that named them

    def as_changes(self) -> dict[str, int]:
        return asdict(self)


async def set_legal_hold(
    programme: Programme,
    person_id: int,
    hold: bool,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime,
) -> tuple[Person, bool]:
    """Set or lift a person's legal hold; audited. Returns the person and whether it changed."""
    assert programme.id is not None
    person = await get_owned(session, Person, person_id, programme.id, for_update=True)
    if (person.legal_hold_at is not None) == hold:
        return person, False
    person.legal_hold_at = now if hold else None
    person.updated_at = now
    audit.record(session, actor, "person.legal_hold", person, changes={"hold": hold}, at=now)
    await session.flush()
    return person, True


def phone_forms(phone: str) -> list[str]:
    """The ways a stored E.164 number is written: +254712…, 254712…, 0712…."""
    forms = [phone, phone.removeprefix("+")]
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    forms.append(re.sub(r"\D", "", national))
    return list(dict.fromkeys(f for f in forms if len(f) >= 6))


@dataclass(frozen=True)
class Needles:
    """What identifies the person in free text: their names and numbers."""

    names: tuple[str, ...]
    phones: tuple[str, ...]  # every form of every number

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = [rf"(?<!\w){re.escape(n)}(?!\w)" for n in sorted(self.names, key=len, reverse=True)]
        parts += [
            rf"(?<!\d){re.escape(p)}(?!\d)" for p in sorted(self.phones, key=len, reverse=True)
        ]
        return re.compile("|".join(parts), re.IGNORECASE)

    def searched(self) -> list[str]:
        """What a LIKE looks for: each text as written and as JSON writes it (\\u00e9)."""
        found: list[str] = []
        for text in (*self.names, *self.phones):
            found += [text, json.dumps(text)[1:-1]]
        return list(dict.fromkeys(found))


async def _needles(session: AsyncSession, person: Person) -> Needles:
    """Their name and phone now, and any earlier ones the audit trail kept."""
    names = {person.name}
    phones = {person.phone} if person.phone else set()
    stmt = select(AuditEntry.changes).where(
        AuditEntry.object_type == "person", AuditEntry.object_id == person.id
    )
    for changes in (await session.exec(stmt)).all():
        for field, into in (("name", names), ("phone", phones)):
            value = (changes or {}).get(field)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item:
                    into.add(item)
    # An earlier number someone else of the programme holds now is theirs, not hers.
    others = sa.select(col(Person.phone)).where(
        col(Person.programme_id) == person.programme_id,
        col(Person.id) != person.id,
        col(Person.phone).in_(sorted(phones)),
    )
    phones -= {p for (p,) in (await session.execute(others)).all()}
    names = {n.strip() for n in names if len(n.strip()) >= MIN_NAME and n != ERASED_NAME}
    forms = [form for phone in sorted(phones) for form in phone_forms(phone)]
    return Needles(tuple(sorted(names)), tuple(forms))


def _scope(table: sa.Table, programme_id: int) -> sa.ColumnElement[bool] | None:
    """Which rows of `table` belong to the programme; None: none of its text is searched."""
    c = table.c
    if table.name in NO_PERSON_TEXT:
        return None
    if table.name == "programme":
        return c.id == programme_id
    if "programme_id" in c:
        return c.programme_id == programme_id
    surveys = sa.select(col(Survey.id)).where(col(Survey.programme_id) == programme_id)
    meetings = sa.select(col(Meeting.id)).where(col(Meeting.programme_id) == programme_id)
    communities = sa.select(col(Community.id)).where(col(Community.programme_id) == programme_id)
    responses = sa.select(col(SurveyResponse.id)).where(col(SurveyResponse.survey_id).in_(surveys))
    people = sa.select(col(Person.id)).where(col(Person.programme_id) == programme_id)
    dials = sa.select(col(UssdSession.session_id)).where(
        col(UssdSession.programme_id) == programme_id
    )
    through: dict[str, tuple[str, sa.Select[Any]]] = {
        "attendance": ("meeting_id", meetings),
        "membership": ("community_id", communities),
        "question": ("survey_id", surveys),
        "survey_response": ("survey_id", surveys),
        "answer": ("response_id", responses),
        "console_session": ("person_id", people),
        # A facilitator's "add member" is claimed under the number it added.
        "ussd_action": ("session_id", dials),
        "consent_record": ("person_id", people),
    }
    if table.name not in through:
        raise LookupError(f"table {table.name} is not placed for erasure (see NO_PERSON_TEXT)")
    column, owners = through[table.name]
    return c[column].in_(owners)


def text_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """The columns that may hold a name or a number: text and JSON, not the enums."""
    found = []
    for column in table.columns:
        kind: Any = column.type
        if isinstance(kind, EnumText):
            continue
        if isinstance(kind, sa.TypeDecorator):  # SQLModel's AutoString is one
            kind = kind.impl_instance
        if isinstance(kind, sa.String | sa.Text | sa.JSON):
            found.append(column)
    return found


def _replaced(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_replaced(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, pattern) for k, v in value.items()}
    return value


async def _scrub_texts(session: AsyncSession, programme_id: int, needles: Needles) -> int:
    """Replace the person's names and numbers in every text of the programme; rows changed."""
    if not needles.names and not needles.phones:
        return 0
    pattern = needles.pattern
    searched = needles.searched()
    changed = 0
    for table in SQLModel.metadata.sorted_tables:
        scope = _scope(table, programme_id)
        columns = text_columns(table)
        if scope is None or not columns or len(table.primary_key.columns) != 1:
            continue
        (pk,) = table.primary_key.columns

        def hit(column: sa.Column[Any]) -> sa.ColumnElement[bool]:
            text = sa.cast(column, sa.Text) if isinstance(column.type, sa.JSON) else column
            return sa.or_(
                *(text.contains(s, autoescape=True) for s in searched),
                *(sa.func.lower(text).contains(s.lower(), autoescape=True) for s in searched),
            )

        stmt = sa.select(pk, *columns).where(scope, sa.or_(*(hit(c) for c in columns)))
        for row in (await session.execute(stmt)).all():
            values = {
                column.name: new
                for column, old in zip(columns, row[1:], strict=True)
                if (new := _replaced(old, pattern)) != old
            }
            if values:
                await session.execute(sa.update(table).where(pk == row[0]).values(values))
                changed += 1
    return changed


async def erase_person(
    programme: Programme,
    person_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime,
) -> Erasure:
    """Erase what identifies a person, keep what the figures count (see the module)."""
    assert programme.id is not None
    pid = programme.id
    person = await get_owned(session, Person, person_id, pid, for_update=True)
    if person.legal_hold_at is not None:
        raise LegalHold("this person's data is under a legal hold: lift the hold before erasing it")
    if person.erased_at is not None:
        raise PersonErased("this person's data was erased already")
    await session.flush()
    needles = await _needles(session, person)
    numbers = [p for p in needles.phones if p.startswith("+")]
    # Rows kept by phone alone (no person known then) are theirs by the number.
    mine = [col(Message.person_id) == person.id]
    if numbers:
        mine.append(
            (col(Message.programme_id) == pid)
            & col(Message.person_id).is_(None)
            & col(Message.phone).in_(numbers)
        )
    # Anything still waiting to go to them never will.
    await session.execute(
        sa.update(Message)
        .where(sa.or_(*mine), col(Message.status) == MessageStatus.queued)
        .values(status=MessageStatus.dropped, last_error="person erased", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    messages = await session.execute(
        sa.update(Message)
        .where(sa.or_(*mine))
        .values(body=None, params=sa.null(), phone=ERASED_PHONE, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    responses = sa.select(col(SurveyResponse.id)).where(col(SurveyResponse.person_id) == person.id)
    free_text = sa.select(col(Question.id)).where(col(Question.kind) == QuestionKind.short_text)
    answers = await session.execute(
        sa.update(Answer)
        .where(col(Answer.response_id).in_(responses), col(Answer.question_id).in_(free_text))
        .values(value="")
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        sa.update(Attendance)
        .where(col(Attendance.person_id) == person.id)
        .values(rsvp_reason=None)
        .execution_options(synchronize_session=False)
    )
    dials = [col(UssdSession.person_id) == person.id]
    if numbers:
        dials.append(
            (col(UssdSession.programme_id) == pid)
            & col(UssdSession.person_id).is_(None)
            & col(UssdSession.phone).in_(numbers)
        )
    # What they typed in a dial is in its claimed actions' keys (a short free-text
    # answer): those keys only guard a dial's retried hops, long over.
    await session.execute(
        sa.delete(UssdAction)
        .where(
            col(UssdAction.session_id).in_(
                sa.select(col(UssdSession.session_id)).where(sa.or_(*dials))
            )
        )
        .execution_options(synchronize_session=False)
    )
    ussd = await session.execute(
        sa.update(UssdSession)
        .where(sa.or_(*dials))
        .values(phone=ERASED_PHONE, error_message=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    consoles = await session.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.person_id) == person.id)
        .values(revoked_at=sa.func.coalesce(col(ConsoleSession.revoked_at), now), notice=None)
        .execution_options(synchronize_session=False)
    )
    codes = await _forget_sign_in_codes(session, person, numbers)
    person.name = ERASED_NAME
    person.phone = None
    person.console_role = None
    person.reach = Reach.sms
    person.whatsapp_opt_in_at = person.whatsapp_opted_out_at = None
    person.whatsapp_last_inbound_at = None
    if person.opted_out_at is None:
        person.opted_out_at, person.opted_out_channel = now, actor.channel
    person.erased_at = now
    person.updated_at = now
    await session.flush()
    scrubbed = await _scrub_texts(session, pid, needles)
    done = Erasure(
        messages=_count(messages),
        free_text_answers=_count(answers),
        ussd_sessions=_count(ussd),
        console_sessions=_count(consoles),
        sign_in_codes=codes,
        texts_scrubbed=scrubbed,
    )
    audit.record(session, actor, "person.erase", person, changes=done.as_changes(), at=now)
    await session.flush()
    return done


async def _forget_sign_in_codes(
    session: AsyncSession, person: Person, numbers: Iterable[str]
) -> int:
    """Sign-in codes are kept by phone alone: delete those of a number nobody else holds."""
    numbers = list(numbers)
    if not numbers:
        return 0
    others = sa.select(col(Person.phone)).where(
        col(Person.phone).in_(numbers), col(Person.id) != person.id
    )
    held = {p for (p,) in (await session.execute(others)).all()}
    free = [n for n in numbers if n not in held]
    if not free:
        return 0
    result = await session.execute(sa.delete(SignInCode).where(col(SignInCode.phone).in_(free)))
    return _count(result)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
