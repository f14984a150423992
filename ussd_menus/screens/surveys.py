"""A survey answered question by question on the keypad."""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.surveys import (
    InvalidAnswer,
    Pending,
    QuestionView,
    check_answer,
    in_language,
    next_question,
)
from service.models.enums import QuestionKind
from ussd_menus.context import Caller
from ussd_menus.effects import (
    AnswerSurvey,
)
from ussd_menus.layout import Line, fit, pages
from ussd_menus.screens.base import (
    Apply,
    Finish,
    Go,
    Invalid,
    ListScreen,
    Outcome,
    State,
    Texts,
)
from ussd_menus.screens.teacher import given_answers, pending_survey


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
        pending = pending_survey(c, state)
        if pending is None:
            return None
        question = next_question(pending.questions, {**pending.answered, **given_answers(state)})
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
        given = {**given_answers(state), question.position: answer}
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
