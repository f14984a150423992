"""A facilitator's members from a basic phone: add by number, answer join requests,
message them all; and the person added by number joining. In every language."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.communities import request_to_join
from service.domain.segments import measure
from service.models import Membership, Message, Person
from service.models.enums import Language, MembershipStatus
from tests import factories as f
from tests.ussd_menus.test_facilitator import CATALOG, LANGUAGES, TOKEN, fresh, phone, walk, world
from ussd_menus.phone import Phone

ADD, MESSAGE = "8", "9"  # the facilitator menu's "Add a member" and "Message members"


def local(e164: str) -> str:
    """A Kenyan number as people type it: 07..."""
    return "0" + e164.removeprefix("+254")


@pytest.mark.parametrize("language", LANGUAGES)
async def test_adding_a_known_person_by_number_makes_them_a_member(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    assert w.outsider.phone is not None
    p = phone(client, w)
    await walk(p, "6", ADD, local(w.outsider.phone))
    done = await p.press("1")
    assert p.ended and w.outsider.name in done
    [membership] = await fresh(session, Membership, person_id=w.outsider.id)
    assert membership.status is MembershipStatus.active


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_unknown_number_is_invited_by_sms_and_joins_by_giving_a_name(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    facilitator, community = w.facilitator.name, w.community.name
    default, service_code = w.programme.default_language, w.programme.service_code
    p, later = phone(client, w), phone(client, w)
    await walk(p, "6", ADD, "0712 999 888")
    done = await p.press("1")
    assert p.ended
    assert done.startswith(CATALOG.text(language, "plan.invited", community=community))
    await p.retry()
    [person] = await fresh(session, Person, phone="+254712999888")
    assert person.name == "" and person.language is default
    invitee_id = person.id
    [membership] = await fresh(session, Membership, person_id=invitee_id)
    assert membership.status is MembershipStatus.pending
    [sms] = await fresh(session, Message, person_id=invitee_id)  # once, though retried
    assert (sms.template, sms.language) == ("invited", default)
    assert sms.params is not None
    assert (sms.params["name"], sms.params["community"]) == (facilitator, community)
    # An invitation is the invitee's to answer, not a join request for the facilitator.
    requests = await walk(later, "6", "5")
    assert requests.startswith(CATALOG.text(language, "facilitator.no_requests"))

    invitee = Phone(client, number="+254712999888", service_code=service_code, token=TOKEN)
    offer = await invitee.dial()
    assert community in offer
    await invitee.press("1")
    await invitee.press("Grace  Atieno")
    assert invitee.ended
    [person] = await fresh(session, Person, phone="+254712999888")
    assert person.name == "Grace Atieno"
    [membership] = await fresh(session, Membership, person_id=person.id)
    assert membership.status is MembershipStatus.active


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("typed", ["12345", "+250788123456", "0201234567"])
async def test_a_number_not_a_mobile_of_the_programmes_country_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, language: Language, typed: str
) -> None:
    w, _, _ = await world(session, language)
    people = len(await fresh(session, Person, programme_id=w.pid))
    screen = await walk(phone(client, w), "6", ADD, typed)
    assert screen.startswith(CATALOG.text(language, "plan.bad_phone"))
    assert len(await fresh(session, Person, programme_id=w.pid)) == people


async def _request(session: AsyncSession, w: f.World) -> None:
    assert w.outsider.id is not None
    for _ in range(2):  # asked twice: still one request, one SMS per facilitator
        await request_to_join(
            w.pid, w.community.join_code, w.outsider.id, session=session, actor=f.OPERATOR
        )
    await session.commit()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("answer", "status", "template"),
    [
        ("1", MembershipStatus.active, "join_approved"),
        ("2", MembershipStatus.left, "join_declined"),
    ],
)
async def test_answering_a_join_request_tells_the_requester_by_sms(
    client: httpx.AsyncClient,
    session: AsyncSession,
    language: Language,
    answer: str,
    status: MembershipStatus,
    template: str,
) -> None:
    w, _, _ = await world(session, language)
    facilitator_id, outsider = w.facilitator.id, (w.outsider.id, w.outsider.name)
    outsider_language = w.outsider.language
    await _request(session, w)
    [told] = await fresh(session, Message, template="join_request")
    assert told.person_id == facilitator_id
    assert told.params is not None and told.params["name"] == outsider[1]
    p = phone(client, w)
    request = await walk(p, "6", "5", "1")
    assert CATALOG.text(language, "plan.approve") in request
    await p.press(answer)
    assert p.ended
    await p.retry()
    [membership] = await fresh(session, Membership, person_id=outsider[0])
    assert membership.status is status
    [sms] = await fresh(session, Message, template=template)
    assert (sms.person_id, sms.language) == (outsider[0], outsider_language)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_message_is_previewed_with_its_cost_and_sent_to_members_who_can_receive_it(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    w.programme.sms_price, w.programme.currency = Decimal("0.8"), "KES"
    w.members[1].opted_out_at = f.now()
    reaches = w.members[0].id
    await session.commit()
    text = "Bring the P5 fractions workbook on Tuesday, please"
    p = phone(client, w)
    preview = await walk(p, "6", MESSAGE, text)
    segments = measure(text).segments
    cost = (Decimal("0.8") * segments).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    line = CATALOG.text(language, "plan.cost", members=1, segments=segments, cost=f"{cost} KES")
    assert preview.split("\n")[:2] == [text, line]
    done = await p.press("1")
    assert p.ended and done.startswith(CATALOG.text(language, "plan.sent"))
    assert await p.retry() == CATALOG.text(language, "plan.sent")  # made once, said once
    sent = await fresh(session, Message, kind="broadcast")
    assert [(m.person_id, m.body, m.template) for m in sent] == [(reaches, text, None)]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_message_too_long_for_the_preview_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    screen = await walk(phone(client, w), "6", MESSAGE, "Meeting moved " * 12)
    assert screen.startswith(CATALOG.text(language, "plan.too_long"))
    assert await fresh(session, Message, kind="broadcast") == []
