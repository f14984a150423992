"""Messages: the SMS log of what a role covers, what quiet hours hold, and a broadcast
composed with a live preview of its segments, encoding and cost.

The log shows a message when its community is covered or its person is visible to
the role. Texts are shown only to roles that read personal data (a reply is a
person's own words), never a sign-in code's, and never a message's template values
(a queued sign-in code still carries its code there). A broadcast goes through the
same use case as the API's, with the signed-in person as its actor.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pydantic
import sqlalchemy as sa
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page, refusal
from console.i18n import Texts, _
from console.render import environment, render
from service.domain import broadcasts, outbox
from service.domain.broadcasts import MAX_TEXT, BroadcastInput
from service.domain.digests import DIGEST
from service.domain.errors import NotFound
from service.domain.segments import (
    GSM7_PART,
    GSM7_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    estimate_cost,
    not_gsm7,
    room,
)
from service.domain.sign_in import SIGN_IN
from service.gsm7 import to_gsm7
from service.models import Community, Message, Person
from service.models.enums import Encoding, MessageStatus, Scope

PAGE_SIZE = 50
WHOLE_PROGRAMME = "programme"  # the compose form's choice for every community at once

STATUSES: dict[MessageStatus, str] = {
    MessageStatus.queued: _("Queued"),
    MessageStatus.sending: _("Sending"),
    MessageStatus.sent: _("Sent"),
    MessageStatus.delivered: _("Delivered"),
    MessageStatus.failed: _("Failed"),
    MessageStatus.unknown: _("Unknown"),
    MessageStatus.dropped: _("Not sent"),
    MessageStatus.received: _("Received"),
}
KINDS: dict[str, str] = {
    outbox.REMINDER: _("Reminder"),
    outbox.REMIND_NOW: _("Reminder sent by hand"),
    outbox.NOTICE: _("Meeting notice"),
    outbox.BROADCAST: _("Broadcast"),
    outbox.SURVEY: _("Survey"),
    outbox.REPLY: _("Reply"),
    outbox.PREPARE: _("Activity to prepare"),
    outbox.FORWARD: _("Teacher's message passed on"),
    outbox.ANSWER: _("Answer to a teacher"),
    DIGEST: _("School leaders' digest"),
    "inbound": _("Incoming"),
    SIGN_IN: _("Sign-in code"),
}
# Characters people type that GSM-7 lacks, named for the warning (the rest by kind).
CHARACTER_NAMES: dict[str, str] = {
    "\u2018": _("curly quote"),
    "\u2019": _("curly quote"),
    "\u201c": _("curly double quote"),
    "\u201d": _("curly double quote"),
    "\u2013": _("long dash"),
    "\u2014": _("long dash"),
    "\u2026": _("three dots as one character"),
    "\u2022": _("bullet"),
}
NAMED_AT_MOST = 5


# The log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: MessageStatus | None = None
    kind: str | None = None
    community_id: int | None = None
    held: bool = False
    before: int | None = None  # the id of the last row of the page before

    @classmethod
    def of(cls, params: Any) -> Filters:
        """From the query string; an unknown status or kind is no filter, a community
        is checked against the role's coverage by the page."""
        status = params.get("status", "")
        kind = params.get("kind", "")
        community = params.get("community", "")
        before = params.get("before", "")
        return cls(
            status=MessageStatus(status) if status in STATUSES_BY_VALUE else None,
            kind=kind if kind in KINDS else None,
            community_id=number(community),
            held=params.get("held") == "1",
            before=number(before),
        )

    def query(self, **changes: Any) -> str:
        """This view's query string, with `changes`, for links and pagination."""
        chosen = replace(self, **changes)
        values: dict[str, str] = {}
        if chosen.status is not None:
            values["status"] = chosen.status.value
        if chosen.kind is not None:
            values["kind"] = chosen.kind
        if chosen.community_id is not None:
            values["community"] = str(chosen.community_id)
        if chosen.held:
            values["held"] = "1"
        if chosen.before is not None:
            values["before"] = str(chosen.before)
        return "?" + urlencode(values) if values else ""


STATUSES_BY_VALUE = {s.value for s in STATUSES}


def number(text: str) -> int | None:
    """An id from a URL or a form: ASCII digits that fit the column, else None."""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _in_coverage(current: Page) -> list[Any]:
    """Conditions on Message: this programme's, and for a part of it, the messages of
    covered communities or of people the role may see."""
    coverage = current.viewer.coverage
    conditions: list[Any] = [col(Message.programme_id) == coverage.programme_id]
    if coverage.community_ids is not None:
        visible = sa.select(col(Person.id)).where(coverage.people())
        conditions.append(
            col(Message.community_id).in_(sorted(coverage.community_ids))
            | col(Message.person_id).in_(visible)
        )
    return conditions


