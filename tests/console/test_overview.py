"""The overview: the figures of `tests.service.domain.test_reports`'s programme, as each
role may see them, narrowed by the filter form and never beyond the role's coverage."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select

from console.pages import overview
from service.db import SessionFactory
from service.domain.programmes import ProgrammeSettings, update_programme
from service.models import Message
from service.models.enums import Direction, MessageStatus, Reach, UssdBilling
from tests import factories as f
from tests.console.report_world import Setting, make_setting, table
from tests.console.support import sign_in
from tests.service.domain.test_ussd_cost import dials


@pytest.fixture
async def setting(sessions: SessionFactory) -> Setting:
    return await make_setting(sessions)


async def test_the_programme_admin_sees_the_terms_figures(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    page = (await client.get(setting.term)).text
    assert table(page, "Meetings") == {
        "Planned": ["4"],
        "Held": ["3"],
        "Cancelled": ["1"],
        "Overdue": ["0"],
        "To come": ["0"],
    }
    assert "62%" in page  # 5 of 8 seats: Alpha 4 of 6, Beta 1 of 2
    assert table(page, "Attendance rate by week") == {
        "20 Jan": ["67%", "1", "2", "3"],  # M1: Amina and Beatrice of Alpha's three
        "17 Feb": ["60%", "2", "3", "5"],  # M2 (Alpha: 2 of 3) and M3 (Beta: 1 of 2)
    }
    bands = table(page, "CoP health bands")
    assert bands == {"High": ["1"], "Medium": ["0"], "Low": ["1"], "Unrated": ["0"]}
    assert list(table(page, "Communities in the low band")) == ["Community BETA"]
    # Chege missed both of Alpha's meetings: at risk, with his whole number for an admin.
    chege = setting.built.people["Chege"]
    assert chege.phone is not None
    assert "Chege" in page and chege.phone in page
    sms = table(page, "SMS by what became of them")
    assert sms["Delivered"] == ["2"] and sms["Failed"] == ["1"]
    # Four of six responses completed: 67%.
    assert "4 completed of 6 invited" in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        assert 'role="img"' in svg and "<title" in svg
        assert (
            "<script" not in svg
            and "xlink:href" not in svg
            and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
        )


async def test_staff_see_numbers_masked(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.staff)
    page = (await client.get(setting.term)).text
    chege = setting.built.people["Chege"]
    assert chege.phone is not None
    assert "Chege" in page
    assert chege.phone not in page
    assert chege.phone[:6] + "•" in page


async def test_filters_narrow_the_figures(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    siaya = (await client.get(f"{setting.term}&district=Siaya")).text
    assert table(siaya, "Meetings")["Planned"] == ["2"]
    assert "Chege" not in siaya  # Alpha is in Kisumu
    beta = (await client.get(f"{setting.term}&community={setting.built.beta.id}")).text
    assert table(beta, "Meetings")["Cancelled"] == ["1"]
    # Men only: Chege (2 seats) and Daudi (1 seat) came to none.
    men = (await client.get(f"{setting.term}&gender=male")).text
    assert "came of 3 expected" in men and "0%" in men
    assert table(men, "Meetings")["Planned"] == ["4"]  # meetings are not people


async def test_a_facilitator_sees_only_her_community(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.coach)
    page = (await client.get(setting.term)).text
    assert table(page, "Meetings")["Planned"] == ["2"]  # Alpha's two
    assert "Community BETA" not in page and "Siaya" not in page
    assert "Chege" in page  # her member at risk, with his number (she holds read:pii)
    b = setting.built
    for other in (
        f"&community={b.beta.id}",
        f"&community={b.other.community.id}",  # another programme's
        "&district=Siaya",
        "&subject=Physics",
        "&term=999999",
        "&gender=nobody",
    ):
        refused = await client.get(setting.term + other)
        assert refused.status_code == 404, other
        assert "Daudi" not in refused.text and "Esther" not in refused.text


async def test_without_a_current_term_the_last_ninety_days_are_shown(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    page = (await client.get("/")).text  # today is long after the 2025 term
    assert "The last 90 days" in page
    assert table(page, "Meetings")["Planned"] == ["0"]
    later = (await client.get("/?risk=2")).text  # a page past the end is just empty
    assert "0 members missed" in later


async def test_the_figures_are_the_same_when_the_pool_has_no_room_to_fan_out(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    setting: Setting,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await sign_in(client, sessions, setting.admin)
    fanned = (await client.get(setting.term)).text
    monkeypatch.setattr(overview._FanOut, "running", 10**6)  # every connection taken
    in_turn = (await client.get(setting.term)).text
    for caption in ("Meetings", "Attendance rate by week", "CoP health bands"):
        assert table(in_turn, caption) == table(fanned, caption)
    assert "Chege" in in_turn
    assert overview._FanOut.running == 10**6  # nothing counted in or out in turn


async def test_ussd_cost_shows_beside_sms_in_cost_per_teacher(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    b = setting.built
    assert b.programme.id is not None
    async with sessions() as session:
        await dials(session, b)  # in the term: 5 sessions, 8 slices of 20 s; 4 people reached
        await update_programme(
            b.programme.id,
            ProgrammeSettings(ussd_price=Decimal("1.5"), ussd_billing=UssdBilling.per_20s),
            session=session,
            actor=f.OPERATOR,
        )
        await session.commit()
    await sign_in(client, sessions, setting.admin)
    page = html.unescape((await client.get(setting.term)).text)
    ussd = page[page.index('id="h-ussd"') :]
    cost = re.search(r'<span class="value">([^<]+)</span> cost', ussd)
    assert cost is not None and re.sub(r"[^\d.]", "", cost.group(1)) == "12.00"  # 8 x 1.5
    # (4.0 SMS + 12.0 USSD) over Amina, Beatrice, Esther and Chege.
    line = re.search(r"per teacher reached by SMS or USSD \(4\): SMS ([^,]+), USSD ([^<]+)<", ussd)
    assert line is not None
    assert [re.sub(r"[^\d.]", "", part) for part in line.groups()] == ["1.00", "3.00"]
    total = re.search(r'<span class="value">([^<]+)</span> per teacher reached by SMS', ussd)
    assert total is not None and re.sub(r"[^\d.]", "", total.group(1)) == "4.00"


async def test_a_programme_on_whatsapp_sees_each_channels_figures_and_fallbacks(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    sms_only = (await client.get(setting.term)).text
    assert "By channel" not in sms_only  # no WhatsApp yet: nothing to split

    b = setting.built
    async with sessions() as session:
        sent = (
            await session.exec(
                select(Message).where(
                    Message.programme_id == b.programme.id,
                    Message.direction == Direction.outbound,
                    Message.status == MessageStatus.delivered,
                )
            )
        ).all()
        sent[0].reach, sent[0].cost = Reach.whatsapp, Decimal("0.5")
        sent[1].fallback_reason = "WhatsApp not_on_whatsapp: NotOnWhatsApp"
        await session.commit()
    overview._recent.clear()  # the figures the page keeps for 30 s
    page = html.unescape((await client.get(setting.term)).text)
    channels = table(page, "By channel")
    assert channels["WhatsApp"][:2] == ["1", "0"]  # delivered, failed
    assert re.sub(r"[^\d.]", "", channels["WhatsApp"][2]) == "0.50"
    assert channels["SMS"][:2] == ["1", "1"]
    assert "1 messages to members on WhatsApp went by SMS instead." in page
