"""A person's right of access: every row about them, as one JSON document.

The rows are found by the person's id and, where a row is kept by phone alone (inbound
messages, USSD dials before they were known, console sign-in codes), by their number
within the programme. Secrets never leave (hashes of console cookies and sign-in codes,
CSRF tokens), nor other people's data (the CSV texts of a roster they uploaded).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.audit import jsonable
from service.domain.consent import history
from service.domain.lookup import get_owned
from service.models import (
    Answer,
    Attendance,
    AuditEntry,
    Community,
    ConsoleSession,
    Meeting,
    Membership,
    Message,
    Person,
    Programme,
    Question,
    RosterUpload,
    SignInCode,
    SurveyResponse,
    UssdAction,
    UssdSession,
)
from service.models.types import utcnow

FORMAT = "copline.person-export/1"
SECRETS = frozenset({"token_hash", "csrf_token", "code_hash", "claim_token", "secret_hash"})
OTHERS_DATA = frozenset({"schools_csv", "communities_csv", "people_csv", "preview", "result"})


def row(obj: SQLModel, *, leave: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every column of a stored row as JSON values, but secrets (and `leave`)."""
    table: sa.Table = obj.__table__  # type: ignore[attr-defined]
    return {
        c.name: jsonable(getattr(obj, c.name))
        for c in table.columns
        if c.name not in SECRETS and c.name not in leave
    }


async def _all(session: AsyncSession, stmt: Any) -> list[Any]:
    return list((await session.exec(stmt)).all())


async def export_person(
    programme: Programme, person_id: int, *, session: AsyncSession
) -> dict[str, Any]:
    """Everything stored about one person of the programme (NotFound outside it)."""
    assert programme.id is not None
    pid = programme.id
    person = await get_owned(session, Person, person_id, pid)
    phone = person.phone

    memberships = await _all(
        session,
        select(Membership, Community.code, Community.name)
        .join(Community, col(Community.id) == Membership.community_id)
        .where(Membership.person_id == person_id)
        .order_by(col(Membership.id)),
    )
    attendance = await _all(
        session,
        select(Attendance, Meeting.starts_at, Meeting.community_id)
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(Attendance.person_id == person_id)
        .order_by(col(Meeting.starts_at)),
    )
    responses = await _all(
        session,
        select(SurveyResponse)
        .where(SurveyResponse.person_id == person_id)
        .order_by(col(SurveyResponse.id)),
    )
    answers: dict[int, list[dict[str, Any]]] = {}
    if responses:
        found = await _all(
            session,
            select(Answer, Question.position, Question.kind)
            .join(Question, col(Question.id) == Answer.question_id)
            .where(col(Answer.response_id).in_([r.id for r in responses]))
            .order_by(col(Answer.response_id), col(Question.position)),
        )
        for answer, position, kind in found:
            answers.setdefault(answer.response_id, []).append(
                row(answer) | {"question_position": position, "question_kind": kind.value}
            )

    about_me = col(Message.person_id) == person_id
    if phone:
        about_me = about_me | (
            (col(Message.programme_id) == pid)
            & col(Message.person_id).is_(None)
            & (col(Message.phone) == phone)
        )
    messages = await _all(session, select(Message).where(about_me).order_by(col(Message.id)))

    dialled = col(UssdSession.person_id) == person_id
    if phone:
        dialled = dialled | (
            (col(UssdSession.programme_id) == pid)
            & col(UssdSession.person_id).is_(None)
            & (col(UssdSession.phone) == phone)
        )
    dials = await _all(session, select(UssdSession).where(dialled).order_by(col(UssdSession.id)))
    actions = (
        await _all(
            session,
            select(UssdAction)
            .where(col(UssdAction.session_id).in_([d.session_id for d in dials]))
            .order_by(col(UssdAction.id)),
        )
        if dials
        else []
    )

    subjects = [
        (col(AuditEntry.object_type) == "person") & (col(AuditEntry.object_id) == person_id)
    ]
    for table, ids in (
        ("membership", [m.id for m, _, _ in memberships]),
        ("attendance", [a.id for a, _, _ in attendance]),
        ("survey_response", [r.id for r in responses]),
    ):
        if ids:
            subjects.append(
                (col(AuditEntry.object_type) == table) & col(AuditEntry.object_id).in_(ids)
            )
    entries = await _all(
        session,
        select(AuditEntry)
        .where(
            AuditEntry.programme_id == pid,
            sa.or_(col(AuditEntry.actor) == f"person:{person_id}", *subjects),
        )
        .order_by(col(AuditEntry.at), col(AuditEntry.id)),
    )
    consoles = await _all(
        session,
        select(ConsoleSession)
        .where(ConsoleSession.person_id == person_id)
        .order_by(col(ConsoleSession.id)),
    )
    codes = (
        await _all(
            session,
            select(SignInCode).where(SignInCode.phone == phone).order_by(col(SignInCode.id)),
        )
        if phone
        else []
    )
    uploads = await _all(
        session,
        select(RosterUpload)
        .where(RosterUpload.person_id == person_id, RosterUpload.programme_id == pid)
        .order_by(col(RosterUpload.id)),
    )
    return {
        "format": FORMAT,
        "exported_at": jsonable(utcnow()),
        "programme": {"id": pid, "slug": programme.slug, "name": programme.name},
        "person": row(person),
        "consent_history": [row(c) for c in await history(session, person_id)],
        "memberships": [
            row(m) | {"community_code": code, "community_name": name}
            for m, code, name in memberships
        ],
        "attendance": [
            row(a) | {"meeting_starts_at": jsonable(starts), "community_id": community}
            for a, starts, community in attendance
        ],
        "survey_responses": [row(r) | {"answers": answers.get(r.id or 0, [])} for r in responses],
        "messages": [row(m) for m in messages],
        "ussd_sessions": [row(d) for d in dials],
        "ussd_actions": [row(a) for a in actions],
        "audit_entries": [row(e) for e in entries],
        "console_sessions": [row(s) for s in consoles],
        "sign_in_codes": [row(c) for c in codes],
        "roster_uploads": [row(u, leave=OTHERS_DATA) for u in uploads],
    }
