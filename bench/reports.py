"""The four reports over one term of a 5,000-teacher programme, on PostgreSQL.

250 communities x 20 members (one of them its facilitator, one joining after the first
meeting, one leaving after the second; the rest there from the term's start), 3 held
meetings each with every member of the day marked, survey responses with answers from
~70% of those who came, three SMS per member, and USSD sessions. Each report is asked
through `/graphql` in-process (httpx over ASGI against `create_app`), beside a
`{ __typename }` baseline timed the same way.

Goal: <= 1 s per report.

    python -m bench.reports [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.actor import Actor
from service.domain.apikeys import create_api_key
from service.domain.programmes import ProgrammeCreate, create_programme
from service.domain.terms import TermInput, create_term
from service.models import (
    Answer,
    Attendance,
    Community,
    CommunitySchool,
    Meeting,
    Membership,
    Message,
    Person,
    Question,
    School,
    Survey,
    SurveyResponse,
    UssdSession,
)
from service.models.enums import Country, Language, QuestionKind, Scope

ACTOR = Actor.cli("bench")
COMMUNITIES, MEMBERS, MEETINGS = 250, 20, 3
JOINS_LATE, LEAVES = MEMBERS - 1, MEMBERS - 2  # the last two of each community
TERM_START = date(2025, 1, 6)
CHUNK = 5_000

QUERIES = {
    "attendance": """{ attendance(filter: {by: gender}) {
        meetings { planned held cancelled heldRate }
        totals { members expected attended attendanceRate }
        facilitators { members expected attended attendanceRate }
        groups { group figures { attendanceRate } }
        communities(first: 100) {
          totalCount nodes { community { name } figures { attendanceRate } } }
        atRisk(first: 100) { totalCount nodes { person { name } heldMeetings attended } } } }""",
    "surveyResults": """{ surveyResults(surveyKey: "bench-reflection") {
        invited completed responseRate
        questions { position answered mean answers { value count percent } texts } } }""",
    "copHealth": """{ copHealth { bands { high medium low unrated }
        communities(first: 100) { totalCount nodes { community { name } band ratingMean
        heldRate attendanceRate } } } }""",
    "messaging": """{ messaging { sms { sent delivered failed dropped segments
        cost { amount currency } recipients costPerTeacher { amount currency } }
        ussd { sessions completed abandoned funnel { screen sessions abandoned }
        billedUnits cost { amount currency } }
        cost { reached perTeacher { amount currency } } } }""",
}


async def _insert(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(sa.insert(model), rows[start : start + CHUNK])


async def _ids(session: Any, column: Any) -> list[int]:
    return list((await session.execute(sa.select(column).order_by(column))).scalars().all())


async def build(url: str) -> tuple[str, int]:
    """Bulk inserts; returns an API key with read:pii and the number of rows written."""
    engine = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    async with build_session_factory(engine)() as s:
        programme = await create_programme(
            ProgrammeCreate(
                slug="bench-reports",
                name="Bench reports",
                country=Country.KE,
                timezone="Africa/Nairobi",
                default_language=Language.sw,
                service_code="*384*77#",
            ),
            session=s,
            actor=ACTOR,
        )
        pid = programme.id
        assert pid is not None
        await create_term(
            programme,
            TermInput(name="2025 T1", starts_on=TERM_START, ends_on=date(2025, 3, 28)),
            session=s,
            actor=ACTOR,
        )
        stamps = {"created_at": now, "updated_at": now}
        await _insert(
            s,
            School,
            [
                {
                    "programme_id": pid,
                    "code": f"S{c:04d}",
                    "name": f"School {c:04d}",
                    "district": f"District {c % 10}",
                    **stamps,
                }
                for c in range(COMMUNITIES)
            ],
        )
        await _insert(
            s,
            Community,
            [
                {
                    "programme_id": pid,
                    "code": f"C{c:04d}",
                    "name": f"Cluster {c:04d}",
                    "kind": "cluster",
                    "subjects": ["Mathematics"],
                    "join_code": f"J{c:05d}",
                    "meetings_per_term": MEETINGS,
                    **stamps,
                }
                for c in range(COMMUNITIES)
            ],
        )
        schools, communities = await _ids(s, col(School.id)), await _ids(s, col(Community.id))
        await _insert(
            s,
            CommunitySchool,
            [
                {"community_id": c, "school_id": sch}
                for c, sch in zip(communities, schools, strict=True)
            ],
        )
        teachers = COMMUNITIES * MEMBERS
        await _insert(
            s,
            Person,
            [
                {
                    "programme_id": pid,
                    "name": f"Teacher {n:05d}",
                    "phone": f"+2547{n:08d}",
                    "language": "sw",
                    "school_id": schools[n // MEMBERS],
                    "roles": ["teacher", "subject_lead"] if n % MEMBERS == 0 else ["teacher"],
                    "subjects": [],
                    "gender": "female" if n % 5 < 3 else "male",
                    **stamps,
                }
                for n in range(teachers)
            ],
        )
        people = await _ids(s, col(Person.id))
        starts = [
            datetime(2025, 1, 20 + 2 * (c % 5), 11, tzinfo=UTC) + timedelta(weeks=4 * k)
            for c in range(COMMUNITIES)
            for k in range(MEETINGS)
        ]
        began = datetime.combine(TERM_START, datetime.min.time(), tzinfo=UTC)
        after_first, after_second = timedelta(weeks=1), timedelta(weeks=5)

        def membership(i: int, p: int) -> dict[str, Any]:
            c, j = divmod(i, MEMBERS)
            first = starts[c * MEETINGS]
            row = {
                "community_id": communities[c],
                "person_id": p,
                "role": "facilitator" if j == 0 else "member",
                "status": "active",
                "requested_at": began,
                "joined_at": first + after_first if j == JOINS_LATE else began,
            }
            if j == LEAVES:
                row |= {"status": "left", "left_at": first + after_second}
            return row

        await _insert(s, Membership, [membership(i, p) for i, p in enumerate(people)])
        await _insert(
            s,
            Meeting,
            [
                {
                    "programme_id": pid,
                    "community_id": communities[i // MEETINGS],
                    "starts_at": at,
                    "ends_at": at + timedelta(minutes=90),
                    "status": "held",
                    "code": f"{10000 + i}",
                    **stamps,
                }
                for i, at in enumerate(starts)
            ],
        )
        meetings = await _ids(s, col(Meeting.id))
        marks, came = [], []
        for i, m in enumerate(meetings):
            c = i // MEETINGS
            for j in range(MEMBERS):
                if (j == JOINS_LATE and i % MEETINGS == 0) or (j == LEAVES and i % MEETINGS == 2):
                    continue  # not a member that day
                person = people[c * MEMBERS + j]
                present = (i + j) % 10 < 7
                marks.append(
                    {
                        "meeting_id": m,
                        "person_id": person,
                        "rsvp": "yes" if (i + j) % 10 < 8 else "no",
                        "presence": "present" if present else "absent",
                    }
                )
                if present:
                    came.append((m, person, starts[i]))
        await _insert(s, Attendance, marks)
        survey = Survey(programme_id=pid, key="bench-reflection", title={"sw": "Tafakari"})
        s.add(survey)
        await s.flush()
        assert survey.id is not None
        questions = [
            Question(survey_id=survey.id, position=1, kind=QuestionKind.rating, text={"sw": "?"}),
            Question(survey_id=survey.id, position=2, kind=QuestionKind.yes_no, text={"sw": "?"}),
            Question(
                survey_id=survey.id,
                position=3,
                kind=QuestionKind.short_text,
                text={"sw": "?"},
                show_if_position=2,
                show_if_value="yes",
            ),
            Question(survey_id=survey.id, position=4, kind=QuestionKind.number, text={"sw": "?"}),
        ]
        s.add_all(questions)
        await s.flush()
        answering = [c for n, c in enumerate(came) if n % 10 < 7]
        await _insert(
            s,
            SurveyResponse,
            [
                {
                    "survey_id": survey.id,
                    "person_id": p,
                    "meeting_id": m,
                    "channel": "ussd",
                    "status": "completed",
                    "started_at": at,
                    "updated_at": at,
                    "completed_at": at,
                }
                for m, p, at in answering
            ],
        )
        responses = await _ids(s, col(SurveyResponse.id))
        answers = []
        for n, r in enumerate(responses):
            said_yes = n % 3 != 0
            values = [
                str(1 + n % 5),
                "yes" if said_yes else "no",
                "Tulijadili" if said_yes else None,
                str(20 + n % 40),
            ]
            answers += [
                {
                    "response_id": r,
                    "question_id": q.id,
                    "value": v,
                    "channel": "ussd",
                    "answered_at": now,
                }
                for q, v in zip(questions, values, strict=True)
                if v
            ]
        await _insert(s, Answer, answers)
        sent_at = datetime(2025, 2, 1, 8, tzinfo=UTC)
        await _insert(
            s,
            Message,
            [
                {
                    "programme_id": pid,
                    "person_id": p,
                    "community_id": communities[i // MEMBERS],
                    "direction": "out",
                    "kind": "reminder",
                    "phone": f"+2547{i:08d}",
                    "status": ("delivered", "delivered", "failed", "dropped", "sent")[(i + k) % 5],
                    "segments": 1,
                    "cost": Decimal("0.8000"),
                    "currency": "KES",
                    "created_at": sent_at,
                    "updated_at": sent_at,
                }
                for i, p in enumerate(people)
                for k in range(3)
            ],
        )
        screens = ["home", "meetings", "meeting", "survey", "checkin"]
        await _insert(
            s,
            UssdSession,
            [
                {
                    "session_id": f"ATUid_{n}",
                    "programme_id": pid,
                    "person_id": people[n % teachers],
                    "phone": f"+2547{n % teachers:08d}",
                    "service_code": "*384*77#",
                    "hops": 3,
                    "path": "home>meetings",
                    "last_screen": screens[n % 5],
                    "outcome": ("completed", "abandoned", "completed", "open")[n % 4],
                    "started_at": sent_at,
                    "updated_at": sent_at,
                }
                for n in range(5_000)
            ],
        )
        written = len(marks) + len(answering) + len(answers) + 3 * teachers + 5_000
        issued = await create_api_key(
            programme, "bench", [Scope.read, Scope.read_pii], session=s, actor=ACTOR
        )
        await s.commit()
    # Fresh statistics, as autovacuum keeps them in production: without them the
    # planner takes bulk-loaded tables for empty and picks nested loops.
    async with engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    return issued.secret, written


async def timings(client: httpx.AsyncClient, key: str, query: str, n: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, str(body)[:500]
    return out


async def main(requests: int = 20) -> None:
    from tests.databases import fresh_postgres_database

    url = await fresh_postgres_database("copline_bench_reports")
    started = time.perf_counter()
    key, rows = await build(url)
    print(
        f"Reports on PostgreSQL: {COMMUNITIES} communities x {MEMBERS} members, "
        f"{MEETINGS} held meetings each, {rows:,} rows of marks, responses, answers, SMS and USSD "
        f"(built in {time.perf_counter() - started:.0f}s); {requests} sequential requests each"
    )
    app = create_app(Settings(database_url=url, at_simulator=False, _env_file=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=60
    ) as client:
        for query in QUERIES.values():  # warm the pool and the statement caches
            await timings(client, key, query, 2)
        base = await timings(client, key, "{ __typename }", requests)
        results = {name: await timings(client, key, q, requests) for name, q in QUERIES.items()}
    await app.state.services.engine.dispose()
    baseline = statistics.median(base)
    print(f"{'request':<18} {'p50 ms':>8} {'max ms':>8} {'vs baseline':>12}")
    print(f"{'{ __typename }':<18} {baseline:>8.1f} {max(base):>8.1f} {1.0:>11.1f}x")
    for name, ms in results.items():
        p50 = statistics.median(ms)
        print(f"{name:<18} {p50:>8.1f} {max(ms):>8.1f} {p50 / baseline:>11.1f}x")
    worst = max(max(ms) for ms in results.values())
    print(
        f"goal <= 1000 ms per report: {'met' if worst <= 1000 else 'NOT met'}",
        f"(worst {worst:.0f} ms)",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.requests))
