"""The console in every language it speaks: a person reads it in their own language from
the moment they sign in, and the switcher changes it for the console only (the language
their SMS and USSD come in stays the one they chose on their phone)."""

from __future__ import annotations

import html

import httpx
import pytest

from console.i18n import LANGUAGES, NAMES, translations
from service.db import SessionFactory
from service.models import Person
from service.models.enums import ConsoleRole, Language
from tests import factories
from tests.console.support import csrf_of, grant, sign_in


@pytest.fixture
async def world(sessions: SessionFactory) -> factories.World:
    async with sessions() as session:
        made = await factories.world(session)
    await grant(sessions, made.facilitator, ConsoleRole.facilitator)
    return made


async def speaks(sessions: SessionFactory, person: Person, language: Language) -> None:
    async with sessions() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        stored.language = language
        await session.commit()


async def language_of(sessions: SessionFactory, person: Person) -> Language:
    async with sessions() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        return stored.language


def shows(page: str, language: Language, *sentences: str) -> None:
    """`page` is in `language`: its root says so and it holds each sentence as translated."""
    assert f'<html lang="{language.value}">' in page
    text = html.unescape(page)
    for sentence in sentences:
        assert translations(language.value).gettext(sentence) in text, sentence


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.value)
async def test_a_person_reads_the_console_in_their_own_language(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World, language: Language
) -> None:
    await speaks(sessions, world.facilitator, language)
    overview = await sign_in(client, sessions, world.facilitator)
    shows(overview, language, "Overview", "Members at risk", "Sign out")
    communities = (await client.get("/communities")).text
    shows(communities, language, "Next meeting", "Facilitators")


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.value)
async def test_the_switcher_offers_every_language_and_changes_only_the_console(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World, language: Language
) -> None:
    overview = await sign_in(client, sessions, world.facilitator)  # Kiswahili, the programme's
    for offered in LANGUAGES:
        assert f'value="{offered.value}"' in overview
        assert f'lang="{offered.value}">{NAMES[offered]}</option>' in overview
    switched = await client.post(
        "/language",
        data={"lang": language.value, "next": "/communities", "csrf": csrf_of(overview)},
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/communities"
    shows((await client.get("/communities")).text, language, "Next meeting", "Sign out")
    assert await language_of(sessions, world.facilitator) == Language.sw


async def test_a_chichewa_speaker_signs_in_to_the_console_in_chichewa(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    await speaks(sessions, world.facilitator, Language.ny)
    overview = html.unescape(await sign_in(client, sessions, world.facilitator))
    assert '<html lang="ny">' in overview
    assert "Mamembala omwe ali pachiopsezo" in overview  # Members at risk
    assert "Tulukani" in overview and "Sign out" not in overview
    community = html.unescape((await client.get(f"/communities/{world.community.id}")).text)
    assert "Aphunzitsi amayimba khodi ya USSD ndi kuilemba kuti apemphe kulowa m'gulu." in community
    assert "Wakonzedwa" in community  # the meeting's status: Scheduled


async def test_the_switcher_turns_the_console_to_chichewa(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    await speaks(sessions, world.facilitator, Language.en)
    overview = await sign_in(client, sessions, world.facilitator)
    assert "Sign out" in overview
    assert '<option value="ny" lang="ny">Chichewa</option>' in overview
    await client.post("/language", data={"lang": "ny", "next": "/", "csrf": csrf_of(overview)})
    again = html.unescape((await client.get("/")).text)
    assert "Tulukani" in again and "Sign out" not in again
    assert '<option value="ny" selected lang="ny">Chichewa</option>' in again
    assert await language_of(sessions, world.facilitator) == Language.en
