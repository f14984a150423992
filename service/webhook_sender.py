"""Posting webhook deliveries: signed, retried with backoff, in order per subject.

A pass claims the due deliveries that head their subject (an endpoint's earlier
pending delivery of the same subject holds the later ones back), leases them, posts
them concurrently, and stores each outcome fenced by its claim token. A worker that
dies mid-post leaves its rows leased: when the lease ends another worker (or the same
one, restarted) posts them again with the same `webhook-id`. So delivery is at least
once, and a receiver that remembers the ids it took processes each event once.

Signatures follow Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256 of
"{webhook-id}.{webhook-timestamp}.{body}">`, keyed with the base64-decoded secret
after its `whsec_` prefix. The timestamp is the attempt's, so a receiver refuses a
replay older than its tolerance.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
import structlog

from service.db import SessionFactory
from service.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from service.models.enums import DeliveryStatus
from service.models.types import utcnow

log = structlog.get_logger(__name__)

DELIVERY = WebhookDelivery.__table__  # type: ignore[attr-defined]
ENDPOINT = WebhookEndpoint.__table__  # type: ignore[attr-defined]
ATTEMPT = WebhookAttempt.__table__  # type: ignore[attr-defined]

# Waits after the 1st, 2nd… failed attempt; the last repeats. The first failure that
# comes a day or more after the first attempt gives up.
BACKOFF: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (5, 30, 120, 600, 1800, 3600, 7200, 14400)
)
GIVE_UP_AFTER = timedelta(hours=24)
KEEP_ATTEMPTS = 10  # per delivery, the newest
USER_AGENT = "copline-webhooks/1"


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(
    secret: str, message_id: str, timestamp: int, body: str, *, also: Sequence[str] = ()
) -> dict[str, str]:
    """The request's headers; `also`: secrets that sign too (one being rotated out)."""
    signatures = [sign(s, message_id, timestamp, body) for s in (secret, *also)]
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