async def _communities(current: Page) -> list[tuple[int, str]]:
    """The communities this role covers, by name: the filter's and the compose form's."""
    coverage = current.viewer.coverage
    stmt = sa.select(col(Community.id), col(Community.name)).where(
        col(Community.programme_id) == coverage.programme_id
    )
    if coverage.community_ids is not None:
        stmt = stmt.where(col(Community.id).in_(sorted(coverage.community_ids)))
    rows = await current.session.execute(stmt.order_by(col(Community.name), col(Community.id)))
    return [(int(i), str(name)) for i, name in rows.all()]


def _covered(communities: list[tuple[int, str]], community_id: int | None) -> int | None:
    """A community id from a URL or a form: NotFound unless the role covers it."""
    if community_id is not None and community_id not in {i for i, _name in communities}:
        raise NotFound(f"no community with id {community_id}")
    return community_id


@dataclass(frozen=True)
class Row:
    id: int
    created_at: datetime
    inbound: bool
    kind: str
    status: MessageStatus
    held_until: datetime | None
    name: str | None
    phone: str | None
    community: str | None
    text: str | None  # what the role may read; None: a placeholder says why not
    hidden: str | None  # the placeholder
    encoding: Encoding
    segments: int
    cost: Decimal | None
    currency: str | None
    last_error: str | None


def _row(current: Page, found: Any) -> Row:
    (mid, created_at, direction, kind, status, phone, body, encoding, segments, cost,
     currency, send_after, last_error, name, community) = found  # fmt: skip
    held = status is MessageStatus.queued and send_after is not None and send_after > current.now
    text: str | None = None
    hidden: str | None = None
    if kind == SIGN_IN:
        hidden = current._("A sign-in code: never shown.")
    elif not current.viewer.has(Scope.read_pii):
        hidden = current._("Hidden: your role does not show message texts.")
    elif body is None:
        hidden = current._("Written in the person's language when it is sent.")
    else:
        text = body
    return Row(
        id=mid, created_at=created_at, inbound=direction.value == "in", kind=kind,
        status=status, held_until=send_after if held else None, name=name,
        phone=current.viewer.phone(phone), community=community, text=text, hidden=hidden,
        encoding=encoding, segments=segments, cost=cost, currency=currency,
        last_error=last_error,
    )  # fmt: skip


# What the log reads of a message: never its template values (a queued code is in them).
_LOG_FIELDS = "id created_at direction kind status phone body encoding segments cost currency"
_LOG_COLUMNS = [col(getattr(Message, f)) for f in f"{_LOG_FIELDS} send_after last_error".split()]


async def _log(current: Page, filters: Filters) -> tuple[list[Row], bool]:
    """One page of the log, newest first, and whether there are older rows."""
    stmt = (
        sa.select(*_LOG_COLUMNS, col(Person.name), col(Community.name))
        .outerjoin(Person, col(Person.id) == col(Message.person_id))
        .outerjoin(Community, col(Community.id) == col(Message.community_id))
        .where(*_in_coverage(current))
    )
    if filters.status is not None:
        stmt = stmt.where(col(Message.status) == filters.status)
    if filters.kind is not None:
        stmt = stmt.where(col(Message.kind) == filters.kind)
    if filters.community_id is not None:
        stmt = stmt.where(col(Message.community_id) == filters.community_id)
    if filters.held:
        stmt = stmt.where(*_held(current.now))
    if filters.before is not None:
        stmt = stmt.where(col(Message.id) < filters.before)
    # Newest first by id: a row's id is taken as it is written, with its created_at, and
    # the primary key walks backwards with no sort, even through a round of thousands
    # written at one moment (created_at ties, which an order by time would sort).
    stmt = stmt.order_by(col(Message.id).desc())
    found = (await current.session.execute(stmt.limit(PAGE_SIZE + 1))).all()
    return [_row(current, r) for r in found[:PAGE_SIZE]], len(found) > PAGE_SIZE


def _held(now: datetime) -> list[Any]:
    return [col(Message.status) == MessageStatus.queued, col(Message.send_after) > now]


async def _held_summary(current: Page) -> tuple[int, datetime | None]:
    """How many messages quiet hours hold, and when the first of them goes."""
    stmt = sa.select(sa.func.count(), sa.func.min(col(Message.send_after))).where(
        *_in_coverage(current), *_held(current.now)
    )
    count, first = (await current.session.execute(stmt)).one()
    return int(count), first


