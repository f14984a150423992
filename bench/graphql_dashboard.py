"""A programme dashboard over GraphQL: 50 communities x 20 members, next meeting, RSVPs.

Budget (DESIGN.md): p50 <= 150 ms on PostgreSQL. Measured against `copline serve`
over real HTTP, beside two baselines from the same run: `/healthz` (the HTTP stack)
and `{ __typename }` with the same key (authentication and GraphQL overhead).

    python -m bench.graphql_dashboard [--requests 200] [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.memory import peak_rss_mb
from service import migrate
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.actor import Actor
from service.domain.apikeys import create_api_key
from service.domain.attendance import record_rsvp
from service.domain.communities import CommunityInput, add_member, upsert_community
from service.domain.meetings import MeetingInput, schedule_meeting
from service.domain.people import PersonInput, create_person
from service.domain.programmes import ProgrammeCreate, create_programme
from service.domain.schools import SchoolInput, upsert_school
from service.models.enums import Channel, CommunityKind, MembershipRole, Role, Rsvp, Scope

ACTOR = Actor.cli("bench")
COMMUNITIES, MEMBERS = 50, 20
DASHBOARD = (
    Path(__file__).resolve().parent.parent / "schema/examples/communities_with_next_meeting.graphql"
).read_text()


async def build(url: str) -> str:
    engine = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(engine)
    async with build_session_factory(engine)() as s:
        programme = await create_programme(
            ProgrammeCreate(
                slug="bench",
                name="Bench",
                country="KE",
                timezone="Africa/Nairobi",
                default_language="sw",
                service_code="*384*9999#",
            ),
            session=s,
            actor=ACTOR,
        )
        assert programme.id is not None
        phone = 0
        now = datetime.now(UTC)
        for c in range(COMMUNITIES):
            school, _ = await upsert_school(
                programme,
                SchoolInput(code=f"S{c}", name=f"Bench Primary {c}", district=f"County {c % 5}"),
                session=s,
                actor=ACTOR,
            )
            assert school.id is not None
            community, _ = await upsert_community(
                programme,
                CommunityInput(
                    code=f"C{c}",
                    name=f"Bench Cluster {c}",
                    kind=CommunityKind.cluster,
                    subjects=["Mathematics"],
                    school_ids=[school.id],
                ),
                session=s,
                actor=ACTOR,
            )
            assert community.id is not None
            members = []
            for m in range(MEMBERS + 1):
                phone += 1
                person = await create_person(
                    programme,
                    PersonInput(
                        name=f"Teacher {c}-{m}",
                        phone=f"0711{phone:06d}",
                        school_id=school.id,
                        roles=[Role.coach if m == 0 else Role.teacher],
                    ),
                    session=s,
                    actor=ACTOR,
                )
                assert person.id is not None
                role = MembershipRole.facilitator if m == 0 else MembershipRole.member
                await add_member(
                    programme.id, community.id, person.id, role=role, session=s, actor=ACTOR
                )
                members.append(person.id)
            meeting = await schedule_meeting(
                programme,
                MeetingInput(community_id=community.id, starts_at=now + timedelta(days=1 + c % 6)),
                session=s,
                actor=ACTOR,
            )
            assert meeting.id is not None
            for person_id in members[1:12]:
                await record_rsvp(
                    programme.id,
                    meeting.id,
                    person_id,
                    Rsvp.yes,
                    session=s,
                    actor=Actor.person(person_id, Channel.sms),
                )
            await s.commit()
        issued = await create_api_key(programme, "bench", [Scope.read], session=s, actor=ACTOR)
        await s.commit()
    await engine.dispose()
    return issued.secret


def serve(url: str, port: int, folder: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "COPLINE_DATABASE_URL": url,
        "COPLINE_LOG_LEVEL": "WARNING",
        "COPLINE_WORKER_IN_PROCESS": "false",
    }
    command = [
        sys.executable,
        "-m",
        "service.cli.main",
        "serve",
        "--port",
        str(port),
        "--no-migrate",
    ]
    return subprocess.Popen(
        command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def timings(client: httpx.AsyncClient, n: int, **request: object) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.request(**request)  # type: ignore[arg-type]
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
    return out


def row(label: str, ms: list[float], base: float) -> str:
    p50 = statistics.median(ms)
    p95 = statistics.quantiles(ms, n=20)[18]
    return f"{label:<28} {p50:>8.1f} {p95:>8.1f} {p50 / base:>9.1f}x"


async def main(requests: int = 200, backend: str = "postgresql") -> None:
    with tempfile.TemporaryDirectory() as folder:
        if backend == "postgresql":
            from tests.databases import fresh_postgres_database

            url = await fresh_postgres_database("copline_bench_graphql")
        else:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
        started = time.perf_counter()
        key = await build(url)
        print(
            f"GraphQL dashboard on {backend}: {COMMUNITIES} communities x {MEMBERS} members "
            f"(built in {time.perf_counter() - started:.0f}s), {requests} sequential requests"
        )
        port = 8765
        process = serve(url, port, folder)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(100):
                    try:
                        await client.get("/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
                headers = {"Authorization": f"Bearer {key}"}
                body = {"query": DASHBOARD, "variables": {"first": 50}}
                check = (await client.post("/graphql", json=body, headers=headers)).json()
                assert len(check["data"]["communities"]["nodes"]) == COMMUNITIES
                await timings(client, 20, method="POST", url="/graphql", json=body, headers=headers)
                health = await timings(client, requests, method="GET", url="/healthz")
                trivial = await timings(
                    client,
                    requests,
                    method="POST",
                    url="/graphql",
                    json={"query": "{ __typename }"},
                    headers=headers,
                )
                dashboard = await timings(
                    client, requests, method="POST", url="/graphql", json=body, headers=headers
                )
            rss_mb = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
    base = statistics.median(health)
    print(f"{'request':<28} {'p50 ms':>8} {'p95 ms':>8} {'vs /healthz':>10}")
    print(row("/healthz", health, base))
    print(row("{ __typename } with key", trivial, base))
    print(row("dashboard (50 x 20)", dashboard, base))
    print(f"web process peak RSS: {rss_mb:.0f} MB (budget 200 MB)")
    print(f"budget p50 <= 150 ms: {'met' if statistics.median(dashboard) <= 150 else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.backend))
