"""Sending the claimed rows of people who chose WhatsApp: by WhatsApp's rules, else SMS.

The sender claims, checks and renders every due row as it always has (sms/sender.py);
this takes the rows whose person chose WhatsApp and sends them one by one (WhatsApp
has no bulk request) as `sms.whatsapp_route` decides: free text inside the 24-hour
window, an approved template outside it, SMS with the reason when WhatsApp's rules
allow neither. A refusal at sending (not on WhatsApp, template refused, WhatsApp
unavailable) puts the row back among the SMS rows of the same pass with its reason,
so the teacher still hears of the meeting today. The reminder's quick-reply buttons
answer YES or NO for its meeting (sms/whatsapp_callbacks.py reads them back).

Exactly once, as SMS: each row is marked handed over in a commit of its own before its
request leaves, and a request that may have reached the gateway without an answer is
`unknown`, never resent by either channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from urllib.parse import urlsplit

import structlog

from service.metrics import WHATSAPP_FALLBACKS
from service.models import Programme
from service.models.enums import Language, MessageStatus, Reach
from sms import threads
from sms.claims import Claimed
from sms.texts import SmsTexts
from sms.whatsapp_gateway import WhatsAppGateway, WhatsAppOutcome, WhatsAppResult
from sms.whatsapp_route import ANSWERED_BY_BUTTONS, PersonReach, Route, Way, route

log = structlog.get_logger(__name__)


@dataclass
class WhatsAppReport:
    sent: int = 0
    fell_back: int = 0
    unknown: int = 0


class WhatsAppDispatch:
    def __init__(
        self,
        gateway: WhatsAppGateway,
        texts: SmsTexts,
        *,
        parallel: int,
        clock: Callable[[], datetime],
        pool: ThreadPoolExecutor,
    ) -> None:
        """`parallel` lanes of requests, run in `pool` (the sender's, shared with SMS)."""
        self.gateway = gateway
        self.texts = texts
        self.parallel = parallel
        self.clock = clock
        self._threads = pool

    def split(
        self,
        rows: Sequence[Claimed],
        people: dict[int, PersonReach],
        programmes: dict[int, Programme],
    ) -> tuple[list[Claimed], list[tuple[Claimed, Route]]]:
        """The rows WhatsApp's rules send by SMS (with any fallback reason set on them),
        and the rows to send by WhatsApp, each with its way."""
        now = self.clock()
        by_sms: list[Claimed] = []
        chosen: list[tuple[Claimed, Route]] = []
        for row in rows:
            person = people.get(row.person_id) if row.person_id is not None else None
            programme = programmes[row.programme_id]
            way = route(row.template, person, programme.whatsapp_number, now)
            if way.way is Way.sms:
                if way.fallback is not None:
                    row.values["fallback_reason"] = way.fallback.value
                by_sms.append(row)
            else:
                chosen.append((row, way))
        return by_sms, chosen

    async def send(
        self,
        chosen: Sequence[tuple[Claimed, Route]],
        programmes: dict[int, Programme],
        sender: ClaimsWriter,
    ) -> tuple[list[Claimed], WhatsAppReport]:
        """Send `split`'s WhatsApp rows; returns those WhatsApp refused, to send by SMS
        now (each with its reason), and what became of the others."""
        report = WhatsAppReport()
        by_sms: list[Claimed] = []
        if not chosen:
            return by_sms, report
        held = await sender.hand_off([row for row, _ in chosen])
        going = [(row, way) for row, way in chosen if row.id in held]
        # A lane per thread, each sending its rows one after another: one hop between
        # the event loop and a thread per lane, not per message, which cost as much
        # CPU as the request itself.
        lanes = [going[i :: self.parallel] for i in range(min(self.parallel, len(going)))]
        results = await asyncio.gather(
            *(threads.in_thread(self._threads, self._send_lane, lane, programmes) for lane in lanes)
        )
        for lane, answers in zip(lanes, results, strict=True):
            for (row, way), (result, words) in zip(lane, answers, strict=True):
                price = _price(way, programmes[row.programme_id])
                self._settle(row, result, words, price, report, by_sms)
        falling_back = {row.id for row in by_sms}
        done = [row for row, _ in going if row.id not in falling_back]
        if done:
            await sender.store(done)
        return by_sms, report

    def _send_lane(
        self, lane: Sequence[tuple[Claimed, Route]], programmes: dict[int, Programme]
    ) -> list[tuple[WhatsAppResult, str]]:
        return [self._send(row, way, programmes) for row, way in lane]

    def _send(
        self, row: Claimed, way: Route, programmes: dict[int, Programme]
    ) -> tuple[WhatsAppResult, str]:
        """The request for one row, and the words it carried."""
        programme = programmes[row.programme_id]
        number = programme.whatsapp_number
        assert number is not None and row.body is not None
        language = row.language or programme.default_language
        buttons = self._buttons(row, language)
        link = _activity_link(row)
        document = link if link is not None and is_document(link) else None
        words = self._words(row, programme, language)
        if way.way is Way.text:
            text, options = self._richer(row, words)
            if document is not None:  # the toolkit's page itself, the text its caption
                caption = self.gateway.send_document(
                    number, row.phone, document, text, options or buttons
                )
                return caption, text
            if link is not None and link not in text:
                # SMS may have had no room for it; WhatsApp shows the page's preview.
                text = f"{text}\n{link}"
            return self.gateway.send_text(number, row.phone, text, options or buttons), text
        assert way.template is not None
        # The approved template carries the message as worded for this language, the
        # activity's document in its header, or its link after the words.
        if link is not None and document is None and link not in words:
            words = f"{words} {link}"
        sent = self.gateway.send_template(
            number,
            row.phone,
            way.template,
            language.value,
            [words],
            buttons,
            preview=words,
            document=document,
        )
        return sent, words

    def _words(self, row: Claimed, programme: Programme, language: Language) -> str:
        """The message as worded for WhatsApp: as for SMS, but a toolkit activity keeps
        its whole title, which one SMS segment had no room for."""
        assert row.body is not None
        if row.template not in ACTIVITY_TEMPLATES or row.params is None:
            return row.body
        return self.texts.render(
            row.template,
            language,
            row.params,
            timezone=programme.timezone,
            footer=row.footer,
            room=WHATSAPP_ROOM,
        )

    @staticmethod
    def _richer(row: Claimed, words: str) -> tuple[str, list[str] | None]:
        """The WhatsApp form of a message that has one (a survey question with its
        options as quick replies), else its words."""
        whatsapp = (row.params or {}).get("whatsapp")
        if not isinstance(whatsapp, dict) or not whatsapp.get("text"):
            return words, None
        options = whatsapp.get("options")
        return str(whatsapp["text"]), [str(o) for o in options] if options else None

    def _buttons(self, row: Claimed, language: Language) -> list[str] | None:
        if row.template not in ANSWERED_BY_BUTTONS or not (row.params or {}).get("code"):
            return None
        return [
            self.texts.render("button_yes", language, {}, timezone="UTC"),
            self.texts.render("button_no", language, {}, timezone="UTC"),
        ]

    def _settle(
        self,
        row: Claimed,
        result: WhatsAppResult,
        words: str,
        price: tuple[Decimal, str],
        report: WhatsAppReport,
        by_sms: list[Claimed],
    ) -> None:
        now = self.clock()
        if result.outcome is WhatsAppOutcome.accepted:
            row.values.update(
                body=words,  # what the person reads, which SMS would have worded shorter
                status=MessageStatus.sent,
                provider_id=result.message_id,
                sent_at=now,
                reach=Reach.whatsapp,
                segments=0,
                cost=price[0],
                currency=price[1],
                last_error=None,
            )
            report.sent += 1
        elif result.outcome is WhatsAppOutcome.maybe_taken:
            row.error_kind = WhatsAppOutcome.maybe_taken.value
            row.values.update(
                status=MessageStatus.unknown,
                reach=Reach.whatsapp,
                last_error=f"WhatsApp: {result.reason}: may have been taken, not resent"[:300],
            )
            report.unknown += 1
        else:  # refused, or WhatsApp unavailable: the teacher hears of it by SMS today
            kind = result.refusal.value if result.refusal is not None else "unavailable"
            row.values["fallback_reason"] = f"WhatsApp {kind}: {result.reason}"[:80]
            by_sms.append(row)
            report.fell_back += 1
            WHATSAPP_FALLBACKS.labels(kind).inc()
            log.info("whatsapp.fell_back", kind=kind)


# Templates with the meeting's toolkit activity, whose title SMS cuts to one segment.
ACTIVITY_TEMPLATES = frozenset({"reminder_activity", "prepare"})
# Room for a WhatsApp message's words (septets): the whole activity title fits.
WHATSAPP_ROOM = 1000
# What WhatsApp sends as a document rather than a link to preview.
DOCUMENT_SUFFIXES = (".pdf", ".doc", ".docx", ".odt", ".ppt", ".pptx", ".xls", ".xlsx")


def is_document(link: str) -> bool:
    return urlsplit(link).path.lower().endswith(DOCUMENT_SUFFIXES)


def _price(way: Route, programme: Programme) -> tuple[Decimal, str]:
    """What WhatsApp charges for the message: a template its price, free text nothing
    (it answers the person within the window they opened)."""
    amount = programme.whatsapp_price if way.way is Way.template else Decimal("0")
    return Decimal(amount), programme.currency


def _activity_link(row: Claimed) -> str | None:
    """The meeting's toolkit link a message carries (a reminder with the activity, a
    facilitator's prepare message), which WhatsApp can always show whole."""
    link = (row.params or {}).get("activity_link")
    return str(link) if link else None


class ClaimsWriter(Protocol):
    """What the dispatch needs of the sender: hand rows over and store their fate."""

    async def hand_off(self, rows: Sequence[Claimed]) -> set[int]: ...

    async def store(self, rows: Sequence[Claimed]) -> None: ...
