"""The menus as typed screens: pure functions of (caller, state, input).

A screen renders itself from the caller's context and turns an input into an
outcome: go to another screen, stay (on another page), refuse with a short reason,
or finish with an effect the engine applies once. No screen touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from service.domain.surveys import (
    InvalidAnswer,
    Pending,
    QuestionView,
    check_answer,
    in_language,
    next_question,
)
from service.gsm7 import septets, to_gsm7, truncate
from service.models.enums import Language, MeetingStatus, Modality, Presence, QuestionKind, Rsvp
from ussd_menus.catalog import LANGUAGE_NAMES, Catalog
from ussd_menus.context import Caller, MeetingView
from ussd_menus.effects import (
    AnswerSurvey,
    Approve,
    Cancel,
    CheckIn,
    Effect,
    Join,
    Mark,
    Move,
    Remind,
    Respond,
    SetLanguage,
)
from ussd_menus.layout import SCREEN, Line, fit, pages, short_date, when

State = dict[str, Any]


@dataclass(frozen=True)
class Texts:
    """The catalog in one language, with the date words of that language."""

    catalog: Catalog
    language: Language

    def __call__(self, key: str, **params: object) -> str:
        return self.catalog.text(self.language, key, **params)

    def fitted(self, key: str, **params: str) -> str:
        """The text with its longest name shortened until the whole fits one screen."""
        params = {k: to_gsm7(v) for k, v in params.items()}  # names people typed may hold emoji
        text = self(key, **params)
        while septets(text) > SCREEN:
            longest = max(params, key=lambda k: septets(params[k]))
            if septets(params[longest]) <= 8:
                return truncate(text, SCREEN)
            params = {
                **params,
                longest: truncate(
                    params[longest], septets(params[longest]) - (septets(text) - SCREEN) - 1
                ),
            }
            text = self(key, **params)
        return text

    def when(self, meeting: MeetingView) -> str:
        words = self.catalog.words
        return when(
            meeting.starts_at,
            words(self.language, "date.weekdays"),
            words(self.language, "date.months"),
        )

    def date(self, meeting: MeetingView) -> str:
        words = self.catalog.words
        return short_date(
            meeting.starts_at,
            words(self.language, "date.weekdays"),
            words(self.language, "date.months"),
        )


@dataclass(frozen=True)
class Go:
    screen: str
    state: State = field(default_factory=dict)


@dataclass(frozen=True)
class Stay:
    state: State


@dataclass(frozen=True)
class Invalid:
    reason: str = "common.invalid"


@dataclass(frozen=True)
class Finish:
    """End the session, after applying `effect` (at most once per session and hop)."""

    message: Callable[[Texts], str]
    effect: Effect | None = None


@dataclass(frozen=True)
class Apply:
    """Make a change and stay on this screen (state), e.g. a facilitator's attendance mark."""

    effect: Effect
    state: State


Outcome = Go | Stay | Invalid | Finish | Apply


