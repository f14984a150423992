"""One USSD hop: find programme and caller, replay the inputs, apply at most one write.

Stateless by design: every hop replays all inputs so far from the home screen, so
any instance answers any hop and no session store is needed. `0` goes back, `00`
home, `98` to the next page of a list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import structlog
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.errors import DomainError
from service.domain.outbox import Queued
from service.domain.phones import mask_phone
from service.metrics import NO_SCREEN, HopOutcome, hop_answered
from service.models import Programme, UssdAction
from service.models.enums import Language, UssdOutcome
from service.models.types import utcnow
from ussd_menus.catalog import Catalog, default_catalog
from ussd_menus.context import Caller, NeedsData, ProgrammeInfo
from ussd_menus.effects import Effect, Reporting, action_key
from ussd_menus.layout import Line, fit
from ussd_menus.loader import Reader, load_caller, load_part, load_programme, reading
from ussd_menus.screens import SCREENS, Apply, Finish, Go, Invalid, Stay, Texts, check_screens
from ussd_menus.tracking import SessionTracker

log = structlog.get_logger(__name__)

# What is cached, and what is not. The programme (by service code, with its join
# codes) for a minute and the texts for the process's life: they change rarely and
# only by an operator. The caller's context is never cached, not even across the hops
# of one session: hops of a session land on any process, and another process, SMS
# reply or partner app may have changed it meanwhile (a facilitator's mark made in
# the other worker must show on the next hop, a cancelled meeting must not be offered),
# while nothing tells this process so. Instead it costs one statement (loader.py).
PROGRAMME_TTL_S = 60.0
PARTS = (
    "communities",
    "facilitation",
    "surveys",
    "school",
    "venues",
)  # on demand; meetings come with the caller
REFUSALS = {
    "meeting_cancelled": "refusal.meeting_cancelled",
    "meeting_closed": "refusal.meeting_closed",
    "meeting_not_started": "refusal.meeting_not_started",
    "not_a_member": "refusal.not_a_member",
    "not_allowed": "refusal.not_allowed",
    "reminded_recently": "refusal.reminded_recently",
    "invalid_answer": "surveys.closed",
    "meeting_in_past": "plan.in_past",
    "meeting_clash": "plan.clash",
    "invalid_phone": "plan.bad_phone",
    "conflict": "plan.conflict",
}
# When the database is down the caller's language is unknown: guess from the country.
COUNTRY_LANGUAGE = {
    "250": Language.rw,
    "254": Language.sw,
    "255": Language.sw,
    "265": Language.ny,
    "232": Language.en,
    "257": Language.fr,
    "243": Language.fr,
}


@dataclass(frozen=True)
class Hop:
    session_id: str
    service_code: str
    phone: str
    text: str
    network_code: str | None = None


@dataclass
class Replay:
    stack: list[tuple[str, dict[str, object]]]
    visited: list[str] = field(default_factory=list)
    reason: str | None = None
    finish: Finish | None = None
    changed_at: int = 0  # the input whose finish or apply makes a change: part of its key
    apply: Apply | None = None  # a change asked for by the last input, to make before rendering


def inputs_of(text: str) -> list[str]:
    """The session's inputs as AT joined them, unstripped: free text keeps its spaces."""
    return [] if text == "" else text.split("*")


def start_screen(caller: Caller) -> str:
    """Home; for a stranger the welcome; for a number a facilitator added whose owner has
    not given their name yet, the invitation (or, with none left, the welcome)."""
    if not caller.known:
        return "welcome"
    if not caller.name:
        return "invited" if caller.pending else "welcome"
    return "home"


def replay(caller: Caller, inputs: list[str], t: Texts) -> Replay:
    home = start_screen(caller)
    r = Replay(stack=[(home, {})], visited=[home])
    index = 0
    while index < len(inputs):
        r.reason = None
        value, taken = inputs[index].strip(), 1
        if value == "00":
            r.stack = r.stack[:1]
        elif value == "0" and len(r.stack) > 1:
            r.stack.pop()
        else:
            name, state = r.stack[-1]
            screen = SCREENS[name]
            taken = screen.span(caller, state, index, inputs[index:])
            if taken > 1:
                value = "*".join(inputs[index : index + taken])
            outcome = screen.handle(caller, state, value, t)
            if isinstance(outcome, Go):
                r.stack.append((outcome.screen, outcome.state))
            elif isinstance(outcome, Stay):
                r.stack[-1] = (name, outcome.state)
            elif isinstance(outcome, Invalid):
                r.reason = outcome.reason
            elif isinstance(outcome, Apply):
                # Earlier hops' changes were made on those hops; only the last one is new.
                r.stack[-1] = (name, outcome.state)
                r.apply = outcome if index + taken == len(inputs) else None
                r.changed_at = index
            else:
                r.finish, r.changed_at = outcome, index
                break
        r.visited.append(r.stack[-1][0])
        index += taken
    return r


