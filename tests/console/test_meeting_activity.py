"""The console's meeting page sets the toolkit activity; wrong input is explained in the
reader's language beside the form, what was typed is kept and nothing is stored."""

from __future__ import annotations

import html

import httpx
import pytest

from console.i18n import LANGUAGES, Texts
from service.db import SessionFactory
from service.models.enums import Language
from tests.console.community_scene import Scene, build, enter, meeting_now
from tests.console.support import csrf_of


@pytest.fixture
async def scene(sessions: SessionFactory) -> Scene:
    return await build(sessions)


async def post(client: httpx.AsyncClient, page: str, data: dict[str, str]) -> httpx.Response:
    form = await client.get(page)
    assert form.status_code == 200, form.text
    return await client.post(f"{page}/edit", data={**data, "csrf": csrf_of(form.text)})


async def test_the_activity_is_set_shown_and_cleared(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.staff)
    page = f"/meetings/{scene.meeting_id}"
    typed = {
        "agenda": "",
        "modality": "in_person",
        "activity": "Fractions with paper strips",
        "activity_page": "12",
        "activity_link": "https://cop.rw/a12",
    }
    assert (await post(client, page, typed)).status_code == 303
    stored = await meeting_now(sessions, scene.meeting_id)
    assert (stored.activity, stored.activity_page, stored.activity_link) == (
        "Fractions with paper strips",
        12,
        "https://cop.rw/a12",
    )
    shown = html.unescape((await client.get(page)).text)
    assert "Fractions with paper strips (page 12)" in shown
    cleared = typed | {"activity": "", "activity_page": "", "activity_link": ""}
    assert (await post(client, page, cleared)).status_code == 303
    stored = await meeting_now(sessions, scene.meeting_id)
    assert (stored.activity, stored.activity_page, stored.activity_link) == (None, None, None)


WRONG = [
    ({"activity": "x" * 121}, "The activity's title can be at most %(count)s characters."),
    (
        {"activity": "Fractions", "activity_link": "cop.rw/a12"},
        "The activity link must be a web address starting with http:// or https://, "
        "at most %(count)s characters.",
    ),
    ({"activity": "Fractions", "activity_page": "0"}, "The toolkit page must be a whole number from 1 to %(max)s."),
    ({"activity": "Fractions", "activity_page": "12a"}, "The toolkit page must be a whole number from 1 to %(max)s."),
    ({"activity_page": "12"}, "Give the activity's title with its link or page."),
]  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("typed", "sentence"), WRONG)
async def test_a_wrong_activity_is_explained_in_the_readers_language_and_nothing_is_stored(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    scene: Scene,
    language: Language,
    typed: dict[str, str],
    sentence: str,
) -> None:
    await enter(client, sessions, scene.staff, language.value)
    page = f"/meetings/{scene.meeting_id}"
    answer = await post(client, page, {"agenda": "Keep me", "modality": "hybrid", **typed})
    assert answer.status_code == 422
    shown = html.unescape(answer.text)
    expected = Texts(language)(sentence, count=0, max=0).split("0")[0]
    assert expected and expected in shown
    for value in typed.values():
        assert f'value="{value}"' in shown  # what was typed is kept in the form
    stored = await meeting_now(sessions, scene.meeting_id)
    assert (stored.activity, stored.activity_page, stored.agenda) == (None, None, None)
