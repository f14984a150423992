"""Inbound SMS: store it once, understand the keyword, act through the domain, reply.

AT posts `from, to, text, date, id, linkId, networkCode`. The AT id makes a message
idempotent: a repeated post is stored once and answered once. Every reply is
queued in the outbox in the person's language (replies are not held for quiet
hours: the person has just written to us). Text we cannot read gets a short help
reply, at most one an hour per person, so a chatty phone cannot run up a bill.

Whose message it is, when the phone is in several programmes, is `sms.routing`'s
rule: the programmes that hear the short code it was sent to; among them the one
whose meeting the text's code names, else the one that last sent the phone an SMS;
else nobody (not acted on, not stored, logged with the phone masked), never the
number added last. STOP is about the short code, not one programme: it stops the
phone's person in every programme that hears that code, with one confirmation.
START restarts the programme the text is routed to, and undoes the other SMS
opt-outs on that code (a STOP text, AT's opt-out notice), so that the "Reply START"
of the one confirmation is true. An opt-out recorded on another channel in another
programme (a USSD menu, staff) stays: a text only undoes what a text took away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.domain.actor import Actor
from service.domain.attendance import record_presence, record_rsvp
from service.domain.consent import record_consent
from service.domain.errors import (
    DomainError,
    MeetingCancelled,
    MeetingClosed,
    MeetingNotStarted,
    NotAllowed,
    NotAMember,
    RemindedRecently,
)
from service.domain.meetings import cancel_meeting
from service.domain.people import opt_in, opt_out
from service.domain.phones import mask_phone
from service.domain.reminders import remind_now
from service.models import Meeting, Membership, Message, Person, Programme
from service.models.enums import (
    Channel,
    ConsentState,
    Direction,
    MeetingStatus,
    MembershipStatus,
    MessageStatus,
    Modality,
    Presence,
    Reach,
    Rsvp,
)
from sms import commands
from sms.forwarding import pass_on
from sms.keywords import Command, Keyword, parse
from sms.reach_replies import choose_reach, is_reach_choice
from sms.replies import Reply, meeting_by_code
from sms.routing import Routing, route
from sms.surveys import answer_by_sms, open_conversation
from sms.texts import SmsTexts

log = structlog.get_logger(__name__)

TABLE = Message.__table__  # type: ignore[attr-defined]
HELP_GAP = timedelta(hours=1)
MAX_TEXT = 480  # three segments; longer is not a reply we can use


class BadInbound(ValueError):
    """The form is not an inbound SMS; the caller answers 400."""


@dataclass(frozen=True)
class InboundSms:
    sender: str
    to: str
    text: str
    received_at: datetime
    provider_id: str
    link_id: str | None
    network_code: str | None


def parse_date(raw: str, fallback: datetime) -> datetime:
    """AT writes `2026-11-22 14:03:11` (UTC) or ISO-8601; without one, when we got it."""
    raw = raw.strip()
    if not raw:
        return fallback
    for candidate in (raw, raw.replace(" ", "T", 1)):
        try:
            moment = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise BadInbound(f"date {raw[:30]!r} is not a date")


def parse_inbound(form: Mapping[str, str], now: datetime) -> InboundSms:
    sender = (form.get("from") or "").strip()
    provider_id = (form.get("id") or "").strip()
    if not sender:
        raise BadInbound("from is missing")
    if not provider_id or len(provider_id) > 80:
        raise BadInbound("id is missing")
    if "text" not in form:
        raise BadInbound("text is missing")
    return InboundSms(
        sender=sender,
        to=(form.get("to") or "").strip(),
        text=form["text"][:MAX_TEXT],
        received_at=parse_date(form.get("date") or "", now),
        provider_id=provider_id,
        link_id=(form.get("linkId") or "").strip() or None,
        network_code=(form.get("networkCode") or "").strip() or None,
    )


async def receive(session: AsyncSession, sms: InboundSms, now: datetime, texts: SmsTexts) -> str:
    """Handle one inbound SMS; returns what happened (for logs and tests)."""
    command = parse(sms.text)
    # Bare digits are survey answers, not meeting codes.
    code = command.code if command.keyword is not Keyword.unknown else None
    routing = await route(session, sms.sender, sms.to, code)
    if not routing.candidates:
        log.info("sms.inbound_unknown_sender", phone=mask_phone(sms.sender))
        return "unknown sender"
    if command.keyword in (Keyword.stop, Keyword.start):
        handled = await _stop_or_start(session, routing, command.keyword, sms, now)
    elif routing.chosen is None:
        handled = _ambiguous(sms, routing)
    else:
        person, programme = routing.chosen.person, routing.chosen.programme
        if not await _store(session, person, sms, now):
            return "duplicate"
        handled = await act(session, programme, person, command, sms, now, texts)
    log.info("sms.inbound", keyword=command.keyword.value, outcome=handled)
    return handled


def _ambiguous(sms: InboundSms, routing: Routing) -> str:
    log.info(
        "sms.inbound_ambiguous",
        phone=mask_phone(sms.sender),
        to=sms.to,
        programmes=len({c.programme.id for c in routing.candidates}),
    )
    return "ambiguous sender"


async def _stop_or_start(
    session: AsyncSession, routing: Routing, keyword: Keyword, sms: InboundSms, now: datetime
) -> str:
    """STOP stops every programme that hears the address it was sent to: the phone
    must stop hearing from that number, whichever programme it meant. START
    restarts the programme the text is routed to whatever had stopped it, and the
    others on that address that an SMS opt-out stopped; an opt-out recorded on
    another channel in another programme stays. One confirmation goes out, not one
    per programme: from the programme the text is routed to when it is among them
    (else the best placed of them), naming each programme changed."""
    chosen = routing.chosen
    if keyword is Keyword.stop:
        acting = [c for c in routing.candidates if c.person.opted_out_at is None]
    else:
        acting = [
            c
            for c in routing.candidates
            if c is chosen
            or (c.person.opted_out_at is not None and c.person.opted_out_channel is Channel.sms)
        ]
    owner = chosen if chosen in acting or not acting else acting[0]
    if owner is None:  # nothing to change, and nobody the text is about
        return "already stopped" if keyword is Keyword.stop else _ambiguous(sms, routing)
    if not await _store(session, owner.person, sms, now):
        return "duplicate"
    if not acting:
        return "already stopped"
    for candidate in acting:
        person = candidate.person
        actor = Actor.person(person.id or 0, Channel.sms)
        if keyword is Keyword.stop:
            await opt_out(person, channel=Channel.sms, session=session, actor=actor)
            await outbox.drop_pending(session, person_id=person.id, reason="opted out", now=now)
            # Asking for no more messages withdraws consent, by SMS, now.
            await record_consent(
                person, ConsentState.withdrawn, channel=Channel.sms, session=session,
                actor=actor, now=now,
            )  # fmt: skip
        else:
            opt_in(person, channel=Channel.sms, session=session, actor=actor)
            # Asking to receive SMS is consent, given by SMS, now.
            await record_consent(
                person, ConsentState.given, channel=Channel.sms, session=session,
                actor=actor, now=now,
            )  # fmt: skip
    reply = Reply(session, owner.programme, owner.person, sms.provider_id)
    names = ", ".join(c.programme.name for c in acting)
    return await reply("stopped" if keyword is Keyword.stop else "started", now, programme=names)


async def _store(session: AsyncSession, person: Person, sms: InboundSms, now: datetime) -> bool:
    return await store_inbound(
        session,
        person,
        phone=sms.sender,
        text=sms.text,
        provider_id=sms.provider_id,
        received_at=sms.received_at,
        now=now,
    )


async def store_inbound(
    session: AsyncSession,
    person: Person,
    *,
    phone: str,
    text: str,
    provider_id: str,
    received_at: datetime,
    now: datetime,
    reach: Reach = Reach.sms,
    params: dict[str, Any] | None = None,
) -> bool:
    """Store a person's incoming message once per provider id, by SMS or WhatsApp;
    False when it was stored already (the provider repeated its callback)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(TABLE) if dialect == "postgresql" else sqlite.insert(TABLE)
    result = await session.execute(
        insert.values(
            programme_id=person.programme_id,
            person_id=person.id,
            direction=Direction.inbound,
            kind="inbound",
            phone=phone,
            reach=reach,
            body=text,
            params=params,
            language=person.language,
            status=MessageStatus.received,
            provider_id=provider_id,
            created_at=received_at,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["direction", "provider_id"])
        .returning(TABLE.c.id)
    )
    return result.first() is not None


