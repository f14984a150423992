"""100,000 reminders from due to accepted by the simulated gateway, then their
delivery reports ingested by `copline serve`, all on PostgreSQL.

`--whatsapp-share 0.5` (the default) puts half the teachers on WhatsApp (opted in,
their window closed: each reminder an approved template with its buttons, one request
per person as WhatsApp has no bulk send); the rest get SMS in bulk requests. The
figures are printed per channel; `--whatsapp-share 0` is the SMS-only run.

1. A programme of 5,000 communities x 20 teachers, each community meeting in 48 h.
2. Worker processes (measured: wall time, CPU, peak RSS): the first runs the reminder
   job, which writes 100,000 outbox rows; then all send until the outbox is empty,
   sharing it as `copline worker`s do, through the real `africastalking` SDK to
   `copline at-sim`. `--workers 1,2` (the default) runs one worker, then two, each
   on a fresh database. Baseline in the same run: the same requests sent by the
   gateways alone from one process, no database.
3. `wrk` posts one delivery report per message to `copline serve` (2 workers);
   baseline: a bare Starlette endpoint parsing the same form.

Goals: <= 60 s for the 100,000 and >= 2,000 reports/s (issue 7); for a national round
(issue 15), `--teachers 1000000 --workers 2 --whatsapp-share 0`: <= 5 minutes, each
worker <= 300 MB, at most 2x the gateway alone, and >= 6,000 reports/s.

    python -m bench.sms_fanout [--teachers 100000] [--seconds 10] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col

from bench.memory import peak_rss_mb
from service import migrate
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.actor import Actor
from service.domain.programmes import ProgrammeCreate, create_programme
from service.models import Community, Meeting, Membership, Message, Person
from service.models.enums import CommunityKind, Country, Language, MeetingStatus, Reach

TOKEN = "bench-token"
ROOT = str(Path(__file__).resolve().parent.parent)
PER_COMMUNITY = 20
SIM_PORT, SERVE_PORT, BARE_PORT = 8791, 8773, 8774
# A Tuesday, 14:00 in Nairobi: the 48 h round falls on a Sunday afternoon, outside quiet hours.
MEETING_AT = datetime(2031, 3, 11, 11, 0, tzinfo=UTC)
DUE_AT = MEETING_AT - timedelta(hours=48)

LUA = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("offset", counter) end
local n = 0
function init(args) n = offset end
function request()
  n = n + 2
  local id = ids[(n %% #ids) + 1]
  local body = "id=" .. id .. "&status=Success&phoneNumber=%%2B254700000000"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


def on_whatsapp(n: int, share: float) -> bool:
    """Teacher `n` is on WhatsApp: spread evenly, `share` of them."""
    return share > 0 and int((n + 1) * share) > int(n * share)


async def build(url: str, teachers: int, share: float) -> int:
    """The programme, its people, communities, memberships and meetings; bulk inserted."""
    engine = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(engine)
    communities = teachers // PER_COMMUNITY
    async with build_session_factory(engine)() as session:
        programme = await create_programme(
            ProgrammeCreate(
                slug="bench-ke",
                name="Bench Kenya",
                country=Country.KE,
                timezone="Africa/Nairobi",
                default_language=Language.sw,
                service_code="*384*9#",
                sender_id="COPLINE",
                whatsapp_number="+254711082000",
            ),
            session=session,
            actor=Actor.cli("bench"),
        )
        pid = programme.id
        now = datetime.now(UTC)
        await session.execute(
            sa.insert(Community),
            [
                {
                    "programme_id": pid,
                    "code": f"C{c:05d}",
                    "name": f"Cluster CoP {c:05d} Mathematics",
                    "kind": CommunityKind.cluster,
                    "subjects": ["Mathematics"],
                    "join_code": f"J{c:06d}",
                    "meetings_per_term": 3,
                    "created_at": now,
                    "updated_at": now,
                }
                for c in range(communities)
            ],
        )
        for start in range(0, teachers, 10_000):
            await session.execute(
                sa.insert(Person),
                [
                    {
                        "programme_id": pid,
                        "name": f"Teacher {n:06d}",
                        "phone": f"+2547{n:08d}",
                        "language": Language.sw,
                        "roles": ["teacher"],
                        "subjects": [],
                        "created_at": now,
                        "updated_at": now,
                        **(
                            {"reach": Reach.whatsapp, "whatsapp_opt_in_at": now}
                            if on_whatsapp(n, share)
                            else {}
                        ),
                    }
                    for n in range(start, min(start + 10_000, teachers))
                ],
            )
        community_ids = (
            (await session.execute(sa.select(col(Community.id)).order_by(col(Community.id))))
            .scalars()
            .all()
        )
        person_ids = (
            (await session.execute(sa.select(col(Person.id)).order_by(col(Person.id))))
            .scalars()
            .all()
        )
        for start in range(0, teachers, 10_000):
            await session.execute(
                sa.insert(Membership),
                [
                    {
                        "community_id": community_ids[i // PER_COMMUNITY],
                        "person_id": person_ids[i],
                        "role": "member",
                        "status": "active",
                        "requested_at": now,
                        "joined_at": now,
                    }
                    for i in range(start, min(start + 10_000, teachers))
                ],
            )
        await session.execute(
            sa.insert(Meeting),
            [
                {
                    "programme_id": pid,
                    "community_id": cid,
                    "starts_at": MEETING_AT,
                    "ends_at": MEETING_AT + timedelta(minutes=90),
                    "modality": "in_person",
                    "venue": "Staff room",
                    "status": MeetingStatus.scheduled,
                    "code": f"{10000 + i}",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, cid in enumerate(community_ids)
            ],
        )
        await session.commit()
    await engine.dispose()
    return communities


async def worker(url: str, simulator: str, queues: bool) -> None:
    """The measured part, in a process of its own: the first worker queues the due round,
    the others wait for it; then each sends until the outbox is empty, sharing it
    (`FOR UPDATE SKIP LOCKED`) as `copline worker`s do."""
    from service.domain.reminders import queue_due_reminders
    from sms.gateway import SIMULATOR_API_KEY, AfricasTalkingGateway
    from sms.sender import Sender
    from sms.texts import SmsTexts
    from sms.whatsapp_gateway import AfricasTalkingWhatsApp

    engine = build_engine(Settings(database_url=url, _env_file=None))
    sessions = build_session_factory(engine)
    gateway = AfricasTalkingGateway(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=simulator
    )
    whatsapp = AfricasTalkingWhatsApp(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=simulator
    )
    sender = Sender(sessions, gateway, SmsTexts.load(), clock=lambda: DUE_AT, whatsapp=whatsapp)
    print("ready", flush=True)
    sys.stdin.readline()  # the go, to all at once
    started = time.time()
    queued = sent = failed = 0
    queued_at = started
    if queues:
        # As the worker's job does: committed slice by slice, so the other workers send
        # the first slices while this one queues the rest.
        async with sessions() as session:
            queued = await queue_due_reminders(session, DUE_AT, each_slice=session.commit)
            await session.commit()
        queued_at = time.time()
        print("queued", flush=True)
        report = await sender.send_until_idle(budget=timedelta(hours=1))
        sent, failed = report.sent, report.failed
    else:
        # Send what is committed until the first worker has queued the whole round, then
        # once more until the outbox is empty.
        told = asyncio.create_task(asyncio.to_thread(sys.stdin.readline))
        while True:
            last_pass = told.done()
            report = await sender.send_until_idle(budget=timedelta(hours=1))
            sent, failed = sent + report.sent, failed + report.failed
            if last_pass:
                break
            if report.sent == 0:
                await asyncio.sleep(0.05)
    done = time.time()
    await engine.dispose()
    print(
        json.dumps(
            {
                "queued": queued,
                "sent": sent,
                "failed": failed,
                "started": started,
                "queued_at": queued_at,
                "done": done,
                "peak_rss_mb": peak_rss_mb(),
                "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
            }
        )
    )


def run_workers(url: str, simulator: str, env: dict[str, str], workers: int) -> dict[str, Any]:
    """`workers` processes from one go; their figures together."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.sms_fanout", "--worker", url, simulator, str(n == 0)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a worker did not start")
    first, *others = processes
    for process in processes:
        go(process)
    assert first.stdout is not None
    if first.stdout.readline().strip() != "queued":
        raise RuntimeError("the first worker did not queue the round")
    for process in others:
        go(process)  # the round is all queued: a last pass, then done
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise RuntimeError(f"a worker failed ({process.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    started = results[0]["started"]
    return {
        "queued": sum(r["queued"] for r in results),
        "sent": sum(r["sent"] for r in results),
        "sent_each": [r["sent"] for r in results],
        "failed": sum(r["failed"] for r in results),
        "queue_s": results[0]["queued_at"] - started,
        "send_s": max(r["done"] for r in results) - results[0]["queued_at"],
        "total_s": max(r["done"] for r in results) - started,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "cpu_s": sum(r["cpu_s"] for r in results),
    }


def go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


async def per_channel(url: str) -> dict[str, int]:
    engine = build_engine(Settings(database_url=url, _env_file=None))
    async with engine.connect() as conn:
        counted = await conn.execute(
            sa.select(col(Message.reach), func.count())
            .where(col(Message.provider_id).is_not(None))
            .group_by(col(Message.reach))
        )
        channels = {str(reach): int(n) for reach, n in counted.all()}
    await engine.dispose()
    return channels


def gateway_alone(simulator: str, teachers: int, share: float) -> float:
    """The baseline: the same requests straight from the gateways, no database: SMS in
    bulk per community, a WhatsApp template per WhatsApp teacher."""
    from sms.gateway import SIMULATOR_API_KEY, AfricasTalkingGateway
    from sms.whatsapp_gateway import AfricasTalkingWhatsApp

    gateway = AfricasTalkingGateway(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=simulator
    )
    whatsapp = AfricasTalkingWhatsApp(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=simulator
    )
    sms = [f"+2547{n:08d}" for n in range(teachers) if not on_whatsapp(n, share)]
    chunks = [sms[i : i + PER_COMMUNITY] for i in range(0, len(sms), PER_COMMUNITY)]
    wa = [f"+2547{n:08d}" for n in range(teachers) if on_whatsapp(n, share)]
    buttons = ["Nitakuja", "Sitaweza kuja"]

    def template(phone: str) -> object:
        text = f"Reminder {phone}"
        return whatsapp.send_template(
            "+254711082000", phone, "copline_reminder", "sw", [text], buttons, preview=text
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: gateway.send(f"Reminder {c[0]}", c), chunks))
        list(pool.map(template, wa))
    return time.perf_counter() - started


