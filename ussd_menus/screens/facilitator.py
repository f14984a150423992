"""What a facilitator runs from a basic phone: marks, cancels, moves, reminds, counts,
requests; the menu of it all (scheduling and members: facilitator_plan/_members.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from service.gsm7 import septets
from service.models.enums import MeetingStatus, Presence, Rsvp
from ussd_menus.context import Caller, MeetingView
from ussd_menus.effects import (
    Cancel,
    Effect,
    Mark,
    Move,
    Remind,
)
from ussd_menus.layout import SCREEN, Line, fit, pages
from ussd_menus.screens.base import (
    Apply,
    Finish,
    Go,
    Invalid,
    ListScreen,
    Outcome,
    Screen,
    State,
    Stay,
    Texts,
    choice,
    digits,
)

FAC_CHOICES = (
    ("facilitator.counts", "fac_counts", ""),
    ("facilitator.mark", "fac_pick", "mark"),
    ("facilitator.cancel", "fac_pick", "cancel"),
    ("facilitator.move", "fac_pick", "move"),
    ("facilitator.requests", "fac_requests", ""),
    ("facilitator.remind", "fac_pick", "remind"),
    # On one community, chosen first if the facilitator leads several (facilitator_plan.py).
    ("plan.schedule", "fac_community", "plan_date"),
    ("plan.add", "fac_community", "add_phone"),
    ("plan.message", "fac_community", "msg_text"),
)


class FacHome(Screen):
    """The facilitator's tasks, numbered once across pages: `98` shows the next page,
    and any task's number works from any page."""

    name = "fac_home"
    leads_to = (
        "fac_counts", "fac_pick", "fac_requests", "fac_community", "plan_date", "add_phone",
        "msg_text",
    )  # fmt: skip

    def _pages(self, t: Texts) -> list[list[int]]:
        items = [t(key) for key, _, _ in FAC_CHOICES]
        return pages([t("facilitator.menu")], items, [t("common.back")], t("common.more"))

    def render(self, c: Caller, state: State, t: Texts) -> str:
        layout = self._pages(t)
        page_no = min(state.get("page", 0), len(layout) - 1)
        lines = [Line(t("facilitator.menu"))]
        lines += [Line(f"{i + 1} {t(FAC_CHOICES[i][0])}") for i in layout[page_no]]
        if page_no < len(layout) - 1:
            lines.append(Line(t("common.more")))
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if value == "98":
            page_no = state.get("page", 0) + 1
            return Stay({**state, "page": page_no}) if page_no < len(self._pages(t)) else Invalid()
        index = choice(value, len(FAC_CHOICES))
        if index is None:
            return Invalid()
        _, screen, mode = FAC_CHOICES[index]
        if screen == "fac_community":
            led = c.led
            if len(led) == 1:
                return Go(mode, {"community": led[0][0]})
            return Go(screen, {"next": mode})
        return Go(screen, {"mode": mode} if mode else {})


def _led(c: Caller) -> tuple[MeetingView, ...]:
    return c.facilitation.meetings if c.facilitation else ()


def _choosable(c: Caller, mode: str) -> list[MeetingView]:
    if mode == "mark":  # under way or over in the last week; check-in opens an hour before
        return [m for m in _led(c) if m.starts_at <= c.now + timedelta(hours=1)][::-1]
    return [m for m in _led(c) if m.status is MeetingStatus.scheduled and m.starts_at > c.now]


class FacPick(ListScreen):
    name = "fac_pick"
    leads_to = ("fac_mark", "fac_cancel", "fac_move_date", "fac_remind")
    targets = {
        "mark": "fac_mark",
        "cancel": "fac_cancel",
        "move": "fac_move_date",
        "remind": "fac_remind",
    }

    def header(self, c: Caller, t: Texts) -> str:
        return t("facilitator.pick")

    def empty(self, t: Texts) -> str:
        return t("facilitator.no_meetings")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [f"{t.when(m)} {m.community}" for m in _choosable(c, state["mode"])]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        meeting = _choosable(c, state["mode"])[index]
        return Go(self.targets[state["mode"]], {"meeting": meeting.id})