def digits(value: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts '²' and other digits `int` refuses."""
    return value.isascii() and value.isdigit()


def _choice(value: str, count: int) -> int | None:
    """The 0-based index of a menu choice `1..count`, or None."""
    if digits(value) and 1 <= int(value) <= count:
        return int(value) - 1
    return None


class Screen:
    name: str = ""
    leads_to: tuple[str, ...] = ()
    back: bool = True  # shows "0 Back"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        raise NotImplementedError

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        raise NotImplementedError

    def span(self, c: Caller, state: State, index: int, rest: Sequence[str]) -> int:
        """How many of the inputs from `index` on (`rest`, as AT split them at `*`) this
        screen reads as one value: one, but for free text, which may hold a `*`."""
        return 1


class Menu(Screen):
    """A fixed list of choices, each leading somewhere."""

    def choices(self, c: Caller) -> list[tuple[str, str]]:  # (text key, screen)
        raise NotImplementedError

    def title(self, c: Caller, t: Texts) -> str:
        raise NotImplementedError

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(self.title(c, t), flexible=True)]
        lines += [Line(f"{n} {t(key)}") for n, (key, _) in enumerate(self.choices(c), start=1)]
        if self.back:
            lines.append(Line(t("common.back")))
        return fit(lines)

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        choices = self.choices(c)
        index = _choice(value, len(choices))
        return Invalid() if index is None else Go(choices[index][1])


class ListScreen(Screen):
    """A list that pages itself to fit: `98` shows the next page."""

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        raise NotImplementedError

    def header(self, c: Caller, t: Texts) -> str:
        raise NotImplementedError

    def empty(self, t: Texts) -> str:
        raise NotImplementedError

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        raise NotImplementedError

    def _pages(
        self, c: Caller, state: State, t: Texts, items: list[str] | None = None
    ) -> list[list[int]]:
        if items is None:
            items = self.items(c, state, t)
        return pages([self.header(c, t)], items, [t("common.back")], t("common.more"))

    def render(self, c: Caller, state: State, t: Texts) -> str:
        items = self.items(c, state, t)
        if not items:
            return fit([Line(self.empty(t)), Line(t("common.back"))])
        layout = self._pages(c, state, t, items)
        page = layout[min(state.get("page", 0), len(layout) - 1)]
        lines = [Line(self.header(c, t))]
        lines += [Line(f"{n} {items[i]}", flexible=True) for n, i in enumerate(page, start=1)]
        if state.get("page", 0) < len(layout) - 1:
            lines.append(Line(t("common.more")))
        lines.append(Line(t("common.back")))
        return fit(lines)

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        layout = self._pages(c, state, t)
        page_no = min(state.get("page", 0), len(layout) - 1)
        if value == "98":
            return Stay({**state, "page": page_no + 1}) if page_no + 1 < len(layout) else Invalid()
        index = _choice(value, len(layout[page_no]))
        return Invalid() if index is None else self.chosen(c, state, layout[page_no][index])


# --- teachers -------------------------------------------------------------------------


class Home(Menu):
    name = "home"
    leads_to = ("meetings", "checkin", "surveys", "communities", "language", "fac_home")
    back = False

    def title(self, c: Caller, t: Texts) -> str:
        return t("home.title", name=c.first_name)

    def choices(self, c: Caller) -> list[tuple[str, str]]:
        return [
            ("home.meetings", "meetings"),
            ("home.check_in", "checkin"),
            ("home.surveys", "surveys"),
            ("home.communities", "communities"),
            ("home.language", "language"),
            *([("home.facilitate", "fac_home")] if c.facilitates else []),
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
        lines = [
            Line(m.community, flexible=True),
            Line(f"{t.when(m)}-{m.ends_at:%H:%M}"),
            Line(
                ", ".join(x for x in (m.venue, t(f"modality.{m.modality.value}")) if x),
                flexible=True,
            ),
            Line(t("meeting.code", code=m.code)),
        ]
        if m.rsvp is not Rsvp.none:
            lines.append(Line(t("meeting.said_yes" if m.rsvp is Rsvp.yes else "meeting.said_no")))
        lines += [
            Line(f"1 {t('meeting.attend')}"),
            Line(f"2 {t('meeting.decline')}"),
            Line(t("common.back")),
        ]
        return fit(lines)

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
        index = _choice(value, len(DECLINE_REASONS))
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


def _pending(c: Caller, state: State) -> Pending | None:
    return next((p for p in c.surveys if p.survey_id == state.get("survey")), None)


def _given(state: State) -> dict[int, str]:
    return {int(k): v for k, v in state.get("given", {}).items()}


class Surveys(ListScreen):
    """Surveys to answer: invitations after meetings first, then open surveys."""

    name = "surveys"
    leads_to = ("survey_question",)

    def header(self, c: Caller, t: Texts) -> str:
        return t("surveys.pick")

    def empty(self, t: Texts) -> str:
        return t("surveys.none")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        fallback = c.programme.default_language
        return [in_language(p.title, c.language, fallback) or "?" for p in c.surveys]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        return Go("survey_question", {"survey": c.surveys[index].survey_id, "given": {}})


class SurveyQuestion(ListScreen):
    """One question per screen. Answers are stored as they are given (resumable); the
    state keeps this session's answers so replaying the inputs finds the same question."""

    name = "survey_question"
    INVALID = {
        QuestionKind.single_choice: "surveys.bad_choice",
        QuestionKind.yes_no: "surveys.bad_yes_no",
        QuestionKind.rating: "surveys.bad_rating",
        QuestionKind.number: "surveys.bad_number",
        QuestionKind.short_text: "surveys.bad_text",
    }
    HINTS = {
        QuestionKind.rating: "surveys.rating",
        QuestionKind.number: "surveys.number",
        QuestionKind.short_text: "surveys.text",
    }

    def _current(self, c: Caller, state: State) -> tuple[Pending, QuestionView] | None:
        pending = _pending(c, state)
        if pending is None:
            return None
        question = next_question(pending.questions, {**pending.answered, **_given(state)})
        return None if question is None else (pending, question)

    def header(self, c: Caller, t: Texts) -> str:
        raise NotImplementedError  # the header depends on the state: see _header

    def _header(self, c: Caller, pending: Pending, question: QuestionView) -> str:
        number = sorted(q.position for q in pending.questions).index(question.position) + 1
        text = question.question(c.language, c.programme.default_language)
        return f"{number}/{len(pending.questions)} {text}"

    def _pages(
        self, c: Caller, state: State, t: Texts, items: list[str] | None = None
    ) -> list[list[int]]:
        current = self._current(c, state)
        header = self._header(c, *current) if current else ""
        if items is None:
            items = self.items(c, state, t)
        return pages([header], items, [t("common.back")], t("common.more"))

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        current = self._current(c, state)
        if current is None or current[1].kind is not QuestionKind.single_choice:
            return []
        return current[1].choices(c.language, c.programme.default_language)

    def empty(self, t: Texts) -> str:
        return t("surveys.none")

    def render(self, c: Caller, state: State, t: Texts) -> str:
        current = self._current(c, state)
        if current is None:
            return fit([Line(t("surveys.none")), Line(t("common.back"))])
        pending, question = current
        if question.kind is QuestionKind.single_choice:
            layout = self._pages(c, state, t)
            page = layout[min(state.get("page", 0), len(layout) - 1)]
            options = self.items(c, state, t)
            lines = [Line(self._header(c, pending, question), flexible=True, min_len=40)]
            lines += [Line(f"{i + 1} {options[i]}", flexible=True) for i in page]
            if state.get("page", 0) < len(layout) - 1:
                lines.append(Line(t("common.more")))
            return fit([*lines, Line(t("common.back"))])
        lines = [Line(self._header(c, pending, question), flexible=True, min_len=40)]
        if question.kind is QuestionKind.yes_no:
            lines += [Line(t("surveys.yes")), Line(t("surveys.no"))]
        else:
            lines.append(Line(t(self.HINTS[question.kind])))
        return fit([*lines, Line(t("common.back"))])

    def span(self, c: Caller, state: State, index: int, rest: Sequence[str]) -> int:
        """A text answer runs to the end of the hop that gave it, `*`s and all.

        AT joins a session's inputs with `*`, so "Use*groups of 3" typed on one hop reads
        as two inputs. On the hop that gives it, the answer is the last thing typed:
        every input left. On later hops (and a retried one) the answer was stored with
        that hop, and its claimed change says how many inputs it took. A blank input
        is a refused answer of its own.
        """
        current = self._current(c, state)
        if current is None or current[1].kind is not QuestionKind.short_text:
            return 1
        pending, question = current
        given = c.text_answers.get(index)
        if given is not None and (given.survey_id, given.position) == (
            pending.survey_id,
            question.position,
        ):
            return min(given.parts, len(rest))
        return 1 if not rest[0].strip() else len(rest)

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        current = self._current(c, state)
        if current is None:
            return Invalid("surveys.none")
        pending, question = current
        if question.kind is QuestionKind.single_choice:
            if value == "98":
                return super().handle(c, state, value, t)
            raw = value  # options are numbered across pages: the number is the answer
        elif question.kind is QuestionKind.yes_no:
            raw = {"1": "yes", "2": "no"}.get(value, "")
        else:
            raw = value
        try:
            answer = check_answer(question, raw)
        except InvalidAnswer:
            return Invalid(self.INVALID[question.kind])
        given = {**_given(state), question.position: answer}
        effect = AnswerSurvey(
            pending.survey_id,
            pending.response_id,
            pending.meeting_id,
            question.position,
            answer,
            parts=value.count("*") + 1,
        )
        if next_question(pending.questions, {**pending.answered, **given}) is None:
            return Finish(lambda t: t("surveys.done"), effect)
        return Apply(effect, {**state, "given": {str(k): v for k, v in given.items()}, "page": 0})


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
    name = "language"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(t("language.title"))]
        lines += [
            Line(f"{n} {LANGUAGE_NAMES[lang]}")
            for n, lang in enumerate(c.programme.languages, start=1)
        ]
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        index = _choice(value, len(c.programme.languages))
        if index is None:
            return Invalid()
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


