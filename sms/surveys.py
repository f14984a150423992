"""Answering a survey by SMS: one question per message, replies as digits or words.

After the invitation ("Reply to start") any reply brings the first question. Each
reply answers the question last sent (`SurveyResponse.asked_position`): digits, or
in the person's language YES/NO and the first word of a choice ("inclusive",
"ndiyo"). A reply that does not fit gets a short re-ask; the conversation resumes
whenever the person writes back within the answer window, and the invitation
lapses after it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.domain.surveys import (
    ANSWER_WINDOW,
    InvalidAnswer,
    QuestionView,
    answers_of,
    next_question,
    questions_of,
    record_answer,
)
from service.gsm7 import to_gsm7
from service.models import Person, Programme, SurveyResponse
from service.models.enums import Channel, Language, QuestionKind, ResponseStatus
from sms.keywords import Keyword, normalise, parse
from sms.texts import SmsTexts

HINTS = {
    QuestionKind.single_choice: "survey_hint_choice",
    QuestionKind.yes_no: "survey_hint_yes_no",
    QuestionKind.rating: "survey_hint_rating",
    QuestionKind.number: "survey_hint_number",
    QuestionKind.short_text: "survey_hint_text",
}


# The channels a survey is answered on one message at a time.
TEXT_CHANNELS = (Channel.sms, Channel.whatsapp)


async def open_conversation(
    session: AsyncSession, person: Person, now: datetime
) -> SurveyResponse | None:
    """The person's survey by SMS or WhatsApp still open: invited or started, answered
    recently. Either may carry on what the other began."""
    found = await session.exec(
        select(SurveyResponse)
        .where(
            SurveyResponse.person_id == person.id,
            SurveyResponse.status == ResponseStatus.in_progress,
            col(SurveyResponse.channel).in_(TEXT_CHANNELS),
            col(SurveyResponse.updated_at) > now - ANSWER_WINDOW,
        )
        .order_by(col(SurveyResponse.updated_at).desc())
        .limit(1)
    )
    return found.first()


def question_text(
    texts: SmsTexts,
    question: QuestionView,
    number: int,
    total: int,
    language: Language,
    fallback: Language,
) -> str:
    parts = [f"{number}/{total} {question.question(language, fallback)}"]
    if question.kind is QuestionKind.single_choice:
        parts += [f"{i} {label}" for i, label in enumerate(question.choices(language, fallback), 1)]
    parts.append(texts.render(HINTS[question.kind], language, {}, timezone="UTC"))
    return to_gsm7(" ".join(parts))


# WhatsApp's limits: a list holds at most 10 options; a label shows 20 characters.
MAX_OPTIONS = 10
MAX_LABEL = 20


def whatsapp_question(
    texts: SmsTexts,
    question: QuestionView,
    number: int,
    total: int,
    language: Language,
    fallback: Language,
) -> dict[str, object] | None:
    """The question as a WhatsApp message: its text and hint, and its options as quick
    replies, each with the answer a tap gives (what the person would type by SMS).
    None for a question answered in the person's own words or digits."""
    if question.kind is QuestionKind.single_choice:
        labels = question.choices(language, fallback)
        answers = [str(i) for i in range(1, len(labels) + 1)]
    elif question.kind is QuestionKind.yes_no:
        labels = [texts.render(f"option_{w}", language, {}, timezone="UTC") for w in ("yes", "no")]
        answers = ["yes", "no"]
    elif question.kind is QuestionKind.rating:
        low, high = question.min_value or 1, question.max_value or 5
        labels = answers = [str(v) for v in range(low, high + 1)]
    else:
        return None
    if not labels or len(labels) > MAX_OPTIONS:
        return None
    hint = texts.render(HINTS[question.kind], language, {}, timezone="UTC")
    lines = [f"{number}/{total} {question.question(language, fallback)}"]
    options = [_short(label) for label in labels]
    if options != labels:  # a shortened label: the options in full above them
        lines += [f"{i} {label}" for i, label in enumerate(labels, start=1)]
    return {"text": "\n".join([*lines, hint]), "options": options, "answers": answers}


def _short(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def _value(question: QuestionView, reply: str, language: Language, fallback: Language) -> str:
    """The reply as the value the question takes: words become what they stand for."""
    command = parse(reply)
    if question.kind is QuestionKind.yes_no and command.keyword in (Keyword.yes, Keyword.no):
        return command.keyword.value
    if question.kind is QuestionKind.single_choice and not reply.strip().isdigit():
        said = normalise(reply).split()
        if said:
            for index, label in enumerate(question.choices(language, fallback), 1):
                words = normalise(label).replace(",", " ").split()
                if words and words[0] == said[0]:
                    return str(index)
    return reply.strip()


async def answer_by_sms(
    session: AsyncSession,
    texts: SmsTexts,
    programme: Programme,
    person: Person,
    response: SurveyResponse,
    reply: str,
    *,
    reply_id: str,
    now: datetime,
    channel: Channel = Channel.sms,
) -> str:
    """Take the reply as the answer to the question asked, and send what comes next.
    `channel` is the one the reply came by (SMS or WhatsApp): the answer records it."""
    assert response.id is not None and person.id is not None and person.phone is not None
    questions = (await questions_of(session, [response.survey_id]))[response.survey_id]
    fallback = programme.default_language
    language = person.language
    prefix = ""
    if response.asked_position is None:  # the reply to the invitation starts it
        following = next_question(questions, await answers_of(session, response.id))
        outcome = "started"
    else:
        asked = next(q for q in questions if q.position == response.asked_position)
        try:
            following = await record_answer(
                session,
                response,
                asked.position,
                _value(asked, reply, language, fallback),
                channel=channel,
                now=now,
                session_ref=f"{channel.value}:{reply_id}",
            )
            outcome = "answered"
        except InvalidAnswer:
            following = asked
            prefix = texts.render("survey_reask", language, {}, timezone="UTC") + " "
            outcome = "re-asked"
    params: dict[str, object] | None = None
    if following is None:
        body = texts.render("survey_done", language, {}, timezone="UTC")
        response.asked_position = None
        outcome = "completed"
    else:
        number = sorted(q.position for q in questions).index(following.position) + 1
        total = len(questions)
        body = prefix + question_text(texts, following, number, total, language, fallback)
        response.asked_position = following.position
        # Sent by WhatsApp (the person's window is open: they just wrote), the options
        # are quick replies; by SMS, `body` as always.
        whatsapp = whatsapp_question(texts, following, number, total, language, fallback)
        if whatsapp is not None:
            whatsapp["text"] = prefix + str(whatsapp["text"])
            params = {"whatsapp": whatsapp}
    response.channel = channel
    response.updated_at = now
    await outbox.queue(
        session,
        programme,
        [outbox.Recipient(person.id, person.phone, language)],
        kind=outbox.SURVEY,
        template=None,
        params=params,
        body=body,
        due=now,
        now=now,
        quiet=False,
        dedupe=lambda r: f"reply:{reply_id}",
        meeting_id=response.meeting_id,
    )
    await session.flush()
    return outcome
