"""Webhooks: the endpoints a programme registers, and the events the domain owes them.

Events out are a transactional outbox. A use case that makes a change calls `emit` in
the same transaction: one `webhook_delivery` row per subscribed endpoint, holding the
exact body that will be signed and sent. Rolled back, nothing goes; committed, the
worker (`service/webhook_sender.py`) posts it until the endpoint takes it. With no
endpoint subscribed, `emit` costs one query on a table of a few rows.

Payloads follow the Standard Webhooks shape `{type, timestamp, data}`; ids in them are
the GraphQL API's global ids, so a partner can fetch the object with `node(id:)`.
Whole phone numbers and free texts (message bodies, reasons) only go to endpoints
registered with the PII right; the others get masked phones and no texts.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import ValidationError
from service.domain.lookup import get_owned
from service.domain.phones import mask_phone
from service.models import (
    Attendance,
    Meeting,
    Message,
    Person,
    SurveyResponse,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from service.models.enums import DeliveryStatus, MessageStatus, WebhookEvent
from service.models.types import utcnow

DELIVERY = WebhookDelivery.__table__  # type: ignore[attr-defined]
ATTEMPT = WebhookAttempt.__table__  # type: ignore[attr-defined]

EVENTS: tuple[str, ...] = tuple(e.value for e in WebhookEvent)
MAX_ENDPOINTS = 20  # per programme: each event is one row per endpoint
MAX_URL = 500


def global_id(type_name: str, pk: int | None) -> str | None:
    """The GraphQL API's opaque id (`service/api/ids.encode`; a test keeps them equal)."""
    if pk is None:
        return None
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: `whsec_` + base64 of 32 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("the endpoint must be an http:// or https:// URL", field="url")
    if len(url) > MAX_URL:
        raise ValidationError(f"the URL is longer than {MAX_URL} characters", field="url")
    if parts.username or parts.password:
        raise ValidationError("put no user name or password in the URL", field="url")
    return url


def check_events(events: Sequence[str]) -> list[str]:
    wanted = sorted({e.strip() for e in events if e.strip()})
    if not wanted:
        raise ValidationError("choose at least one event", field="events")
    unknown = [e for e in wanted if e not in EVENTS]
    if unknown:
        raise ValidationError(
            f"unknown event {unknown[0]!r}; one of: {', '.join(EVENTS)}", field="events"
        )
    return [e for e in EVENTS if e in wanted]  # in the documented order


# -- endpoints ---------------------------------------------------------------------


async def list_endpoints(session: AsyncSession, programme_id: int) -> list[WebhookEndpoint]:
    stmt = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.programme_id == programme_id)
        .order_by(col(WebhookEndpoint.id))
    )
    return list((await session.exec(stmt)).all())


