"""WhatsApp's callbacks over HTTP: status moves a message forward, inbound is stored once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Message, Person
from service.models.enums import Direction, MessageStatus, Reach
from service.models.types import utcnow
from tests import factories as f

TOKEN = "dev-callback-token"
BUSINESS = "+254711082000"


async def fresh(session: AsyncSession, model: Any, *where: Any) -> list[Any]:
    await session.rollback()
    session.expunge_all()
    return list((await session.exec(select(model).where(*where).order_by(model.id))).all())


async def whatsapp_message(
    session: AsyncSession, status: MessageStatus = MessageStatus.sent
) -> tuple[int, Person]:
    w = await f.world(session)
    member = w.members[0]
    row = Message(
        programme_id=w.pid,
        person_id=member.id,
        direction=Direction.outbound,
        kind="reminder",
        phone=member.phone or "",
        reach=Reach.whatsapp,
        body="hello",
        status=status,
        provider_id="ATWAid_abc",
        send_after=utcnow(),
    )
    session.add(row)
    await session.commit()
    assert row.id is not None
    return row.id, member


async def post(
    client: httpx.AsyncClient, path: str, *, as_json: bool = False, **fields: Any
) -> httpx.Response:
    """POST WhatsApp's callback fields as a form (AT's way for SMS) or as JSON."""
    if as_json:
        return await client.post(f"/at/{TOKEN}/whatsapp/{path}", json=fields)
    return await client.post(f"/at/{TOKEN}/whatsapp/{path}", data=fields)


@pytest.mark.parametrize(
    ("steps", "stored", "error"),
    [
        (["sent"], MessageStatus.sent, None),
        (["sent", "delivered"], MessageStatus.delivered, None),
        (["read"], MessageStatus.delivered, None),
        (["delivered", "read"], MessageStatus.delivered, None),
        (["failed"], MessageStatus.failed, "WhatsApp failed: DeliveryFailure"),
        (["delivered", "failed"], MessageStatus.delivered, None),  # forward only
        (["failed", "delivered"], MessageStatus.failed, "WhatsApp failed: DeliveryFailure"),
        (["SENT", "DELIVERED"], MessageStatus.delivered, None),
    ],
)
async def test_status_callbacks_move_the_message_forward_only(
    client: httpx.AsyncClient,
    session: AsyncSession,
    steps: list[str],
    stored: MessageStatus,
    error: str | None,
) -> None:
    message_id, member = await whatsapp_message(session)
    for n, status in enumerate(steps):
        fields: dict[str, Any] = {"id": "ATWAid_abc", "status": status, "phoneNumber": member.phone}
        if status.lower() == "failed":
            fields["failureReason"] = "DeliveryFailure"
        response = await post(client, "status", as_json=n % 2 == 1, **fields)
        assert response.status_code == 200, response.text
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is stored
    assert row.last_error == error
    assert (row.delivered_at is not None) == (stored is MessageStatus.delivered)


async def test_a_blacklist_word_in_a_whatsapp_failure_opts_nobody_out_of_sms(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, member = await whatsapp_message(session)
    response = await post(
        client, "status", id="ATWAid_abc", status="failed", failureReason="UserInBlacklist"
    )
    assert response.status_code == 200
    [person] = await fresh(session, Person, col(Person.id) == member.id)
    assert person.opted_out_at is None


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": "delivered"},
        {"id": "ATWAid_abc"},
        {"id": "ATWAid_abc", "status": "Success"},  # an SMS word, not WhatsApp's
        {"id": "x" * 81, "status": "sent"},
    ],
)
async def test_bad_status_callbacks_get_400_and_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, fields: dict[str, Any]
) -> None:
    message_id, _ = await whatsapp_message(session)
    response = await post(client, "status", **fields)
    assert response.status_code == 400
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is MessageStatus.sent


async def test_a_button_reply_is_stored_as_a_whatsapp_message_and_opens_the_window(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, member = await whatsapp_message(session)
    form: dict[str, Any] = {
        "id": "ATWAin_1",
        "from": member.phone or "",
        "to": BUSINESS,
        "date": "2026-11-22 14:03:11",
        "text": "I'll come",
        "button": "I'll come",
        "replyTo": "ATWAid_abc",
    }
    for _ in range(2):  # a repeated callback is stored once
        assert (await post(client, "inbound", **form)).status_code == 200

    [row] = await fresh(session, Message, col(Message.direction) == Direction.inbound)
    assert (row.person_id, row.reach, row.body) == (member.id, Reach.whatsapp, "I'll come")
    assert (row.status, row.provider_id) == (MessageStatus.received, "ATWAin_1")
    assert row.params == {"button": "I'll come", "reply_to": "ATWAid_abc"}
    [person] = await fresh(session, Person, col(Person.id) == member.id)
    assert person.whatsapp_last_inbound_at is not None
    assert person.whatsapp_last_inbound_at.isoformat() == "2026-11-22T14:03:11+00:00"


async def test_a_typed_reply_as_json_is_stored_and_moves_the_window_forward_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, member = await whatsapp_message(session)
    now = utcnow()
    await post(
        client, "inbound", as_json=True, id="in-1", text="YES", date=now.isoformat(), to=BUSINESS,
        **{"from": member.phone},
    )  # fmt: skip
    earlier = (now - timedelta(hours=3)).isoformat()
    await post(
        client, "inbound", as_json=True, id="in-0", text="hi", date=earlier, to=BUSINESS,
        **{"from": member.phone},
    )  # fmt: skip

    rows = await fresh(session, Message, col(Message.direction) == Direction.inbound)
    assert sorted(r.body for r in rows) == ["YES", "hi"]
    assert {r.reach for r in rows} == {Reach.whatsapp}
    [person] = await fresh(session, Person, col(Person.id) == member.id)
    assert person.whatsapp_last_inbound_at is not None
    assert abs(person.whatsapp_last_inbound_at - now) < timedelta(seconds=1)


async def test_an_unknown_sender_is_answered_and_not_stored(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await whatsapp_message(session)
    unknown: dict[str, Any] = {"id": "in-9", "text": "hello", "from": "+254700000999"}
    response = await post(client, "inbound", **unknown)
    assert response.status_code == 200
    assert await fresh(session, Message, col(Message.direction) == Direction.inbound) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"from": "+254712100001", "text": "hi"},  # no id
        {"id": "in-1", "text": "hi"},  # no from
        {"id": "in-1", "from": "0712100001", "text": "hi"},  # not international
        {"id": "in-1", "from": "+254712100001"},  # no text, no button
        {"id": "in-1", "from": "+254712100001", "text": "  "},
        {"id": "in-1", "from": "+254712100001", "text": "hi", "to": "business"},
        {"id": "in-1", "from": "+254712100001", "text": "hi", "date": "yesterday"},
        {"id": "in-1", "from": "+254712100001", "text": "x" * 4097},
        {"id": "in-1", "from": "+254712100001", "text": "hi", "replyTo": "y" * 81},
    ],
)
async def test_bad_inbound_callbacks_get_400_and_store_nothing(
    client: httpx.AsyncClient, session: AsyncSession, fields: dict[str, Any]
) -> None:
    await whatsapp_message(session)
    response = await post(client, "inbound", **fields)
    assert response.status_code == 400
    assert await fresh(session, Message, col(Message.direction) == Direction.inbound) == []


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b'{"id": {"nested": 1}}'])
async def test_json_that_is_not_a_flat_object_gets_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    for path in ("status", "inbound"):
        response = await client.post(
            f"/at/{TOKEN}/whatsapp/{path}",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400


async def test_a_wrong_token_is_not_found(client: httpx.AsyncClient) -> None:
    for path in ("status", "inbound"):
        response = await client.post(f"/at/wrong/whatsapp/{path}", data={"id": "x"})
        assert response.status_code == 404
