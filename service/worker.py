"""The worker loop: periodic jobs, each in its own unit of work.

`copline worker` runs it on its own (many may run on many machines against
PostgreSQL); in the embedded SQLite set-up `copline serve` runs it in-process.
A job runs once per period across all the workers (`service.domain.job_runs`),
except sending, which every worker runs: they share the outbox row by row.
A failing job is logged and tried again at its next turn: a database outage
must not stop the loop. Each job's last run is in `job_run` (`copline jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.db import SessionFactory
from service.domain import job_runs
from service.domain.digests import queue_digests
from service.domain.meetings import close_finished_meetings
from service.domain.prepare import queue_prepare_messages
from service.domain.reminders import queue_due_reminders
from service.domain.retention import apply_retention
from service.domain.survey_dispatch import dispatch_surveys, remind_unfinished
from service.domain.survey_schedule import send_scheduled_surveys
from service.domain.surveys import expire_responses
from service.domain.webhooks import prune as prune_webhook_deliveries
from service.events import instance_name
from service.metrics import JOB_LAST_SUCCESS, JOB_RUNS, JOB_SECONDS
from service.models.types import utcnow
from service.webhook_sender import WebhookPolicy, WebhookSender
from sms.delivery import settle_unmatched
from sms.gateway import AfricasTalkingGateway
from sms.sender import Sender, SendPolicy
from sms.texts import SmsTexts
from sms.whatsapp_gateway import AfricasTalkingWhatsApp

log = structlog.get_logger(__name__)

JobRun = Callable[[AsyncSession, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: JobRun  # returns how many things it did
    # Every worker runs it each period (sending: the workers share the outbox by
    # SKIP LOCKED); otherwise one worker of all runs it once per period.
    everywhere: bool = False


async def _close_finished_meetings(session: AsyncSession, now: datetime) -> int:
    return await close_finished_meetings(session, now=now)


async def _queue_due_reminders(session: AsyncSession, now: datetime) -> int:
    # Committed slice by slice: the senders (this worker's and the others') start on a
    # national round's first slices while the rest is still being queued.
    return await queue_due_reminders(session, now, each_slice=session.commit)


async def _settle_unmatched_reports(session: AsyncSession, now: datetime) -> int:
    return await settle_unmatched(session, now)


# The jobs that need nothing but the database.
DEFAULT_JOBS: tuple[Job, ...] = (
    Job("close_finished_meetings", timedelta(minutes=1), _close_finished_meetings),
    Job("queue_due_reminders", timedelta(minutes=1), _queue_due_reminders),
    Job("queue_prepare_messages", timedelta(minutes=1), queue_prepare_messages),
    Job("dispatch_surveys", timedelta(minutes=1), dispatch_surveys),
    Job("send_scheduled_surveys", timedelta(minutes=1), send_scheduled_surveys),
    Job("remind_unfinished_surveys", timedelta(minutes=10), remind_unfinished),
    Job("expire_survey_responses", timedelta(minutes=10), expire_responses),
    # School leaders' weekly digest: a few minutes late at most, once a week each.
    Job("queue_digests", timedelta(minutes=5), queue_digests),
    # Webhook deliveries settled a month ago: dropped with their attempts.
    Job("prune_webhook_deliveries", timedelta(hours=1), prune_webhook_deliveries),
    # Delivery reports whose id never came: forgotten after a while (the sender applies
    # the others as it stores their ids; this also catches any it could not).
    Job("settle_unmatched_reports", timedelta(minutes=1), _settle_unmatched_reports),
    # Message texts and free-text answers past each programme's retention period.
    Job("apply_retention", timedelta(hours=1), apply_retention),
)


def sms_job(sender: Sender, *, every: timedelta = timedelta(seconds=2)) -> Job:
    """Send what is due. The sender opens its own sessions: claiming and storing are
    separate transactions around the (slow) gateway calls, never one held open."""

    async def send(_session: AsyncSession, _now: datetime) -> int:
        report = await sender.send_until_idle()
        return report.sent

    return Job("send_sms", every, send, everywhere=True)


def webhook_job(sender: WebhookSender, *, every: timedelta = timedelta(seconds=2)) -> Job:
    """Post the webhook deliveries that are due; like sending SMS, in sessions of its own
    around the posts."""

    async def send(_session: AsyncSession, _now: datetime) -> int:
        return await sender.send_until_idle()

    return Job("send_webhooks", every, send, everywhere=True)


def all_jobs(settings: Settings, sessions: SessionFactory) -> list[Job]:
    """Every job a worker runs: the database jobs and sending through Africa's Talking."""
    gateway = AfricasTalkingGateway.from_settings(settings)
    policy = SendPolicy.for_timeout(
        settings.at_timeout_s,
        batch=settings.sms_batch_size,
        whatsapp_parallel=settings.whatsapp_parallel,
        backoff_base=timedelta(seconds=settings.sms_retry_base_s),
    )
    # WhatsApp through the same Africa's Talking account (or the simulator), by the
    # same rule for its address: members who chose it get it, the rest SMS.
    whatsapp = AfricasTalkingWhatsApp.from_settings(settings)
    sender = Sender(sessions, gateway, SmsTexts.load(), policy=policy, whatsapp=whatsapp)
    webhooks = WebhookSender(
        sessions,
        policy=WebhookPolicy(
            parallel=settings.webhook_parallel,
            timeout_s=settings.webhook_timeout_s,
            private_hosts=settings.allows_private_webhooks,
        ),
    )
    return [*DEFAULT_JOBS, sms_job(sender), webhook_job(webhooks)]


