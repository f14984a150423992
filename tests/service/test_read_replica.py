"""Reports off the primary: with `COPLINE_DATABASE_READ_URL` set, reports, exports and
GraphQL queries read from it, and every write still goes to the primary.

The replica here is the test database itself, reached as a role whose transactions are
read-only (`default_transaction_read_only = on`), as a hot standby refuses writes: any
write on the read path fails the test instead of quietly landing somewhere.
"""

from __future__ import annotations

import html
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import col, select
from starlette.applications import Starlette

from console.i18n import Texts
from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import SessionFactory, WriteOnReadSession, build_engine
from service.domain.actor import Actor
from service.domain.apikeys import create_api_key
from service.models import ApiKey, Attendance, Meeting, Person, Programme, SurveyResponse
from service.models.enums import ConsoleRole, Rsvp, Scope
from service.services import Services
from tests import factories as f
from tests.console.report_world import make_setting
from tests.console.support import ask_code, csrf_of, enter_code, grant, last_code, sign_in
from tests.console.test_surveys import new_survey
from tests.databases import fresh_postgres_database
from tests.sms.test_callbacks import texter
from tests.ussd_menus.test_callback import phone

READ_ONLY = "25006"  # PostgreSQL's read_only_sql_transaction
EVERYTHING = [Scope.read, Scope.read_pii, Scope.write, Scope.admin]