@page(scope=Scope.read)
async def message_log(current: Page) -> Response:
    filters = Filters.of(current.request.query_params)
    communities = await _communities(current)
    _covered(communities, filters.community_id)
    rows, more = await _log(current, filters)
    held, first_goes = await _held_summary(current)
    older = None
    if more:
        older = filters.query(before=rows[-1].id)
    context = {
        "rows": rows,
        "filters": filters,
        "communities": communities,
        "statuses": [(s.value, label) for s, label in STATUSES.items()],
        "kinds": list(KINDS.items()),
        "status_names": {s.value: label for s, label in STATUSES.items()},
        "kind_names": KINDS,
        "older": older,
        "newest": filters.query(before=None) if filters.before else None,
        "held": held,
        "first_goes": first_goes,
        "timezone": current.viewer.programme.timezone,
        "may_send": current.viewer.has(Scope.sms_send),
    }
    return current.render("messages.html", context)


# Composing a broadcast -------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What a text will take as an SMS, and what sending it to its audience costs."""

    length: int  # characters as written
    encoding: Encoding
    segments: int
    per_segment: int  # units each segment holds at this length
    left: int  # units the last segment still holds
    recipients: int | None  # None: nobody chosen yet
    cost_each: Decimal
    cost: Decimal | None
    currency: str
    price: Decimal
    warning: str | None  # which characters force UCS-2
    hint: str | None  # what to write instead to stay GSM-7
    too_long: bool


def invisible(character: str) -> bool:
    """A space, a tab or a control character: named by its code, it has no glyph."""
    return unicodedata.category(character)[0] in "ZC"


def describe(character: str, texts: Texts) -> str:
    """A character as the warning names it: itself and what it is (a code if invisible)."""
    category = unicodedata.category(character)
    hidden = invisible(character)
    shown = f"U+{ord(character):04X}" if hidden else character
    label = CHARACTER_NAMES.get(character)
    if label is None:
        if hidden:
            label = _("invisible character")
        elif ord(character) > 0xFFFF or category == "So":
            label = _("emoji or symbol")
        elif character.isalpha() and unicodedata.decomposition(character):
            label = _("letter with an accent")
    return f"{shown} ({texts(label)})" if label else shown


def preview(text: str, recipients: int | None, current: Page) -> Preview:
    programme = current.viewer.programme
    size = room(text)
    measure = size.measure
    gsm = measure.encoding is Encoding.gsm7
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    warning = hint = None
    offending = not_gsm7(text)
    if offending:
        named = ", ".join(describe(ch, current.texts) for ch in offending[:NAMED_AT_MOST])
        if len(offending) > NAMED_AT_MOST:
            named += " …"
        sentence = (
            _("%(chars)s makes this SMS UCS-2: 70 characters per segment instead of 160.")
            if len(offending) == 1
            else _("%(chars)s make this SMS UCS-2: 70 characters per segment instead of 160.")
        )
        warning = current._(sentence, chars=named)
        # What GSM-7 has instead, for the characters one can see (a curly quote's ').
        swaps = [(ch, to_gsm7(ch)) for ch in offending[:NAMED_AT_MOST] if not invisible(ch)]
        pairs = [current._("%(plain)s for %(char)s", plain=p, char=c) for c, p in swaps if p]
        if pairs:
            hint = current._("To keep 160 per segment, write %(pairs)s.", pairs=", ".join(pairs))
    each = estimate_cost(measure, programme.sms_price)
    return Preview(
        length=len(text),
        encoding=measure.encoding,
        segments=measure.segments,
        per_segment=single if measure.segments == 1 else part,
        left=size.left,
        recipients=recipients,
        cost_each=each,
        cost=None if recipients is None else each * recipients,
        currency=programme.currency,
        price=programme.sms_price,
        warning=warning,
        hint=hint,
        too_long=len(text) > MAX_TEXT,
    )


@dataclass(frozen=True)
class Draft:
    target: str  # "", WHOLE_PROGRAMME or a community id, as the form sent it
    text: str


async def _draft(current: Page) -> Draft:
    form = await current.form()
    target = form.get("to", "")
    text = form.get("text", "")
    return Draft(
        target=target if isinstance(target, str) else "",
        text=(text if isinstance(text, str) else "").strip()[: MAX_TEXT * 2],
    )


class WholeProgrammeRefused(Exception):
    """A role that covers part of the programme chose to message all of it."""


async def _audience(
    current: Page, draft: Draft, communities: list[tuple[int, str]]
) -> tuple[bool, int | None]:
    """(chosen, community id or None for the whole programme), checked against the role:
    a community it does not cover is NotFound; the whole programme for a part of it is
    refused."""
    if draft.target == WHOLE_PROGRAMME:
        if not current.viewer.coverage.whole_programme:
            raise WholeProgrammeRefused
        return True, None
    if not draft.target:
        return False, None
    community_id = number(draft.target)
    if community_id is None:
        raise NotFound("no such community")
    return True, _covered(communities, community_id)