async def resolve(
    reader: Reader, caller: Caller, inputs: list[str], t: Texts, now: datetime
) -> tuple[Caller, Replay, str]:
    """Replay and render, loading each part of the caller's context the screens ask for."""
    for _ in range(len(PARTS) + 1):
        try:
            r = replay(caller, inputs, t)
            return caller, r, "" if r.finish is not None else render(caller, r, t)
        except NeedsData as need:
            caller = await load_part(reader, caller, need.part, now)
    raise RuntimeError("the screens asked for more than the context has")


def render(caller: Caller, r: Replay, t: Texts) -> str:
    name, state = r.stack[-1]
    body = SCREENS[name].render(caller, state, t)
    if r.reason:
        body = fit([Line(t(r.reason)), *(Line(line, flexible=True) for line in body.split("\n"))])
    return body


def database_errors(engine: AsyncEngine) -> tuple[type[BaseException], ...]:
    """Everything a failing database raises into a hop: SQLAlchemy's errors, and the
    DBAPI's own, which SQLAlchemy leaves untranslated outside a Connection (the pool's
    connect, loader.reading). asyncpg's errors reach a hop only as the latter: its
    dialect translates them, and the loader's direct reads catch them all."""
    return (SQLAlchemyError, engine.dialect.loaded_dbapi.Error, OSError, TimeoutError)


def finished(
    finish: Finish,
    t: Texts,
    told: Queued | None,
    zone: ZoneInfo,
    now: datetime,
    report: Mapping[str, str] | None = None,
) -> str:
    """The closing message (with what the change reported, such as a new meeting's code);
    after a change that messaged others, also what became of their SMS: going out now,
    held by quiet hours until HH:MM (programme time), or not sent and why. A retried hop,
    whose change was made before, says only the first."""
    message = finish.reported(t, report) if finish.reported and report else finish.message(t)
    if told is None:
        return message
    until = f"{told.send_after.astimezone(zone):%H:%M}" if told.send_after else ""
    line = t(f"told.{told.fate(now).value}", count=told.queued, time=until)
    return fit([Line(message, flexible=True), Line(line)])


