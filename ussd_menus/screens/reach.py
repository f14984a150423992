"""A teacher's channel, from the language menu: SMS, or WhatsApp (their opt-in)."""

from __future__ import annotations

from service.models.enums import Reach
from ussd_menus.context import Caller
from ussd_menus.effects import SetReach
from ussd_menus.layout import Line, fit
from ussd_menus.screens.base import Finish, Go, Invalid, Outcome, Screen, State, Texts, choice

# In menu order: 1 SMS, 2 WhatsApp.
REACHES = (Reach.sms, Reach.whatsapp)


class ReachMenu(Screen):
    name = "reach"
    leads_to = ("reach_confirm",)

    def render(self, c: Caller, state: State, t: Texts) -> str:
        return fit(
            [
                Line(t("reach.title")),
                # Names, the same in every language.
                Line("1 SMS"),
                Line("2 WhatsApp"),
                Line(t("common.back")),
            ]
        )

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        index = choice(value, len(REACHES))
        if index is None:
            return Invalid()
        return Go("reach_confirm", {"reach": REACHES[index].value})


class ReachConfirm(Screen):
    name = "reach_confirm"

    def render(self, c: Caller, state: State, t: Texts) -> str:
        reach = Reach(state["reach"])
        ask = t(f"reach.confirm_{reach.value}", phone=c.phone)
        return fit([Line(ask, flexible=True), Line(t("reach.yes")), Line(t("common.back"))])

    def handle(self, c: Caller, state: State, value: str, t: Texts) -> Outcome:
        if value != "1":
            return Invalid()
        reach = Reach(state["reach"])
        return Finish(lambda t: t(f"reach.saved_{reach.value}"), SetReach(reach))
