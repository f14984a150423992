"""Surveys in the console: response rates, results per question within the viewer's
coverage, free text only with read:pii, and inviting the audience now or at a set time."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import col, func, select

from console.auth import LANG_COOKIE
from console.i18n import LANGUAGES, Texts
from service.db import SessionFactory
from service.domain.survey_schedule import send_scheduled_surveys
from service.domain.surveys import QuestionSpec, SurveySpec, save_survey, set_status
from service.models import AuditEntry, Message, Survey, SurveyResponse
from service.models.enums import Language, QuestionKind, SurveyStatus
from tests import factories as f
from tests.console.report_world import Setting, make_setting, table
from tests.console.support import csrf_of, sign_in


@pytest.fixture
async def setting(sessions: SessionFactory) -> Setting:
    return await make_setting(sessions)


async def survey_id(sessions: SessionFactory, programme_id: int, key: str) -> int:
    async with sessions() as session:
        stmt = select(Survey.id).where(Survey.programme_id == programme_id, Survey.key == key)
        found = (await session.exec(stmt)).first()
    assert found is not None
    return found


async def new_survey(
    sessions: SessionFactory, setting: Setting, key: str, community_id: int | None = None
) -> int:
    async with sessions() as session:
        spec = SurveySpec(
            key=key,
            title={Language.en: f"Survey {key}"},
            questions=[QuestionSpec(kind=QuestionKind.yes_no, text={Language.en: "All well?"})],
            community_id=community_id,
        )
        prog = setting.built.programme
        survey = await save_survey(prog, spec, session=session, actor=f.OPERATOR)
        assert survey.id is not None
        await set_status(prog, survey.id, SurveyStatus.active, session=session, actor=f.OPERATOR)
        await session.commit()
        return survey.id


async def count(sessions: SessionFactory, model: type, *where: object) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int((await session.exec(stmt)).one())


async def test_the_list_shows_each_surveys_response_rate(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    page = await client.get("/surveys")
    assert page.status_code == 200
    assert "Reflection" in page.text
    assert ">6<" in page.text and ">4<" in page.text and "67%" in page.text  # 4 of 6


async def test_results_per_question_with_charts_and_free_text_for_pii_roles(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    pid = setting.built.programme.id
    assert pid is not None
    sid = await survey_id(sessions, pid, "term-check")
    await sign_in(client, sessions, setting.admin)
    page = (await client.get(f"/surveys/{sid}")).text
    assert table(page, "How useful was this meeting?") == {
        "1": ["0", "0%"],
        "2": ["1", "25%"],
        "3": ["0", "0%"],
        "4": ["2", "50%"],
        "5": ["1", "25%"],
    }
    assert table(page, "Did you discuss learner needs?") == {
        "Yes": ["3", "75%"],
        "No": ["1", "25%"],
    }
    assert table(page, "Which?")["Inclusive teaching"] == ["2", "67%"]
    assert page.count('role="img"') == 3  # rating, yes/no and choice
    assert "Tulijifunza mengi" in page and "Need more materials" in page
    assert "Mean: 3.8" in page  # (5 + 4 + 4 + 2) / 4 = 3.75

    staff = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with staff:
        await sign_in(staff, sessions, setting.staff)
        masked = (await staff.get(f"/surveys/{sid}")).text
    assert "Tulijifunza mengi" not in masked and "Need more materials" not in masked
    assert "Written answers are shown only to roles" in masked


async def test_a_facilitator_sees_only_her_communitys_responses(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    b = setting.built
    assert b.programme.id is not None and b.beta.id is not None
    sid = await survey_id(sessions, b.programme.id, "term-check")
    betas = await new_survey(sessions, setting, "beta-only", community_id=b.beta.id)
    theirs = await survey_id(sessions, b.other.pid, "term-check")
    await sign_in(client, sessions, setting.coach)
    listing = (await client.get("/surveys")).text
    assert "75%" in listing  # Alpha's: 3 of 4 (Chege abandoned)
    assert "Survey beta-only" not in listing
    page = (await client.get(f"/surveys/{sid}")).text
    assert "Tulijifunza mengi" in page  # Amina's, at Alpha's meeting
    assert "Need more materials" not in page  # Esther's, at Beta's
    assert table(page, "How useful was this meeting?")["2"] == ["0", "0%"]  # Esther's 2
    for other in (betas, theirs, 999_999):
        refused = await client.get(f"/surveys/{other}")
        assert refused.status_code == 404
        assert "Need more materials" not in refused.text and "Ibanga" not in refused.text
    assert (await client.get("/surveys/x1")).status_code == 404


async def test_inviting_the_audience_now_reaches_the_covered_members_once(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    b = setting.built
    sid = await new_survey(sessions, setting, "pulse")
    await sign_in(client, sessions, setting.coach)
    page = await client.get(f"/surveys/{sid}")
    assert "Invite its audience now" in page.text
    sent = await client.post(f"/surveys/{sid}/invite", data={"csrf": csrf_of(page.text)})
    assert sent.status_code == 303 and sent.headers["location"] == f"/surveys/{sid}"
    after = (await client.get(f"/surveys/{sid}")).text
    assert "4 people invited" in after  # Amina, Beatrice, Chege and the coach herself
    invited = select(SurveyResponse.person_id).where(SurveyResponse.survey_id == sid)
    async with sessions() as session:
        people = set((await session.exec(invited)).all())
    alpha = {b.people[n].id for n in ("Amina", "Beatrice", "Chege")} | {setting.coach.id}
    assert people == alpha  # nobody of Beta
    keys = col(Message.dedupe_key).like(f"survey_invite:{sid}:now:%")
    assert await count(sessions, Message, keys) == 4
    assert await count(sessions, AuditEntry, col(AuditEntry.action) == "survey.invite_now") == 1

    again = await client.post(f"/surveys/{sid}/invite", data={"csrf": csrf_of(after)})
    assert again.status_code == 303
    assert "nobody new to invite" in (await client.get(f"/surveys/{sid}")).text
    assert await count(sessions, Message, keys) == 4


async def test_invitations_outside_the_coverage_or_without_a_token_are_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    b = setting.built
    assert b.beta.id is not None
    betas = await new_survey(sessions, setting, "beta-only", community_id=b.beta.id)
    theirs = await survey_id(sessions, b.other.pid, "term-check")
    ours = await new_survey(sessions, setting, "pulse")
    await sign_in(client, sessions, setting.coach)
    token = csrf_of((await client.get("/surveys")).text)
    for other in (betas, theirs):
        refused = await client.post(f"/surveys/{other}/invite", data={"csrf": token})
        assert refused.status_code == 404
    assert (await client.post(f"/surveys/{ours}/invite", data={})).status_code == 403
    assert (
        await count(sessions, SurveyResponse, col(SurveyResponse.survey_id).in_([betas, ours])) == 0
    )
    # The reflection-style survey of the term goes to meetings' attendees only.
    reflection = await survey_id(sessions, b.programme.id or 0, "term-check")
    async with sessions() as session:
        survey = await session.get(Survey, reflection)
        assert survey is not None
        survey.audience = {"after_meetings": True}
        await session.commit()
    page = (await client.get(f"/surveys/{reflection}")).text
    assert "Invite its audience now" not in page
    refused = await client.post(f"/surveys/{reflection}/invite", data={"csrf": token})
    assert refused.status_code == 400


def tomorrow_at_nine(setting: Setting) -> tuple[str, datetime]:
    """Tomorrow 09:00 in the programme's time: the form's day, and the moment in UTC."""
    zone = ZoneInfo(setting.built.programme.timezone)
    day = (datetime.now(zone) + timedelta(days=1)).date()
    return day.isoformat(), datetime.combine(day, time(9, 0), tzinfo=zone).astimezone(UTC)


async def stored_survey(sessions: SessionFactory, sid: int) -> Survey:
    async with sessions() as session:
        survey = await session.get(Survey, sid)
    assert survey is not None
    return survey


async def test_a_facilitator_sets_a_time_and_the_worker_invites_her_members_then(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    b = setting.built
    sid = await new_survey(sessions, setting, "pulse")
    day, at = tomorrow_at_nine(setting)
    await sign_in(client, sessions, setting.coach)
    page = await client.get(f"/surveys/{sid}")
    assert "Send it at a set time" in page.text and 'type="date"' in page.text
    form = {"csrf": csrf_of(page.text), "day": day, "time": "09:00"}
    sent = await client.post(f"/surveys/{sid}/schedule", data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/surveys/{sid}"
    after = (await client.get(f"/surveys/{sid}")).text
    assert "The survey will be sent on" in after and "It is set to be sent on" in after
    assert f'value="{day}"' in after and 'value="09:00"' in after
    survey = await stored_survey(sessions, sid)
    assert survey.send_at == at and survey.send_to == [b.alpha.id] and survey.sent_at is None
    keys = col(Message.dedupe_key).like(f"survey_invite:{sid}:now:%")
    assert await count(sessions, Message, keys) == 0  # nothing before its time
    action = col(AuditEntry.action) == "survey.schedule_invitation"
    assert await count(sessions, AuditEntry, action) == 1

    async with sessions() as session:
        assert await send_scheduled_surveys(session, at - timedelta(minutes=1)) == 0
        assert await send_scheduled_surveys(session, at) == 4
        await session.commit()
    async with sessions() as session:
        assert await send_scheduled_surveys(session, at + timedelta(minutes=1)) == 0
    invited = select(SurveyResponse.person_id).where(SurveyResponse.survey_id == sid)
    async with sessions() as session:
        people = set((await session.exec(invited)).all())
    assert people == {b.people[n].id for n in ("Amina", "Beatrice", "Chege")} | {setting.coach.id}
    assert await count(sessions, Message, keys) == 4
    assert "It was sent at its set time on" in (await client.get(f"/surveys/{sid}")).text


@pytest.mark.parametrize(
    ("day", "time_of_day", "says"),
    [
        ("", "09:00", "Give the day and time to send it"),
        ("2026-02-30", "09:00", "Give the day and time to send it"),
        ("tomorrow", "25:00", "Give the day and time to send it"),
        ("2020-01-06", "09:00", "The time to send must be in the future"),
    ],
)
async def test_a_time_that_cannot_be_kept_is_shown_beside_the_form_and_nothing_is_set(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    setting: Setting,
    day: str,
    time_of_day: str,
    says: str,
) -> None:
    sid = await new_survey(sessions, setting, "pulse")
    if day == "tomorrow":
        day = tomorrow_at_nine(setting)[0]
    await sign_in(client, sessions, setting.admin)
    token = csrf_of((await client.get(f"/surveys/{sid}")).text)
    form = {"csrf": token, "day": day, "time": time_of_day}
    refused = await client.post(f"/surveys/{sid}/schedule", data=form)
    assert refused.status_code == 422
    assert says in refused.text and 'aria-invalid="true"' in refused.text
    assert f'value="{day}"' in refused.text  # what was typed stays
    assert (await stored_survey(sessions, sid)).send_at is None


async def test_only_whoever_covers_its_communities_moves_or_cancels_a_set_time(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    sid = await new_survey(sessions, setting, "pulse")
    day, at = tomorrow_at_nine(setting)
    await sign_in(client, sessions, setting.admin)
    token = csrf_of((await client.get(f"/surveys/{sid}")).text)
    form = {"csrf": token, "day": day, "time": "09:00"}
    assert (await client.post(f"/surveys/{sid}/schedule", data=form)).status_code == 303
    assert (await stored_survey(sessions, sid)).send_to is None  # the whole programme

    coach = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with coach:
        await sign_in(coach, sessions, setting.coach)
        page = (await coach.get(f"/surveys/{sid}")).text
        assert "This time was set for communities beyond yours" in page
        assert "Do not send it then" not in page
        mine = {"csrf": csrf_of(page), "day": day, "time": "10:00"}
        assert (await coach.post(f"/surveys/{sid}/schedule", data=mine)).status_code == 400
        cancel = await coach.post(f"/surveys/{sid}/schedule/cancel", data={"csrf": mine["csrf"]})
        assert cancel.status_code == 400
    survey = await stored_survey(sessions, sid)
    assert (survey.send_at, survey.send_to) == (at, None)

    cancelled = await client.post(f"/surveys/{sid}/schedule/cancel", data={"csrf": token})
    assert cancelled.status_code == 303
    assert "The set time was cancelled" in (await client.get(f"/surveys/{sid}")).text
    assert (await stored_survey(sessions, sid)).send_at is None


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.value)
async def test_the_send_at_form_speaks_the_viewers_language(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting, language: Language
) -> None:
    sid = await new_survey(sessions, setting, "pulse")
    await sign_in(client, sessions, setting.admin)
    client.cookies.set(LANG_COOKIE, language.value)
    page = html.unescape((await client.get(f"/surveys/{sid}")).text)
    say = Texts(language)
    for sentence in ("Send it at a set time", "Time to send", "Send at this time"):
        assert say(sentence) in page
    form = {"csrf": csrf_of(page), "day": "", "time": ""}
    refused = html.unescape((await client.post(f"/surveys/{sid}/schedule", data=form)).text)
    wanted = say("Give the day and time to send it, e.g. 2026-04-07 and 14:30.")
    assert wanted in refused