def _public(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the audit log keeps it: never its secret."""
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "pii": endpoint.pii,
        "enabled": endpoint.enabled,
        "description": endpoint.description,
    }


async def create_endpoint(
    programme_id: int,
    url: str,
    events: Sequence[str],
    *,
    pii: bool = False,
    description: str = "",
    session: AsyncSession,
    actor: Actor,
) -> WebhookEndpoint:
    """Register an endpoint. Its secret is on the returned object: show it once."""
    url, wanted = check_url(url), check_events(events)
    if len(await list_endpoints(session, programme_id)) >= MAX_ENDPOINTS:
        raise ValidationError(f"a programme has at most {MAX_ENDPOINTS} endpoints", field="url")
    now = utcnow()
    endpoint = WebhookEndpoint(
        programme_id=programme_id,
        url=url,
        events=wanted,
        pii=pii,
        description=description.strip()[:200],
        secret=new_secret(),
        created_by=actor.label,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    audit.record(session, actor, "webhook.create", endpoint, changes=_public(endpoint), at=now)
    return endpoint


async def update_endpoint(
    programme_id: int,
    endpoint_id: int,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    pii: bool | None = None,
    enabled: bool | None = None,
    description: str | None = None,
    session: AsyncSession,
    actor: Actor,
) -> WebhookEndpoint:
    endpoint = await get_owned(session, WebhookEndpoint, endpoint_id, programme_id)
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = check_url(url)
    if events is not None:
        values["events"] = check_events(events)
    if pii is not None:
        values["pii"] = pii
    if enabled is not None:
        values["enabled"] = enabled
    if description is not None:
        values["description"] = description.strip()[:200]
    changes = audit.apply_changes(endpoint, values)
    if changes:
        endpoint.updated_at = utcnow()
        audit.record(session, actor, "webhook.update", endpoint, changes=changes)
        await session.flush()
    return endpoint


ROTATION_GRACE = timedelta(hours=24)


async def rotate_secret(
    programme_id: int,
    endpoint_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> WebhookEndpoint:
    """A new secret at once. For a day what is sent carries two signatures, the new
    secret's and the old one's, so the receiver can switch without refusing any."""
    now = now or utcnow()
    endpoint = await get_owned(session, WebhookEndpoint, endpoint_id, programme_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    audit.record(session, actor, "webhook.rotate_secret", endpoint)
    await session.flush()
    return endpoint


async def delete_endpoint(
    programme_id: int, endpoint_id: int, *, session: AsyncSession, actor: Actor
) -> None:
    """Remove an endpoint and what it was still owed (and its record of deliveries)."""
    endpoint = await get_owned(session, WebhookEndpoint, endpoint_id, programme_id)
    mine = sa.select(DELIVERY.c.id).where(DELIVERY.c.endpoint_id == endpoint_id)
    await session.execute(sa.delete(ATTEMPT).where(ATTEMPT.c.delivery_id.in_(mine)))
    await session.execute(sa.delete(DELIVERY).where(DELIVERY.c.endpoint_id == endpoint_id))
    audit.record(session, actor, "webhook.delete", endpoint, changes=_public(endpoint))
    await session.delete(endpoint)
    await session.flush()


async def resend(
    programme_id: int,
    delivery_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> WebhookDelivery:
    """Send a delivery again (same body, same `webhook-id`), with a fresh day of retries.

    A pending one is simply made due now."""
    now = now or utcnow()
    delivery = await get_owned(session, WebhookDelivery, delivery_id, programme_id)
    old = delivery.status
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.lease_until = None
    delivery.claim_token = None
    if old is not DeliveryStatus.pending:
        delivery.first_attempt_at = None
        delivery.delivered_at = None
    audit.record(
        session, actor, "webhook.resend", delivery, changes={"status": [old, "pending"]}, at=now
    )
    await session.flush()
    return delivery


async def recent_deliveries(
    session: AsyncSession,
    programme_id: int,
    *,
    endpoint_id: int | None = None,
    status: DeliveryStatus | None = None,
    limit: int = 20,
) -> list[WebhookDelivery]:
    """The newest deliveries first."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.programme_id == programme_id)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    stmt = stmt.order_by(col(WebhookDelivery.id).desc()).limit(limit)
    return list((await session.exec(stmt)).all())


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[WebhookAttempt]]:
    """Each delivery's kept attempts, the newest first."""
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    stmt = (
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(list(delivery_ids)))
        .order_by(col(WebhookAttempt.id).desc())
    )
    for attempt in (await session.exec(stmt)).all():
        found[attempt.delivery_id].append(attempt)
    return found