async def _count(current: Page, chosen: bool, community_id: int | None) -> int | None:
    if not chosen:
        return None
    return await broadcasts.audience(
        current.session,
        current.viewer.programme,
        community_id,
        actor=current.viewer.coverage.actor(),
    )


def _compose(
    current: Page,
    draft: Draft,
    communities: list[tuple[int, str]],
    recipients: int | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    quiet_until = outbox.quiet_until(current.now, current.viewer.programme)
    context = {
        "draft": draft,
        "communities": communities,
        "whole_programme": current.viewer.coverage.whole_programme,
        "preview": preview(draft.text, recipients, current),
        "max_text": MAX_TEXT,
        "error": error,
        "quiet_until": quiet_until if quiet_until > current.now else None,
        "timezone": current.viewer.programme.timezone,
        "programme": current.viewer.programme,
        "WHOLE_PROGRAMME": WHOLE_PROGRAMME,
    }
    return current.render("messages_new.html", context, status_code=status_code)


def _refuse_whole_programme(current: Page) -> Response:
    return refusal(
        current.request,
        current.viewer.language,
        403,
        _("Only the programme's staff may message the whole programme."),
    )


@page(scope=Scope.sms_send)
async def compose(current: Page) -> Response:
    communities = await _communities(current)
    wanted = current.request.query_params.get("community", "")
    draft = Draft(target=wanted if number(wanted) is not None else "", text="")
    chosen, community_id = await _audience(current, draft, communities)
    return _compose(current, draft, communities, await _count(current, chosen, community_id))


@page(scope=Scope.sms_send)
async def compose_post(current: Page) -> Response:
    """Preview (the no-JS path: the form again with its figures) or send."""
    draft = await _draft(current)
    communities = await _communities(current)
    try:
        chosen, community_id = await _audience(current, draft, communities)
    except WholeProgrammeRefused:
        return _refuse_whole_programme(current)
    recipients = await _count(current, chosen, community_id)
    form = await current.form()
    if form.get("action") != "send":
        return _compose(current, draft, communities, recipients)
    if not chosen:
        error = current._("Choose who gets the message.")
        return _compose(current, draft, communities, recipients, error=error, status_code=422)
    try:
        data = BroadcastInput(text=draft.text)
    except pydantic.ValidationError:
        error = current._("Write a message of 1 to %(max)s characters.", max=MAX_TEXT)
        return _compose(current, draft, communities, recipients, error=error, status_code=422)
    programme = current.viewer.programme
    actor = current.viewer.coverage.actor()
    if community_id is None:
        queued = await broadcasts.broadcast_programme(
            programme, data, session=current.session, actor=actor, now=current.now
        )
    else:
        queued = await broadcasts.broadcast(
            programme, community_id, data, session=current.session, actor=actor, now=current.now
        )
    return _sent(current, queued)


def _sent(current: Page, queued: outbox.Queued) -> Response:
    fate = queued.fate(current.now)
    if fate is outbox.Fate.nobody:
        notice = current._("Nobody was messaged: no member has a phone and still takes messages.")
        return current.redirect("/messages/new", notice=notice)
    if fate is outbox.Fate.held:
        assert queued.send_after is not None
        moment = environment(current.viewer.language.value).filters["moment"]
        when = moment(queued.send_after, current.viewer.programme.timezone)
        notice = current._(
            "%(n)s SMS queued. Quiet hours hold them until %(time)s.", n=queued.queued, time=when
        )
        return current.redirect("/messages?held=1", notice=notice)
    notice = current._("%(n)s SMS queued. They are going out now.", n=queued.queued)
    return current.redirect("/messages?kind=broadcast", notice=notice)


@page(scope=Scope.sms_send)
async def preview_fragment(current: Page) -> Response:
    """The figures alone, for htmx to swap in while the person types."""
    draft = await _draft(current)
    communities = await _communities(current)
    try:
        chosen, community_id = await _audience(current, draft, communities)
    except WholeProgrammeRefused:
        chosen, community_id = False, None
    recipients = await _count(current, chosen, community_id)
    context = {"preview": preview(draft.text, recipients, current), "max_text": MAX_TEXT}
    return render(
        current.request, "messages_preview.html", context, language=current.viewer.language
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/messages", message_log, methods=["GET"]),
        Route("/messages/new", compose, methods=["GET"]),
        Route("/messages/new", compose_post, methods=["POST"]),
        Route("/messages/preview", preview_fragment, methods=["POST"]),
    ]
