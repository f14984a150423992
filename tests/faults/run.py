"""The fault run: real `copline worker` and `copline serve` processes against PostgreSQL
while everything between them fails, then a per-dedupe-key account of what happened.

    seed --> outbox (PostgreSQL) <-- database proxy (cut once) <-- worker A (SIGKILLed,
                                                                  restarted), worker B
                                                              <-- copline serve (reports)
    each worker --> its link to AT (slow answers; resets a share of the requests AT
                    took, after forwarding them) --> simulator
    simulator: fails a share of requests with HTTP 500, a share of deliveries, and
               reports every accepted message to copline serve

Each dedupe key (one reminder or one notice to one person) is judged by what the
simulator's phones received:

- lost: copline queued it and no phone got it, yet copline says it was sent or
  delivered, or has no row for it any more;
- sent twice: a phone got it more than once;
- wrong final status: copline's last word contradicts the phone: delivered but
  received as failed (or under another id), failed but delivered, still `sent` with
  every report in, dropped but received;
- stuck: still queued or sending when the run is over.

`unknown` is the honest answer when a request's answer was lost after it left: a
reset, or a worker killed while its requests were in flight. Such rows are counted apart:
those the phone got, and those it did not (AT refused the request, or it had not left
when the worker died). A row the phone did not get counts as lost unless the killed
worker had handed it over and not settled it, or the sender recorded its answer as
lost after it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.domain import outbox
from service.domain.communities import add_member
from service.domain.reminders import queue_due_reminders
from service.models import Message
from service.models.enums import MembershipRole, MessageStatus
from sms.simulator.app import Simulator, create_simulator_app
from sms.simulator.config import SimulatorConfig
from sms.simulator.server import RunningServer, serve_in_background
from tests import factories as f
from tests.e2e.conftest import free_port
from tests.faults.proxy import FaultyProxy
from tests.log_audit import log_dir

TABLE = Message.__table__  # type: ignore[attr-defined]
TOKEN = "fault-run-callback-token-0123456789abcdef"
NEWS = "bring your lesson plans"
# The sender's reason for a request whose answer was lost after it left (sms/sender.py).
MAYBE_TAKEN = "AT may have taken it"


@dataclass(frozen=True)
class Plan:
    communities: int = 30
    members: int = 20  # plus a facilitator each
    request_failure_share: float = 0.2  # whole requests answered HTTP 500
    reset_share: float = 0.04  # requests forwarded, answered, then reset
    delivery_failure_share: float = 0.1
    answer_delay_s: float = 0.25
    outage_s: float = 3.0
    worker_env: dict[str, str] = field(
        default_factory=lambda: {
            "COPLINE_AT_TIMEOUT_S": "2",
            "COPLINE_SMS_BATCH_SIZE": "60",
            "COPLINE_SMS_RETRY_BASE_S": "1",
        }
    )


@dataclass
class Verdict:
    keys: set[str] = field(default_factory=set)  # every dedupe key the run queued
    lost: list[str] = field(default_factory=list)
    sent_twice: list[str] = field(default_factory=list)
    wrong_status: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    unknown_reached: int = 0  # unknown, and the phone got it: its answer was lost
    unknown_not_reached: int = 0  # unknown, and the phone did not: AT refused it or it
    # never left, as its worker died with it in flight
    handed_at_kill: set[int] = field(default_factory=set)  # rows handed over, not settled
    events: list[str] = field(default_factory=list)
    # Every dedupe key: (key, status, times a phone got it, verdict)
    per_key: list[tuple[str, str, int, str]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        faults = self.lost or self.sent_twice or self.wrong_status or self.stuck
        return not faults

    def lines(self) -> list[str]:
        out = [
            f"fault run: {len(self.keys)} dedupe keys",
            *(f"  {event}" for event in self.events),
            f"  lost {len(self.lost)} · sent twice {len(self.sent_twice)} · "
            f"wrong final status {len(self.wrong_status)} · stuck {len(self.stuck)}",
            "  final statuses: "
            + ", ".join(f"{name} {count}" for name, count in sorted(self.statuses.items())),
            f"  honestly unknown: {self.unknown_reached} that the phone got (their answer was "
            f"lost after they left), {self.unknown_not_reached} that it did not (all of them "
            f"among the {len(self.handed_at_kill)} handed over and unsettled when the worker "
            "was killed, or with an answer lost after they left)",
        ]
        for name in ("lost", "sent_twice", "wrong_status", "stuck"):
            for key in getattr(self, name)[:20]:
                out.append(f"  {name}: {key}")
        return out


async def seed(engine: AsyncEngine, plan: Plan) -> set[str]:
    """A programme without quiet hours, its communities' 48 h reminders due now, and a
    notice to every member: two messages per phone, so their order matters too."""
    from service.db import build_session_factory

    sessions = build_session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as session:
        prog = await f.programme(session)
        prog.quiet_hours_start = prog.quiet_hours_end = clock_time(0)
        assert prog.id is not None
        batches: list[outbox.Batch] = []
        for c in range(plan.communities):
            comm = await f.community(session, prog, code=f"FR-{c:03d}")
            assert comm.id is not None
            lead = await f.person(session, prog, phone=f"+2547409{c:05d}")
            assert lead.id is not None
            await add_member(
                prog.id, comm.id, lead.id, role=MembershipRole.facilitator,
                session=session, actor=f.OPERATOR,
            )  # fmt: skip
            for m in range(plan.members):
                p = await f.person(session, prog, phone=f"+25474{c:03d}{m:04d}")
                assert p.id is not None
                await add_member(prog.id, comm.id, p.id, session=session, actor=f.OPERATOR)
            await f.meeting(session, prog, comm, starts_in=timedelta(hours=47), at=now)
            recipients = (await outbox.members_of(session, [comm.id]))[comm.id]
            batches.append(
                outbox.Batch(
                    programme=prog, recipients=recipients, kind=outbox.BROADCAST,
                    template=None, params=None, due=now, community_id=comm.id,
                    body=f"Cluster {c:03d}: {NEWS}.",
                    dedupe=_news_key(c),
                )
            )  # fmt: skip
        await session.commit()
        await queue_due_reminders(session, now)
        await outbox.queue_many(session, batches, now)
        await session.commit()
        keys = await session.execute(sa.select(TABLE.c.dedupe_key))
        return {str(key) for (key,) in keys.all()}


def _news_key(community: int) -> Callable[[outbox.Recipient], str]:
    return lambda r: f"news:{community}:{r.person_id}"


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "service.cli.main", *self.args],
            env=os.environ | self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
        )
        handle.close()
        return self

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()


@contextlib.asynccontextmanager
async def stack(
    database_url: str, workdir: Path, plan: Plan
) -> AsyncIterator[
    tuple[FaultyProxy, dict[str, FaultyProxy], Simulator, Callable[[str, str], Process]]
]:
    """The proxies, the simulator and `copline serve`; yields a worker factory."""
    url = make_url(database_url)
    db_proxy = await FaultyProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=db_proxy.port).render_as_string(hide_password=False)
    port = free_port()
    service_url = f"http://127.0.0.1:{port}"
    simulator_app = create_simulator_app(
        SimulatorConfig(
            service_url=service_url,
            callback_token=TOKEN,
            delivery_delay_s=0.2,
            failure_share=plan.delivery_failure_share,
            report_attempts=25,  # AT keeps trying a callback that fails
            seed=7,
        )
    )
    simulator: RunningServer = await serve_in_background(simulator_app)
    # One link to AT per worker, so the run knows whose requests are in flight. Answers
    # are lost only after AT took the request: the case a resend would double.
    links = {
        name: await FaultyProxy(
            "127.0.0.1", simulator.port, reset_share=plan.reset_share, reset_taken_only=True,
            answer_delay_s=plan.answer_delay_s, seed=seed,
        ).start()
        for name, seed in (("a", 5), ("b", 6))
    }  # fmt: skip
    env = {
        "COPLINE_DATABASE_URL": proxied,
        "COPLINE_CALLBACK_TOKEN": TOKEN,
        "COPLINE_AT_SIMULATOR": "false",
        "COPLINE_LOG_LEVEL": "INFO",
        "COPLINE_LOG_JSON": "true",  # into the log audit's folder (tests/log_audit.py)
        **plan.worker_env,
    }
    logs = log_dir()
    logs.mkdir(parents=True, exist_ok=True)
    serve = Process("serve", ["serve", "--port", str(port), "--no-migrate"], env,
                    logs / f"fault-run-serve-{port}.log", workdir).start()  # fmt: skip
    processes = [serve]

    def worker(name: str, link: str) -> Process:
        own = env | {"COPLINE_AT_BASE_URL": links[link].url}
        started = Process(name, ["worker"], own, logs / f"fault-run-{name}-{port}.log", workdir)
        started.start()
        processes.append(started)
        return started

    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{service_url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        state: Simulator = simulator_app.state.sim
        await _fail_requests(simulator.url, plan.request_failure_share)
        yield db_proxy, links, state, worker
    finally:
        for process in processes:
            process.stop()
        for link in links.values():
            await link.stop()
        await simulator.stop()
        await db_proxy.stop()


async def _fail_requests(simulator_url: str, share: float) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{simulator_url}/sim/faults", json={"mode": "http500", "share": share}
        )
        answer.raise_for_status()


async def _counts(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(TABLE.c.status, sa.func.count()).group_by(TABLE.c.status)
        )
        return Counter({str(status): int(n) for status, n in rows.all()})


async def _handed_and_in_flight(engine: AsyncEngine) -> set[int]:
    """Rows handed to the gateway whose answer is not stored yet."""
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(TABLE.c.id).where(
                TABLE.c.status == MessageStatus.sending, TABLE.c.handed_at.is_not(None)
            )
        )
        return {int(row_id) for (row_id,) in found.all()}


async def until(check: Callable[[], Awaitable[bool]], *, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s:g}s")
        await asyncio.sleep(0.05)


async def run(engine: AsyncEngine, database_url: str, workdir: Path, plan: Plan) -> Verdict:
    verdict = Verdict()
    verdict.keys = await seed(engine, plan)
    async with stack(database_url, workdir, plan) as (db_proxy, links, sim, worker):
        dying = worker("worker-a", "a")
        worker("worker-b", "b")

        async def mid_batch() -> bool:
            return links["a"].in_flight > 0 and bool(await _handed_and_in_flight(engine))

        await until(mid_batch, within_s=60, what="a request of worker-a in flight")
        # Its answers take answer_delay_s: meanwhile its other requests have left too.
        await asyncio.sleep(plan.answer_delay_s / 2)
        dying.kill()
        # A dead worker changes nothing more: what it had handed over and not settled
        # is exactly what it may have left honestly unknown.
        verdict.handed_at_kill = await _handed_and_in_flight(engine)
        verdict.events.append("worker-a killed with SIGKILL while its requests were in flight")
        await asyncio.sleep(1.0)
        worker("worker-a-restarted", "a")

        async def a_third_settled() -> bool:
            counts = await _counts(engine)
            return counts["queued"] + counts["sending"] < len(verdict.keys) * 2 // 3

        await until(a_third_settled, within_s=120, what="a third of the outbox sent")
        await db_proxy.refuse()
        await asyncio.sleep(plan.outage_s)
        await db_proxy.resume()
        verdict.events.append(f"the database refused every connection for {plan.outage_s:g}s")

        async def quiet() -> bool:
            counts = await _counts(engine)
            reports = sim.reports.as_json()
            return counts["queued"] + counts["sending"] == 0 and reports["pending"] == 0

        await until(quiet, within_s=240, what="an empty outbox with every report in")
        await asyncio.sleep(2.0)  # the last reports' commits
        requests = sum(link.counters.requests for link in links.values())
        resets = sum(link.counters.resets for link in links.values())
        verdict.events.append(
            f"links to AT: {requests} requests, {resets} reset after AT took them; "
            f"simulator: {sim.counters.faulted} answered HTTP 500"
        )
        await judge(engine, sim, verdict)
    return verdict


async def judge(engine: AsyncEngine, sim: Simulator, verdict: Verdict) -> None:
    table = TABLE
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    table.c.id, table.c.dedupe_key, table.c.phone, table.c.status,
                    table.c.provider_id, table.c.last_error,
                ).where(table.c.direction == "out")
            )
        ).all()  # fmt: skip
    seen: set[str] = set()
    for row_id, key, phone, status, provider_id, last_error in rows:
        seen.add(str(key))
        # Each phone gets one reminder and one piece of news; a resend may differ from the
        # first try only in the how-to-stop line, so the kind of text is what identifies.
        news = str(key).startswith("news:")
        received = [m for m in sim.inbox.of(phone) if (NEWS in m.text) == news]
        verdict.statuses[str(status)] += 1
        label = f"{key} ({status}, received {len(received)}: {last_error or ''})"
        if status in (MessageStatus.queued, MessageStatus.sending):
            verdict.stuck.append(label)
            said = "stuck"
        elif len(received) > 1:
            verdict.sent_twice.append(label)
            said = "sent twice"
        elif not received and status in (MessageStatus.sent, MessageStatus.delivered):
            verdict.lost.append(label)  # copline says it went; no phone ever got it
            said = "lost"
        elif status == MessageStatus.unknown:
            if received:
                verdict.unknown_reached += 1
                said = "honestly unknown (the phone got it)"
            elif row_id in verdict.handed_at_kill or MAYBE_TAKEN in (last_error or ""):
                verdict.unknown_not_reached += 1
                said = "honestly unknown (the phone did not get it)"
            else:  # marked unknown though nothing could have taken it: it never left
                verdict.lost.append(label)
                said = "lost"
        elif _wrong(status, provider_id, received):
            verdict.wrong_status.append(label)
            said = "wrong final status"
        else:
            said = "right"
        verdict.per_key.append((str(key), str(status), len(received), said))
    missing = sorted(verdict.keys - seen)
    verdict.lost += [f"{key} (no row)" for key in missing]
    verdict.per_key += [(key, "", 0, "lost") for key in missing]


def write(verdict: Verdict, folder: Path) -> None:
    """The summary (fault-run.txt) and every dedupe key's verdict (fault-run-keys.csv)."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fault-run.txt").write_text("\n".join(verdict.lines()) + "\n", encoding="utf-8")
    with (folder / "fault-run-keys.csv").open("w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out)
        rows.writerow(["dedupe_key", "final_status", "times_received", "verdict"])
        rows.writerows(sorted(verdict.per_key))


def _wrong(status: str, provider_id: str | None, received: list[Any]) -> bool:
    """Whether copline's last word contradicts what the phone got (at most once here)."""
    got = received[0] if received else None
    match status:
        case MessageStatus.delivered:
            return got is None or got.id != provider_id or got.final_status != "Success"
        case MessageStatus.failed:
            # Failed before AT took it (nothing received), or AT said so in its report.
            return got is not None and got.final_status != "Failed"
        case MessageStatus.sent:
            return True  # every report is in: a message still `sent` missed its report
        case MessageStatus.dropped:
            return got is not None
        case _:
            return False
