"""Phone numbers: one E.164 form per person, whatever way the roster wrote it."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from service.domain.errors import InvalidPhone

# Fixed lines cannot receive SMS or dial USSD, so only mobile-capable numbers are people's.
_MOBILE = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


# Parsing costs tens of µs; a roster import checks each phone for duplicates in the file
# and then again through the domain, so the second time is a cache hit. Small on purpose.
@lru_cache(maxsize=1024)
def normalise_phone(raw: str, region: str) -> str:
    """`0712 345 678`, `+254712345678` and `254712345678` are one Kenyan number."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("phone number is empty", field="phone")
    try:
        # phonenumbers also reads the programme's own country code written without `+`.
        # A number from another country must be written with `+`: guessing would turn
        # a mistyped local number into somebody abroad.
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    # A mobile type implies a valid number (`is_valid_number` runs the same match again).
    if number is not None and phonenumbers.number_type(number) in _MOBILE:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhone(f"{raw.strip()!r} is not a valid mobile number for {region}", field="phone")


def mask_phone(phone: str | None) -> str | None:
    """`+250788123421` → `+25078•••••21`: enough to recognise, not enough to call."""
    if phone is None:
        return None
    if len(phone) <= 7:
        return "•" * len(phone)
    return phone[:6] + "•" * (len(phone) - 8) + phone[-2:]


def normalise_home_phone(raw: str, region: str) -> str:
    """`normalise_phone`, refusing a valid number of another country: a facilitator
    adding a member types a number of the programme's own country."""
    phone = normalise_phone(raw, region)
    if not phone.startswith(f"+{phonenumbers.country_code_for_region(region)}"):
        raise InvalidPhone(f"{phone[:4]}… is not a number of {region}", field="phone")
    return phone