@pytest_asyncio.fixture(scope="session")
async def reader_url(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The test database as a role that can do anything but write, like a standby."""
    if settings.is_sqlite:
        pytest.skip("a streaming replica is PostgreSQL's; SQLite reads from its one file")
    role = os.environ.get("COPLINE_TEST_DB_PREFIX", "") + "copline_reader"
    database = make_url(settings.database_url).database
    admin = create_async_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            found = await conn.scalar(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            )
            if not found:
                await conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            await conn.execute(text(f'ALTER ROLE "{role}" SET default_transaction_read_only = on'))
            # The privileges of the application's own role: only read-only-ness refuses.
            for grant_sql in (
                f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
                f'GRANT USAGE ON SCHEMA public TO "{role}"',
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
                f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            ):
                await conn.execute(text(grant_sql))
    finally:
        await admin.dispose()
    yield make_url(settings.database_url).set(username=role).render_as_string(False)
    # Roles outlive databases: take its privileges back and drop it.
    admin = create_async_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP OWNED BY "{role}"'))
            await conn.execute(text(f'DROP ROLE "{role}"'))
    finally:
        await admin.dispose()


@pytest_asyncio.fixture(scope="session")
async def behind_url(settings: Settings) -> AsyncIterator[str]:
    """A replica that has replayed nothing yet: a second database, migrated, empty."""
    if settings.is_sqlite:
        pytest.skip("a streaming replica is PostgreSQL's")
    url = await fresh_postgres_database("copline_behind")
    engine = build_engine(settings.model_copy(update={"database_url": url}))
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url


@dataclass
class Split:
    """The app with a read URL, and the statements each of its two engines ran."""

    app: Starlette
    client: httpx.AsyncClient
    primary: list[str] = field(default_factory=list)
    replica: list[str] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def forget(self) -> None:
        self.primary.clear()
        self.replica.clear()

    def writes(self, where: list[str]) -> list[str]:
        verbs = ("INSERT", "UPDATE", "DELETE")
        return [s for s in where if s.lstrip().upper().startswith(verbs)]


async def split_app(settings: Settings, read_url: str) -> AsyncIterator[Split]:
    app = create_app(settings.model_copy(update={"database_read_url": read_url}))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://at.test")
    split = Split(app=app, client=client)
    services = split.services
    assert services.reads_apart

    def on(where: list[str]) -> Any:
        def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            where.append(statement)

        return note

    event.listen(services.engine.sync_engine, "before_cursor_execute", on(split.primary))
    event.listen(services.read_engine.sync_engine, "before_cursor_execute", on(split.replica))
    async with client:
        yield split
    await app.state.reports.close()
    await services.engine.dispose()
    await services.read_engine.dispose()


@pytest_asyncio.fixture
async def split(
    settings: Settings, sessions: SessionFactory, reader_url: str
) -> AsyncIterator[Split]:
    async for made in split_app(settings, reader_url):
        yield made


@pytest_asyncio.fixture
async def replica_away(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Split]:
    """A read URL where nothing listens (port 1 refuses at once)."""
    if settings.is_sqlite:
        pytest.skip("a streaming replica is PostgreSQL's")
    away = make_url(settings.database_url).set(port=1).render_as_string(False)
    async for made in split_app(settings, away):
        yield made


@pytest_asyncio.fixture
async def lagging(
    settings: Settings, sessions: SessionFactory, behind_url: str
) -> AsyncIterator[Split]:
    async for made in split_app(settings, behind_url):
        yield made


async def enter(split: Split, sessions: SessionFactory, person: Person) -> None:
    """Sign in on the primary, stopping short of the overview it leads to."""
    assert person.phone is not None
    assert (await ask_code(split.client, person.phone)).status_code == 303
    code = await last_code(sessions, person.phone)
    assert code is not None
    entered = await enter_code(split.client, code)
    assert entered.status_code == 303 and entered.headers["location"] == "/"


async def issue_key(sessions: SessionFactory, programme: Programme) -> str:
    async with sessions() as session:
        issued = await create_api_key(
            programme, "replica tests", EVERYTHING, session=session, actor=Actor.cli("tests")
        )
        await session.commit()
    return issued.secret


async def gql(split: Split, key: str, query: str, **variables: Any) -> dict[str, Any]:
    response = await split.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


QUERIES = {
    "programme": "{ programme { slug } terms { name } }",
    "schools": "{ schools { totalCount nodes { name } } }",
    "people": "{ people { totalCount nodes { name phone } } }",
    "communities": "{ communities { totalCount nodes { name members { person { name } } } } }",
    "meetings": "{ meetings { totalCount nodes { code attendance { rsvp } } } }",
    "surveys": "{ surveys { key questions { text } } }",
    "messages": "{ messages { totalCount nodes { status } } }",
    "deliverySummary": "{ deliverySummary { messages sent } }",
    "ussdSessions": "{ ussdSessions { totalCount } }",
    "ussdFunnel": "{ ussdFunnel { screen sessions } }",
    "attendance": "{ attendance { totals { expected attended attendanceRate } } }",
    "copHealth": "{ copHealth { bands { high medium low unrated } } }",
    "surveyResults": '{ surveyResults(surveyKey: "term-check") { invited completed } }',
    "messaging": "{ messaging { sms { sent delivered } ussd { sessions } } }",
    "auditLog": "{ auditLog { totalCount nodes { action } } }",
    "apiKeys": "{ apiKeys { name lastUsedAt } }",
    "jobRuns": "{ jobRuns { name } }",
}


async def test_without_a_read_url_reads_use_the_primarys_own_engine_and_sessions(
    settings: Settings,
) -> None:
    assert settings.database_read_url is None
    services: Services = create_app(settings).state.services
    assert services.read_engine is services.engine
    assert services.read_sessions is services.sessions
    assert not services.reads_apart
    await services.engine.dispose()


async def test_graphql_queries_read_from_the_replica_and_authenticate_on_the_primary(
    split: Split, sessions: SessionFactory
) -> None:
    setting = await make_setting(sessions)
    key = await issue_key(sessions, setting.built.programme)
    for name, query in QUERIES.items():
        split.forget()
        data = await gql(split, key, query)
        assert data[name] is not None, name
        assert split.replica, f"{name} read nothing from the replica"
        assert not split.writes(split.replica), name
        # The primary sees the key (its last use noted once a minute) and its programme.
        signing_in = [s for s in split.primary if "api_key" in s or "FROM programme" in s]
        assert signing_in == split.primary, (name, split.primary)
    assert (await gql(split, key, QUERIES["attendance"]))["attendance"]["totals"]["expected"] == 8
    async with sessions() as session:
        used = (await session.exec(select(ApiKey))).one()
    assert used.last_used_at is not None  # noted on the primary, through the read path


async def test_the_csv_and_flow_results_downloads_read_from_the_replica(
    split: Split, sessions: SessionFactory
) -> None:
    setting = await make_setting(sessions)
    key = await issue_key(sessions, setting.built.programme)
    headers = {"Authorization": f"Bearer {key}"}
    for kind in ("attendance", "responses", "messages"):
        split.forget()
        response = await split.client.get(f"/exports/{kind}.csv", headers=headers)
        assert response.status_code == 200, response.text
        assert len(response.text.splitlines()) > 1, kind  # a header and rows
        assert split.replica and not split.writes(split.replica), kind
    split.forget()
    listing = await split.client.get("/flow-results/surveys", headers=headers)
    assert listing.status_code == 200 and listing.json()["packages"]
    package = listing.json()["packages"][0]["survey_id"]
    rows = await split.client.get(f"/flow-results/surveys/{package}/responses", headers=headers)
    assert rows.status_code == 200 and isinstance(rows.json(), list)
    assert split.replica and not split.writes(split.replica)


async def test_the_consoles_overview_surveys_and_downloads_compute_on_the_replica(
    split: Split, sessions: SessionFactory
) -> None:
    setting = await make_setting(sessions)
    await sign_in(split.client, sessions, setting.admin)  # codes and sessions: the primary
    for url in (setting.term, "/surveys", "/exports/attendance"):
        split.forget()
        page = await split.client.get(url)
        assert page.status_code == 200, (url, page.text)
        assert split.replica, f"{url} read nothing from the replica"
        assert not split.writes(split.replica), url
    assert "4 completed of 6 invited" in (await split.client.get(setting.term)).text
    survey = (await split.client.get("/surveys")).text
    sid = survey.split('href="/surveys/', 1)[1].split('"', 1)[0]
    split.forget()
    assert (await split.client.get(f"/surveys/{sid}")).status_code == 200
    assert split.replica


async def test_the_page_after_the_viewers_own_change_reads_from_the_primary(
    split: Split, sessions: SessionFactory
) -> None:
    setting = await make_setting(sessions)
    sid = await new_survey(sessions, setting, "pulse")
    await sign_in(split.client, sessions, setting.coach)
    page = await split.client.get(f"/surveys/{sid}")
    sent = await split.client.post(f"/surveys/{sid}/invite", data={"csrf": csrf_of(page.text)})
    assert sent.status_code == 303
    assert not split.writes(split.replica)
    split.forget()
    after = await split.client.get(f"/surveys/{sid}")
    assert "4 people invited" in after.text
    assert not split.replica  # a replica a moment behind would show nobody invited yet
    split.forget()
    assert (await split.client.get(f"/surveys/{sid}")).status_code == 200
    assert split.replica  # the next visit reads the results from the replica again
    async with sessions() as session:
        invited = (
            await session.exec(select(SurveyResponse).where(SurveyResponse.survey_id == sid))
        ).all()
    assert len(invited) == 4


async def test_mutations_ussd_sms_and_console_forms_write_to_the_primary(
    split: Split, sessions: SessionFactory
) -> None:
    async with sessions() as session:
        w = await f.world(session)
        await session.commit()
    key = await issue_key(sessions, w.programme)
    split.forget()
    renamed = await gql(
        split,
        key,
        'mutation { updateProgramme(input: {name: "Renamed"}) { ... on ProgrammePayload {'
        " programme { name } } } }",
    )
    assert renamed["updateProgramme"]["programme"]["name"] == "Renamed"
    assert not split.replica  # its answer too: what it just changed, from the primary
    # A USSD RSVP, an SMS RSVP and a console form, each written on the primary.
    p = phone(split.client, w, w.members[0].phone)
    for key_pressed in (None, "1", "1", "1"):
        await (p.dial() if key_pressed is None else p.press(key_pressed))
    assert p.ended
    await texter(split.client, w.members[1]).send(f"YES {w.meeting.code}")
    await grant(sessions, w.facilitator, ConsoleRole.facilitator)
    await sign_in(split.client, sessions, w.facilitator)
    form = await split.client.get(f"/meetings/{w.meeting.id}")
    edited = await split.client.post(
        f"/meetings/{w.meeting.id}/edit",
        data={"agenda": "Toolkit 4", "modality": "in_person", "csrf": csrf_of(form.text)},
    )
    assert edited.status_code == 303, edited.text
    assert not split.writes(split.replica)
    async with sessions() as session:
        programme = await session.get(Programme, w.pid)
        yes = (await session.exec(select(Attendance).where(col(Attendance.rsvp) == Rsvp.yes))).all()
        meeting = await session.get(Meeting, w.meeting.id)
    assert programme is not None and programme.name == "Renamed"
    assert {a.person_id for a in yes} == {w.members[0].id, w.members[1].id}
    assert meeting is not None and meeting.agenda == "Toolkit 4"


async def test_a_write_through_the_read_sessions_is_refused(
    split: Split, sessions: SessionFactory, reader_url: str
) -> None:
    async with sessions() as session:
        w = await f.world(session)
        await session.commit()
    reads = split.services.read_sessions
    async with reads() as session:
        with pytest.raises(DBAPIError) as refused:
            await session.execute(text("UPDATE programme SET name = 'x'"))
    assert getattr(refused.value.orig, "sqlstate", None) == READ_ONLY
    assert "read-only transaction" in str(refused.value.orig)
    async with reads() as session:
        programme = await session.get(Programme, w.pid)
        assert programme is not None
        programme.name = "x"
        with pytest.raises(WriteOnReadSession):
            await session.flush()
    # The role itself refuses, whatever the application asks: as a standby does.
    plain = create_async_engine(reader_url)
    try:
        async with plain.connect() as conn:
            assert await conn.scalar(text("SHOW transaction_read_only")) == "on"
            with pytest.raises(DBAPIError) as also:
                await conn.execute(text("UPDATE programme SET name = 'x'"))
        assert getattr(also.value.orig, "sqlstate", None) == READ_ONLY
    finally:
        await plain.dispose()


async def test_with_the_replica_away_queries_and_exports_say_so_and_writes_go_on(
    replica_away: Split, sessions: SessionFactory
) -> None:
    split = replica_away
    async with sessions() as session:
        w = await f.world(session)
        await session.commit()
    key = await issue_key(sessions, w.programme)
    headers = {"Authorization": f"Bearer {key}"}
    asked = await split.client.post(
        "/graphql", json={"query": QUERIES["communities"]}, headers=headers
    )
    assert asked.status_code == 200
    [error] = asked.json()["errors"]
    assert error["message"] == "the database is not answering; try again in a minute"
    assert error["extensions"] == {"code": "DATABASE_UNAVAILABLE"}
    export = await split.client.get("/exports/attendance.csv", headers=headers)
    assert export.status_code == 503
    assert "not answering" in export.text
    packages = await split.client.get("/flow-results/surveys", headers=headers)
    assert packages.status_code == 503
    renamed = await gql(
        split, key, 'mutation { updateProgramme(input: {name: "Still"}) { __typename } }'
    )
    assert renamed["updateProgramme"]["__typename"] == "ProgrammePayload"
    async with sessions() as session:
        programme = await session.get(Programme, w.pid)
    assert programme is not None and programme.name == "Still"
    # The console signs in and shows its other pages; the figures say they will be back.
    await grant(sessions, w.facilitator, ConsoleRole.facilitator)
    await enter(split, sessions, w.facilitator)
    overview = await split.client.get("/")
    assert overview.status_code == 503
    told = Texts(w.facilitator.language)(
        "The figures cannot be read just now. Try again in a minute."
    )
    assert told in html.unescape(overview.text)
    assert (await split.client.get(f"/meetings/{w.meeting.id}")).status_code == 200


async def test_behind_the_primary_reports_lag_but_pages_after_a_change_do_not(
    lagging: Split, sessions: SessionFactory
) -> None:
    split = lagging
    setting = await make_setting(sessions)
    key = await issue_key(sessions, setting.built.programme)
    # Partners' reports come from the replica, which has not seen the term yet.
    nothing = await gql(split, key, QUERIES["communities"])
    assert nothing["communities"]["totalCount"] == 0
    # A survey made a moment ago opens, its results from the primary; the page after
    # inviting shows what the invitation did.
    sid = await new_survey(sessions, setting, "pulse")
    await enter(split, sessions, setting.coach)  # not to the overview: nothing to count
    page = await split.client.get(f"/surveys/{sid}")
    assert page.status_code == 200 and "Invite its audience now" in page.text
    sent = await split.client.post(f"/surveys/{sid}/invite", data={"csrf": csrf_of(page.text)})
    assert sent.status_code == 303
    assert "4 people invited" in (await split.client.get(f"/surveys/{sid}")).text
