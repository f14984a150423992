"""A facilitator schedules one meeting from a basic phone: community, date, time, how,
where, the toolkit activity, confirm. The first screen, the community, also starts
adding a member and messaging the members (facilitator_members.py)."""

from __future__ import annotations

import re
from datetime import datetime

from service.domain.meetings import ACTIVITY_MAX
from service.gsm7 import septets, to_gsm7
from service.models.enums import Modality
from ussd_menus.context import Caller
from ussd_menus.facilitator_effects import Schedule
from ussd_menus.layout import SCREEN, Line, fit, when
from ussd_menus.screens.base import (
    Finish,
    Go,
    Invalid,
    ListScreen,
    Outcome,
    Screen,
    State,
    Texts,
    choice,
    digits,
)
from ussd_menus.screens.facilitator import DatePrompt, TimePrompt

# What a facilitator's community pick leads to ("next" in the state), and its name.
TASKS = {"plan_date": "plan.schedule", "add_phone": "plan.add", "msg_text": "plan.message"}
MODALITIES = (Modality.in_person, Modality.remote_whatsapp, Modality.phone, Modality.hybrid)
# Meeting by WhatsApp or by phone happens nowhere: no venue to ask for.
PLACED = (Modality.in_person, Modality.hybrid)
# "p12 Fractions", "P.12 Fractions", "uk12 Sehemu": the toolkit page typed before the
# title, with the page's abbreviation in any of the languages (sms/templates `page`).
PAGE_FIRST = re.compile(r"^(?:p|pg|uk|urup|tsa)\.?\s*(\d{1,4})\b[\s:.,-]*(.*)$", re.IGNORECASE)
NO_ACTIVITY = "1"


def asking(t: Texts, key: str, options: list[str], *, back: bool = True, **params: str) -> str:
    """A question with its options below: the names in the question are shortened to
    leave room for every option, and the question's own words stay whole."""
    below = [*options, t("common.back")] if back else options
    room = SCREEN - sum(septets(to_gsm7(line)) for line in below) - len(below)
    return fit([Line(t.fitted_in(room, key, **params)), *(Line(line) for line in below)])


def community_name(c: Caller, state: State) -> str | None:
    return next((name for cid, name in c.led if cid == state.get("community")), None)


class FacCommunity(ListScreen):
    name = "fac_community"
    leads_to = tuple(TASKS)

    def header(self, c: Caller, t: Texts) -> str:
        raise NotImplementedError  # the title says which task the community is for

    def title(self, c: Caller, state: State, t: Texts) -> str:
        return t("plan.which", task=t(TASKS[state["next"]]))

    def empty(self, t: Texts) -> str:
        return t("refusal.not_allowed")

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        return [name for _, name in c.led]

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        return Go(state["next"], {"community": c.led[index][0]})


class PlanDate(DatePrompt):
    name = "plan_date"
    prompt, following = "plan.date", "plan_time"
    leads_to = (following,)


class PlanTime(TimePrompt):
    name = "plan_time"
    prompt, following = "plan.time", "plan_how"
    leads_to = (following,)


class PlanHow(Screen):
    name = "plan_how"
    leads_to = ("plan_venue", "plan_activity")

    def render(self, c: Caller, state: State, t: Texts) -> str:
        lines = [Line(t("plan.how"))]
        lines += [
            Line(f"{n} {t(f'modality.{m.value}')}") for n, m in enumerate(MODALITIES, start=1)
        ]
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        index = choice(value, len(MODALITIES))
        if index is None:
            return Invalid()
        modality = MODALITIES[index]
        following = "plan_venue" if modality in PLACED else "plan_activity"
        return Go(following, {**state, "how": modality.value})


class PlanVenue(Screen):
    """One of the community's recent venues by its number, or a venue typed."""

    name = "plan_venue"
    leads_to = ("plan_activity",)

    def _recent(self, c: Caller, state: State) -> tuple[str, ...]:
        return c.venues.get(state["community"], ())

    def render(self, c: Caller, state: State, t: Texts) -> str:
        recent = self._recent(c, state)
        lines = [Line(t("plan.venue" if recent else "plan.venue_type"))]
        lines += [Line(f"{n} {v}", flexible=True) for n, v in enumerate(recent, start=1)]
        return fit([*lines, Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        recent = self._recent(c, state)
        if digits(value):  # a number picks a recent venue; a typed venue has letters
            index = choice(value, len(recent))
            if index is None:
                return Invalid()
            return Go("plan_activity", {**state, "venue": recent[index]})
        venue = " ".join(value.split())
        if sum(ch.isalpha() for ch in venue) < 2:
            return Invalid("plan.bad_venue")
        return Go("plan_activity", {**state, "venue": venue[:200]})


def read_activity(typed: str) -> tuple[str, int | None] | None:
    """The activity's title and toolkit page from what was typed ("p12 Fractions"), or
    None when there is no title to keep."""
    text = " ".join(typed.split())
    page: int | None = None
    if found := PAGE_FIRST.match(text):
        page, text = int(found.group(1)), found.group(2)
    if sum(ch.isalpha() for ch in text) < 2 or page == 0:
        return None
    return text[:ACTIVITY_MAX], page


class PlanActivity(Screen):
    """The toolkit activity the meeting follows, typed (with its page first if wanted),
    or none: it reaches the members in the 48-hour reminder and on their meeting screen."""

    name = "plan_activity"
    leads_to = ("plan_confirm",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("plan.activity")), Line(t("plan.no_activity")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if value.strip() == NO_ACTIVITY:
            return Go("plan_confirm", {**state, "activity": None, "page": None})
        activity = read_activity(value)
        if activity is None:
            return Invalid("plan.bad_activity")
        title, page = activity
        return Go("plan_confirm", {**state, "activity": title, "page": page})


class PlanConfirm(Screen):
    name = "plan_confirm"

    def _effect(self, c: Caller, state: State) -> Schedule | None:
        if community_name(c, state) is None:
            return None
        return Schedule(
            community_id=state["community"],
            starts_at=datetime.fromisoformat(state["at"]),
            modality=Modality(state["how"]),
            venue=state.get("venue"),
            activity=state.get("activity"),
            activity_page=state.get("page"),
        )

    def render(self, c: Caller, state: State, t: Texts) -> str:
        effect = self._effect(c, state)
        if effect is None:
            return fit([Line(t("refusal.not_allowed")), Line(t("common.back"))])
        moment = when(
            effect.starts_at.astimezone(c.programme.timezone),
            t.catalog.words(t.language, "date.weekdays"),
            t.catalog.words(t.language, "date.months"),
        )
        place = effect.venue or t(f"modality.{effect.modality.value}")
        community = community_name(c, state) or ""
        return asking(
            t, "plan.confirm", [t("plan.yes")], community=community, when=moment, place=place
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        effect = self._effect(c, state)
        if effect is None:
            return Invalid("refusal.not_allowed")
        if value != "1":
            return Invalid()
        return Finish(
            lambda t: t("plan.scheduled_plain"),
            effect,
            reported=lambda t, r: t("plan.scheduled", code=r["code"]),
        )