# With a code these are about a meeting, even in the middle of a survey.
_MEETING_COMMANDS = (Keyword.yes, Keyword.no, Keyword.here, Keyword.remind, Keyword.cancel)


async def act(
    session: AsyncSession,
    programme: Programme,
    person: Person,
    command: Command,
    sms: InboundSms,
    now: datetime,
    texts: SmsTexts,
    *,
    channel: Channel = Channel.sms,
) -> str:
    """Do what a person's message asks (stored already); `channel` is the one it came by."""
    reply = Reply(session, programme, person, sms.provider_id)
    actor = Actor.person(person.id or 0, channel)
    match command.keyword:
        case Keyword.whatsapp | Keyword.sms if is_reach_choice(command):
            # Before the opt-out check: the choice is kept, the STOP stands.
            return await choose_reach(session, programme, person, command, reply, now)
        case _ if person.opted_out_at is not None:
            return "ignored: opted out"  # nothing but the STOP confirmation goes to them
        case Keyword.help:
            return await reply("help", now, programme=programme.name)
        case Keyword.msg | Keyword.who | Keyword.to if (
            done := await commands.handle(session, texts, programme, person, command, reply, now)
        ) is not None:
            return done
        case _ if not (command.code and command.keyword in _MEETING_COMMANDS) and (
            conversation := await open_conversation(session, person, now)
        ):
            answered = await answer_by_sms(
                session,
                texts,
                programme,
                person,
                conversation,
                sms.text,
                reply_id=sms.provider_id,
                now=now,
                channel=channel,
            )
            return f"survey {answered}"
        case Keyword.yes | Keyword.no | Keyword.here | Keyword.remind | Keyword.cancel:
            return await _about_meeting(session, programme, person, command, reply, actor, now)
        case _:
            # Words (not bare digits) from a member reach their facilitators.
            if any(ch.isalpha() for ch in sms.text) and (
                passed := await pass_on(session, texts, programme, person, sms.text, reply, now)
            ):
                return passed
            if await _helped_recently(session, person, now):
                return "ignored: helped within the hour"
            return await reply("unknown", now)