def _led_meeting(c: Caller, state: State) -> MeetingView | None:
    return next((m for m in _led(c) if m.id == state.get("meeting")), None)


class FacMark(ListScreen):
    name = "fac_mark"
    shown = {Presence.present: "P", Presence.remote: "P", Presence.absent: "A"}

    def _members(self, c: Caller, state: State) -> list[tuple[int, str, bool, Presence]]:
        m = _led_meeting(c, state)
        if m is None or c.facilitation is None:
            return []
        marks = c.facilitation.marks.get(m.id, {})
        return [
            (
                member.id,
                member.name,
                member.has_phone,
                marks.get(member.id, (Rsvp.none, Presence.unknown))[1],
            )
            for member in c.facilitation.rosters.get(m.community_id, ())
        ]

    def header(self, c: Caller, t: Texts) -> str:
        return t("facilitator.mark_title")

    def empty(self, t: Texts) -> str:
        return t("facilitator.no_meetings")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        no_phone = f" ({t('facilitator.no_phone')})"
        return [
            f"{self.shown.get(presence, '-')} {name}{'' if phone else no_phone}"
            for _, name, phone, presence in self._members(c, state)
        ]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        person_id, _, _, presence = self._members(c, state)[index]
        target = (
            Presence.absent if presence in (Presence.present, Presence.remote) else Presence.present
        )
        return Apply(Mark(state["meeting"], person_id, target), state)


class _FacConfirm(Screen):
    """Ask "do X to this meeting?"; `1` does it and ends the session."""

    key = ""  # the catalog's facilitator.{key}_confirm / {key}_yes / done texts

    def done(self) -> str:
        raise NotImplementedError

    def effect(self, meeting_id: int) -> Effect:
        raise NotImplementedError

    def render(self, c: Caller, state: State, t: Texts) -> str:
        m = _led_meeting(c, state)
        if m is None:
            return fit([Line(t("refusal.meeting_closed")), Line(t("common.back"))])
        question = t.fitted(
            f"facilitator.{self.key}_confirm", community=m.community, date=t.date(m)
        )
        return fit(
            [
                Line(question, flexible=True),
                Line(t(f"facilitator.{self.key}_yes")),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        m = _led_meeting(c, state)
        if m is None:
            return Invalid("refusal.meeting_closed")
        if value != "1":
            return Invalid()
        done = self.done()
        return Finish(lambda t: t(done), self.effect(m.id))


class FacCancel(_FacConfirm):
    name = "fac_cancel"
    key = "cancel"

    def done(self) -> str:
        return "facilitator.cancelled"

    def effect(self, meeting_id: int) -> Effect:
        return Cancel(meeting_id)


class FacRemind(_FacConfirm):
    name = "fac_remind"
    key = "remind"

    def done(self) -> str:
        return "facilitator.reminded"

    def effect(self, meeting_id: int) -> Effect:
        return Remind(meeting_id)


class DatePrompt(Screen):
    """A date ahead typed as DDMM, then on to `following` with it in the state."""

    prompt: str
    following: str

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t(self.prompt)), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        day = next_date(value, c.now.date())
        if day is None:
            return Invalid("facilitator.bad_date")
        return Go(self.following, {**state, "day": day.isoformat()})


class TimePrompt(Screen):
    """A time ahead on the state's day typed as HHMM, then on to `following`."""

    prompt: str
    following: str

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t(self.prompt)), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        moment = at_time(value, date.fromisoformat(state["day"]), c.now)
        if moment is None:
            return Invalid("facilitator.bad_time")
        return Go(self.following, {**state, "at": moment.isoformat()})