# -- events ------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something that happened, as every endpoint of its programme may be told of it.

    `private` holds what only endpoints with the PII right get whole: a key ending in
    `phone` goes masked to the others, any other key (a text) not at all."""

    programme_id: int
    type: WebhookEvent
    subject: str  # the order key: an endpoint gets a subject's events in this order
    data: Mapping[str, Any]
    private: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)

    def payload(self, *, pii: bool) -> dict[str, Any]:
        data = dict(self.data)
        for key, value in self.private.items():
            if pii:
                data[key] = value
            elif key.endswith("phone"):
                data[key] = mask_phone(value)
        return {
            "type": self.type.value,
            "timestamp": self.at.isoformat(),
            "data": {"programme": global_id("Programme", self.programme_id), **data},
        }


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def encode(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=_json)


Subscriber = tuple[int, int, list[str], bool]  # endpoint id, programme id, events, pii


async def subscribers(
    session: AsyncSession, programme_ids: Sequence[int] | None
) -> list[Subscriber]:
    """The enabled endpoints of these programmes (None: of every programme): one query on
    a table of a few rows."""
    if programme_ids is not None and not programme_ids:
        return []
    stmt = sa.select(
        col(WebhookEndpoint.id),
        col(WebhookEndpoint.programme_id),
        col(WebhookEndpoint.events),
        col(WebhookEndpoint.pii),
    ).where(col(WebhookEndpoint.enabled).is_(True))
    if programme_ids is not None:
        stmt = stmt.where(col(WebhookEndpoint.programme_id).in_(sorted(set(programme_ids))))
    rows = (await session.execute(stmt)).all()
    return [(int(i), int(p), list(e or []), bool(pii)) for i, p, e, pii in rows]


async def emit(
    session: AsyncSession, events: Sequence[Event], endpoints: Sequence[Subscriber] | None = None
) -> int:
    """Queue each event for every enabled endpoint of its programme that subscribes to
    it, in the caller's transaction. Returns the number of deliveries queued."""
    if not events:
        return 0
    if endpoints is None:
        endpoints = await subscribers(session, [e.programme_id for e in events])
    if not endpoints:
        return 0
    rows: list[dict[str, Any]] = []
    for event in events:
        bodies: dict[bool, str] = {}
        for endpoint_id, programme_id, wanted, pii in endpoints:
            if programme_id != event.programme_id or event.type.value not in wanted:
                continue
            if pii not in bodies:
                bodies[pii] = encode(event.payload(pii=pii))
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "programme_id": programme_id,
                    "message_id": f"msg_{uuid.uuid4().hex}",
                    "event": event.type.value,
                    "subject": event.subject[:60],
                    "body": bodies[pii],
                    "status": DeliveryStatus.pending,
                    "attempts": 0,
                    "next_attempt_at": event.at,
                    "created_at": event.at,
                }
            )
    if rows:
        # One statement; rows take their ids in the order given, the order of a subject.
        await session.execute(sa.insert(DELIVERY), rows)
    return len(rows)


# -- what each event carries -----------------------------------------------------------
# Builders take the domain's rows; the models are imported here, the use cases call them.


def meeting_event(
    meeting: Meeting,
    type: WebhookEvent,
    at: datetime,
    *,
    previous_starts_at: datetime | None = None,
    previous_ends_at: datetime | None = None,
) -> Event:
    assert meeting.id is not None
    data: dict[str, Any] = {
        "meeting": global_id("Meeting", meeting.id),
        "community": global_id("Community", meeting.community_id),
        "status": meeting.status.value,
        "starts_at": meeting.starts_at,
        "ends_at": meeting.ends_at,
        "modality": meeting.modality.value,
        "code": meeting.code,
    }
    if previous_starts_at is not None:
        data["previous_starts_at"] = previous_starts_at
        data["previous_ends_at"] = previous_ends_at
    private = {"reason": meeting.cancel_reason} if type is WebhookEvent.meeting_cancelled else {}
    return Event(meeting.programme_id, type, f"meeting:{meeting.id}", data, private, at)


def attendance_event(programme_id: int, row: Attendance, type: WebhookEvent, at: datetime) -> Event:
    data: dict[str, Any] = {
        "meeting": global_id("Meeting", row.meeting_id),
        "person": global_id("Person", row.person_id),
    }
    private: dict[str, Any] = {}
    if type is WebhookEvent.rsvp_given:
        data |= {"rsvp": row.rsvp.value, "channel": row.rsvp_channel, "at": row.rsvp_at}
        private["reason"] = row.rsvp_reason
    else:
        data |= {
            "presence": row.presence.value,
            "channel": row.presence_channel,
            "at": row.presence_at,
        }
    return Event(programme_id, type, f"meeting:{row.meeting_id}", data, private, at)


