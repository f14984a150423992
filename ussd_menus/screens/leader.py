"""What a head teacher or deputy sees of their school's CoPs: the week's meetings and
RSVPs, last week's attendance, the teachers at risk and, for their own teachers, the
number to call (`service.domain.digests`, the same figures as the weekly SMS)."""

from __future__ import annotations

from datetime import datetime

from service.domain.digests import MISSED, AtRisk, SchoolWeek, WeekMeeting
from ussd_menus.context import Caller
from ussd_menus.layout import Line, fit, when
from ussd_menus.screens.base import Go, Invalid, ListScreen, Outcome, Screen, State, Texts


def _local(c: Caller, moment: datetime) -> datetime:
    return moment.astimezone(c.programme.timezone)


def _when(c: Caller, t: Texts, m: WeekMeeting) -> str:
    words = t.catalog.words
    weekdays, months = words(t.language, "date.weekdays"), words(t.language, "date.months")
    return when(_local(c, m.starts_at), weekdays, months)


def _none(t: Texts) -> str:
    return fit([Line(t("leader.none")), Line(t("common.back"))])


def last_week(week: SchoolWeek, t: Texts) -> str:
    if not week.held or week.rate is None:
        return t("leader.no_last_week")
    return t("leader.last_week", came=week.attended, of=week.expected, rate=week.rate)


class School(Screen):
    name = "school"
    leads_to = ("school_meetings", "school_risk")

    def render(self, c: Caller, state: State, t: Texts) -> str:
        week = c.school
        if week is None:
            return _none(t)
        return fit(
            [
                Line(week.school, flexible=True),
                Line(last_week(week, t)),
                Line(f"1 {t('leader.meetings', count=len(week.meetings))}"),
                Line(f"2 {t('leader.at_risk', count=len(week.at_risk))}"),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if c.school is None:
            return Invalid()
        if value == "1":
            return Go("school_meetings")
        if value == "2":
            return Go("school_risk")
        return Invalid()


def _week(c: Caller) -> SchoolWeek:
    return c.school or SchoolWeek(school_id=0, school="", communities=0)


class SchoolMeetings(ListScreen):
    name = "school_meetings"
    leads_to = ("school_meeting",)

    def header(self, c: Caller, t: Texts) -> str:
        return t("leader.meetings_title")

    def empty(self, t: Texts) -> str:
        return t("leader.no_meetings")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [f"{_when(c, t, m)} {m.community}" for m in _week(c).meetings]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        return Go("school_meeting", {"meeting": _week(c).meetings[index].meeting_id})


class SchoolMeeting(Screen):
    name = "school_meeting"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        m = next((m for m in _week(c).meetings if m.meeting_id == state.get("meeting")), None)
        if m is None:
            return fit([Line(t("leader.no_meetings")), Line(t("common.back"))])
        return fit(
            [
                Line(m.community, flexible=True),
                Line(_when(c, t, m)),
                Line(t("leader.rsvp", yes=m.yes, no=m.no)),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        return Invalid()


class SchoolRisk(ListScreen):
    name = "school_risk"
    leads_to = ("school_teacher",)

    def header(self, c: Caller, t: Texts) -> str:
        return t("leader.risk_title", missed=MISSED)

    def empty(self, t: Texts) -> str:
        return t("leader.no_risk")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [r.name for r in _week(c).at_risk]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        return Go("school_teacher", {"person": _week(c).at_risk[index].person_id})


def _teacher(c: Caller, state: State) -> AtRisk | None:
    return next((r for r in _week(c).at_risk if r.person_id == state.get("person")), None)


class SchoolTeacher(Screen):
    """One teacher at risk: the number to call, whole, only to their own school's leaders
    (the domain gives no number for another school's teacher)."""

    name = "school_teacher"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        r = _teacher(c, state)
        if r is None:
            return fit([Line(t("leader.no_risk")), Line(t("common.back"))])
        if r.own_school and r.phone:
            reach = t("leader.call", phone=r.phone)
        elif r.own_school:
            reach = t("leader.no_phone")
        else:
            reach = t("leader.other_school")
        return fit(
            [
                Line(r.name, flexible=True),
                Line(r.community, flexible=True),
                Line(reach),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        return Invalid()