class UssdEngine:
    def __init__(
        self,
        sessions: SessionFactory,
        catalog: Catalog | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        problems = check_screens()
        if problems:
            raise RuntimeError("USSD screens are inconsistent: " + "; ".join(problems))
        self.sessions = sessions
        self.tracker = SessionTracker(sessions)
        self.catalog = catalog or default_catalog()
        self.clock = clock
        self._programmes: dict[str, tuple[float, tuple[ProgrammeInfo, Programme] | None]] = {}
        engine = sessions.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        # Most hops only read (menus, lists): on PostgreSQL they ask asyncpg directly on a
        # pooled connection, outside any transaction (loader.DriverReader), so the server
        # sees one statement and no BEGIN/ROLLBACK round trips. Only a hop that writes
        # opens a session.
        self._engine = engine
        self._claims: dict[str, Any] = {}
        # As many hops at once as the pool has connections (a hop holds one at a time).
        # Beyond that, hops wait here, first come first served, rather than in the pool's
        # queue: there each waiter costs a task and a timer, and a connection put back
        # goes to whoever asks next, not to who waited longest. With 50 hops in flight
        # per process that queue cost a fifth of the throughput and put p99 near 1 s.
        size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 0
        self._gate = asyncio.Semaphore(size) if size else None
        self.database_errors = database_errors(engine)

    async def _programme(self, code: str) -> tuple[ProgrammeInfo, Programme] | None:
        cached = self._programmes.get(code)
        if cached is not None and time.monotonic() - cached[0] < PROGRAMME_TTL_S:
            return cached[1]
        async with self.sessions() as session:
            found = await load_programme(session, code)
        self._programmes[code] = (time.monotonic(), found)
        return found

    def _guess_language(self, hop: Hop) -> Language:
        cached = self._programmes.get(hop.service_code)
        if cached and cached[1]:
            return cached[1][0].default_language
        digits = hop.phone.lstrip("+")
        return next(
            (lang for prefix, lang in COUNTRY_LANGUAGE.items() if digits.startswith(prefix)),
            Language.en,
        )

    async def answer(self, hop: Hop) -> str:
        """The reply for Africa's Talking, `CON …` or `END …`; never raises."""
        started = time.perf_counter()
        try:
            if self._gate is None:
                reply, outcome, screen = await self._answer(hop)
            else:
                async with self._gate:
                    reply, outcome, screen = await self._answer(hop)
        except self.database_errors as exc:
            log.error(
                "ussd.unavailable",
                error=type(exc).__name__,
                phone=mask_phone(hop.phone),
                session=hop.session_id,
            )
            reply = "END " + self.catalog.text(self._guess_language(hop), "common.outage")
            outcome, screen = HopOutcome.error, NO_SCREEN
        hop_answered(outcome, screen, time.perf_counter() - started)
        return reply

    async def _answer(self, hop: Hop) -> tuple[str, str, str]:
        """The reply, the hop's outcome and the screen it showed (or ended on)."""
        now = self.clock()
        found = await self._programme(hop.service_code)
        if found is None:
            text = self.catalog.text(self._guess_language(hop), "common.unknown_service")
            return "END " + text, HopOutcome.unknown_service, NO_SCREEN
        info, programme = found
        inputs = inputs_of(hop.text)
        async with reading(self._engine, self.sessions) as reader:
            phone = normalise(hop.phone, programme.phone_region)
            caller = await load_caller(reader, info, phone, now)
            caller = replace(caller, session_ref=hop.session_id)
            t = Texts(self.catalog, caller.language)
            caller, r, body = await resolve(reader, caller, inputs, t, now)
        outcome = HopOutcome.invalid if r.reason else HopOutcome.continued
        if r.finish is not None:
            outcome = HopOutcome.ended
            if r.finish.effect is None:
                reply = "END " + r.finish.message(t)
            else:
                report = None
                async with self.sessions() as session:
                    effect = r.finish.effect
                    refusal, told = await self._once(
                        session, hop, r.changed_at, effect, caller, programme, now
                    )
                    if refusal is None and isinstance(effect, Reporting):
                        # After the change, or on a retry that finds it made before.
                        report = await effect.report(session, caller, programme, now)
                    if session.in_transaction():
                        await session.commit()
                if refusal is not None:
                    reply = "END " + t(refusal)
                    outcome = HopOutcome.refused
                else:
                    reply = "END " + finished(r.finish, t, told, info.timezone, now, report)
        elif r.apply is not None:
            async with self.sessions() as session:
                refusal, _ = await self._once(
                    session, hop, r.changed_at, r.apply.effect, caller, programme, now
                )
                # Show the list as it is now, with the change just made.
                reader = Reader(await session.connection(), session)
                caller = await load_caller(reader, info, caller.phone, now)
                caller = replace(caller, session_ref=hop.session_id)
                caller, r, body = await resolve(reader, caller, inputs, t, now)
                await session.commit()
            if refusal:
                r.reason = refusal
                body = render(caller, r, t)
                outcome = HopOutcome.refused
            reply = "CON " + body
        else:
            reply = "CON " + body
        self._track(hop, info, caller, r, len(inputs), now)
        return reply, outcome, r.stack[-1][0]

    def _claim(self, dialect: str) -> Any:
        """INSERT the action row unless this (session, key) made it already: no SAVEPOINT."""
        stmt = self._claims.get(dialect)
        if stmt is None:
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            stmt = self._claims[dialect] = (
                insert(UssdAction)
                .on_conflict_do_nothing(index_elements=["session_id", "key"])
                .returning(col(UssdAction.id))
            )
        return stmt

    async def _once(
        self,
        session: AsyncSession,
        hop: Hop,
        index: int,
        effect: Effect,
        caller: Caller,
        programme: Programme,
        now: datetime,
    ) -> tuple[str | None, Queued | None]:
        """Make the change unless this hop already made it: the refusal's text key, if
        any, and what the change queued for others (None on a retry: made before).

        The action row and the change commit together: a retried hop finds the row and
        skips the change, so nothing is ever done twice. The action row is the hop's first
        write, so a refused change rolls the whole transaction back (the row with it, as a
        SAVEPOINT would, for one round trip fewer).
        """
        connection = await session.connection()
        claimed = (
            await connection.execute(
                self._claim(connection.dialect.name),
                {"session_id": hop.session_id, "key": action_key(index, effect), "created_at": now},
            )
        ).first()
        if claimed is None:
            return None, None  # done on an earlier try of this hop
        try:
            told = await effect.apply(session, caller, programme, now)
            await session.flush()
        except IntegrityError:
            await session.rollback()
            return None, None  # done on an earlier try of this hop, at the same moment
        except DomainError as exc:
            await session.rollback()
            return REFUSALS.get(exc.code, "refusal.other"), None
        return None, told

    def _track(
        self, hop: Hop, info: ProgrammeInfo, caller: Caller, r: Replay, inputs: int, now: datetime
    ) -> None:
        """The session's path, hops, last screen and outcome, written in the next batch."""
        ended = r.finish is not None
        self.tracker.record(
            {
                "session_id": hop.session_id,
                "programme_id": info.id,
                "person_id": caller.person_id,
                "phone": caller.phone,
                "service_code": hop.service_code,
                "network_code": hop.network_code,
                "hops": inputs + 1,  # a retried hop is not a new one
                "path": ">".join(r.visited)[-2000:],
                "last_screen": r.stack[-1][0],
                "outcome": UssdOutcome.completed if ended else UssdOutcome.open,
                "started_at": now,
                "updated_at": now,
                "ended_at": now if ended else None,
            }
        )


@lru_cache(maxsize=8192)  # a pure function; parsing costs more than the rest of a menu hop
def normalise(phone: str, region: str) -> str:
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
