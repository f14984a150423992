"""Webhook endpoints and the events the domain queues for them, in the same transaction
as the change: who gets what, and how much of a person each payload carries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api.ids import encode
from service.domain import webhooks
from service.domain.attendance import record_presence, record_rsvp
from service.domain.errors import NotFound, ValidationError
from service.domain.meetings import cancel_meeting, close_finished_meetings
from service.domain.people import opt_out
from service.domain.surveys import (
    ensure_reflection,
    next_question,
    open_response,
    questions_of,
    record_answer,
)
from service.models import AuditEntry, Message, WebhookDelivery, WebhookEndpoint
from service.models.enums import (
    Channel,
    DeliveryStatus,
    Direction,
    MessageStatus,
    Presence,
    QuestionKind,
    Rsvp,
)
from sms.delivery import DeliveryReport, apply_reports
from tests import factories as f

URL = "https://partner.example.org/hooks"


async def _endpoint(
    session: AsyncSession, w: f.World, events: tuple[str, ...] = webhooks.EVENTS, **kw: Any
) -> WebhookEndpoint:
    endpoint = await webhooks.create_endpoint(
        w.pid, kw.pop("url", URL), events, session=session, actor=f.OPERATOR, **kw
    )
    await session.commit()
    return endpoint


async def _payloads(session: AsyncSession, endpoint: WebhookEndpoint) -> list[dict[str, Any]]:
    rows = (
        await session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(col(WebhookDelivery.id))
        )
    ).all()
    return [json.loads(row.body) for row in rows]


@pytest.mark.parametrize(
    "url", ["ftp://partner.example.org/x", "partner.example.org/hooks", "https://", "javascript:x"]
)
async def test_an_endpoint_must_be_an_http_url(session: AsyncSession, url: str) -> None:
    w = await f.world(session)
    with pytest.raises(ValidationError, match="http:// or https://"):
        await webhooks.create_endpoint(
            w.pid, url, ["rsvp.given"], session=session, actor=f.OPERATOR
        )


async def test_an_endpoint_wants_known_events(session: AsyncSession) -> None:
    w = await f.world(session)
    with pytest.raises(ValidationError, match=r"unknown event 'rsvp\.maybe'"):
        await webhooks.create_endpoint(
            w.pid, URL, ["rsvp.maybe"], session=session, actor=f.OPERATOR
        )
    with pytest.raises(ValidationError, match="at least one event"):
        await webhooks.create_endpoint(w.pid, URL, [], session=session, actor=f.OPERATOR)


async def test_changes_to_endpoints_are_audited_without_their_secret(session: AsyncSession) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, ("rsvp.given",))
    assert endpoint.id is not None and endpoint.secret.startswith("whsec_")
    first_secret = endpoint.secret
    await webhooks.update_endpoint(
        w.pid, endpoint.id, events=["rsvp.given", "meeting.held"], session=session,
        actor=f.OPERATOR,
    )  # fmt: skip
    rotated = await webhooks.rotate_secret(w.pid, endpoint.id, session=session, actor=f.OPERATOR)
    assert rotated.secret != first_secret
    await webhooks.delete_endpoint(w.pid, endpoint.id, session=session, actor=f.OPERATOR)
    await session.commit()
    entries = (
        await session.exec(
            select(AuditEntry)
            .where(AuditEntry.object_type == "webhook_endpoint")
            .order_by(col(AuditEntry.id))
        )
    ).all()
    assert [e.action for e in entries] == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
    assert {e.actor for e in entries} == {f.OPERATOR.label}
    assert entries[1].changes["events"] == [["rsvp.given"], ["rsvp.given", "meeting.held"]]
    assert "whsec_" not in json.dumps([e.changes for e in entries])
    assert await webhooks.list_endpoints(session, w.pid) == []


async def test_another_programmes_endpoint_is_not_found(session: AsyncSession) -> None:
    w = await f.world(session)
    other = await f.programme(session, slug="rw-sbi")
    endpoint = await _endpoint(session, w)
    assert other.id is not None and endpoint.id is not None
    with pytest.raises(NotFound):
        await webhooks.update_endpoint(
            other.id, endpoint.id, enabled=False, session=session, actor=f.OPERATOR
        )


async def test_nothing_is_queued_without_a_subscribed_endpoint(session: AsyncSession) -> None:
    w = await f.world(session)
    await _endpoint(session, w, ("meeting.held",))
    assert w.meeting.id is not None and w.members[0].id is not None
    await record_rsvp(
        w.pid, w.meeting.id, w.members[0].id, Rsvp.yes, session=session, actor=f.OPERATOR
    )
    await session.commit()
    assert (await session.exec(select(WebhookDelivery))).all() == []


async def test_a_rolled_back_change_queues_nothing(session: AsyncSession) -> None:
    w = await f.world(session)
    await _endpoint(session, w)
    assert w.meeting.id is not None and w.members[0].id is not None
    await record_rsvp(
        w.pid, w.meeting.id, w.members[0].id, Rsvp.yes, session=session, actor=f.OPERATOR
    )
    await session.rollback()
    assert (await session.exec(select(WebhookDelivery))).all() == []


async def test_rsvp_and_attendance_events_name_the_meeting_and_person_by_their_api_ids(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, ("rsvp.given", "attendance.marked", "meeting.held"))
    member = w.members[0]
    assert w.meeting.id is not None and member.id is not None
    await record_rsvp(w.pid, w.meeting.id, member.id, Rsvp.yes, session=session, actor=f.OPERATOR)
    await record_presence(
        w.pid, w.meeting.id, member.id, Presence.present, session=session, actor=f.OPERATOR,
        now=w.meeting.starts_at,
    )  # fmt: skip
    await session.commit()
    # The worker's bulk close emits too.
    await close_finished_meetings(session, now=w.meeting.ends_at + timedelta(hours=3))
    await session.commit()
    rsvp, marked, held = await _payloads(session, endpoint)
    assert rsvp["type"] == "rsvp.given" and rsvp["data"]["rsvp"] == "yes"
    assert rsvp["data"]["meeting"] == encode("Meeting", w.meeting.id)
    assert rsvp["data"]["person"] == encode("Person", member.id)
    assert rsvp["data"]["programme"] == encode("Programme", w.pid)
    assert marked["type"] == "attendance.marked" and marked["data"]["presence"] == "present"
    assert held["type"] == "meeting.held" and held["data"]["status"] == "held"


async def test_only_an_endpoint_with_the_pii_right_gets_whole_phones_and_texts(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    plain = await _endpoint(session, w)
    private = await _endpoint(session, w, pii=True)
    member = w.members[0]
    assert w.meeting.id is not None and member.id is not None
    await record_rsvp(
        w.pid, w.meeting.id, member.id, Rsvp.no, "my child is sick", session=session,
        actor=f.OPERATOR,
    )  # fmt: skip
    await cancel_meeting(w.programme, w.meeting.id, "the road is flooded", session=session,
                         actor=f.OPERATOR)  # fmt: skip
    await opt_out(member, channel=Channel.sms, session=session, actor=f.OPERATOR)
    message = Message(
        programme_id=w.pid, person_id=member.id, direction=Direction.outbound, kind="broadcast",
        phone=member.phone or "", body="Bring your lesson plans", status=MessageStatus.sent,
        provider_id="ATXid_1",
    )  # fmt: skip
    session.add(message)
    await session.commit()
    report = DeliveryReport("ATXid_1", MessageStatus.delivered, "Success", None, None, None)
    await apply_reports(session, [report], f.now())
    await session.commit()

    masked = await _payloads(session, plain)
    whole = await _payloads(session, private)
    assert [p["type"] for p in masked] == [
        "rsvp.given", "meeting.cancelled", "person.opted_out", "message.delivered"
    ]  # fmt: skip
    text = json.dumps(masked, ensure_ascii=False)
    assert member.phone is not None and member.phone not in text
    for secret in ("my child is sick", "the road is flooded", "Bring your lesson plans"):
        assert secret not in text
    assert (
        masked[2]["data"]["phone"]
        == member.phone[:6] + "•" * (len(member.phone) - 8) + (member.phone[-2:])
    )
    assert whole[0]["data"]["reason"] == "my child is sick"
    assert whole[1]["data"]["reason"] == "the road is flooded"
    assert whole[2]["data"]["phone"] == member.phone
    assert (
        whole[3]["data"] | {"body": "Bring your lesson plans", "phone": member.phone}
        == whole[3]["data"]
    )
    assert whole[3]["data"]["status"] == "delivered"


async def test_a_completed_survey_response_is_an_event(session: AsyncSession) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, ("survey_response.completed",))
    member = w.members[0]
    assert member.id is not None
    survey = await ensure_reflection(session, w.programme)
    assert survey.id is not None
    response = await open_response(
        session, survey.id, member.id, Channel.ussd, f.now(), meeting_id=w.meeting.id
    )
    question = next_question((await questions_of(session, [survey.id]))[survey.id], {})
    while question is not None:
        value = {QuestionKind.yes_no: "yes", QuestionKind.short_text: "fine"}.get(
            question.kind, str(question.min_value or 1)
        )
        question = await record_answer(
            session, response, question.position, value, channel=Channel.ussd, now=f.now()
        )
    await session.commit()
    [completed] = await _payloads(session, endpoint)
    assert completed["type"] == "survey_response.completed"
    assert completed["data"]["person"] == encode("Person", member.id)


async def test_resend_sends_the_same_delivery_again(session: AsyncSession) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, ("person.opted_out",))
    await opt_out(w.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    delivery = (await session.exec(select(WebhookDelivery))).one()
    delivery.status = DeliveryStatus.failed
    await session.commit()
    assert delivery.id is not None and endpoint.id is not None
    again = await webhooks.resend(w.pid, delivery.id, session=session, actor=f.OPERATOR)
    await session.commit()
    assert again.status is DeliveryStatus.pending and again.first_attempt_at is None
    assert again.message_id == delivery.message_id
    entry = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "webhook.resend"))
    ).one()
    assert entry.actor == f.OPERATOR.label


async def test_settled_deliveries_are_dropped_after_a_month_pending_ones_never(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    await _endpoint(session, w, ("person.opted_out",))
    for member in w.members:
        await opt_out(member, channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    settled, waiting = (await session.exec(select(WebhookDelivery))).all()
    settled.status = DeliveryStatus.delivered
    await session.commit()
    assert await webhooks.prune(session, f.now() + timedelta(days=29)) == 0
    assert await webhooks.prune(session, f.now() + timedelta(days=31)) == 1
    await session.commit()
    session.expunge_all()
    [kept] = (await session.exec(select(WebhookDelivery))).all()
    assert kept.id == waiting.id
