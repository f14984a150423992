"""People: one phone per person within a programme, in whatever format it was written."""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.errors import DuplicatePhone, InvalidPhone, NotFound, ValidationError
from service.domain.outcome import Outcome
from service.domain.people import PersonInput, create_person, opt_in, opt_out, upsert_person
from service.domain.phones import mask_phone, normalise_phone
from service.models.enums import Channel, Language, Role
from tests import factories as f


@pytest.mark.parametrize(
    "raw", ["0712 345 678", "+254712345678", "254712345678", "+254 712-345-678"]
)
def test_kenyan_numbers_in_every_roster_format_are_one_number(raw: str) -> None:
    assert normalise_phone(raw, "KE") == "+254712345678"


@pytest.mark.parametrize(
    ("raw", "region"), [("0712 345 67", "KE"), ("020 1234567", "KE"), ("hello", "RW"), ("", "KE")]
)
def test_short_landline_and_garbage_numbers_are_refused(raw: str, region: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(raw, region)


def test_a_masked_phone_keeps_the_network_prefix_and_last_two_digits() -> None:
    assert mask_phone("+250788123421") == "+25078•••••21"


async def test_the_same_phone_written_differently_is_the_same_person(session: AsyncSession) -> None:
    prog = await f.programme(session)
    await create_person(
        prog,
        PersonInput(name="Achieng Otieno", phone="0712 345 678"),
        session=session,
        actor=f.OPERATOR,
    )
    with pytest.raises(DuplicatePhone):
        await create_person(
            prog,
            PersonInput(name="A. Otieno", phone="254712345678"),
            session=session,
            actor=f.OPERATOR,
        )


async def test_the_same_phone_may_belong_to_people_in_two_programmes(session: AsyncSession) -> None:
    ke = await f.programme(session)
    other = await f.programme(session, slug="ke-other")
    for prog in (ke, other):
        person = await create_person(
            prog, PersonInput(name="Achieng", phone="0712345678"), session=session, actor=f.OPERATOR
        )
        assert person.phone == "+254712345678"


async def test_people_without_phones_do_not_collide(session: AsyncSession) -> None:
    prog = await f.programme(session)
    for name in ("Wanjiru", "Kamau"):
        person = await create_person(
            prog, PersonInput(name=name), session=session, actor=f.OPERATOR
        )
        assert person.phone is None


async def test_language_defaults_to_the_programmes_and_must_be_offered(
    session: AsyncSession,
) -> None:
    prog = await f.programme(session)
    person = await create_person(
        prog, PersonInput(name="Baraka", phone="0722000111"), session=session, actor=f.OPERATOR
    )
    assert person.language is Language.sw
    with pytest.raises(ValidationError):
        await create_person(
            prog,
            PersonInput(name="Baraka", phone="0722000112", language=Language.rw),
            session=session,
            actor=f.OPERATOR,
        )


async def test_a_school_from_another_programme_cannot_be_used(session: AsyncSession) -> None:
    ke = await f.programme(session)
    other = await f.programme(session, slug="ke-other")
    foreign_school = await f.school(session, other)
    with pytest.raises(NotFound):
        await create_person(
            ke,
            PersonInput(name="Baraka", school_id=foreign_school.id),
            session=session,
            actor=f.OPERATOR,
        )


async def test_upserting_the_same_person_twice_changes_nothing(session: AsyncSession) -> None:
    prog = await f.programme(session)
    data = PersonInput(
        name="Njeri",
        phone="0733123456",
        roles=[Role.teacher, Role.subject_lead],
        subjects=["Kiswahili"],
    )
    _, first = await upsert_person(prog, data, session=session, actor=f.OPERATOR)
    _, second = await upsert_person(prog, data, session=session, actor=f.OPERATOR)
    _, third = await upsert_person(
        prog, data.model_copy(update={"subjects": ["English"]}), session=session, actor=f.OPERATOR
    )
    assert (first, second, third) == (Outcome.created, Outcome.unchanged, Outcome.updated)


async def test_opting_out_and_back_in_is_recorded_with_its_channel(session: AsyncSession) -> None:
    prog = await f.programme(session)
    person = await f.person(session, prog)
    assert await opt_out(person, channel=Channel.sms, session=session, actor=f.OPERATOR)
    assert person.opted_out_at is not None and person.opted_out_channel is Channel.sms
    assert not await opt_out(person, channel=Channel.sms, session=session, actor=f.OPERATOR)
    assert opt_in(person, channel=Channel.ussd, session=session, actor=f.OPERATOR)
    assert person.opted_out_at is None