class Worker:
    def __init__(
        self,
        sessions: SessionFactory,
        jobs: Sequence[Job] = DEFAULT_JOBS,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.jobs = list(jobs)
        self.clock = clock
        self.name = name or instance_name()
        self.failures: dict[str, int] = {}
        self._registered = False

    async def run_job(self, job: Job) -> int:
        async with self.sessions() as session:
            done = await job.run(session, self.clock())
            await session.commit()
        return done

    async def _claim(self, job: Job, now: datetime) -> bool:
        if job.everywhere and self._registered:
            return True  # no claim to make: an empty transaction every tick would be waste
        async with self.sessions() as session:
            if not self._registered:
                await job_runs.register(session, [j.name for j in self.jobs])
                self._registered = True
            if job.everywhere:
                await session.commit()
                return True
            claimed = await job_runs.claim(session, job.name, job.every, now=now, worker=self.name)
            await session.commit()
        return claimed

    async def _record(
        self, job: Job, started: datetime, done: int | None, error: str | None
    ) -> None:
        # Bookkeeping: its failure must not count as the job's.
        try:
            async with self.sessions() as session:
                await job_runs.finish(
                    session,
                    job.name,
                    started=started,
                    finished=self.clock(),
                    count=done,
                    error=error,
                    worker=self.name,
                )
                await session.commit()
        except Exception as exc:
            log.warning("worker.job_record_failed", job=job.name, error=repr(exc)[:200])

    async def tick(self, due: dict[str, datetime]) -> None:
        """Run every job that is due (and not run by another worker this period) and
        set when each is looked at next."""
        for job in self.jobs:
            now = self.clock()
            if due.get(job.name, now) > now:
                continue
            due[job.name] = now + job.every
            started = time.perf_counter()
            try:
                if not await self._claim(job, now):
                    continue  # another worker has this period
                started = time.perf_counter()
                done = await self.run_job(job)
            except Exception as exc:  # the loop must outlive any one failure
                self.failures[job.name] = self.failures.get(job.name, 0) + 1
                JOB_RUNS.labels(job.name, "failed").inc()
                log.error("worker.job_failed", job=job.name, error=repr(exc)[:300])
                await self._record(job, now, None, repr(exc))
            else:
                JOB_RUNS.labels(job.name, "ok").inc()
                JOB_SECONDS.labels(job.name).observe(time.perf_counter() - started)
                JOB_LAST_SUCCESS.labels(job.name).set(time.time())
                self.failures.pop(job.name, None)
                if done:
                    log.info("worker.job_done", job=job.name, count=done)
                await self._record(job, now, done, None)
            due[job.name] = self.clock() + job.every

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker.start", jobs=[job.name for job in self.jobs])
        due: dict[str, datetime] = {}
        while not stop.is_set():
            await self.tick(due)
            wait = min((at - self.clock() for at in due.values()), default=timedelta(seconds=1))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait.total_seconds(), 0.05))
        log.info("worker.stop")
