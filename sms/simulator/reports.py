"""Delivery reports: each accepted message is reported to the service after a delay.

WhatsApp's status callbacks ride the same queue (`schedule_post`): each status is
posted one delay after the one before it.

One FIFO queue and a fixed number of workers, each with its own kept-alive
connection. Every message waits the same delay, so the queue is in due order and
a worker only ever sleeps for the head of the line: once the first reports are
due, the workers post back to back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from sms.simulator.config import SimulatorConfig
from sms.simulator.messaging import network_code
from sms.simulator.poster import FormPoster, PosterError
from sms.simulator.state import InboxMessage

log = structlog.get_logger(__name__)

DELIVERY_PATH = "/sms/delivery"
BuildForm = Callable[[], dict[str, str]]  # called when the post is due
AfterPost = Callable[[], None]
BACKOFF_S = 0.25  # doubled after each failed attempt
DROP_LOG_EVERY_S = 5.0  # a service that is down would otherwise log every report


class DeliveryReporter:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config  # read at each report: a running simulator can be retargeted
        self.queued = 0
        self.sent = 0
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[float, str, BuildForm, AfterPost | None]] = asyncio.Queue()
        self._in_flight = 0
        self._workers: list[asyncio.Task[None]] = []
        self._drops_unlogged = 0
        self._last_drop_log = 0.0

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self._in_flight

    def schedule(self, phone: str, message: InboxMessage) -> None:
        self.schedule_post(DELIVERY_PATH, lambda: self._delivery_form(phone, message))

    def schedule_post(self, path: str, build: BuildForm, after: AfterPost | None = None) -> None:
        """Post `build()` to the service's `path` one delay from now, then call `after`
        (whether the service took it or not, as AT goes on with a message's life)."""
        due = time.monotonic() + self.config.delivery_delay_s
        self._queue.put_nowait((due, path, build, after))
        self.queued += 1

    def start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"at-sim-report-{n}")
                for n in range(self.config.report_concurrency)
            ]

    async def stop(self) -> None:
        """Stop at once; reports not yet sent are forgotten, as a restarted AT would."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def as_json(self) -> dict[str, int]:
        return {
            "queued": self.queued,
            "sent": self.sent,
            "dropped": self.dropped,
            "pending": self.pending,
        }

    async def _work(self) -> None:
        poster: FormPoster | None = None
        try:
            while True:
                due, path, build, after = await self._queue.get()
                self._in_flight += 1
                try:
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    form = build()
                    if poster is None or poster.base_url != self.config.callback_base:
                        if poster is not None:
                            await poster.aclose()  # the simulator was pointed elsewhere
                        poster = FormPoster(
                            self.config.callback_base, timeout_s=self.config.report_timeout_s
                        )
                    await self._report(poster, path, form)
                    if after is not None:
                        after()
                finally:
                    self._in_flight -= 1
        finally:
            if poster is not None:
                await poster.aclose()

    def _delivery_form(self, phone: str, message: InboxMessage) -> dict[str, str]:
        message.status = message.final_status
        form = {
            "id": message.id,
            "status": message.final_status,
            "phoneNumber": phone,
            "networkCode": network_code(phone),
            "retryCount": "0",
        }
        if message.final_status == "Failed":
            form["failureReason"] = self.config.failure_reason
        return form

    async def _report(self, poster: FormPoster, path: str, form: dict[str, str]) -> None:
        reason = ""
        for attempt in range(self.config.report_attempts):
            if attempt:
                await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                status = await poster.post(path, form)
            except PosterError as exc:
                reason = str(exc)
                continue
            if status < 300:
                self.sent += 1
                return
            reason = f"HTTP {status}"
            if 400 <= status < 500 and status not in (408, 429):
                break  # the service refuses this report; asking again changes nothing
        self._dropped(reason)

    def _dropped(self, reason: str) -> None:
        self.dropped += 1
        self._drops_unlogged += 1
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_EVERY_S:
            log.warning(
                "at_sim.delivery_report_dropped",
                reason=reason,
                dropped=self._drops_unlogged,
                url=self.config.service_url,
            )
            self._drops_unlogged = 0
            self._last_drop_log = now