def start(args: list[str], env: dict[str, str], cwd: str = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait(url: str) -> None:
    for _ in range(150):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered at {url}")


def wrk(port: int, script: Path, seconds: int) -> float:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c50",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/at/{TOKEN}/sms/delivery",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    return float(out.split("Requests/sec:")[1].split()[0])


async def provider_ids(url: str) -> list[str]:
    engine = build_engine(Settings(database_url=url, _env_file=None))
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(col(Message.provider_id)).where(col(Message.provider_id).is_not(None))
        )
        ids = [str(i) for i in rows.scalars().all()]
    await engine.dispose()
    return ids


def send_phase(
    url: str, env: dict[str, str], teachers: int, share: float, workers: int
) -> tuple[dict[str, Any], float, int]:
    simulator_url = f"http://127.0.0.1:{SIM_PORT}"
    # No delivery reports during the send: they are measured on their own below.
    sim = start(
        [
            "-m",
            "service.cli.main",
            "at-sim",
            "--port",
            str(SIM_PORT),
            "--delivery-delay",
            "86400",
            "--service-url",
            "http://127.0.0.1:9",
        ],
        env,
    )
    try:
        wait(f"{simulator_url}/healthz")
        baseline = gateway_alone(simulator_url, teachers, share)
        httpx.delete(f"{simulator_url}/sim/requests")
        httpx.delete(f"{simulator_url}/sim/whatsapp")
        result = run_workers(url, simulator_url, env, workers)
        accepted = int(httpx.get(f"{simulator_url}/sim/requests").json()["accepted"])
        accepted += int(httpx.get(f"{simulator_url}/sim/whatsapp/requests").json()["accepted"])
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    return result, baseline, accepted