class FacMoveDate(DatePrompt):
    name = "fac_move_date"
    prompt, following = "facilitator.move_date", "fac_move_time"
    leads_to = (following,)


class FacMoveTime(TimePrompt):
    name = "fac_move_time"
    prompt, following = "facilitator.move_time", "fac_move_confirm"
    leads_to = (following,)


class FacMoveConfirm(Screen):
    name = "fac_move_confirm"

    def _target(self, c: Caller, state: State) -> tuple[MeetingView, MeetingView] | None:
        m = _led_meeting(c, state)
        if m is None:
            return None
        start = datetime.fromisoformat(state["at"])
        return m, replace(m, starts_at=start, ends_at=start + (m.ends_at - m.starts_at))

    def render(self, c: Caller, state: State, t: Texts) -> str:
        found = self._target(c, state)
        if found is None:
            return fit([Line(t("refusal.meeting_closed")), Line(t("common.back"))])
        m, moved = found
        question = t.fitted("facilitator.move_confirm", community=m.community, when=t.when(moved))
        return fit(
            [Line(question, flexible=True), Line(t("facilitator.move_yes")), Line(t("common.back"))]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        found = self._target(c, state)
        if found is None:
            return Invalid("refusal.meeting_closed")
        if value != "1":
            return Invalid()
        m, moved = found
        return Finish(
            lambda t: t("facilitator.moved", when=t.when(moved)), Move(m.id, moved.starts_at)
        )


def next_date(value: str, today: date) -> date | None:
    """`DDMM` as the next such day from today on, or None."""
    if len(value) != 4 or not digits(value):
        return None
    for year in (today.year, today.year + 1):
        try:
            day = date(year, int(value[2:]), int(value[:2]))
        except ValueError:
            return None
        if day >= today:
            return day
    return None


def at_time(value: str, day: date, now: datetime) -> datetime | None:
    """`HHMM` on `day` in programme time, if that is still ahead."""
    if len(value) != 4 or not digits(value) or int(value[:2]) > 23 or int(value[2:]) > 59:
        return None
    moment = datetime.combine(day, time(int(value[:2]), int(value[2:])), tzinfo=now.tzinfo)
    return moment if moment > now else None


class FacCounts(Screen):
    """RSVPs and check-ins for today's and this week's meetings, as many as fit."""

    name = "fac_counts"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        today = c.now.replace(hour=0, minute=0, second=0, microsecond=0)
        week = [
            m
            for m in _led(c)
            if m.status is MeetingStatus.scheduled
            and today <= m.starts_at <= c.now + timedelta(days=7)
        ]
        if not week or c.facilitation is None:
            return fit([Line(t("facilitator.no_counts")), Line(t("common.back"))])
        lines: list[Line] = []
        for m in week:
            marks = c.facilitation.marks.get(m.id, {}).values()
            counts = t(
                "facilitator.counts_line",
                when=t.when(m),
                yes=sum(r is Rsvp.yes for r, _ in marks),
                no=sum(r is Rsvp.no for r, _ in marks),
                came=sum(p in (Presence.present, Presence.remote) for _, p in marks),
                members=len(c.facilitation.rosters.get(m.community_id, ())),
            )
            more = [*lines, Line(m.community, flexible=True, min_len=16), Line(counts)]
            if lines and septets(fit([*more, Line(t("common.back"))])) > SCREEN:
                break
            lines = more
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        return Invalid()


class FacRequests(ListScreen):
    name = "fac_requests"
    leads_to = ("fac_request",)

    def header(self, c: Caller, t: Texts) -> str:
        return t("facilitator.requests")

    def empty(self, t: Texts) -> str:
        return t("facilitator.no_requests")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [
            f"{r.name} ({r.community})" for r in (c.facilitation.requests if c.facilitation else ())
        ]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        assert c.facilitation is not None
        return Go("fac_request", {"request": c.facilitation.requests[index].membership_id})
