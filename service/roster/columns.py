"""The CSV columns of each roster file and how a cell becomes a domain value.

Lists inside a cell are separated by `;` (`teacher;subject_lead`). Headers are
case-insensitive. The README documents the same columns for programme staff.
"""

from __future__ import annotations

from service.models.enums import (
    CommunityKind,
    ConsentState,
    ConsoleRole,
    Gender,
    Language,
    Reach,
    Role,
)
from service.roster.report import ImportKind

SCHOOL_COLUMNS = {
    "code": True,
    "name": True,
    "district": False,
    "sector": False,
    "external_id": False,
}
COMMUNITY_COLUMNS = {
    "code": True,
    "name": True,
    "kind": True,
    "subjects": False,
    "schools": False,
    "meetings_per_term": False,
}
PEOPLE_COLUMNS = {
    "name": True,
    "phone": False,
    "language": False,
    "school": False,
    "roles": False,
    "subjects": False,
    "gender": False,
    "communities": False,
    "facilitates": False,
    "console": False,
    "channel": False,
    "external_id": False,
    "consent": False,
}
COLUMNS = {
    ImportKind.schools: SCHOOL_COLUMNS,
    ImportKind.communities: COMMUNITY_COLUMNS,
    ImportKind.people: PEOPLE_COLUMNS,
}

_LANGUAGES = {
    "en": Language.en, "english": Language.en, "anglais": Language.en, "kiingereza": Language.en,
    "sw": Language.sw, "kiswahili": Language.sw, "swahili": Language.sw,
    "rw": Language.rw, "kinyarwanda": Language.rw, "ikinyarwanda": Language.rw,
    "fr": Language.fr, "french": Language.fr, "français": Language.fr, "francais": Language.fr,
    "ny": Language.ny, "chichewa": Language.ny, "chewa": Language.ny, "nyanja": Language.ny,
    "chinyanja": Language.ny,
}  # fmt: skip
_GENDERS = {
    "f": Gender.female, "female": Gender.female, "woman": Gender.female,
    "m": Gender.male, "male": Gender.male, "man": Gender.male,
    "other": Gender.other, "x": Gender.other,
    "undisclosed": Gender.undisclosed, "prefer not to say": Gender.undisclosed,
}  # fmt: skip


def split_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def parse_language(cell: str) -> Language | None:
    if not cell.strip():
        return None
    try:
        return _LANGUAGES[cell.strip().lower()]
    except KeyError:
        codes = ", ".join(language.value for language in Language)
        raise ValueError(f"unknown language {cell.strip()!r} (use {codes})") from None


_REACHES = {
    "sms": Reach.sms, "text": Reach.sms,
    "whatsapp": Reach.whatsapp, "whats app": Reach.whatsapp, "wa": Reach.whatsapp,
}  # fmt: skip


def parse_reach(cell: str) -> Reach | None:
    """The channel a person is reached by; empty keeps theirs (SMS for someone new)."""
    if not cell.strip():
        return None
    try:
        return _REACHES[cell.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown channel {cell.strip()!r} (use sms or whatsapp)") from None


def parse_gender(cell: str) -> Gender | None:
    if not cell.strip():
        return None
    try:
        return _GENDERS[cell.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown gender {cell.strip()!r} (use female, male or other)") from None


def parse_roles(cell: str) -> list[Role]:
    roles = []
    for part in split_list(cell):
        key = part.lower().replace(" ", "_").replace("-", "_")
        try:
            roles.append(Role(key))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {part!r} (known: {known})") from None
    return roles


def parse_kind(cell: str) -> CommunityKind:
    try:
        return CommunityKind(cell.strip().lower())
    except ValueError:
        raise ValueError(f"community kind must be 'school' or 'cluster', not {cell!r}") from None


def parse_console_role(cell: str) -> ConsoleRole | None:
    """Who may sign in to the web console; empty leaves a person's access as it is."""
    if not cell.strip():
        return None
    key = cell.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return ConsoleRole(key)
    except ValueError:
        known = ", ".join(r.value for r in ConsoleRole)
        raise ValueError(f"unknown console role {cell.strip()!r} (known: {known})") from None


_CONSENTS = {
    "given": ConsentState.given, "yes": ConsentState.given,
    "refused": ConsentState.refused, "no": ConsentState.refused,
    "withdrawn": ConsentState.withdrawn,
}  # fmt: skip


def parse_consent(cell: str) -> ConsentState | None:
    """Consent as a paper form recorded it; empty leaves the person's consent as it is."""
    if not cell.strip():
        return None
    try:
        return _CONSENTS[cell.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown consent {cell.strip()!r} (use given, refused or withdrawn)"
        ) from None
