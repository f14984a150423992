"""How the sender sends WhatsApp rows: as many requests in flight as its policy says,
whatever else the process is doing. WhatsApp takes one request per message, and a real
gateway answers in about 0.3 s, so the number in flight is the sending rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.models import Person
from service.models.enums import Reach
from sms.sender import Sender, SendPolicy
from sms.whatsapp_gateway import WhatsAppOutcome, WhatsAppResult
from tests.sms.outbox import TEXTS, Script, queued_world

WA_NUMBER = "+254711082000"


class SlowWhatsApp:
    """A WhatsApp gateway taking `delay` a request, counting the requests in flight."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.sent = 0

    def _one(self) -> WhatsAppResult:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.sent += 1
            n = self.sent
        return WhatsAppResult(WhatsAppOutcome.accepted, message_id=f"wa-{n}", reason="SENT")

    def send_text(self, *args: object, **kwargs: object) -> WhatsAppResult:
        return self._one()

    def send_template(self, *args: object, **kwargs: object) -> WhatsAppResult:
        return self._one()

    def send_document(
        self, number: str, phone: str, url: str, caption: str | None = None,
        buttons: Sequence[str] | None = None,
    ) -> WhatsAppResult:  # fmt: skip
        return self._one()


async def test_whatsapp_requests_go_as_many_at_a_time_as_the_policy_says(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session, members=40)
    w.programme.whatsapp_number = WA_NUMBER
    everyone = (await session.exec(select(Person).where(Person.programme_id == w.pid))).all()
    for person in everyone:
        person.reach, person.whatsapp_opt_in_at = Reach.whatsapp, clock.now - timedelta(days=1)
    await session.commit()
    whatsapp = SlowWhatsApp(delay=0.2)
    sender = Sender(
        sessions, Script(), TEXTS, policy=SendPolicy(whatsapp_parallel=16), clock=clock,
        whatsapp=whatsapp,
    )  # fmt: skip

    report = await sender.send_due()

    assert (report.sent, whatsapp.sent) == (41, 41)
    # Sixteen at once, not the six threads asyncio lends a two-core machine by default.
    assert whatsapp.most == 16