async def _helped_recently(session: AsyncSession, person: Person, now: datetime) -> bool:
    last = (
        await session.execute(
            sa.select(sa.func.max(TABLE.c.created_at)).where(
                TABLE.c.person_id == person.id,
                TABLE.c.direction == Direction.outbound,
                TABLE.c.template == "unknown",
            )
        )
    ).scalar()
    return last is not None and now - last < HELP_GAP


async def _about_meeting(
    session: AsyncSession,
    programme: Programme,
    person: Person,
    command: Command,
    reply: Reply,
    actor: Actor,
    now: datetime,
) -> str:
    assert programme.id is not None and person.id is not None
    meeting: Meeting | None
    if command.code is not None:
        meeting = await meeting_by_code(session, programme.id, command.code)
        if meeting is None:
            return await reply("unknown_code", now, code=command.code)
    else:
        choices = await _open_meetings_of(session, person.id, now)
        if not choices:
            return await reply("no_meeting", now)
        if len(choices) > 1:
            return await reply("which_meeting", now, codes=[m.code for m in choices[:5]])
        meeting = choices[0]
    assert meeting.id is not None
    try:
        match command.keyword:
            case Keyword.yes | Keyword.no:
                answer = Rsvp.yes if command.keyword is Keyword.yes else Rsvp.no
                await record_rsvp(
                    programme.id,
                    meeting.id,
                    person.id,
                    answer,
                    session=session,
                    actor=actor,
                    now=now,
                )
                return await reply(f"rsvp_{answer.value}", now, meeting)
            case Keyword.here:
                presence = (
                    Presence.remote
                    if meeting.modality in (Modality.remote_whatsapp, Modality.phone)
                    else Presence.present
                )
                await record_presence(
                    programme.id,
                    meeting.id,
                    person.id,
                    presence,
                    session=session,
                    actor=actor,
                    now=now,
                )
                template = "checked_in_remote" if presence is Presence.remote else "checked_in"
                return await reply(template, now, meeting)
            case Keyword.remind:
                queued = await remind_now(
                    programme, meeting.id, session=session, actor=actor, now=now
                )
                return await _confirm(reply, "remind", queued, now, meeting)
            case _:
                change = await cancel_meeting(
                    programme, meeting.id, session=session, actor=actor, now=now
                )
                assert change.told is not None  # a cancellation always tells the members
                return await _confirm(reply, "cancel", change.told, now, meeting)
    except NotAMember:
        return await reply("unknown_code", now, code=meeting.code)
    except NotAllowed:
        return await reply("not_facilitator", now, code=meeting.code)
    except (MeetingCancelled, MeetingClosed):
        return await reply("meeting_closed", now, code=meeting.code)
    except MeetingNotStarted:
        return await reply("checkin_not_open", now, meeting)
    except RemindedRecently:
        return await reply("reminded_recently", now, meeting)
    except DomainError as exc:
        log.info("sms.refused", code=exc.code)
        return await reply("unknown", now)


async def _open_meetings_of(session: AsyncSession, person_id: int, now: datetime) -> list[Meeting]:
    """Meetings of the person's communities not yet over, soonest first."""
    rows = await session.exec(
        select(Meeting)
        .join(Membership, col(Membership.community_id) == col(Meeting.community_id))
        .where(
            col(Membership.person_id) == person_id,
            col(Membership.status) == MembershipStatus.active,
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.ends_at) > now,
            col(Meeting.starts_at) <= now + timedelta(days=60),
        )
        .order_by(col(Meeting.starts_at))
    )
    return list(rows.all())


# What a facilitator is told after REMIND or CANCEL, by what became of the members' SMS.
CONFIRMATIONS: Mapping[str, Mapping[outbox.Fate, str]] = {
    "remind": {
        outbox.Fate.sent: "remind_sent",
        outbox.Fate.held: "remind_held",
        outbox.Fate.dropped: "remind_dropped",
        outbox.Fate.nobody: "remind_nobody",
    },
    "cancel": {
        outbox.Fate.sent: "cancel_done",
        outbox.Fate.held: "cancel_held",
        outbox.Fate.dropped: "cancel_dropped",
        outbox.Fate.nobody: "cancel_nobody",
    },
}


async def _confirm(
    reply: Reply, action: str, told: outbox.Queued, now: datetime, meeting: Meeting
) -> str:
    """Sent now, held by quiet hours until a time (programme time), or not sent and why."""
    send_time = told.send_after.isoformat() if told.send_after else None
    template = CONFIRMATIONS[action][told.fate(now)]
    return await reply(template, now, meeting, count=told.queued, send_time=send_time)
