"""A facilitator's members from a basic phone: add one by number, answer a join request,
message them all; and what a person added by number sees when they dial."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from service.domain.errors import InvalidPhone
from service.domain.phones import normalise_home_phone
from service.domain.segments import measure
from service.gsm7 import septets, to_gsm7
from ussd_menus.context import Caller, RequestView
from ussd_menus.effects import Approve
from ussd_menus.facilitator_effects import AddMember, AnswerInvitations, DeclineRequest, Message
from ussd_menus.layout import SCREEN, Line, fit
from ussd_menus.screens.base import Finish, Go, Invalid, Outcome, Screen, State, Texts
from ussd_menus.screens.facilitator_plan import asking, community_name


class AddPhone(Screen):
    name = "add_phone"
    leads_to = ("add_confirm",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("plan.phone")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        try:
            phone = normalise_home_phone(value, c.programme.phone_region)
        except InvalidPhone:
            return Invalid("plan.bad_phone")
        return Go("add_confirm", {**state, "phone": phone})


class AddConfirm(Screen):
    name = "add_confirm"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        community = community_name(c, state)
        if community is None:
            return fit([Line(t("refusal.not_allowed")), Line(t("common.back"))])
        return asking(
            t, "plan.add_confirm", [t("plan.add_yes")], phone=state["phone"], community=community
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        community = community_name(c, state)
        if community is None:
            return Invalid("refusal.not_allowed")
        if value != "1":
            return Invalid()

        def reported(t: Texts, r: Mapping[str, str]) -> str:
            if r.get("result") == "member":
                return t.fitted("plan.added", name=r["name"], community=community)
            return t.fitted("plan.invited", community=community)

        return Finish(
            lambda t: t("plan.added_plain"),
            AddMember(state["community"], state["phone"]),
            reported=reported,
        )


def _request(c: Caller, state: State) -> RequestView | None:
    requests = c.facilitation.requests if c.facilitation else ()
    return next((r for r in requests if r.membership_id == state.get("request")), None)


class FacRequest(Screen):
    """One join request: approve or decline it; the person is told by SMS either way."""

    name = "fac_request"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        r = _request(c, state)
        if r is None:
            return fit([Line(t("plan.conflict")), Line(t("common.back"))])
        options = [t("plan.approve"), t("plan.decline")]
        return asking(t, "plan.request", options, name=r.name, community=r.community)

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        r = _request(c, state)
        if r is None:
            return Invalid("plan.conflict")
        if value == "1":
            return Finish(
                lambda t: t.fitted("facilitator.approved", name=r.name, community=r.community),
                Approve(r.membership_id),
            )
        if value == "2":
            return Finish(
                lambda t: t.fitted("plan.declined", name=r.name, community=r.community),
                DeclineRequest(r.membership_id),
            )
        return Invalid()


def _audience(c: Caller, state: State) -> int:
    """The members a message reaches: phone, not opted out, not the sender."""
    roster = c.facilitation.rosters.get(state["community"], ()) if c.facilitation else ()
    return sum(m.reachable and m.id != c.person_id for m in roster)


def _cost_line(c: Caller, state: State, text: str, t: Texts) -> str:
    segments = measure(text).segments
    members = _audience(c, state)
    cost = (c.programme.sms_price * members * segments).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    shown = f"{cost} {c.programme.currency}".strip()
    return t("plan.cost", members=members, segments=segments, cost=shown)


def _preview(c: Caller, state: State, text: str, t: Texts) -> list[Line]:
    return [
        Line(text),
        Line(_cost_line(c, state, text, t)),
        Line(t("plan.send")),
        Line(t("common.back")),
    ]


class MsgText(Screen):
    """The facilitator types the message; it must fit the preview screen whole."""

    name = "msg_text"
    leads_to = ("msg_preview",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return asking(t, "plan.text", [], community=community_name(c, state) or "")

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        text = " ".join(value.split())
        if sum(ch.isalpha() for ch in text) < 2:
            return Invalid("plan.text_short")
        lines = _preview(c, state, text, t)
        if sum(septets(to_gsm7(line.text)) for line in lines) + len(lines) - 1 > SCREEN:
            return Invalid("plan.too_long")
        return Go("msg_preview", {**state, "text": text})


class MsgPreview(Screen):
    """The text as the members will read it, how many SMS it makes and what they cost."""

    name = "msg_preview"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        if community_name(c, state) is None:
            return fit([Line(t("refusal.not_allowed")), Line(t("common.back"))])
        return fit(_preview(c, state, state["text"], t))

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if community_name(c, state) is None:
            return Invalid("refusal.not_allowed")
        if value != "1":
            return Invalid()
        return Finish(lambda t: t("plan.sent"), Message(state["community"], state["text"]))


class Invited(Screen):
    """A number a facilitator added dials in: join (giving their name) or say no."""

    name = "invited"
    leads_to = ("invited_name",)
    back = False

    def render(self, c: Caller, state: State, t: Texts) -> str:
        options = [t("plan.invite_join"), t("plan.invite_no")]
        return asking(t, "plan.invite_title", options, back=False, community=", ".join(c.pending))

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if value == "1":
            return Go("invited_name")
        if value == "2":
            return Finish(lambda t: t("plan.invite_declined"), AnswerInvitations(None))
        return Invalid()


class InvitedName(Screen):
    name = "invited_name"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit([Line(t("join.name_prompt")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        name = " ".join(value.split())
        if sum(ch.isalpha() for ch in name) < 2:
            return Invalid("join.name_short")
        communities = ", ".join(c.pending)
        return Finish(
            lambda t: t.fitted("plan.invite_done", name=name.split(" ")[0], community=communities),
            AnswerInvitations(name[:200]),
        )
