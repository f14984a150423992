"""Creating and configuring a programme."""

from __future__ import annotations

from decimal import Decimal

import pydantic
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.errors import Conflict, ValidationError
from service.domain.programmes import (
    ProgrammeCreate,
    ProgrammeSettings,
    create_programme,
    list_programmes,
    update_programme,
)
from service.models import AuditEntry
from service.models.enums import Country, Language
from tests import factories as f


def _rw(**overrides: object) -> ProgrammeCreate:
    data: dict[str, object] = {
        "slug": "rw-sbi",
        "name": "Rwanda school-based CPD",
        "country": "RW",
        "timezone": "Africa/Kigali",
        "default_language": "rw",
        "service_code": "*384*250#",
    }
    return ProgrammeCreate.model_validate(data | overrides)


async def test_a_new_programme_takes_its_region_currency_and_policy_defaults(
    session: AsyncSession,
) -> None:
    programme = await create_programme(_rw(), session=session, actor=f.OPERATOR)
    assert programme.phone_region == "RW"
    assert programme.currency == "RWF"
    assert programme.languages == ["rw", "en"]
    assert programme.reminder_offsets_h == [48, 2]
    assert (programme.quiet_hours_start.hour, programme.quiet_hours_end.hour) == (19, 7)


@pytest.mark.parametrize(
    ("country", "timezone", "languages"),
    [
        (Country.KE, "Africa/Nairobi", ["sw", "en"]),
        (Country.TZ, "Africa/Dar_es_Salaam", ["sw", "en"]),
        (Country.RW, "Africa/Kigali", ["rw", "en"]),
        (Country.MW, "Africa/Blantyre", ["ny", "en"]),
        (Country.SL, "Africa/Freetown", ["en"]),
    ],
)
async def test_a_programme_created_without_a_language_speaks_its_countrys_and_english(
    session: AsyncSession, country: Country, timezone: str, languages: list[str]
) -> None:
    data = {"country": country.value, "timezone": timezone, "default_language": None}
    await create_programme(_rw(**data), session=session, actor=f.OPERATOR)
    await session.commit()
    session.expunge_all()
    [stored] = await list_programmes(session)
    assert (stored.default_language, stored.languages) == (languages[0], languages)


async def test_a_language_given_wins_over_the_countrys(session: AsyncSession) -> None:
    data = {"country": "MW", "timezone": "Africa/Blantyre", "default_language": "en"}
    programme = await create_programme(_rw(**data), session=session, actor=f.OPERATOR)
    assert (programme.default_language, programme.languages) == (Language.en, ["en"])


async def test_slug_and_service_code_are_each_one_programmes(session: AsyncSession) -> None:
    await create_programme(_rw(), session=session, actor=f.OPERATOR)
    with pytest.raises(Conflict, match="slug"):
        await create_programme(_rw(service_code="*384*251#"), session=session, actor=f.OPERATOR)
    with pytest.raises(Conflict, match="service code"):
        await create_programme(_rw(slug="rw-other"), session=session, actor=f.OPERATOR)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Africa/Atlantis"),
        ("service_code", "384123"),
        ("sender_id", "FAR-TOO-LONG-SENDER"),
        ("short_code", "CoPKenya"),
        ("short_code", "20"),
        ("slug", "Has Spaces"),
        ("country", "UG"),
    ],
)
def test_bad_programme_settings_are_refused_with_the_field_named(field: str, value: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _rw(**{field: value})
    assert field in str(caught.value)


async def test_updating_records_what_changed_and_nothing_when_nothing_did(
    session: AsyncSession,
) -> None:
    programme = await create_programme(_rw(), session=session, actor=f.OPERATOR)
    assert programme.id is not None
    await update_programme(
        programme.id,
        ProgrammeSettings(sms_price=Decimal("14.5"), reminder_offsets_h=[2, 24]),
        session=session,
        actor=f.OPERATOR,
    )
    await update_programme(
        programme.id,
        ProgrammeSettings(sms_price=Decimal("14.5")),
        session=session,
        actor=f.OPERATOR,
    )
    await session.commit()
    assert programme.reminder_offsets_h == [24, 2]
    updates = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "programme.update"))
    ).all()
    assert len(updates) == 1
    assert set(updates[0].changes) == {"sms_price", "reminder_offsets_h"}


async def test_programmes_may_share_a_short_code_and_leave_it_again(
    session: AsyncSession,
) -> None:
    first = await create_programme(_rw(short_code="20880"), session=session, actor=f.OPERATOR)
    second = await create_programme(
        _rw(slug="rw-other", service_code="*384*251#", short_code="20880"),
        session=session,
        actor=f.OPERATOR,
    )
    assert first.short_code == second.short_code == "20880"
    assert second.id is not None
    await update_programme(
        second.id, ProgrammeSettings(sms_price=Decimal("3")), session=session, actor=f.OPERATOR
    )
    assert second.short_code == "20880"  # a setting left out stays
    await update_programme(
        second.id, ProgrammeSettings(short_code=None), session=session, actor=f.OPERATOR
    )
    assert second.short_code is None


async def test_the_default_language_must_stay_among_the_programmes_languages(
    session: AsyncSession,
) -> None:
    programme = await create_programme(_rw(), session=session, actor=f.OPERATOR)
    assert programme.id is not None
    with pytest.raises(ValidationError):
        await update_programme(
            programme.id,
            ProgrammeSettings(languages=[Language.en, Language.fr]),
            session=session,
            actor=f.OPERATOR,
        )


async def test_programmes_are_listed_by_slug(session: AsyncSession) -> None:
    await f.programme(session, slug="tz-tcpd", country=Country.TZ, timezone="Africa/Dar_es_Salaam")
    await f.programme(session, slug="ke-clusters")
    assert [p.slug for p in await list_programmes(session)] == ["ke-clusters", "tz-tcpd"]
