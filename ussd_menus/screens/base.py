"""What every screen is made of: outcomes, texts in one language, menus and lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.gsm7 import septets, to_gsm7, truncate
from service.models.enums import Language
from ussd_menus.catalog import Catalog
from ussd_menus.context import Caller, MeetingView
from ussd_menus.effects import (
    Effect,
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
        return self.fitted_in(SCREEN, key, **params)

    def fitted_in(self, limit: int, key: str, **params: str) -> str:
        """The text with its longest name shortened until the whole fits `limit` septets
        (what a screen leaves it beside its fixed lines), its own words kept whole."""
        params = {k: to_gsm7(v) for k, v in params.items()}  # names people typed may hold emoji
        text = self(key, **params)
        while septets(text) > limit:
            longest = max(params, key=lambda k: septets(params[k]))
            if septets(params[longest]) <= 8:
                return truncate(text, limit)
            params = {
                **params,
                longest: truncate(
                    params[longest], septets(params[longest]) - (septets(text) - limit) - 1
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
    # The message from what the effect reported (ussd_menus.effects.Reporting), if it did.
    reported: Callable[[Texts, Mapping[str, str]], str] | None = None


@dataclass(frozen=True)
class Apply:
    """Make a change and stay on this screen (state), e.g. a facilitator's attendance mark."""

    effect: Effect
    state: State


Outcome = Go | Stay | Invalid | Finish | Apply


def digits(value: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts '²' and other digits `int` refuses."""
    return value.isascii() and value.isdigit()


def choice(value: str, count: int) -> int | None:
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
        index = choice(value, len(choices))
        return Invalid() if index is None else Go(choices[index][1])


class ListScreen(Screen):
    """A list that pages itself to fit: `98` shows the next page."""

    def items(self, c: Caller, state: State, t: Texts) -> list[str]:
        raise NotImplementedError

    def header(self, c: Caller, t: Texts) -> str:
        raise NotImplementedError

    def title(self, c: Caller, state: State, t: Texts) -> str:
        """The header in this state: most lists have one whatever the state."""
        return self.header(c, t)

    def empty(self, t: Texts) -> str:
        raise NotImplementedError

    def chosen(self, c: Caller, state: State, index: int) -> Outcome:
        raise NotImplementedError

    def _pages(
        self, c: Caller, state: State, t: Texts, items: list[str] | None = None
    ) -> list[list[int]]:
        if items is None:
            items = self.items(c, state, t)
        return pages([self.title(c, state, t)], items, [t("common.back")], t("common.more"))

    def render(self, c: Caller, state: State, t: Texts) -> str:
        items = self.items(c, state, t)
        if not items:
            return fit([Line(self.empty(t)), Line(t("common.back"))])
        layout = self._pages(c, state, t, items)
        page = layout[min(state.get("page", 0), len(layout) - 1)]
        lines = [Line(self.title(c, state, t))]
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
        index = choice(value, len(layout[page_no]))
        return Invalid() if index is None else self.chosen(c, state, layout[page_no][index])
