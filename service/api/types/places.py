"""The programme itself, its terms and its schools."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import strawberry

from service.api import ids
from service.api.types.common import Country, Language, Node, UssdBilling, Weekday
from service.models import Programme, School, Term


@strawberry.type(name="Programme")
class ProgrammeNode(Node):
    slug: str
    name: str
    country: Country
    timezone: str = strawberry.field(description="IANA time zone; meeting times are shown in it.")
    default_language: Language
    languages: list[Language]
    phone_region: str
    service_code: str = strawberry.field(description="The USSD code teachers dial.")
    sender_id: str | None
    short_code: str | None = strawberry.field(
        description="The two-way SMS short code teachers reply to (programmes may share "
        "one); null: it hears replies to any of the account's codes."
    )
    whatsapp_number: str | None = strawberry.field(
        description="The WhatsApp Business number members are written from (E.164); "
        "null: no WhatsApp, every member gets SMS."
    )
    reminder_offsets_hours: list[int] = strawberry.field(
        description="Hours before a meeting that reminders go out."
    )
    quiet_hours_start: time
    quiet_hours_end: time
    currency: str
    sms_price: Decimal = strawberry.field(description="Estimated price of one SMS segment.")
    ussd_price: Decimal = strawberry.field(
        description="What the network charges for a USSD session, per ussdBilling."
    )
    ussd_billing: UssdBilling = strawberry.field(
        description="session: ussdPrice once per session; per_20s: per 20 seconds begun."
    )
    whatsapp_price: Decimal = strawberry.field(
        description="What WhatsApp charges for a template message; free text within the "
        "24-hour window costs nothing."
    )
    survey_delay_minutes: int = strawberry.field(
        description="How long after a held meeting its attendees get its survey."
    )
    survey_reminder_hours: int | None = strawberry.field(
        description="One reminder this long after an unfinished invitation; null: none."
    )
    digest_day: Weekday = strawberry.field(
        description="The day school leaders get their weekly SMS digest."
    )
    digest_time: time = strawberry.field(
        description="The time of day (programme time) of the weekly digest."
    )
    retention_months: int = strawberry.field(
        description="Message texts and free-text answers older than this many months are "
        "blanked (their rows, status and cost stay for the figures)."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, row: Programme) -> ProgrammeNode:
        return cls(
            id=ids.encode("Programme", row.id),
            slug=row.slug,
            name=row.name,
            country=row.country,
            timezone=row.timezone,
            default_language=row.default_language,
            languages=[Language(lang) for lang in row.languages],
            phone_region=row.phone_region,
            service_code=row.service_code,
            sender_id=row.sender_id,
            short_code=row.short_code,
            whatsapp_number=row.whatsapp_number,
            reminder_offsets_hours=list(row.reminder_offsets_h),
            quiet_hours_start=row.quiet_hours_start,
            quiet_hours_end=row.quiet_hours_end,
            currency=row.currency,
            sms_price=row.sms_price,
            ussd_price=row.ussd_price,
            ussd_billing=row.ussd_billing,
            whatsapp_price=row.whatsapp_price,
            survey_delay_minutes=row.survey_delay_minutes,
            survey_reminder_hours=row.survey_reminder_hours,
            digest_day=row.digest_day,
            digest_time=row.digest_time,
            retention_months=row.retention_months,
            created_at=row.created_at,
        )


@strawberry.type(name="Term")
class TermNode(Node):
    name: str
    starts_on: date
    ends_on: date

    @classmethod
    def from_row(cls, row: Term) -> TermNode:
        return cls(id=ids.encode("Term", row.id), name=row.name, starts_on=row.starts_on,
                   ends_on=row.ends_on)  # fmt: skip


@strawberry.type(name="School")
class SchoolNode(Node):
    code: str
    name: str
    district: str | None = strawberry.field(description="District or county.")
    sector: str | None = strawberry.field(description="Sector or sub-county.")
    external_id: str | None = strawberry.field(
        description="The school's id in another system (an EMIS code), as written there; "
        "unique in the programme."
    )

    @classmethod
    def from_row(cls, row: School) -> SchoolNode:
        return cls(id=ids.encode("School", row.id), code=row.code, name=row.name,
                   district=row.district, sector=row.sector,
                   external_id=row.external_id)  # fmt: skip