@dataclass(frozen=True)
class WebhookPolicy:
    batch: int = 50  # deliveries claimed per pass
    parallel: int = 8  # posts in flight per worker
    timeout_s: float = 10.0  # to connect, and again to wait for the answer
    # How long a claim keeps its rows from other workers: by default longer than a whole
    # pass can take (its posts in rounds of `parallel`, each connecting and waiting).
    lease: timedelta | None = None
    backoff: tuple[timedelta, ...] = BACKOFF
    give_up_after: timedelta = GIVE_UP_AFTER
    # Whether endpoints may be on loopback, private or link-local addresses. Off in
    # production: an admin's URL must not reach the service's own network.
    private_hosts: bool = True

    def lease_time(self) -> timedelta:
        if self.lease is not None:
            return self.lease
        rounds = -(-self.batch // self.parallel)
        return timedelta(seconds=rounds * 2 * self.timeout_s + 30)

    def wait_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1-based)."""
        return self.backoff[min(max(attempts, 1), len(self.backoff)) - 1]


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    body: str
    url: str
    secret: str
    attempts: int
    first_attempt_at: datetime | None
    previous_secret: str | None  # still signing: rotated out less than a day ago


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _internal(url: str) -> bool:
    """Whether the URL's host is (or resolves to) a loopback, private, link-local or
    otherwise non-public address. Unresolvable hosts are left to the post to fail."""
    host = urlsplit(url).hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return False
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not address.is_global:
            return True
    return False


class WebhookSender:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        policy: WebhookPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessions = sessions
        self.policy = policy or WebhookPolicy()
        self.clock = clock
        self.transport = transport

    async def claim(self, now: datetime) -> tuple[str, list[Claimed]]:
        """Lease the due deliveries that head their subject at their endpoint; the claim's
        token fences what this pass may store."""
        earlier = DELIVERY.alias("earlier")
        waiting_behind = (
            sa.select(sa.literal(1))
            .where(
                earlier.c.endpoint_id == DELIVERY.c.endpoint_id,
                earlier.c.subject == DELIVERY.c.subject,
                earlier.c.id < DELIVERY.c.id,
                earlier.c.status == DeliveryStatus.pending.value,
            )
            .exists()
        )
        due = (
            sa.select(DELIVERY.c.id)
            .join(ENDPOINT, ENDPOINT.c.id == DELIVERY.c.endpoint_id)
            .where(
                DELIVERY.c.status == DeliveryStatus.pending.value,
                DELIVERY.c.next_attempt_at <= now,
                sa.or_(DELIVERY.c.lease_until.is_(None), DELIVERY.c.lease_until <= now),
                ENDPOINT.c.enabled.is_(True),
                ~waiting_behind,
            )
            .order_by(DELIVERY.c.id)
            .limit(self.policy.batch)
            .with_for_update(of=DELIVERY, skip_locked=True)
        )
        token = secrets.token_hex(16)
        async with self.sessions() as session:
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return token, []
            await session.execute(
                sa.update(DELIVERY)
                .where(DELIVERY.c.id.in_(ids))
                .values(lease_until=now + self.policy.lease_time(), claim_token=token)
            )
            rows = await session.execute(
                sa.select(
                    DELIVERY.c.id, DELIVERY.c.message_id, DELIVERY.c.body, ENDPOINT.c.url,
                    ENDPOINT.c.secret, DELIVERY.c.attempts, DELIVERY.c.first_attempt_at,
                    sa.case(
                        (ENDPOINT.c.previous_secret_until > now, ENDPOINT.c.previous_secret),
                        else_=sa.null(),
                    ),
                    DELIVERY.c.claim_token,
                )
                .join(ENDPOINT, ENDPOINT.c.id == DELIVERY.c.endpoint_id)
                .where(DELIVERY.c.id.in_(ids))
                .order_by(DELIVERY.c.id)
            )  # fmt: skip
            claimed = [Claimed(*row[:8]) for row in rows.all() if row[8] == token]
            await session.commit()
        return token, claimed

    async def post(self, client: httpx.AsyncClient, row: Claimed) -> Outcome:
        at = self.clock()
        timestamp = int(at.timestamp())
        started = time.monotonic()
        code: int | None = None
        error: str | None = None
        try:
            if not self.policy.private_hosts and await _internal(row.url):
                return Outcome(row, at, None, "private_address", 0)
            answer = await client.post(
                row.url,
                content=row.body.encode(),
                headers=headers(
                    row.secret,
                    row.message_id,
                    timestamp,
                    row.body,
                    also=[row.previous_secret] if row.previous_secret else [],
                ),
            )
            code = answer.status_code
            if not 200 <= code < 300:
                error = f"http_{code}"
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.ConnectError:
            error = "refused"
        except httpx.HTTPError as exc:
            error = type(exc).__name__[:120]
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(row, at, code, error, duration)

    async def store(self, outcomes: Sequence[Outcome], token: str) -> None:
        """Each outcome, only if this claim still holds the row (fenced by the token)."""
        async with self.sessions() as session:
            for o in outcomes:
                first = o.claimed.first_attempt_at or o.at
                attempts = o.claimed.attempts + 1
                values: dict[str, object] = {
                    "attempts": attempts,
                    "first_attempt_at": first,
                    "last_status_code": o.status_code,
                    "last_error": o.error,
                    "lease_until": None,
                    "claim_token": None,
                }
                if o.ok:
                    values |= {"status": DeliveryStatus.delivered.value, "delivered_at": o.at}
                elif o.at - first >= self.policy.give_up_after:
                    values["status"] = DeliveryStatus.failed.value
                else:
                    values["next_attempt_at"] = o.at + self.policy.wait_after(attempts)
                done = await session.execute(
                    sa.update(DELIVERY)
                    .where(DELIVERY.c.id == o.claimed.id, DELIVERY.c.claim_token == token)
                    .values(**values)
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # the lease ran out and another claim owns the row now
                await session.execute(
                    sa.insert(ATTEMPT).values(
                        delivery_id=o.claimed.id,
                        at=o.at,
                        status_code=o.status_code,
                        error=o.error,
                        duration_ms=o.duration_ms,
                    )
                )
                kept = (
                    sa.select(ATTEMPT.c.id)
                    .where(ATTEMPT.c.delivery_id == o.claimed.id)
                    .order_by(ATTEMPT.c.id.desc())
                    .limit(KEEP_ATTEMPTS)
                )
                await session.execute(
                    sa.delete(ATTEMPT).where(
                        ATTEMPT.c.delivery_id == o.claimed.id,
                        ATTEMPT.c.id.not_in(sa.select(kept.subquery().c.id)),
                    )
                )
            await session.commit()

    async def send_once(self) -> int:
        """One pass: claim, post, store. Returns how many were delivered."""
        token, claimed = await self.claim(self.clock())
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self.policy.parallel)
        timeout = httpx.Timeout(self.policy.timeout_s)
        async with httpx.AsyncClient(
            timeout=timeout, transport=self.transport, follow_redirects=False
        ) as client:

            async def one(row: Claimed) -> Outcome:
                async with limit:
                    return await self.post(client, row)

            outcomes = await asyncio.gather(*(one(row) for row in claimed))
        await self.store(outcomes, token)
        failed = sum(1 for o in outcomes if not o.ok)
        if failed:
            log.info("webhook.attempts_failed", count=failed, of=len(outcomes))
        return sum(1 for o in outcomes if o.ok)

    async def send_until_idle(self, max_passes: int = 20) -> int:
        """Passes while there is work: a subject's next delivery is due once the one
        before it went."""
        delivered = 0
        for _ in range(max_passes):
            done = await self.send_once()
            delivered += done
            if not done:
                break
        return delivered