def opted_out_event(person: Person, at: datetime) -> Event:
    assert person.id is not None
    data = {
        "person": global_id("Person", person.id),
        "channel": person.opted_out_channel,
        "at": person.opted_out_at,
    }
    return Event(
        person.programme_id,
        WebhookEvent.person_opted_out,
        f"person:{person.id}",
        data,
        {"phone": person.phone},
        at,
    )


def response_completed_event(response: SurveyResponse, programme_id: int, at: datetime) -> Event:
    assert response.id is not None
    data = {
        "response": global_id("SurveyResponse", response.id),
        "survey": global_id("Survey", response.survey_id),
        "person": global_id("Person", response.person_id),
        "meeting": global_id("Meeting", response.meeting_id),
        "completed_at": response.completed_at,
    }
    return Event(
        programme_id,
        WebhookEvent.survey_response_completed,
        f"person:{response.person_id}",
        data,
        {},
        at,
    )


async def emit_message_reports(
    session: AsyncSession, message_ids: Mapping[int, MessageStatus], at: datetime
) -> int:
    """`message.delivered` / `message.failed` for messages whose report just settled
    them: one query for the subscribers, one for the messages when any subscribes."""
    if not message_ids:
        return 0
    wanted = {WebhookEvent.message_delivered.value, WebhookEvent.message_failed.value}
    endpoints = [s for s in await subscribers(session, None) if wanted & set(s[2])]
    if not endpoints:
        return 0  # the usual case: one query on a table of a few rows
    table = Message.__table__  # type: ignore[attr-defined]
    programme_ids = sorted({s[1] for s in endpoints})
    rows = await session.execute(
        sa.select(
            table.c.id, table.c.programme_id, table.c.person_id, table.c.meeting_id,
            table.c.kind, table.c.reach, table.c.phone, table.c.body, table.c.last_error,
        ).where(table.c.id.in_(sorted(message_ids)), table.c.programme_id.in_(programme_ids))
        .order_by(table.c.id)
    )  # fmt: skip
    events = []
    for pk, programme_id, person_id, meeting_id, kind, reach, phone, body, error in rows.all():
        status = message_ids[pk]
        data = {
            "message": global_id("Message", pk),
            "person": global_id("Person", person_id),
            "meeting": global_id("Meeting", meeting_id),
            "kind": kind,
            "channel": str(reach),
            "status": status.value,
        }
        private = {"phone": phone, "body": body}
        if status is MessageStatus.failed:
            data["error"] = error
        type = (
            WebhookEvent.message_delivered
            if status is MessageStatus.delivered
            else WebhookEvent.message_failed
        )
        events.append(Event(programme_id, type, f"message:{pk}", data, private, at))
    return await emit(session, events, endpoints)


# Delivered and failed deliveries are kept this long to be seen and resent, then dropped.
KEEP_SENT = timedelta(days=30)


async def prune(session: AsyncSession, now: datetime, *, batch: int = 5000) -> int:
    """Drop deliveries settled more than KEEP_SENT ago (a batch per run), with their
    attempts. Pending ones stay whatever their age."""
    old = (
        sa.select(DELIVERY.c.id)
        .where(
            DELIVERY.c.status.in_([DeliveryStatus.delivered.value, DeliveryStatus.failed.value]),
            DELIVERY.c.created_at < now - KEEP_SENT,
        )
        .order_by(DELIVERY.c.id)
        .limit(batch)
    )
    ids = list((await session.execute(old)).scalars())
    if not ids:
        return 0
    await session.execute(sa.delete(ATTEMPT).where(ATTEMPT.c.delivery_id.in_(ids)))
    await session.execute(sa.delete(DELIVERY).where(DELIVERY.c.id.in_(ids)))
    return len(ids)
