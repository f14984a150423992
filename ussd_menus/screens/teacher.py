"""What a teacher sees: meetings, RSVP, check-in, communities, language and channel,
joining."""

from __future__ import annotations

from service.domain.surveys import (
    Pending,
)
from service.gsm7 import septets, to_gsm7
from service.models.enums import Modality, Presence, Rsvp
from ussd_menus.catalog import LANGUAGE_NAMES
from ussd_menus.context import Caller, MeetingView
from ussd_menus.effects import (
    CheckIn,
    Join,
    Respond,
    SetLanguage,
)
from ussd_menus.layout import SCREEN, Line, fit
from ussd_menus.screens.base import (
    Finish,
    Go,
    Invalid,
    ListScreen,
    Menu,
    Outcome,
    Screen,
    State,
    Texts,
    choice,
)


class Home(Menu):
    name = "home"
    leads_to = ("meetings", "checkin", "surveys", "communities", "language", "fac_home", "school")
    back = False

    def title(self, c: Caller, t: Texts) -> str:
        return t("home.title", name=c.first_name)

    def choices(self, c: Caller) -> list[tuple[str, str]]:
        return [
            ("home.meetings", "meetings"),
            ("home.check_in", "checkin"),
            ("home.surveys", "surveys"),
            ("home.communities", "communities"),
            ("reach.home", "language"),
            *([("home.facilitate", "fac_home")] if c.facilitates else []),
            *([("leader.menu", "school")] if c.leads_school is not None else []),
        ]


class Meetings(ListScreen):
    name = "meetings"
    leads_to = ("meeting",)

    def header(self, c: Caller, t: Texts) -> str:
        return t("meetings.title")

    def empty(self, t: Texts) -> str:
        return t("meetings.none")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [f"{t.when(m)} {m.community}" for m in c.upcoming()]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        return Go("meeting", {"meeting": c.upcoming()[index].id})


def _meeting(c: Caller, state: State) -> MeetingView | None:
    return next((m for m in c.meetings if m.id == state.get("meeting")), None)


class Meeting(Screen):
    name = "meeting"
    leads_to = ("decline",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        m = _meeting(c, state)
        if m is None:  # gone since the last hop (cancelled, or over)
            return fit([Line(t("refusal.meeting_closed")), Line(t("common.back"))])
        about = [
            Line(m.community, flexible=True),
            Line(f"{t.when(m)}-{m.ends_at:%H:%M}"),
            Line(
                ", ".join(x for x in (m.venue, t(f"modality.{m.modality.value}")) if x),
                flexible=True,
            ),
            *_activity(m, t),
        ]
        answer = [Line(t("meeting.code", code=m.code))]
        if m.rsvp is not Rsvp.none:
            answer.append(Line(t("meeting.said_yes" if m.rsvp is Rsvp.yes else "meeting.said_no")))
        answer += [
            Line(f"1 {t('meeting.attend')}"),
            Line(f"2 {t('meeting.decline')}"),
            Line(t("common.back")),
        ]
        if m.activity and m.activity_link and not m.activity_page:
            # A link is shown whole or not at all: cut short, it leads nowhere.
            with_link = fit([*about, Line(m.activity_link), *answer])
            if septets(with_link) <= SCREEN:
                return with_link
        return fit([*about, *answer])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        m = _meeting(c, state)
        if m is None:
            return Invalid("refusal.meeting_closed")
        if value == "1":
            message = lambda t: t.fitted("rsvp.yes_done", community=m.community, date=t.date(m))  # noqa: E731
            return Finish(message, Respond(m.id, Rsvp.yes, None))
        if value == "2":
            return Go("decline", state)
        return Invalid()


DECLINE_REASONS = ("sick", "family", "travel", "school_duty", "other")


# The shortest an activity title is cut to, as on the SMS (sms.texts.ACTIVITY_MIN).
ACTIVITY_TITLE_MIN = 12


def _activity(m: MeetingView, t: Texts) -> list[Line]:
    """The activity's line: its page (kept) before its title (cut to fit if need be)."""
    if not m.activity:
        return []
    if m.activity_page:
        frame = t("activity.with_page", page=m.activity_page, title="")
        text = t("activity.with_page", page=m.activity_page, title=m.activity)
    else:
        frame = t("activity.title", title="")
        text = t("activity.title", title=m.activity)
    return [Line(text, flexible=True, min_len=septets(to_gsm7(frame)) + ACTIVITY_TITLE_MIN)]


class Decline(Screen):
    name = "decline"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(t("decline.title"))]
        lines += [
            Line(f"{n} {t(f'decline.{key}')}") for n, key in enumerate(DECLINE_REASONS, start=1)
        ]
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        m = _meeting(c, state)
        index = choice(value, len(DECLINE_REASONS))
        if m is None:
            return Invalid("refusal.meeting_closed")
        if index is None:
            return Invalid()
        message = lambda t: t.fitted("rsvp.no_done", community=m.community)  # noqa: E731
        return Finish(message, Respond(m.id, Rsvp.no, DECLINE_REASONS[index]))