# --- facilitators -----------------------------------------------------------------------

FAC_CHOICES = (
    ("facilitator.counts", "fac_counts", ""),
    ("facilitator.mark", "fac_pick", "mark"),
    ("facilitator.cancel", "fac_pick", "cancel"),
    ("facilitator.move", "fac_pick", "move"),
    ("facilitator.requests", "fac_requests", ""),
    ("facilitator.remind", "fac_pick", "remind"),
)


class FacHome(Screen):
    name = "fac_home"
    leads_to = ("fac_counts", "fac_pick", "fac_requests")

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(t("facilitator.menu"))]
        lines += [Line(f"{n} {t(key)}") for n, (key, _, _) in enumerate(FAC_CHOICES, start=1)]
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        index = _choice(value, len(FAC_CHOICES))
        if index is None:
            return Invalid()
        _, screen, mode = FAC_CHOICES[index]
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


class FacMoveDate(Screen):
    name = "fac_move_date"
    leads_to = ("fac_move_time",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("facilitator.move_date")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        day = next_date(value, c.now.date())
        return (
            Invalid("facilitator.bad_date")
            if day is None
            else Go("fac_move_time", {**state, "day": day.isoformat()})
        )


class FacMoveTime(Screen):
    name = "fac_move_time"
    leads_to = ("fac_move_confirm",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("facilitator.move_time")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        moment = at_time(value, date.fromisoformat(state["day"]), c.now)
        return (
            Invalid("facilitator.bad_time")
            if moment is None
            else Go("fac_move_confirm", {**state, "at": moment.isoformat()})
        )


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
        r = c.facilitation.requests[index]
        return Finish(
            lambda t: t.fitted("facilitator.approved", name=r.name, community=r.community),
            Approve(r.membership_id),
        )


SCREENS: dict[str, Screen] = {
    s.name: s
    for s in (
        Home(),
        Meetings(),
        Meeting(),
        Decline(),
        CheckInCode(),
        CheckInHow(),
        Surveys(),
        SurveyQuestion(),
        Communities(),
        Community(),
        LanguageMenu(),
        Welcome(),
        JoinCode(),
        JoinName(),
        FacHome(),
        FacPick(),
        FacMark(),
        FacCancel(),
        FacRemind(),
        FacMoveDate(),
        FacMoveTime(),
        FacMoveConfirm(),
        FacCounts(),
        FacRequests(),
    )
}


def check_screens(screens: Sequence[Screen] = tuple(SCREENS.values())) -> list[str]:
    """Every screen a screen leads to exists: run at start-up and by the tests."""
    names = {s.name for s in screens}
    return [
        f"{s.name} leads to unknown screen {target!r}"
        for s in screens
        for target in s.leads_to
        if target not in names
    ]


__all__ = [
    "SCREEN",
    "SCREENS",
    "Finish",
    "Go",
    "Invalid",
    "Screen",
    "Stay",
    "Texts",
    "check_screens",
]
