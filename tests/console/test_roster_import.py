"""Roster import in the console: upload, preview (lines and reasons as the CLI gives them),
confirm, progress while it runs, the report; only for roles over the whole programme."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, func, select

from service.db import SessionFactory
from service.models import Community, Person, RosterUpload, School, UploadState
from service.models.types import utcnow
from tests.console.people_world import People, people_world, signed_in
from tests.console.support import csrf_of
from tests.service.roster.test_importer import COMMUNITIES, PEOPLE, SCHOOLS


@pytest.fixture
async def world(sessions: SessionFactory) -> People:
    return await people_world(sessions)


async def upload(client: httpx.AsyncClient, **files: bytes) -> httpx.Response:
    form = await client.get("/people/import")
    assert form.status_code == 200, form.status_code
    return await client.post(
        "/people/import",
        data={"csrf": csrf_of(form.text)},
        files={kind: (f"{kind}.csv", data, "text/csv") for kind, data in files.items()},
    )


async def preview(client: httpx.AsyncClient, **files: bytes) -> tuple[str, str]:
    """Upload, follow to the preview; (its address, its text)."""
    sent = await upload(client, **files)
    assert sent.status_code == 303, sent.text
    where = sent.headers["location"]
    assert re.fullmatch(r"/people/import/[\w-]{20,}", where)
    page = await client.get(where)
    assert page.status_code == 200
    return where, html.unescape(page.text)


async def confirm(client: httpx.AsyncClient, where: str) -> httpx.Response:
    page = await client.get(where)
    return await client.post(f"{where}/confirm", data={"csrf": csrf_of(page.text)})


async def finished(client: httpx.AsyncClient, where: str) -> str:
    """The page once the background import has ended (it refreshes itself until then)."""
    for _ in range(400):
        text = html.unescape((await client.get(where)).text)
        if 'http-equiv="refresh"' not in text:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


def refused(text: str) -> dict[int, str]:
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td lang="en">([^<]*)</td></tr>', text)
    return {int(line): reason for line, reason in rows}


async def count(sessions: SessionFactory, model: type, *where: object) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int((await session.exec(stmt)).one())


async def test_the_preview_lists_each_refused_row_with_its_line_and_reason_and_writes_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    people_before = await count(sessions, Person)
    async with signed_in(client, sessions, world.admin) as admin:
        _, text = await preview(
            admin, schools=SCHOOLS.encode(), communities=COMMUNITIES.encode(),
            people=PEOPLE.encode(),
        )  # fmt: skip
    assert "Check before importing" in text and "Nothing has been written yet." in text
    lines = refused(text)
    assert sorted(lines) == [5, 6, 7]
    # The reasons the CLI prints (tests/service/cli/test_import_command.py).
    assert lines[5] == "duplicate phone +254712345678: already on line 2"
    assert lines[6] == "unknown school 'NOPE-99'; import schools first"
    assert "not a valid mobile number" in lines[7]
    # The communities and people name schools and a community the same upload creates.
    assert re.search(r"To create</th><td class=\"num\">4<", text)  # people
    assert "Rows to import: 7" in text  # 2 schools, 1 community, 4 people
    assert await count(sessions, Person) == people_before
    assert await count(sessions, School, col(School.code) == "KSM-01") == 0
    assert await count(sessions, Community, col(Community.code) == "KSM-CL") == 0


async def test_confirming_imports_the_good_rows_and_refuses_the_bad_one_with_its_line(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        where, _ = await preview(
            admin, schools=SCHOOLS.encode(), communities=COMMUNITIES.encode(),
            people=PEOPLE.encode(),
        )  # fmt: skip
        started = await confirm(admin, where)
        assert started.status_code == 303 and started.headers["location"] == where
        text = await finished(admin, where)
        again = await confirm(admin, where)  # pressed twice: nothing more happens
    assert "Roster imported" in text
    assert sorted(refused(text)) == [5, 6, 7]
    assert re.search(r"Created</th><td class=\"num\">4<", text)
    assert again.status_code == 303
    async with sessions() as session:
        phones = set(
            (
                await session.exec(
                    select(Person.phone).where(Person.programme_id == world.here.pid)
                )
            ).all()
        )
        stored = (await session.exec(select(RosterUpload))).one()
    assert {"+254712345678", "+254722000111", "+254733000222"} <= phones
    assert "+254744000333" not in phones  # line 6: its school is unknown
    assert stored.state is UploadState.done and stored.people_csv is None  # files dropped
    assert await count(sessions, School, col(School.programme_id) == world.here.pid) == 3


async def test_the_page_shows_progress_while_the_import_runs(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        where, _ = await preview(admin, people=PEOPLE.encode())
        async with sessions() as session:
            row = (await session.exec(select(RosterUpload))).one()
            row.state = UploadState.running
            row.progress = {"kind": "people", "phase": "writing", "done": 1000, "total": 5000}
            row.updated_at = utcnow()
            await session.commit()
        running = html.unescape((await admin.get(where)).text)
        async with sessions() as session:
            row = (await session.exec(select(RosterUpload))).one()
            row.updated_at = utcnow() - timedelta(minutes=10)  # no progress since: it died
            await session.commit()
        stale = html.unescape((await admin.get(where)).text)
    assert '<meta http-equiv="refresh" content="2">' in running
    assert "Writing people.csv: 1,000 of 5,000 rows" in running
    assert '<progress max="5000" value="1000"' in running
    assert 'http-equiv="refresh"' not in stale
    assert "The import stopped before it finished" in stale


async def test_roles_short_of_the_whole_programme_are_refused_the_import(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        where, _ = await preview(admin, people=PEOPLE.encode())
    for person in (world.leader, world.facilitator):
        async with signed_in(client, sessions, person) as other:
            home = await other.get("/people")
            token = csrf_of(home.text)
            form = await other.get("/people/import")
            sent = await other.post(
                "/people/import",
                data={"csrf": token},
                files={"people": ("people.csv", PEOPLE.encode(), "text/csv")},
            )
            seen = await other.get(where)
            confirmed = await other.post(f"{where}/confirm", data={"csrf": token})
        assert form.status_code == sent.status_code == 403
        assert seen.status_code == confirmed.status_code == 403
    assert await count(sessions, RosterUpload) == 1


async def test_an_upload_is_only_for_the_session_that_made_it(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        where, _ = await preview(admin, people=PEOPLE.encode())
    async with signed_in(client, sessions, world.staff) as staff:
        home = await staff.get("/people")
        seen = await staff.get(where)
        confirmed = await staff.post(f"{where}/confirm", data={"csrf": csrf_of(home.text)})
    async with signed_in(client, sessions, world.admin) as admin_again:
        later = await admin_again.get(where)  # another session, even of the same person
        guessed = await admin_again.get("/people/import/not-a-real-token-at-all-xx")
    assert seen.status_code == confirmed.status_code == later.status_code == 404
    assert guessed.status_code == 404
    async with sessions() as session:
        stored = (await session.exec(select(RosterUpload))).one()
    assert stored.state is UploadState.previewed


async def test_only_a_programme_admin_gives_console_access_by_import(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    assert world.staff.phone is not None
    rows = (
        "name,phone,console\n"
        f"{world.staff.name},{world.staff.phone},programme_staff\n"  # as it is: fine
        "Newcomer Njeri,0799000111,programme_admin\n"
        "Plain Teacher,0799000222,\n"
    )
    async with signed_in(client, sessions, world.staff) as staff:
        _, as_staff = await preview(staff, people=rows.encode())
    async with signed_in(client, sessions, world.admin) as admin:
        where, as_admin = await preview(admin, people=rows.encode())
        await confirm(admin, where)
        await finished(admin, where)
    assert refused(as_staff) == {
        3: "only a programme administrator may give or change console access"
    }
    assert refused(as_admin) == {}
    async with sessions() as session:
        njeri = (await session.exec(select(Person).where(Person.phone == "+254799000111"))).one()
    assert njeri.console_role == "programme_admin"


async def test_files_that_are_not_csv_utf8_are_explained_in_the_readers_language(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        admin.cookies.set("copline_lang", "fr")
        latin = await upload(admin, people="name,phone\nJosé Ngoga,0712000111\n".encode("cp1252"))
        workbook = await upload(admin, people=b"PK\x03\x04\x14\x00\x06\x00 not a csv")
        columns = await upload(admin, people=b"nom,telephone\nA,1\n")
        admin.cookies.set("copline_lang", "en")
        nothing = await upload(admin)
        columns_en = await upload(admin, people=b"nom,telephone\nA,1\n")
    assert latin.status_code == workbook.status_code == columns.status_code == 422
    assert "people.csv n'est pas du texte UTF-8" in html.unescape(latin.text)
    assert "people.csv n'est pas un fichier CSV" in html.unescape(workbook.text)
    assert "nom, telephone" in html.unescape(columns.text)
    assert "Choose at least one file to upload." in nothing.text
    assert "people.csv is missing the column(s): name." in columns_en.text
    assert await count(sessions, RosterUpload) == 0


async def test_a_file_over_five_megabytes_is_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    big = b"name,phone\n" + b"A name that is long enough,\n" * 200_000  # 5.6 MB
    async with signed_in(client, sessions, world.admin) as admin:
        one = await upload(admin, people=big)
        form = await admin.get("/people/import")
        three = await admin.post(
            "/people/import",
            data={"csrf": csrf_of(form.text)},
            files={k: (f"{k}.csv", big * 3, "text/csv") for k in ("schools", "people")},
        )
    assert one.status_code == 422 and "larger than 5 MB" in one.text
    assert three.status_code == 413
    assert await count(sessions, RosterUpload) == 0


async def test_the_export_imports_back_with_every_row_unchanged(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        exported = await admin.get("/people/export.csv")
        _, text = await preview(admin, people=exported.content)
    assert refused(text) == {}
    assert re.search(r"Unchanged</th><td class=\"num\">7<", text), text