def report_phase(ids: list[str], env: dict[str, str], seconds: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "ids.txt").write_text("\n".join(ids) + "\n")
        script = Path(folder) / "reports.lua"
        script.write_text(LUA % (Path(folder) / "ids.txt"))
        serve = start(
            [
                "-m",
                "service.cli.main",
                "serve",
                "--port",
                str(SERVE_PORT),
                "--workers",
                "2",
                "--no-migrate",
            ],
            env,
            folder,
        )
        bare = start(
            [
                "-m",
                "uvicorn",
                "bench.bare_sms:app",
                "--port",
                str(BARE_PORT),
                "--workers",
                "2",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env,
        )
        try:
            wait(f"http://127.0.0.1:{SERVE_PORT}/healthz")
            wait(f"http://127.0.0.1:{BARE_PORT}/")
            wrk(SERVE_PORT, script, 2)  # warm up
            base = wrk(BARE_PORT, script, seconds)
            ours = wrk(SERVE_PORT, script, seconds)
        finally:
            for process in (serve, bare):
                process.terminate()
                process.wait(timeout=10)
    return ours, base


def main(
    teachers: int = 100_000,
    seconds: int = 10,
    share: float = 0.5,
    workers: tuple[int, ...] = (1, 2),
) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    from tests.databases import fresh_postgres_database

    env = os.environ | {
        "COPLINE_CALLBACK_TOKEN": TOKEN,
        "COPLINE_LOG_LEVEL": "WARNING",
        "COPLINE_WORKER_IN_PROCESS": "false",
        "COPLINE_AT_SIMULATOR": "false",
    }
    url = ""
    for count in workers:
        url = asyncio.run(fresh_postgres_database("copline_bench_sms"))
        env["COPLINE_DATABASE_URL"] = url
        started = time.perf_counter()
        communities = asyncio.run(build(url, teachers, share))
        print(
            f"Reminder fan-out: {teachers:,} teachers in {communities:,} communities, one "
            f"meeting each, {share:.0%} on WhatsApp (set up in "
            f"{time.perf_counter() - started:.0f} s), PostgreSQL, {count} worker process"
            + ("es" if count > 1 else "")
        )
        result, baseline, accepted = send_phase(url, env, teachers, share, count)
        rate = result["sent"] / result["total_s"]
        print(
            f"  due -> accepted: {result['sent']:,.0f} sent ({accepted:,} accepted by the "
            f"simulator) in {result['total_s']:.1f} s = {rate:,.0f} messages/s (queueing "
            f"{result['queue_s']:.1f} s, the other workers sending meanwhile; then "
            f"{result['send_s']:.1f} s to empty the outbox); worker CPU "
            f"{result['cpu_s']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB per worker"
            + (f"; sent per worker {result['sent_each']}" if count > 1 else "")
        )
        channels = asyncio.run(per_channel(url))
        print(
            "  per channel: "
            + ", ".join(f"{reach} {channels.get(reach, 0):,}" for reach in ("sms", "whatsapp"))
            + f" (WhatsApp: one request each, {channels.get('whatsapp', 0):,} requests; "
            "SMS in bulk)"
        )
        print(
            "  baseline, the gateways alone in one process (the same requests, no database): "
            f"{baseline:.1f} s = {teachers / baseline:,.0f} messages/s; copline takes "
            f"{result['total_s'] / baseline:.1f}x as long"
        )
    ours, base = report_phase(asyncio.run(provider_ids(url)), env, seconds)
    print(
        f"delivery reports: {ours:,.0f} reports/s ingested by copline serve (2 workers, 50 "
        f"connections); bare endpoint {base:,.0f}/s; ratio {ours / base:.2f}"
    )
    print(
        "goals: <= 60 s for 100,000 due -> accepted (issue 7); issue 15: 1,000,000 with two "
        "workers in <= 300 s, each worker <= 300 MB, at most 2x the gateway alone; "
        ">= 6,000 reports/s"
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        asyncio.run(worker(sys.argv[2], sys.argv[3], sys.argv[4] == "True"))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--whatsapp-share", type=float, default=0.5)
    parser.add_argument(
        "--workers",
        default="1,2",
        help="worker processes sharing the outbox, one run each: e.g. 1,2 (the default)",
    )
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.workers.split(","))
    main(args.teachers, args.seconds, args.whatsapp_share, counts)
