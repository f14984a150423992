"""Programmes: the tenants, each with its own time zone, languages, codes and SMS policy."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import Conflict, NotFound, ValidationError
from service.domain.surveys import ensure_reflection
from service.models import Programme
from service.models.enums import Country, Language, UssdBilling, Weekday
from service.models.types import utcnow

CURRENCY = {
    Country.KE: "KES",
    Country.RW: "RWF",
    Country.TZ: "TZS",
    Country.MW: "MWK",
    Country.SL: "SLE",
}
# The language people of a new programme speak unless it says otherwise: Sierra Leone's
# schools teach and text in English, Malawi's teachers in Chichewa.
COUNTRY_LANGUAGE = {
    Country.KE: Language.sw,
    Country.RW: Language.rw,
    Country.TZ: Language.sw,
    Country.MW: Language.ny,
    Country.SL: Language.en,
}

# USSD service codes look like *384*123# or *483#.
SERVICE_CODE = re.compile(r"^\*\d{2,4}(\*\d{1,6})*#$")
# Alphanumeric sender ids: at most 11 characters, letters, digits and spaces.
SENDER_ID = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
# Two-way short codes are a few digits (20880 is a Kenyan one).
SHORT_CODE = re.compile(r"^\d{3,8}$")
# Settings an admin may remove again by setting them to null.
CLEARABLE = frozenset({"short_code", "whatsapp_number"})

Hours = Annotated[int, Field(ge=0, le=24 * 14)]


class ProgrammeSettings(BaseModel):
    """What an admin may change after creation."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=2, max_length=200)
    timezone: str | None = None
    default_language: Language | None = None
    languages: list[Language] | None = Field(default=None, min_length=1)
    service_code: str | None = None
    sender_id: str | None = None
    short_code: str | None = None
    # The WhatsApp Business number members are written from, E.164 (+254711082000).
    whatsapp_number: str | None = None
    reminder_offsets_h: list[Hours] | None = Field(default=None, max_length=5)
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    sms_price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=4)
    # What the network charges for a USSD session: `ussd_price` once per session, or per
    # 20 seconds begun, as `ussd_billing` says.
    ussd_price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=4)
    ussd_billing: UssdBilling | None = None
    # What WhatsApp charges for a template message; free text in the window is free.
    whatsapp_price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=4)
    survey_delay_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    survey_reminder_hours: int | None = Field(default=None, ge=1, le=71)
    # When school leaders get their weekly digest, programme time.
    digest_day: Weekday | None = None
    digest_time: time | None = None
    # Months message texts and free-text answers are kept (service.domain.retention).
    retention_months: int | None = Field(default=None, ge=1, le=120)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Africa/Nairobi)") from None
        return value

    @field_validator("service_code")
    @classmethod
    def _service_code(cls, value: str | None) -> str | None:
        if value is not None and not SERVICE_CODE.match(value):
            raise ValueError(f"service code {value!r} must look like *384*123#")
        return value

    @field_validator("sender_id")
    @classmethod
    def _sender_id(cls, value: str | None) -> str | None:
        if value is not None and not SENDER_ID.match(value):
            raise ValueError("sender id must be 1-11 letters, digits or spaces")
        return value

    @field_validator("short_code")
    @classmethod
    def _short_code(cls, value: str | None) -> str | None:
        if value is not None and not SHORT_CODE.match(value):
            raise ValueError(f"short code {value!r} must be 3-8 digits, e.g. 20880")
        return value

    @field_validator("whatsapp_number")
    @classmethod
    def _whatsapp_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # A business number may be a fixed line: any valid number, written with its `+`.
        compact = re.sub(r"[\s()-]", "", value)
        try:
            number = phonenumbers.parse(compact, None) if compact.startswith("+") else None
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValueError(f"WhatsApp number {value!r} must be E.164, e.g. +254711082000")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("sms_price", "ussd_price", "whatsapp_price")
    @classmethod
    def _four_places(cls, value: Decimal | None) -> Decimal | None:
        # Stored as NUMERIC(10, 4): quantize now so what is returned equals what is read back.
        return None if value is None else value.quantize(Decimal("0.0001"))

    @field_validator("reminder_offsets_h")
    @classmethod
    def _offsets(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else sorted(set(value), reverse=True)


class ProgrammeCreate(ProgrammeSettings):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")
    name: str = Field(min_length=2, max_length=200)
    country: Country
    timezone: str
    default_language: Language
    service_code: str

    @model_validator(mode="before")
    @classmethod
    def _country_language(cls, data: Any) -> Any:
        """No default language given: the country's (a Malawi programme speaks Chichewa)."""
        if not isinstance(data, dict) or data.get("default_language") is not None:
            return data
        try:
            country = Country(str(data.get("country")))
        except ValueError:
            return data  # the country's own error says what is wrong
        return {**data, "default_language": COUNTRY_LANGUAGE[country]}

    @model_validator(mode="after")
    def _default_language_offered(self) -> ProgrammeCreate:
        langs = self.languages or [self.default_language, Language.en]
        if self.default_language not in langs:
            langs = [self.default_language, *langs]
        self.languages = list(dict.fromkeys(langs))
        return self


def _check_languages(programme: Programme) -> None:
    if programme.default_language not in programme.languages:
        raise ValidationError(
            f"default language {programme.default_language} must be one of the programme's "
            f"languages {programme.languages}",
            field="default_language",
        )


async def _ensure_free(
    session: AsyncSession,
    *,
    slug: str | None,
    service_code: str | None,
    exclude_id: int | None = None,
) -> None:
    if slug is not None:
        found = (await session.exec(select(Programme.id).where(Programme.slug == slug))).first()
        if found is not None and found != exclude_id:
            raise Conflict(f"a programme with slug {slug!r} already exists", field="slug")
    if service_code is not None:
        stmt = select(Programme.id).where(Programme.service_code == service_code)
        found = (await session.exec(stmt)).first()
        if found is not None and found != exclude_id:
            raise Conflict(
                f"service code {service_code} is already used by another programme",
                field="service_code",
            )


async def create_programme(
    data: ProgrammeCreate, *, session: AsyncSession, actor: Actor
) -> Programme:
    await _ensure_free(session, slug=data.slug, service_code=data.service_code)
    programme = Programme(
        slug=data.slug,
        name=data.name,
        country=data.country,
        timezone=data.timezone,
        default_language=data.default_language,
        languages=[str(lang) for lang in data.languages or []],
        phone_region=data.country.value,
        service_code=data.service_code,
        sender_id=data.sender_id,
        short_code=data.short_code,
        whatsapp_number=data.whatsapp_number,
        reminder_offsets_h=data.reminder_offsets_h or [48, 2],
        quiet_hours_start=data.quiet_hours_start or time(19, 0),
        quiet_hours_end=data.quiet_hours_end or time(7, 0),
        currency=CURRENCY[data.country],
        sms_price=data.sms_price if data.sms_price is not None else Decimal("0.0000"),
        digest_day=data.digest_day or Weekday.monday,
        digest_time=data.digest_time or time(7, 0),
        ussd_price=data.ussd_price if data.ussd_price is not None else Decimal("0.0000"),
        ussd_billing=data.ussd_billing or UssdBilling.session,
        whatsapp_price=(
            data.whatsapp_price if data.whatsapp_price is not None else Decimal("0.0000")
        ),
        retention_months=data.retention_months or 24,
    )
    _check_languages(programme)
    session.add(programme)
    await session.flush()
    audit.record(
        session, actor, "programme.create", programme, changes=data.model_dump(exclude_none=True)
    )
    # Every programme starts with the reflection survey its meetings are followed by.
    await ensure_reflection(session, programme, actor)
    return programme


async def update_programme(
    programme_id: int, data: ProgrammeSettings, *, session: AsyncSession, actor: Actor
) -> Programme:
    programme = await session.get(Programme, programme_id, with_for_update=True)
    if programme is None:
        raise NotFound(f"programme {programme_id} not found", id=programme_id)
    values = {
        name: value
        for name, value in data.model_dump(exclude_unset=True).items()
        if value is not None or name in CLEARABLE
    }
    if "languages" in values:
        values["languages"] = [str(lang) for lang in values["languages"]]
    await _ensure_free(
        session, slug=None, service_code=values.get("service_code"), exclude_id=programme_id
    )
    changes = audit.apply_changes(programme, values)
    _check_languages(programme)
    if changes:
        programme.updated_at = utcnow()
        audit.record(session, actor, "programme.update", programme, changes=changes)
    await session.flush()
    return programme


async def get_programme(session: AsyncSession, slug: str) -> Programme:
    programme = (await session.exec(select(Programme).where(Programme.slug == slug))).first()
    if programme is None:
        raise NotFound(f"no programme with slug {slug!r}", slug=slug)
    return programme


async def list_programmes(session: AsyncSession) -> list[Programme]:
    return list((await session.exec(select(Programme).order_by(col(Programme.slug)))).all())
