"""A teacher answers the reflection survey by USSD in every language, over a dropped session."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import surveys as sv
from service.models import SurveyResponse
from service.models.enums import Language, ResponseStatus, SurveyStatus
from tests import factories as f
from tests.surveys import answers_through_graphql, invited
from ussd_menus.catalog import Catalog
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"
CATALOG = Catalog.load()


def phone(client: httpx.AsyncClient, w: f.World) -> Phone:
    assert w.members[0].phone is not None
    return Phone(
        client, number=w.members[0].phone, service_code=w.programme.service_code, token=TOKEN
    )


@pytest.mark.parametrize("language", list(Language))
async def test_the_reflection_survey_by_ussd_resumes_after_a_dropped_session(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, held = await invited(session, language)
    first = phone(client, w)
    await first.dial()
    listed = await first.press("3")
    assert CATALOG.text(language, "surveys.pick") in listed
    q1 = await first.press("1")
    assert q1.startswith("1/5 ")
    q2 = await first.press("2")  # inclusive teaching
    assert q2.startswith("2/5 ")
    again = await first.retry()  # the network repeats the hop: nothing doubles
    assert again == q2
    refused = await first.press("7")  # not a rating
    assert CATALOG.text(language, "surveys.bad_rating") in refused and "2/5" in refused
    await first.press("4")  # useful: 4 of 5
    # the session drops here; the next dial starts at question 3

    second = phone(client, w)
    await second.dial()
    await second.press("3")
    q3 = await second.press("1")
    assert q3.startswith("3/5 ")
    await second.press("1")  # stays connected: yes
    q5 = await second.press("1")  # will try something: yes -> the follow-up is asked
    assert q5.startswith("5/5 ")
    done = await second.press("group reading")
    assert done == CATALOG.text(language, "surveys.done")

    await session.rollback()
    [response] = (
        await session.exec(select(SurveyResponse).where(col(SurveyResponse.meeting_id) == held.id))
    ).all()
    assert response.status is ResponseStatus.completed
    assert await sv.answers_of(session, response.id or 0) == {
        1: "2",
        2: "4",
        3: "yes",
        4: "yes",
        5: "group reading",
    }
    assert await answers_through_graphql(client, session, w) == [
        {"position": 1, "value": "2"},
        {"position": 2, "value": "4"},
        {"position": 3, "value": "yes"},
        {"position": 4, "value": "yes"},
        {"position": 5, "value": "group reading"},
    ]


async def test_no_means_the_follow_up_is_skipped(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, _ = await invited(session, Language.en)
    p = phone(client, w)
    await p.dial()
    for key in ("3", "1", "1", "5", "2"):
        await p.press(key)
    done = await p.press("2")  # will not try anything new: no question 5
    assert done == CATALOG.text(Language.en, "surveys.done")


async def test_with_nothing_to_answer_the_menu_says_so(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    await session.commit()
    p = phone(client, w)
    await p.dial()
    assert CATALOG.text(Language.sw, "surveys.none") in await p.press("3")


async def practice_survey(session: AsyncSession, w: f.World) -> int:
    """Active for the world's community: a text question, a rating, a text question."""

    def words(text: str) -> dict[Language, str]:
        return dict.fromkeys(Language, text)

    spec = sv.SurveySpec.model_validate(
        {
            "key": "practice",
            "title": words("Trying it in class"),
            "community_id": w.community.id,
            "questions": [
                {"kind": "short_text", "text": words("What did you try?")},
                {"kind": "rating", "text": words("How useful was it?")},
                {"kind": "short_text", "text": words("What will you try next?")},
            ],
        }
    )
    survey = await sv.save_survey(w.programme, spec, session=session, actor=f.OPERATOR)
    assert survey.id is not None
    await sv.set_status(
        w.programme, survey.id, SurveyStatus.active, session=session, actor=f.OPERATOR
    )
    await session.commit()
    return survey.id


async def answers(session: AsyncSession, survey_id: int) -> dict[int, str]:
    await session.rollback()
    [response] = (
        await session.exec(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id))
    ).all()
    return await sv.answers_of(session, response.id or 0)


async def test_a_text_answer_keeps_its_stars_over_the_hops_that_follow(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    survey_id = await practice_survey(session, w)
    p = phone(client, w)
    await p.dial()
    await p.press("3")
    assert (await p.press("1")).startswith("1/3 What did you try?")
    refused = await p.press(" ")  # a blank answer is refused on its own
    assert CATALOG.text(Language.sw, "surveys.bad_text") in refused
    # AT sends the session's inputs joined by '*': "3*1* *Use*groups of 3".
    assert (await p.press("Use*groups of 3")).startswith("2/3 ")
    assert (await p.retry()).startswith("2/3 ")  # the network repeats the hop
    assert (await p.press("4")).startswith("3/3 ")  # "3*1* *Use*groups of 3*4"
    done = await p.press("Pairs * then*share")
    assert done == CATALOG.text(Language.sw, "surveys.done")
    assert await answers(session, survey_id) == {
        1: "Use*groups of 3",
        2: "4",
        3: "Pairs * then*share",
    }


async def test_a_text_answer_rewritten_after_going_back_keeps_the_new_words(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    survey_id = await practice_survey(session, w)
    p = phone(client, w)
    await p.dial()
    for key in ("3", "1", "Use*groups"):
        await p.press(key)
    assert (await p.press("0")).startswith(CATALOG.text(Language.sw, "surveys.pick"))
    assert (await p.press("1")).startswith("1/3 ")  # this session's answers start afresh
    assert (await p.press("Pairs*of*two")).startswith("2/3 ")
    assert (await p.press("5")).startswith("3/3 ")
    assert await p.press("Mark*0 errors") == CATALOG.text(Language.sw, "surveys.done")
    assert await answers(session, survey_id) == {1: "Pairs*of*two", 2: "5", 3: "Mark*0 errors"}


async def test_a_long_text_answer_is_kept_whole(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    survey_id = await practice_survey(session, w)
    long = "Learners worked in groups of 3*then each group showed its answer; " * 2
    long = long[:159]
    p = phone(client, w)
    await p.dial()
    for key in ("3", "1"):
        await p.press(key)
    assert (await p.press(long)).startswith("2/3 ")
    assert (await p.press("3")).startswith("3/3 ")
    assert (await answers(session, survey_id))[1] == long.strip()
