"""What a teacher texts is their consent history: STOP withdraws it, START gives it, and
blocking our sender at the network withdraws it too."""

from __future__ import annotations

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.consent import history
from service.models.enums import Channel, ConsentState
from tests import factories as f
from tests.sms.test_callbacks import TOKEN, texter


async def test_stop_and_start_by_sms_are_entries_of_the_consent_history(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    phone = texter(client, teacher)

    await phone.send("STOP")
    await phone.send("START")

    entries = await history(session, teacher.id or 0)
    assert [(e.state, e.channel, e.recorded_by) for e in entries] == [
        (ConsentState.withdrawn, Channel.sms, f"person:{teacher.id}"),
        (ConsentState.given, Channel.sms, f"person:{teacher.id}"),
    ]


async def test_an_opt_out_at_the_network_withdraws_consent(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    teacher = w.members[0]

    response = await client.post(
        f"/at/{TOKEN}/sms/optout", data={"senderId": "COPLINE", "phoneNumber": teacher.phone or ""}
    )

    assert response.status_code == 200
    [entry] = await history(session, teacher.id or 0)
    assert (entry.state, entry.channel) == (ConsentState.withdrawn, Channel.sms)