class CheckInCode(Screen):
    name = "checkin"
    leads_to = ("checkin_how",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("checkin.prompt")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        m = c.meeting_by_code(value)
        if m is None:
            return Invalid("checkin.unknown")
        if m.modality is Modality.in_person:
            return _check_in(m, Presence.present)
        return Go("checkin_how", {"meeting": m.id})


def _check_in(m: MeetingView, presence: Presence) -> Finish:
    return Finish(
        lambda t: t.fitted("checkin.done", community=m.community), CheckIn(m.id, presence)
    )


class CheckInHow(Screen):
    name = "checkin_how"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit(
            [
                Line(t("checkin.how")),
                Line(f"1 {t('checkin.here')}"),
                Line(f"2 {t('checkin.remote')}"),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        m = _meeting(c, state)
        if m is None:
            return Invalid("refusal.meeting_closed")
        if value in ("1", "2"):
            return _check_in(m, Presence.present if value == "1" else Presence.remote)
        return Invalid()


def pending_survey(c: Caller, state: State) -> Pending | None:
    return next((p for p in c.surveys if p.survey_id == state.get("survey")), None)


def given_answers(state: State) -> dict[int, str]:
    return {int(k): v for k, v in state.get("given", {}).items()}


class Communities(ListScreen):
    name = "communities"
    leads_to = ("community",)

    def header(self, c: Caller, t: Texts) -> str:
        return t("communities.title")

    def empty(self, t: Texts) -> str:
        return t("communities.none")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [community.name for community in c.communities]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        return Go("community", {"community": c.communities[index].id})


class Community(Screen):
    name = "community"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        community = next((x for x in c.communities if x.id == state.get("community")), None)
        if community is None:
            return fit([Line(t("communities.none")), Line(t("common.back"))])
        nxt = next((m for m in c.upcoming() if m.community_id == community.id), None)
        return fit(
            [
                Line(community.name, flexible=True),
                Line(
                    t("communities.facilitators", names=", ".join(community.facilitators) or "-"),
                    flexible=True,
                ),
                Line(t("communities.members", count=community.members)),
                Line(t("communities.next", when=t.when(nxt)) if nxt else t("communities.no_next")),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        return Invalid()


class LanguageMenu(Screen):
    """The programme's languages, then how messages come (SMS or WhatsApp)."""

    name = "language"
    leads_to = ("reach",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(t("language.title"))]
        lines += [
            Line(f"{n} {LANGUAGE_NAMES[lang]}")
            for n, lang in enumerate(c.programme.languages, start=1)
        ]
        channel = Line(f"{len(c.programme.languages) + 1} {t('reach.option')}")
        return fit([*lines, channel, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        index = choice(value, len(c.programme.languages) + 1)
        if index is None:
            return Invalid()
        if index == len(c.programme.languages):
            return Go("reach")
        language = c.programme.languages[index]
        # Confirmed in the language just chosen.
        return Finish(lambda t: Texts(t.catalog, language)("language.saved"), SetLanguage(language))


# --- callers the programme does not know ------------------------------------------------


class Welcome(Screen):
    name = "welcome"
    leads_to = ("join_code",)
    back = False

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(t("join.welcome")), Line(f"1 {t('join.join')}"), Line(f"2 {t('join.exit')}")]
        return fit(lines)

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if value == "1":
            return Go("join_code")
        if value == "2":
            return Finish(lambda t: t("common.goodbye"))
        return Invalid()


class JoinCode(Screen):
    name = "join_code"
    leads_to = ("join_name",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("join.code_prompt")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        target = c.programme.join_codes.get(value)
        return Invalid("join.code_unknown") if target is None else Go("join_name", {"code": value})


class JoinName(Screen):
    name = "join_name"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("join.name_prompt")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        name = " ".join(value.split())
        if sum(ch.isalpha() for ch in name) < 2:
            return Invalid("join.name_short")
        target = c.programme.join_codes[state["code"]]
        message = lambda t: t.fitted("join.done", name=name.split(" ")[0], community=target.name)  # noqa: E731
        return Finish(message, Join(state["code"], name[:200]))
